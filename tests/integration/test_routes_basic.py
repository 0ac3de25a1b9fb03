#!/usr/bin/env python3
"""routehubd as a route server: exact tables at every spoke (eBGP, the hub model).

Topology (everything on 127/8, each daemon its own address; routehubd AS 65515):

    feeders                         routehubd                  spokes
    f1  ExaBGP AS 65001  --nva-->               --nva-->       s1  BIRD   AS 65101
    f2  BIRD   AS 65002  --nva-->   AS 65515    --nva,transp-> s2  GoBGP  AS 65102
                                                --nva-->       s3  ExaBGP AS 65103

s2 is configured `transparent: true` (RFC 7947: no own-AS prepend); the others get
65515 prepended. s3 (ExaBGP) shows the raw attributes exactly as routehubd sent them.

Checks (each prints PASS/FAIL; the run ends with `N passed, M failed`):
  tables       every spoke's table is exactly the expected one: prefix, next hop
               (unchanged), AS path (feeder path with 65515 prepended; unchanged at
               the transparent spoke), communities, large communities, MED, ORIGIN;
               no LOCAL_PREF reaches the eBGP spoke s3 (RFC 4271 §5.1.5).
  feeders      f1 and f2 get each other's routes (AS path with 65515 prepended) and
               never their own back (their AS is in the path: sender-side loop check).
  loop-check   f1's route with 65103 in its AS path never reaches s3 (in no UPDATE
               of s3's whole event stream), while s1 and s2 have it; the route with
               65101 in its path is missing at s1 and present at s2 and s3.
  withdraw     withdrawing one prefix at each feeder removes it at every spoke; every
               other route is unchanged (exact tables again).
  reannounce   the feeder changes the attributes of a prefix (new communities, MED,
               next hop): every spoke gets the new attributes (implicit withdraw).
  loop-change  f1 changes a route's path to one holding 65103: s3 loses it (the others
               get the new path), and gets it back when the path changes back.
  other-attrs  extended communities, AGGREGATOR and ATOMIC_AGGREGATE reach s3 intact;
               an unknown optional transitive attribute with the Partial bit set, an
               unknown optional non-transitive one not at all (RFC 4271 §5).
  bulk         f1 adds 2,000 prefixes (two attribute sets): exact tables everywhere;
               s4 (BIRD, AS 65104), started only now, gets the whole table from
               routehubd's table dump; f1 withdraws them all: gone everywhere.

Exit 0 passed, 1 failed, 77 skipped (routehubd or a daemon binary missing).
Environment: RH_BIN (routehubd, routehubctl), RH_KEEP_LAB=1 keeps the lab directory.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from bgpharness import Bird, Exabgp, Gobgp, Routehubd, wait_for  # noqa: E402
from routecheck import Runner, lab_main, norm, diff  # noqa: E402

T = 30          # bound of every wait, seconds
RH_ASN = 65515
RH_ID = '10.255.0.1'
F1_ASN, F2_ASN = 65001, 65002
S1_ASN, S2_ASN, S3_ASN, S4_ASN = 65101, 65102, 65103, 65104
BULK = [f'10.{100 + i // 256}.{i % 256}.0/24' for i in range(2000)]


# ---------------------------------------------------------------------------------------
# Small helpers (tables, diffs, a runner)
# ---------------------------------------------------------------------------------------
def R(next_hop, as_path, communities=(), large=(), med=None, origin='igp', local_pref=None):
    """An expected route (the attributes compared for it)."""
    return {'next_hop': next_hop, 'as_path': list(as_path), 'communities': sorted(communities),
            'large_communities': sorted(large), 'med': med, 'origin': origin,
            'local_pref': local_pref}


def expect_table(d, want, fields, timeout=T):
    """Poll d.routes() until the table is exactly `want` ({prefix: R(...)} restricted
    to `fields`); on timeout raise with the difference."""
    want = {p: {f: r[f] for f in fields} for p, r in want.items()}
    box = {}

    def cond():
        box['have'] = norm(d.routes(), fields)
        return box['have'] == want
    try:
        wait_for(cond, timeout, interval=0.3, what=f'{d.name}: exact table')
    except TimeoutError as e:
        raise AssertionError(f'{d.name}: table after {timeout}s: {diff(box.get("have", {}), want)} '
                             f'({e})') from None


def exabgp_announced(exa, prefix):
    """Every UPDATE in ExaBGP's whole event stream that announced `prefix`."""
    hits = []
    with open(exa.events, encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.strip()
            if not line.startswith('{'):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get('type') != 'update':
                continue
            msg = ((ev.get('neighbor') or {}).get('message') or {}).get('update') or {}
            for fam, nhs in (msg.get('announce') or {}).items():
                for nh, nlris in nhs.items():
                    for x in nlris:
                        pf = x.get('nlri') if isinstance(x, dict) else x
                        if pf == prefix:
                            hits.append(msg)
    return hits


# ---------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------
# Routes as originated inside each feeder (as_path = the feeder's own path; over eBGP
# it prepends its AS).
F1_ROUTES = {
    '10.1.1.0/24': dict(next_hop='198.18.1.1', as_path=[], communities=['65001:100', '65001:200'],
                        large_communities=['65001:1:2'], med=10),
    '10.1.2.0/24': dict(next_hop='198.18.1.2', as_path=[64600, 64601], origin='incomplete'),
    '10.1.3.0/24': dict(next_hop='198.18.1.3', as_path=[S1_ASN]),           # loops at s1
    '10.1.4.0/24': dict(next_hop='198.18.1.4', as_path=[64600, S3_ASN]),    # loops at s3
    '10.1.5.5/32': dict(next_hop='198.18.1.5', as_path=[64610], communities=['64512:7']),
}
F2_ROUTES = {
    '10.2.1.0/24': dict(next_hop='198.18.2.1', as_path=[64800], communities=['65002:1'],
                        large_communities=['65002:0:7', '4200000000:1:1'], med=0),
    '10.2.2.0/23': dict(next_hop='198.18.2.2', as_path=[], origin='egp'),
    '172.16.0.0/12': dict(next_hop='198.18.2.3', as_path=[64801, 64802, 64803], med=4000000000),
}


def expected(routes, feeder_asn, prepend, exclude_asn=None, lp=None):
    """What a receiver of routehubd should hold for a feeder's routes."""
    out = {}
    for p, a in routes.items():
        path = [feeder_asn] + a.get('as_path', [])
        if exclude_asn is not None and exclude_asn in path:
            continue
        if prepend:
            path = [RH_ASN] + path
        out[p] = R(a['next_hop'], path, a.get('communities', ()), a.get('large_communities', ()),
                   a.get('med'), a.get('origin', 'igp'), lp)
    return out


def main():
    return lab_main('basic', (Bird, Exabgp, Gobgp), scenario)


def scenario(lab, t0):
    run = Runner(lab)
    rh = Routehubd(lab, 'rh', RH_ASN, RH_ID, lab.address())
    f1 = Exabgp(lab, 'f1', F1_ASN, '10.0.1.1', lab.address())
    f2 = Bird(lab, 'f2', F2_ASN, '10.0.2.1', lab.address())
    s1 = Bird(lab, 's1', S1_ASN, '10.0.11.1', lab.address())
    s2 = Gobgp(lab, 's2', S2_ASN, '10.0.12.1', lab.address())
    s3 = Exabgp(lab, 's3', S3_ASN, '10.0.13.1', lab.address())
    # s4 joins late (see 'bulk'): routehubd knows it from the start.
    s4_addr = lab.address()
    rh.add_neighbor(s4_addr, S4_ASN, passive=True, name='s4')
    for d in (f1, f2, s1, s3):
        rh.add_neighbor(d.address, d.asn, passive=True, name=d.name)
        d.add_neighbor(rh.address, rh.asn)
    # GoBGP is the passive side (its own first connect comes 5-10 s late).
    rh.add_neighbor(s2.address, s2.asn, rs_client=True, name='s2')  # transparent: true
    s2.add_neighbor(rh.address, rh.asn, passive=True)
    for p, a in F1_ROUTES.items():
        f1.announce([p], **a)
    for p, a in F2_ROUTES.items():
        f2.announce([p], **a)

    lab.start_all()
    print(f'started {len(lab.daemons)} daemons in {time.monotonic() - t0:.1f}s', flush=True)
    spokes = (s1, s2, s3)
    feeders = (f1, f2)

    def established():
        for d in feeders + spokes:
            rh.wait_established(d.address, timeout=T)
            d.wait_established(rh.address, timeout=T)
    if not run.check('established', established):
        return 1

    # Attributes compared at each receiver. BIRD shows LOCAL_PREF 100 on eBGP routes
    # (its own default), GoBGP and ExaBGP show what was on the wire.
    bird_f = ('next_hop', 'as_path', 'communities', 'large_communities', 'med', 'origin')
    raw_f = bird_f + ('local_pref',)

    def want_s1(f1r=F1_ROUTES, f2r=F2_ROUTES):
        w = expected(f1r, F1_ASN, True, exclude_asn=S1_ASN)
        w.update(expected(f2r, F2_ASN, True, exclude_asn=S1_ASN))
        return w

    def want_s2(f1r=F1_ROUTES, f2r=F2_ROUTES):
        w = expected(f1r, F1_ASN, False, exclude_asn=S2_ASN)
        w.update(expected(f2r, F2_ASN, False, exclude_asn=S2_ASN))
        return w

    def want_s3(f1r=F1_ROUTES, f2r=F2_ROUTES):
        w = expected(f1r, F1_ASN, True, exclude_asn=S3_ASN)
        w.update(expected(f2r, F2_ASN, True, exclude_asn=S3_ASN))
        return w

    def tables(f1r=F1_ROUTES, f2r=F2_ROUTES):
        expect_table(s2, want_s2(f1r, f2r), raw_f)
        expect_table(s1, want_s1(f1r, f2r), bird_f)
        expect_table(s3, want_s3(f1r, f2r), raw_f)
    run.check('tables', tables)

    def feeders_tables():
        expect_table(f1, expected(F2_ROUTES, F2_ASN, True, exclude_asn=F1_ASN), raw_f)
        expect_table(f2, expected(F1_ROUTES, F1_ASN, True, exclude_asn=F2_ASN), bird_f)
    run.check('feeders', feeders_tables)

    def loop_check():
        # s1 and s2 have the 65103 route, so routehubd has long processed it.
        if '10.1.4.0/24' not in {r['prefix'] for r in s1.routes()}:
            raise AssertionError('s1 lacks 10.1.4.0/24 (path has 65103, not 65101)')
        if '10.1.4.0/24' not in {r['prefix'] for r in s2.routes()}:
            raise AssertionError('s2 lacks 10.1.4.0/24')
        if '10.1.3.0/24' in {r['prefix'] for r in s1.routes()}:
            raise AssertionError('s1 holds 10.1.3.0/24 whose AS path contains 65101')
        hits = exabgp_announced(s3, '10.1.4.0/24')
        if hits:
            raise AssertionError(f's3 (AS {S3_ASN}) was sent 10.1.4.0/24 whose AS path contains '
                                 f'{S3_ASN}: {hits[0]}')
        if not exabgp_announced(s3, '10.1.3.0/24'):
            raise AssertionError('s3 never received 10.1.3.0/24')
    run.check('loop-check', loop_check)

    f1_now, f2_now = dict(F1_ROUTES), dict(F2_ROUTES)

    def withdraw():
        f1.withdraw('10.1.2.0/24')
        del f1_now['10.1.2.0/24']
        f2.withdraw('10.2.1.0/24')
        del f2_now['10.2.1.0/24']
        tables(f1_now, f2_now)
    run.check('withdraw', withdraw)

    def reannounce():
        a = dict(next_hop='198.18.1.99', as_path=[64999], communities=['65001:300'],
                 large_communities=['65001:9:9'], med=77)
        f1.announce(['10.1.1.0/24'], **a)
        f1_now['10.1.1.0/24'] = a
        tables(f1_now, f2_now)
    run.check('reannounce', reannounce)

    def loop_change():
        # A path change that brings a spoke's AS into the path takes the route away
        # from that spoke (a withdrawal, not silence), and back when it goes again.
        p = '10.1.5.5/32'
        looped = dict(F1_ROUTES[p], as_path=[64610, S3_ASN])
        f1.announce([p], **looped)
        f1_now[p] = looped
        tables(f1_now, f2_now)
        f1.announce([p], **F1_ROUTES[p])
        f1_now[p] = F1_ROUTES[p]
        tables(f1_now, f2_now)
    run.check('loop-change', loop_change)

    def other_attrs():
        # Attributes the harness does not model, sent raw through ExaBGP's API.
        p = '10.1.9.0/24'
        f1.send(f'neighbor {rh.address} announce route {p} next-hop 198.18.1.9 origin igp '
                f'as-path [ {F1_ASN} ] extended-community [ target:65001:7 origin:65001:8 ] '
                'aggregator ( 65001:10.0.1.1 ) atomic-aggregate '
                'attribute [ 0xc8 0xc0 0x01020304 ] attribute [ 0xc9 0x80 0x0506 ]')
        f1_now[p] = dict(next_hop='198.18.1.9', as_path=[])
        tables(f1_now, f2_now)
        got = exabgp_announced(s3, p)
        if len(got) != 1:
            raise AssertionError(f's3 got {len(got)} UPDATEs for {p}: {got}')
        a = got[0].get('attribute') or {}
        ext = sorted(x.get('string') for x in a.get('extended-community', []))
        problems = []
        if ext != ['origin:65001:0.0.0.8', 'target:65001:7']:
            problems.append(f'extended communities {ext}')
        if a.get('aggregator') != '65001:10.0.1.1' or a.get('atomic-aggregate') is not True:
            problems.append(f'aggregator {a.get("aggregator")!r} atomic-aggregate '
                            f'{a.get("atomic-aggregate")!r}')
        # RFC 4271 §5: an unrecognised optional transitive attribute is passed on with
        # the Partial bit set (flags 0xc0 -> 0xe0); a non-transitive one is dropped.
        if a.get('attribute-0xC8-0xE0') != '0x01020304':
            problems.append('optional transitive attribute 200 not passed with Partial set')
        if any(k.startswith('attribute-0xC9') for k in a):
            problems.append('optional non-transitive attribute 201 passed on')
        if problems:
            raise AssertionError(f's3 {p}: ' + '; '.join(problems) + f' (attributes {a})')
    run.check('other-attrs', other_attrs)

    def bulk():
        # 2,000 prefixes in two attribute sets (many prefixes per UPDATE), then a
        # spoke that joins only now and gets them through the table dump (several
        # chunks per shard), then all withdrawn.
        a = dict(next_hop='198.18.100.1', as_path=[64601], communities=['65001:1000'])
        b = dict(next_hop='198.18.100.2', as_path=[64602, 64603], large_communities=['65001:0:1000'])
        f1.announce(BULK[0::2], **a)
        f1.announce(BULK[1::2], **b)
        for i, p in enumerate(BULK):
            f1_now[p] = a if i % 2 == 0 else b
        tables(f1_now, f2_now)
        s4 = Bird(lab, 's4', S4_ASN, '10.0.14.1', s4_addr)
        s4.add_neighbor(rh.address, rh.asn)
        s4.start()
        s4.wait_established(rh.address, timeout=T)
        w = expected(f1_now, F1_ASN, True, exclude_asn=S4_ASN)
        w.update(expected(f2_now, F2_ASN, True, exclude_asn=S4_ASN))
        expect_table(s4, w, bird_f)
        f1.withdraw(BULK)
        for p in BULK:
            del f1_now[p]
        tables(f1_now, f2_now)
        w = expected(f1_now, F1_ASN, True, exclude_asn=S4_ASN)
        w.update(expected(f2_now, F2_ASN, True, exclude_asn=S4_ASN))
        expect_table(s4, w, bird_f)
    run.check('bulk', bulk)

    def loop_check_final():
        # After all of the above, the 65103 route still never reached s3.
        hits = exabgp_announced(s3, '10.1.4.0/24')
        if hits:
            raise AssertionError(f's3 was sent 10.1.4.0/24: {hits[0]}')
    run.check('loop-check-final', loop_check_final)

    print(f'{len(run.passed)} passed, {len(run.failed)} failed '
          f'({time.monotonic() - t0:.1f}s)', flush=True)
    return 1 if run.failed else 0


if __name__ == '__main__':
    sys.exit(main())
