#!/usr/bin/env python3
"""A spoke that does not read (DESIGN: "a member that cannot keep up").

routehubd runs with a small send-queue bound (RH_SENDQ_LIMIT=200000 bytes).
A raw feeder announces 20,000 /24s and then re-announces them 80 times with a
new MED each round. Two raw spokes with enhanced route refresh (RFC 7313)
receive: `fast` reads all the time; `slow` has a tiny receive buffer and
stops reading until routehubd says it is out of sync.

Expected, all checked:
  - routehubd logs `slow` out of sync and holds its updates (nothing more is
    queued for it, so its memory stops growing);
  - `fast` is not slowed: it ends with every prefix at the last MED while
    `slow` is still not reading;
  - once `slow` reads again and its queue drains, routehubd resynchronises
    it with BoRR, the table, EoRR (no session reset, no NOTIFICATION);
  - `slow`'s table, applying RFC 7313 (BoRR marks our routes stale, EoRR
    drops the stale ones), equals the RIB: 20,000 prefixes at the last MED.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import (StaleTable, base_attrs, check, drain, med_attr, nexthop_attr,  # noqa: E402
                    pack_updates, table_prefixes)

NPFX = 20000
ROUNDS = 60


def updates(med, asn=65001):
    """The whole table with this MED, packed into 4096-byte UPDATEs."""
    return pack_updates(table_prefixes(NPFX), base_attrs(asn) + nexthop_attr('198.18.46.1') +
                        med_attr(med))


def peers(h):
    return f'''  - {{name: feeder, address: {h.addr(11)}, asn: 65001, passive: true, max_routes: 0,
     transparent: true}}
  - {{name: fast, address: {h.addr(21)}, asn: 65002, passive: true, transparent: true}}
  - {{name: slow, address: {h.addr(22)}, asn: 65003, passive: true, transparent: true}}
'''


def body(h):
    caps = [rawbgp.cap_mp(), rawbgp.cap_route_refresh(), rawbgp.cap_enhanced_route_refresh()]
    fast = h.connect(h.addr(21), 65002, '10.46.2.1', caps=caps + [rawbgp.cap_as4(65002)])
    # A tiny receive buffer before connecting: the kernel cannot soak up
    # much for a spoke that does not read.
    slow = h.connect(h.addr(22), 65003, '10.46.2.2', rcvbuf=4096,
                     caps=caps + [rawbgp.cap_as4(65003)])
    feeder = h.connect(h.addr(11), 65001, '10.46.1.1',
                       caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])

    ftable = StaleTable()
    for rnd in range(ROUNDS):
        for m in updates(1000 + rnd):
            feeder.send(m)
        drain(fast, ftable, 0.01)   # fast keeps reading
        drain(feeder, budget=0.01)  # so does the feeder
        if rnd % 10 == 0:     # everyone keeps its session alive; slow only sends
            for sp in (fast, slow, feeder):
                sp.send(rawbgp.keepalive())
    last = 1000 + ROUNDS - 1

    def oos_logged():
        return h.logged(f'slow {h.addr(22)}: not reading')
    deadline = time.monotonic() + 30
    while not oos_logged() and time.monotonic() < deadline:
        drain(fast, ftable, 0.1)
    check(oos_logged(), 'routehubd found slow out of sync and holds its updates')

    # fast is not held back: it reaches the final state while slow sleeps
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
            len(ftable.routes) == NPFX and all(v == last for v in ftable.routes.values())):
        drain(fast, ftable, 0.2)
    check(len(ftable.routes) == NPFX and all(v == last for v in ftable.routes.values()),
          f'fast has all {NPFX} prefixes at the last MED while slow is not reading')

    # slow reads again: drain, resync with BoRR/table/EoRR, no NOTIFICATION
    stable = StaleTable()
    notif = []
    for sp in (fast, slow, feeder):
        sp.send(rawbgp.keepalive())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            m = slow.recv_msg(timeout=1)
        except TimeoutError:
            if stable.eorr and len(stable.routes) == NPFX:
                break
            continue
        if m.code == rawbgp.NOTIFICATION:
            notif.append(m)
            break
        stable.apply(m)
        if stable.eorr and len(stable.routes) == NPFX and \
                all(v == last for v in stable.routes.values()):
            break
    check(not notif, f'slow got no NOTIFICATION ({notif})')
    check(stable.borr >= 1 and stable.eorr >= 1,
          f'slow was resynchronised with BoRR ({stable.borr}) and EoRR ({stable.eorr})')
    check(len(stable.routes) == NPFX and all(v == last for v in stable.routes.values()),
          f'slow ends with exactly the RIB: {len(stable.routes)} prefixes, '
          f'MEDs {sorted(set(stable.routes.values()))[:3]}')
    check(h.logged(f'slow {h.addr(22)}: drained: resynchronising'),
          'routehubd logged the resync')


if __name__ == '__main__':
    sys.exit(rhtest.run(46, 'rh-slow-', peers, body, env={'RH_SENDQ_LIMIT': '200000'}))
