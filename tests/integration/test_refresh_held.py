#!/usr/bin/env python3
"""A route refresh answered while the spoke is held out of sync gets its EoRR
only after the whole table (RFC 7313 §4).

routehubd runs with a small send-queue bound (RH_SENDQ_LIMIT=200000 bytes).
A raw spoke `slow` with enhanced route refresh and a tiny receive buffer takes
the feeder's NPFX /24s, then stops reading; the feeder re-announces them with
a new MED each round until routehubd holds `slow` out of sync (nothing more is
queued for it: its updates are dropped until it drains, then it is
resynchronised with BoRR, the table, EoRR). While held, `slow` sends a
ROUTE-REFRESH: routehubd answers with BoRR and a table dump whose messages the
hold drops. The dump's end must not send EoRR, which would make `slow` purge
every route it was not re-sent; the resync after the hold ends the
re-advertisement.

Expected, all checked:
  - routehubd holds `slow`, reads its ROUTE-REFRESH and finishes that dump
    while `slow` is still held (the log says so; this is the wait before
    `slow` reads again);
  - `slow`, applying RFC 7313 (BoRR marks its routes stale, EoRR drops the
    stale ones), sees BoRR and EoRR alternate and balanced, and at every
    EoRR all NPFX prefixes were re-sent since its BoRR: no EoRR while routes
    are missing;
  - no NOTIFICATION, no session reset; `slow` ends with the full table at
    the last MED.

Every wait is a bounded poll; no timing is asserted.
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
MAX_ROUNDS = 300


def updates(med, asn=65001):
    """The whole table with this MED, packed into 4096-byte UPDATEs."""
    attrs = base_attrs(asn) + nexthop_attr('198.18.51.1') + med_attr(med)
    return b''.join(pack_updates(table_prefixes(NPFX), attrs))


def peers(h):
    return f'''  - {{name: feeder, address: {h.addr(11)}, asn: 65001, passive: true, max_routes: 0,
     transparent: true}}
  - {{name: slow, address: {h.addr(21)}, asn: 65003, passive: true, transparent: true}}
'''


def body(h):
    slow_addr = h.addr(21)
    logged = h.logged

    # A tiny receive buffer before connecting: the kernel cannot soak up
    # much for a spoke that does not read.
    slow = h.connect(slow_addr, 65003, '10.51.2.1', rcvbuf=4096,
                     caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65003), rawbgp.cap_route_refresh(),
                           rawbgp.cap_enhanced_route_refresh()])
    feeder = h.connect(h.addr(11), 65001, '10.51.1.1',
                       caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])

    # slow takes the first table while it reads.
    st = StaleTable()
    med = 1000
    feeder.send(updates(med))
    deadline = time.monotonic() + 30
    while len(st.routes) < NPFX and time.monotonic() < deadline:
        drain(slow, st, 0.1)
        drain(feeder, budget=0.01)
    check(len(st.routes) == NPFX, f'slow has the table ({len(st.routes)} of {NPFX})')

    # slow stops reading; new MEDs until routehubd holds it.
    held = f'slow {slow_addr}: not reading'
    rounds = 0
    while not logged(held) and rounds < MAX_ROUNDS:
        med += 1
        rounds += 1
        feeder.send(updates(med))
        drain(feeder, budget=0.01)
        if rounds % 10 == 0:  # keep both sessions alive; slow only sends
            slow.send(rawbgp.keepalive())
            feeder.send(rawbgp.keepalive())
    check(logged(held), f'routehubd holds slow out of sync (after {rounds} rounds)')

    # Held: a route refresh. routehubd answers with BoRR and a table
    # dump; the dump ends while slow is still held.
    slow.send(rawbgp.route_refresh(1, 1, 0) + rawbgp.keepalive())
    done = f'slow {slow_addr}: table sent while out of sync'
    deadline = time.monotonic() + 20
    while not logged(done) and time.monotonic() < deadline:
        drain(feeder, budget=0.1)
    check(logged(f'slow {slow_addr}: route refresh requested'),
          'routehubd read the ROUTE-REFRESH of the held slow')
    check(logged(done), 'its table dump ended while slow was held, without EoRR')
    # One more change while held: the resync must bring it too.
    med += 1
    feeder.send(updates(med) + rawbgp.keepalive())
    slow.send(rawbgp.keepalive())

    # slow reads again: everything queued, then the resync.
    start = len(st.seq)
    notif = []

    def settled():
        seq = st.seq[start:]
        return (seq and seq.count('B') == seq.count('E') and len(st.routes) == NPFX and
                all(v == med for v in st.routes.values()))
    deadline = time.monotonic() + 60
    last_ka = time.monotonic()
    while not settled() and time.monotonic() < deadline:
        try:
            m = slow.recv_msg(timeout=1)
        except TimeoutError:
            continue
        if m.code == rawbgp.NOTIFICATION:
            notif.append(m)
            break
        st.apply(m)
        drain(feeder, budget=0.001)
        if time.monotonic() - last_ka > 5:
            slow.send(rawbgp.keepalive())
            feeder.send(rawbgp.keepalive())
            last_ka = time.monotonic()
    seq = st.seq[start:]
    at_eorr = st.at_eorr[-seq.count('E'):] if seq.count('E') else []
    check(not notif, f'slow got no NOTIFICATION ({notif})')
    check(seq and seq.count('B') == seq.count('E') and
          all(seq[i] == 'BE'[i % 2] for i in range(len(seq))),
          f'BoRR and EoRR alternate, balanced ({"".join(seq)})')
    check(at_eorr and all(n == NPFX for n in at_eorr),
          f'every EoRR comes after all {NPFX} prefixes were re-sent '
          f'(re-sent before each EoRR: {at_eorr})')
    check(len(st.routes) == NPFX and all(v == med for v in st.routes.values()),
          f'slow ends with the table: {len(st.routes)} prefixes, '
          f'MEDs {sorted(set(st.routes.values()))[:3]} (want {med})')
    check(logged(f'slow {slow_addr}: drained: resynchronising'),
          'routehubd resynchronised slow after the hold')
    check(h.running(), 'routehubd still running')


if __name__ == '__main__':
    sys.exit(rhtest.run(51, 'rh-rrheld-', peers, body, env={'RH_SENDQ_LIMIT': '200000'}))
