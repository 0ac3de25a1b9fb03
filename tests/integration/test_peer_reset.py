#!/usr/bin/env python3
"""Operator resets through `routehubctl reset` (RFC 2918, RFC 7313, RFC 8203).

One routehubd, three raw speakers (lib/rawbgp.py) that announce a prefix each:

  soft in     `reset P in` towards a peer with route refresh: P receives a
              ROUTE-REFRESH (RFC 2918 §3) for IPv4 unicast, its session stays up.
  soft in,    towards a peer without the route refresh capability: a hard
  no RR       reset instead (NOTIFICATION 6/4).
  soft out    `reset P out` towards a peer with enhanced route refresh: P
              receives BoRR, the routes of the others again, then EoRR
              (RFC 7313 §4), and nothing of its own.
  hard        `reset P hard "text"`: NOTIFICATION 6/4 carrying the text
              (RFC 8203), and routehubd accepts P again afterwards.
  errors      an unknown peer and an unknown mode are refused with exit 1 / 2.

Every wait is a bounded poll; no timing is asserted.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import check, is_eor  # noqa: E402


def ipv4_update(prefix, plen, nexthop, asn):
    attrs = bytes([0x40, 1, 1, 0])                                     # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)        # AS_PATH
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton(nexthop)           # NEXT_HOP
    nb = (plen + 7) // 8
    nlri = bytes([plen]) + socket.inet_aton(prefix)[:nb]
    return rawbgp.update(attrs=attrs, nlri=nlri)


def peers(h):
    return f'''  - {{name: rr, address: {h.addr(11)}, asn: 65001, passive: true}}
  - {{name: norr, address: {h.addr(12)}, asn: 65002, passive: true}}
  - {{name: err, address: {h.addr(13)}, asn: 65003, passive: true}}
'''


def body(h):
    caps_rr = [rawbgp.cap_mp(), rawbgp.cap_as4(65001), rawbgp.cap_route_refresh()]
    caps_norr = [rawbgp.cap_mp(), rawbgp.cap_as4(65002)]
    caps_err = [rawbgp.cap_mp(), rawbgp.cap_as4(65003), rawbgp.cap_route_refresh(),
                rawbgp.cap_enhanced_route_refresh()]

    def connect(host, asn, bgp_id, caps, prefix):
        s = h.connect(h.addr(host), asn, bgp_id, caps=caps)
        s.send(ipv4_update(prefix, 24, f'198.18.0.{host}', asn))
        s.send(rawbgp.update())  # End-of-RIB
        return s

    rr = connect(11, 65001, '10.44.1.1', caps_rr, '10.61.0.0')
    norr = connect(12, 65002, '10.44.1.2', caps_norr, '10.62.0.0')
    err = connect(13, 65003, '10.44.1.3', caps_err, '10.63.0.0')

    # err gets the others' routes, then its End-of-RIB.
    err.recv_until(is_eor, timeout=10)

    # soft in towards a peer with route refresh
    r = h.ctl('reset', 'rr', 'in')
    check(r.returncode == 0 and 'soft in' in r.stdout, f'reset rr in accepted ({r.stdout.strip()})')
    rrm = rr.recv_until(lambda m: m.code == rawbgp.ROUTE_REFRESH, timeout=10)
    afi, subtype, safi = struct.unpack('!HBB', rrm.body[:4])
    check((afi, subtype, safi) == (1, 0, 1), 'rr received ROUTE-REFRESH IPv4 unicast, normal')

    # soft out towards a peer with enhanced route refresh: BoRR, table, EoRR
    r = h.ctl('reset', 'err', 'out')
    check(r.returncode == 0, 'reset err out accepted')
    start = len(err.received)
    err.recv_until(lambda m: m.code == rawbgp.ROUTE_REFRESH and m.body[2] == 2, timeout=10)
    got = err.received[start:]
    kinds = [('RR%d' % m.body[2]) if m.code == rawbgp.ROUTE_REFRESH else m.type
             for m in got if m.code != rawbgp.KEEPALIVE]
    check(kinds and kinds[0] == 'RR1' and kinds[-1] == 'RR2',
          f'err got BoRR ... EoRR around the table ({kinds})')
    updates = [m for m in got if m.code == rawbgp.UPDATE]
    check(len(updates) >= 1, 'err got the table again between BoRR and EoRR')
    blob = b''.join(u.body for u in updates)
    check(socket.inet_aton('10.61.0.0')[:3] in blob and socket.inet_aton('10.62.0.0')[:3] in blob,
          'the table re-sent holds the others\' prefixes')
    check(socket.inet_aton('10.63.0.0')[:3] not in blob, 'and not err\'s own prefix')

    # soft in towards a peer without route refresh: a hard reset
    r = h.ctl('reset', 'norr', 'in')
    check(r.returncode == 0, 'reset norr in accepted')
    n = norr.recv_notification(timeout=10)
    check(n is not None and (n.notification['code'], n.notification['subcode']) == (6, 4),
          f'norr (no route refresh) got 6/4 instead ({n!r})')

    # hard reset with an RFC 8203 text, by address
    r = h.ctl('reset', h.addr(11), 'hard', 'maintenance window 42')
    check(r.returncode == 0, 'reset by address accepted')
    n = rr.recv_notification(timeout=10)
    check(n is not None and n.notification['shutdown_text'] == 'maintenance window 42',
          f'rr got 6/4 with the text ({n!r})')
    # and is accepted again (the peer calls back)
    deadline = time.monotonic() + 20
    ok = False
    while time.monotonic() < deadline and not ok:
        try:
            h.connect(h.addr(11), 65001, '10.44.1.1', caps=caps_rr)
            ok = True
        except Exception:
            time.sleep(0.3)
    check(ok, 'rr can establish again after the hard reset')

    r = h.ctl('reset', 'nobody')
    check(r.returncode == 1 and 'no peer' in r.stderr, 'unknown peer refused (exit 1)')
    r = h.ctl('reset', 'rr', 'sideways')
    check(r.returncode == 2, 'unknown mode refused (exit 2)')


if __name__ == '__main__':
    sys.exit(rhtest.run(44, 'rh-reset-', peers, body))
