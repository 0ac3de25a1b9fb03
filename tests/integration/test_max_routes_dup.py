#!/usr/bin/env python3
"""max_routes counts prefixes, not NLRI entries.

A raw speaker `f` with max_routes: 5 sends one UPDATE whose NLRI lists five
distinct /24s with one of them twice (six entries). The Adj-RIB-In then holds
five routes (RFC 4271 §3.2), which is the limit, not over it:

  - the session stays up (no Cease/Maximum Number of Prefixes);
  - `routehubctl --json show rib` reports 5 routes received from `f` (the
    exact Adj-RIB-In count of max_routes) and 5 accepted in the RIB;
  - re-announcing held prefixes, repeated too, leaves the count at 5;
  - a sixth distinct prefix (listed twice) is over the limit: Cease /
    Maximum Number of Prefixes (RFC 4486 §4) with AFI 1, SAFI 1, bound 5.

Every wait is a bounded poll; no timing is asserted.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import check, ipv4_update, wait_for  # noqa: E402

LIMIT = 5


def peers(h):
    return (f'  - {{name: f, address: {h.addr(11)}, asn: 65001, passive: true, '
            f'max_routes: {LIMIT}}}\n')


def body(h):
    f = h.connect(h.addr(11), 65001, '10.48.1.1', hold_time=90,
                  caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001), rawbgp.cap_route_refresh()])
    pfx = [f'10.48.{i}.0' for i in range(1, LIMIT + 1)]
    listed = pfx[:3] + [pfx[2]] + pfx[3:]          # 6 NLRI entries, 5 prefixes
    f.send(ipv4_update(listed, '198.18.48.1', 65001) + rawbgp.update())

    # The shards get the routes only if the UPDATE was taken.
    p = wait_for(lambda: (lambda x: x if x and x['accepted']['total'] == LIMIT else None)(
        h.rib_peer('f')), 10, f'{LIMIT} routes from f in the RIB')
    check(p['state'] == 'Established', f'f is still Established ({p["state"]})')
    check(p['received'] == LIMIT,
          f'show rib: f holds {LIMIT} routes, the repeated prefix once ({p["received"]})')
    check(p['accepted']['total'] == LIMIT, f'and {LIMIT} are in the RIB ({p["accepted"]})')
    info = h.peer_info('f')
    check(info is not None and info['established'] == 1 and info['flaps'] == 0,
          f'show peer f: up once, no flap ({info and (info["established"], info["flaps"])})')

    # Held prefixes again, repeated: nothing new, still 5.
    f.send(ipv4_update([pfx[0], pfx[0], pfx[4]], '198.18.48.2', 65001))
    wait_for(lambda: (lambda x: x and x['updates_in'] >= 3)(h.peer_info('f')), 10,
             'routehubd to read the re-announcement')
    p = h.rib_peer('f')
    check(p is not None and p['state'] == 'Established' and p['received'] == LIMIT,
          f're-announcing held prefixes twice keeps the count at {LIMIT} '
          f'({p and (p["state"], p["received"])})')

    # A sixth prefix, listed twice: over the limit by one.
    f.send(ipv4_update(['10.48.99.0', '10.48.99.0'], '198.18.48.1', 65001))
    n = f.recv_notification(timeout=10)
    nt = n.notification
    check((nt['code'], nt['subcode']) == (6, 1),
          f'a sixth prefix gets Cease / Maximum Number of Prefixes ({n!r})')
    check(nt['data'] == b'\x00\x01\x01' + struct.pack('!I', LIMIT),
          f'with AFI 1, SAFI 1 and the bound {LIMIT} (RFC 4486 §4) ({nt["data"].hex()})')


if __name__ == '__main__':
    sys.exit(rhtest.run(48, 'rh-maxr-', peers, body))
