#!/usr/bin/env python3
"""Route refresh requests merged into one re-advertisement keep BoRR and EoRR
paired (RFC 7313 §4).

A raw feeder announces NPFX /24s; a raw spoke `s` with enhanced route refresh
takes the table and End-of-RIB, then sends three ROUTE-REFRESH (IPv4 unicast)
in one write. routehubd merges table dumps asked for while one is under way;
per family a BoRR opens a re-advertisement and an EoRR closes it, so `s` must
see them in pairs:

  - as many BoRR as EoRR, at least one, strictly alternating (BoRR, EoRR,
    BoRR, EoRR...): no BoRR for a request merged into a re-advertisement
    already begun, no EoRR without its BoRR;
  - every one of the NPFX prefixes re-sent between each BoRR and its EoRR,
    and nothing else of the re-advertisement after it;
  - a fourth request afterwards gets exactly one more pair: nothing of the
    first three was left pending.

Every wait is a bounded poll; no timing is asserted.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import (base_attrs, check, drain, is_eor, nexthop_attr, nlri_of,  # noqa: E402
                    pack_updates, read_until, rr_subtype, table_prefixes)

NPFX = 5000


def prefixes():
    return table_prefixes(NPFX)


def updates(asn=65001):
    """The whole table packed into 4096-byte UPDATEs."""
    return pack_updates(prefixes(), base_attrs(asn) + nexthop_attr('198.18.49.1'))


def frames(msgs):
    """The RFC 7313 frames in msgs: (sequence of 'B'/'E', [prefixes announced
    between each BoRR and its EoRR], problems)."""
    seq, wins, bad = [], [], []
    cur = None
    for m in msgs:
        st = rr_subtype(m)
        if st == 1:
            seq.append('B')
            if cur is not None:
                bad.append('BoRR inside a re-advertisement')
            cur = set()
        elif st == 2:
            seq.append('E')
            if cur is None:
                bad.append('EoRR without BoRR')
            else:
                wins.append(cur)
            cur = None
        elif m.code == rawbgp.UPDATE and cur is not None:
            cur |= nlri_of(m)[0]
    if cur is not None:
        bad.append('a re-advertisement without EoRR')
    return seq, wins, bad


def peers(h):
    return f'''  - {{name: feeder, address: {h.addr(11)}, asn: 65001, passive: true, max_routes: 0,
     transparent: true}}
  - {{name: s, address: {h.addr(21)}, asn: 65002, passive: true, transparent: true}}
'''


def body(h):
    def refresh_in(name):
        return (h.peer_info(name) or {}).get('refresh_in', 0)

    def rib_total():
        r = h.ctl('--json', 'show', 'rib')
        if r.returncode != 0:
            return None
        return json.loads(r.stdout or '{}').get('prefixes', {}).get('total')

    feeder = h.connect(h.addr(11), 65001, '10.49.1.1',
                       caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])
    feeder.send(b''.join(updates()) + rawbgp.update())

    # The feeder's table is in the RIB before s comes.
    deadline = time.monotonic() + 30
    while rib_total() != NPFX:
        if time.monotonic() > deadline:
            raise RuntimeError(f'the RIB never held the {NPFX} prefixes')
        drain(feeder)
    all_pfx = set(prefixes())
    caps = [rawbgp.cap_mp(), rawbgp.cap_as4(65002), rawbgp.cap_route_refresh(),
            rawbgp.cap_enhanced_route_refresh()]
    s = h.connect(h.addr(21), 65002, '10.49.2.1', caps=caps)
    s.recv_until(is_eor, timeout=20)
    got = set().union(*(nlri_of(m)[0] for m in s.received if m.code == rawbgp.UPDATE))
    check(got == all_pfx, f's has the table ({len(got)} of {NPFX} prefixes) and End-of-RIB')

    # Three requests in one write.
    start = len(s.received)
    s.send(rawbgp.route_refresh(1, 1, 0) * 3)
    deadline = time.monotonic() + 20
    while refresh_in('s') < 3 and time.monotonic() < deadline:
        drain(s)
    check(refresh_in('s') == 3, 'routehubd read the three requests')

    def paired():
        seq, _w, _b = frames(s.received[start:])
        return seq and seq.count('B') == seq.count('E')
    read_until(s, paired, 20, step=1.0)
    seq, wins, bad = frames(s.received[start:])
    nb, ne = seq.count('B'), seq.count('E')
    check(nb >= 1 and nb == ne, f'three requests: {nb} BoRR, {ne} EoRR ({"".join(seq)})')
    check(not bad, f'BoRR and EoRR alternate ({bad or "".join(seq)})')
    check(wins and all(w == all_pfx for w in wins),
          f'all {NPFX} prefixes re-sent between each BoRR and its EoRR '
          f'({[len(w) for w in wins]})')

    # One more request: exactly one more pair, nothing left over.
    mid = len(s.received)
    s.send(rawbgp.route_refresh(1, 1, 0))
    read_until(s, lambda: any(rr_subtype(m) == 2 for m in s.received[mid:]), 20, step=1.0)
    seq2, wins2, bad2 = frames(s.received[mid:])
    check(seq2 == ['B', 'E'] and not bad2,
          f'a fourth request: one BoRR, one EoRR ({"".join(seq2)}, {bad2})')
    check(wins2 and wins2[0] == all_pfx, f'with the {NPFX} prefixes between them')
    check(h.running() and not any(m.code == rawbgp.NOTIFICATION for m in s.received),
          'no NOTIFICATION, routehubd still running')


if __name__ == '__main__':
    sys.exit(rhtest.run(49, 'rh-rrmerge-', peers, body))
