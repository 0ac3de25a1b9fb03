#!/usr/bin/env python3
"""The exact route count of max_routes follows an enhanced route refresh
(RFC 7313 §4): the routes swept at the peer's EoRR are no longer counted.

A raw speaker `f` with enhanced route refresh and max_routes: 10 (action
teardown), and a raw spoke `s` that receives f's routes:

  - f announces 8 /24s: routes_received 8, s holds the 8;
  - f sends BoRR, re-announces 3 of them, sends EoRR: routehubd sweeps the
    5 not re-announced, so routes_received (GET /v1/peers/f) is 3, the RIB
    holds 3 routes of f and s holds only those 3;
  - f announces 7 new /24s: 10 routes, exactly the limit, so the session
    stays up (a count still holding the swept routes would be 15: Cease /
    Maximum Number of Prefixes). f's ROUTE-REFRESH is then answered with
    BoRR/EoRR, no NOTIFICATION; routes_received 10, s holds the 10;
  - a BoRR before the EoRR starts over, and withdrawals count once: BoRR,
    re-announce A, BoRR again, withdraw W, re-announce B, EoRR: only B is
    left (A was marked stale again by the second BoRR): routes_received 1,
    s holds only B;
  - an IPv4 refresh leaves IPv6 alone: f announces one IPv6 prefix (2
    routes), then BoRR and EoRR for IPv4 with nothing re-sent: 1 route
    left, the IPv6 one.

Every wait is a bounded poll; no timing is asserted.
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import (Table, base_attrs, check, drain, ipv4_update, pfx, poll,  # noqa: E402
                    read_until, withdraw)

LIMIT = 10
BORR, EORR = 1, 2


def announce(prefixes):
    return ipv4_update(prefixes, '198.18.52.1')


def announce_v6(prefix):
    """One IPv6 unicast prefix in MP_REACH_NLRI (RFC 4760)."""
    net = ipaddress.IPv6Network(prefix)
    nbytes = (net.prefixlen + 7) // 8
    nh = ipaddress.IPv6Address('2001:db8:52::1').packed
    val = struct.pack('!HBB', 2, 1, len(nh)) + nh + b'\x00' \
        + bytes([net.prefixlen]) + net.network_address.packed[:nbytes]
    mp = bytes([0x90, 14]) + struct.pack('!H', len(val)) + val        # optional, ext. length
    return rawbgp.update(attrs=base_attrs() + mp)


def peers(h):
    return f'''  - {{name: f, address: {h.addr(11)}, asn: 65001, passive: true, max_routes: {LIMIT},
     max_routes_action: teardown, transparent: true}}
  - {{name: s, address: {h.addr(21)}, asn: 65002, passive: true, transparent: true}}
'''


def body(h):
    s = h.connect(h.addr(21), 65002, '10.52.2.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65002)])
    st = Table()
    f = h.connect(h.addr(11), 65001, '10.52.1.1',
                  caps=[rawbgp.cap_mp(1, 1), rawbgp.cap_mp(2, 1), rawbgp.cap_as4(65001),
                        rawbgp.cap_route_refresh(), rawbgp.cap_enhanced_route_refresh()])
    opened = f.received[0].open
    check('enhanced-route-refresh' in opened['cap_names'],
          f'routehubd offers enhanced route refresh ({sorted(opened["cap_names"])})')

    def received():
        i = h.peer_info('f')
        return i and i.get('routes_received')

    def want_s(names):
        w = {pfx(p) for p in names}
        read_until(s, lambda: st.routes == w, 10, table=st)
        return st.routes == w

    # 8 routes.
    first = [f'10.52.{i}.0' for i in range(1, 9)]
    f.send(announce(first) + rawbgp.update())
    got = poll(received, lambda v: v == 8, 10)
    check(got == 8, f'f announced 8 prefixes: routes_received 8 ({got})')
    check(want_s(first), f's holds the 8 ({len(st.routes)})')

    # BoRR, 3 of the 8 again, EoRR: the other 5 are swept.
    kept = first[:3]
    f.send(rawbgp.route_refresh(1, 1, BORR) + announce(kept) +
           rawbgp.route_refresh(1, 1, EORR))
    check(want_s(kept), f'after BoRR, 3 re-announced, EoRR: s holds only those 3 '
          f'({len(st.routes)})')
    p = poll(lambda: h.rib_peer('f'),
             lambda v: v and v['accepted']['total'] == 3, 10)
    check(p is not None and p['accepted']['total'] == 3,
          f'the RIB holds 3 routes of f ({p and p["accepted"]})')
    info = poll(lambda: h.peer_info('f'),
                lambda v: v and v.get('refresh_in', 0) >= 2 and v['routes_received'] == 3, 10)
    check(info is not None and info.get('refresh_in') == 2,
          f'routehubd read the BoRR and the EoRR ({info and info.get("refresh_in")})')
    check(info is not None and info['routes_received'] == 3,
          f'routes_received 3 after the EoRR ({info and info["routes_received"]})')

    # 7 new: 10 routes, exactly the limit.
    new = [f'10.52.{i}.0' for i in range(11, 18)]
    f.send(announce(new))
    check(want_s(kept + new), f'7 new prefixes: s holds the 10 ({len(st.routes)})')
    mark = len(f.received)
    f.send(rawbgp.route_refresh(1, 1, 0))
    try:
        m = f.recv_until(lambda m: m.code == rawbgp.NOTIFICATION or
                         (m.code == rawbgp.ROUTE_REFRESH and m.body[2] == EORR), 10)
        what = repr(m)
    except (TimeoutError, rawbgp.ConnectionClosed) as e:
        m, what = None, repr(e)
    notes = [x for x in f.received[mark:] if x.code == rawbgp.NOTIFICATION]
    check(m is not None and m.code == rawbgp.ROUTE_REFRESH and not notes,
          f'at the limit the session stays up: f\'s ROUTE-REFRESH answered with EoRR, '
          f'no NOTIFICATION ({what}, {notes})')
    info = poll(lambda: h.peer_info('f'),
                lambda v: v and v.get('routes_received') == LIMIT, 10)
    check(info is not None and info['routes_received'] == LIMIT and
          info['state'] == 'Established' and info['flaps'] == 0 and
          info['max_routes_exceeded'] is False,
          f'routes_received {LIMIT}, Established, no flap, not over the limit '
          f'({info and (info["routes_received"], info["state"], info["flaps"])})')

    # A second BoRR before the EoRR starts over; a withdrawal counts once.
    a, w, b = kept[0], kept[1], new[0]
    f.send(rawbgp.route_refresh(1, 1, BORR) + announce([a]) +
           rawbgp.route_refresh(1, 1, BORR) + withdraw([w]) + announce([b]) +
           rawbgp.route_refresh(1, 1, EORR))
    check(want_s([b]), f'BoRR, A, BoRR, withdraw W, B, EoRR: s holds only B '
          f'({len(st.routes)})')
    got = poll(received, lambda v: v == 1, 10)
    check(got == 1, f'routes_received 1 ({got})')

    # An IPv4 refresh leaves the IPv6 route.
    f.send(announce_v6('2001:db8:5200::/48'))
    got = poll(received, lambda v: v == 2, 10)
    check(got == 2, f'an IPv6 prefix: routes_received 2 ({got})')
    f.send(rawbgp.route_refresh(1, 1, BORR) + rawbgp.route_refresh(1, 1, EORR))
    check(want_s([]), f'IPv4 BoRR, EoRR, nothing re-sent: s holds nothing '
          f'({len(st.routes)})')
    p = poll(lambda: h.rib_peer('f'),
             lambda v: v and v['accepted']['total'] == 1, 10)
    check(p is not None and p['accepted'] == {'ipv4': 0, 'ipv6': 1, 'total': 1},
          f'the RIB holds f\'s IPv6 route only ({p and p["accepted"]})')
    got = poll(received, lambda v: v == 1, 10)
    check(got == 1, f'routes_received 1, the IPv6 one ({got})')
    drain(f)
    check(h.running() and
          not any(x.code == rawbgp.NOTIFICATION for x in f.received + s.received),
          'no NOTIFICATION, routehubd still running')


if __name__ == '__main__':
    sys.exit(rhtest.run(52, 'rh-maxr-rr-', peers, body))
