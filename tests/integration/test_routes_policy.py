#!/usr/bin/env python3
"""routehubd export policy: RFC 1997 well-known communities, best path between NVAs.

Topology (everything on 127/8, each daemon its own address; routehubd AS 65515,
router id 10.255.0.1):

    NVAs (feeders, both AS 65001)              spokes
    nva1  ExaBGP  id 10.0.0.20  lower address   s1  BIRD   AS 65101  eBGP (nva)
    nva2  ExaBGP  id 10.0.0.10  higher address  s2  GoBGP  AS 65102  eBGP (nva)
                                                s3  BIRD   AS 65515  iBGP rr-client
                                                s4  ExaBGP AS 65515  iBGP rr-client

nva1 has the lower peer address and nva2 the lower router id, so the winner of a
full tie tells which RFC 4271 §9.1.2.2 step decided: f) lowest BGP Identifier
comes before g) lowest peer address.

Checks (each prints PASS/FAIL; the run ends with `N passed, M failed`):
  no-advertise  a route with NO_ADVERTISE (65535:65282) reaches no peer at all
                (not in the whole event stream of the ExaBGP receivers either).
  no-export     NO_EXPORT (65535:65281): not to the eBGP spokes, but to both iBGP
                rr-client spokes, communities intact.
  no-peer       NO_PEER (65535:65284, RFC 3765): likewise.
  no-export-subconfed  NO_EXPORT_SUBCONFED (65535:65283): likewise (RFC 1997:
                not to external peers).
  tables        exact tables at all four spokes: eBGP spokes get 65515 prepended,
                iBGP ones the path unchanged, LOCAL_PREF 100 and (s4, raw) no
                ORIGINATOR_ID / CLUSTER_LIST on an eBGP-learned route.
  ecmp          both NVAs announce 10.4.1.0/24 with equal AS path length (and no
                MED): every spoke gets exactly one path, nva2's (lower router id),
                although nva1 has the lower address. 10.4.2.0/24: equal paths, nva2
                with MED 50 and nva1 MED 5: nva1 wins on MED (same neighbour AS).
                routehubd itself holds both paths of each, both in its ECMP set
                (equal through the AS path length), best as above (`routehubctl
                --json show routes P`); the prepended path of 10.5.1.0/24 is not.
  prepend       10.5.1.0/24: nva2 prepends (path length 3), nva1 does not (1):
                nva1 wins alone although nva2 has the lower router id.
  withdraw-winner  nva1 withdraws 10.5.1.0/24 and nva2 withdraws 10.4.1.0/24: the
                other NVA's path becomes the best at every spoke (its next hop and
                its AS path, prepends included).
  community-change  the best path of 10.3.5.0/24 gains NO_EXPORT: withdrawn at the
                eBGP spokes only; then NO_ADVERTISE: withdrawn everywhere; then
                neither: back everywhere (exact tables after each step).
  nva-tables    the NVAs (AS 65001) receive nothing: every route has 65001 in its
                AS path (sender-side loop check), checked on the whole event stream.

Exit 0 passed, 1 failed, 77 skipped (routehubd or a daemon binary missing).
Environment: RH_BIN (routehubd, routehubctl), RH_KEEP_LAB=1 keeps the lab directory.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from bgpharness import Bird, Exabgp, Gobgp, Routehubd, make_route, wait_for  # noqa: E402
from routecheck import Runner, lab_main, norm, diff, exa_events  # noqa: E402

T = 30          # bound of every wait, seconds
RH_ASN = 65515
RH_ID = '10.255.0.1'
NVA_ASN = 65001
S1_ASN, S2_ASN = 65101, 65102
NO_EXPORT, NO_ADVERTISE, NO_EXPORT_SUBCONFED, NO_PEER = \
    '65535:65281', '65535:65282', '65535:65283', '65535:65284'


# ---------------------------------------------------------------------------------------
# Small helpers (tables, diffs, a runner, ExaBGP's raw event stream)
# ---------------------------------------------------------------------------------------
def expect_table(d, want, fields, timeout=T, routes=None):
    """Poll the receiver's routes until its table is exactly `want` ({prefix: {field:
    value}} restricted to `fields`); on timeout raise with the difference."""
    want = {p: {f: r.get(f) for f in fields} for p, r in want.items()}
    get = routes or d.routes
    box = {}

    def cond():
        box['have'] = norm(get(), fields)
        return box['have'] == want
    try:
        wait_for(cond, timeout, interval=0.3, what=f'{d.name}: exact table')
    except TimeoutError as e:
        raise AssertionError(f'{d.name}: table after {timeout}s: {diff(box.get("have", {}), want)} '
                             f'({e})') from None


def exa_table(exa):
    """ExaBGP's received routes replayed from its event stream, with the attributes
    the harness does not keep (originator_id, cluster_list, the attribute names)."""
    rib = {}
    for ev in exa_events(exa):
        nb = ev.get('neighbor') or {}
        peer = (nb.get('address') or {}).get('peer')
        if ev.get('type') == 'state' and nb.get('state') == 'down':
            rib.pop(peer, None)
        if ev.get('type') != 'update':
            continue
        msg = (nb.get('message') or {}).get('update') or {}
        t = rib.setdefault(peer, {})
        attrs = msg.get('attribute') or {}
        for fam, nhs in (msg.get('announce') or {}).items():
            for nh, nlris in nhs.items():
                for x in nlris:
                    pf = x.get('nlri') if isinstance(x, dict) else x
                    r = make_route(pf, next_hop=nh, as_path=attrs.get('as-path', []),
                                   communities=attrs.get('community', []),
                                   large_communities=attrs.get('large-community', []),
                                   med=attrs.get('med'), local_pref=attrs.get('local-preference'),
                                   origin=attrs.get('origin'), peer=peer)
                    r['originator_id'] = attrs.get('originator-id')
                    r['cluster_list'] = attrs.get('cluster-list')
                    r['attr_names'] = sorted(k for k in attrs if k != 'confederation-path')
                    t[r['prefix']] = r
        for fam, nlris in (msg.get('withdraw') or {}).items():
            for x in nlris:
                pf = x.get('nlri') if isinstance(x, dict) else x
                t.pop(pf, None)
    return [r for t in rib.values() for r in t.values()]


def exa_ever_announced(exa, prefix=None):
    """Prefixes (or only `prefix`) announced in any UPDATE of the whole event stream."""
    seen = []
    for ev in exa_events(exa):
        if ev.get('type') != 'update':
            continue
        msg = ((ev.get('neighbor') or {}).get('message') or {}).get('update') or {}
        for fam, nhs in (msg.get('announce') or {}).items():
            for nh, nlris in nhs.items():
                for x in nlris:
                    pf = x.get('nlri') if isinstance(x, dict) else x
                    if prefix is None or pf == prefix:
                        seen.append(pf)
    return seen


# ---------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------
# (prefix, announcing NVA, attributes inside the NVA; the NVA prepends 65001 itself)
NVA_ROUTES = [
    ('10.3.1.0/24', 'nva1', dict(next_hop='198.18.3.1', communities=[NO_ADVERTISE, '65001:1'])),
    ('10.3.2.0/24', 'nva1', dict(next_hop='198.18.3.2', communities=[NO_EXPORT, '65001:2'],
                                 large_communities=['65001:2:2'])),
    ('10.3.3.0/24', 'nva1', dict(next_hop='198.18.3.3', communities=[NO_PEER])),
    ('10.3.4.0/24', 'nva1', dict(next_hop='198.18.3.4', communities=[NO_EXPORT_SUBCONFED, '65001:4'])),
    ('10.3.5.0/24', 'nva1', dict(next_hop='198.18.3.5', communities=['65001:5'], med=3)),
    # ECMP pair: equal length, no MED: nva2 (lower router id) wins.
    ('10.4.1.0/24', 'nva1', dict(next_hop='198.18.4.1', communities=['65001:41'])),
    ('10.4.1.0/24', 'nva2', dict(next_hop='198.18.4.2', communities=['65001:42'])),
    # Equal length, MED decides within the neighbour AS: nva1 wins.
    ('10.4.2.0/24', 'nva1', dict(next_hop='198.18.4.11', med=5)),
    ('10.4.2.0/24', 'nva2', dict(next_hop='198.18.4.12', med=50)),
    # Active/passive by prepending: nva2 prepends twice, nva1 wins alone.
    ('10.5.1.0/24', 'nva1', dict(next_hop='198.18.5.1', large_communities=['65001:5:1'])),
    ('10.5.1.0/24', 'nva2', dict(next_hop='198.18.5.2', as_path=[NVA_ASN, NVA_ASN],
                                 large_communities=['65001:5:2'])),
]


def route_of(name, prefix, a, ibgp):
    """What a spoke sees of an NVA's route through routehubd."""
    path = [NVA_ASN] + list(a.get('as_path', []))
    if not ibgp:
        path = [RH_ASN] + path
    return {'next_hop': a['next_hop'], 'as_path': path,
            'communities': sorted(a.get('communities', [])),
            'large_communities': sorted(a.get('large_communities', [])),
            'med': a.get('med'), 'origin': 'igp',
            'local_pref': 100 if ibgp else None,
            'originator_id': None, 'cluster_list': None}


def main():
    return lab_main('policy', (Bird, Exabgp, Gobgp), scenario)


def scenario(lab, t0):
    run = Runner(lab)
    rh = Routehubd(lab, 'rh', RH_ASN, RH_ID, lab.address())
    nva1 = Exabgp(lab, 'nva1', NVA_ASN, '10.0.0.20', lab.address())
    nva2 = Exabgp(lab, 'nva2', NVA_ASN, '10.0.0.10', lab.address())
    s1 = Bird(lab, 's1', S1_ASN, '10.0.11.1', lab.address())
    s2 = Gobgp(lab, 's2', S2_ASN, '10.0.12.1', lab.address())
    s3 = Bird(lab, 's3', RH_ASN, '10.0.13.1', lab.address())
    s4 = Exabgp(lab, 's4', RH_ASN, '10.0.14.1', lab.address())
    nvas = {'nva1': nva1, 'nva2': nva2}
    for d in (nva1, nva2, s1):
        rh.add_neighbor(d.address, d.asn, passive=True, name=d.name)
        d.add_neighbor(rh.address, rh.asn)
    for d in (s3, s4):
        rh.add_neighbor(d.address, d.asn, passive=True, rr_client=True, name=d.name)
        d.add_neighbor(rh.address, rh.asn)
    # GoBGP is the passive side (its own first connect comes 5-10 s late).
    rh.add_neighbor(s2.address, s2.asn, name='s2')
    s2.add_neighbor(rh.address, rh.asn, passive=True)
    for prefix, nva, a in NVA_ROUTES:
        nvas[nva].announce([prefix], **a)

    lab.start_all()
    print(f'started {len(lab.daemons)} daemons in {time.monotonic() - t0:.1f}s', flush=True)
    spokes = (s1, s2, s3, s4)

    def established():
        for d in (nva1, nva2) + spokes:
            rh.wait_established(d.address, timeout=T)
            d.wait_established(rh.address, timeout=T)
    if not run.check('established', established):
        return 1

    held = {(p, n): a for p, n, a in NVA_ROUTES}   # what each NVA announces now

    def best(prefix):
        """The path routehubd must pick now among the NVAs' (RFC 4271 §9.1.2.2)."""
        cands = [(n, a) for (p, n), a in held.items() if p == prefix]
        rid = {'nva1': nva1.router_id, 'nva2': nva2.router_id}

        def key(c):
            n, a = c
            ip = tuple(int(x) for x in rid[n].split('.'))
            return (1 + len(a.get('as_path', [])), a.get('med') or 0, ip)
        return min(cands, key=key) if cands else None

    def want(ibgp):
        out = {}
        for prefix in sorted({p for p, _ in held}):
            n, a = best(prefix)
            comms = set(a.get('communities', []))
            if NO_ADVERTISE in comms:
                continue
            if not ibgp and comms & {NO_EXPORT, NO_PEER, NO_EXPORT_SUBCONFED}:
                continue
            out[prefix] = route_of(n, prefix, a, ibgp)
        return out

    bird_e = ('next_hop', 'as_path', 'communities', 'large_communities', 'med', 'origin')
    raw_e = bird_e + ('local_pref',)
    bird_i = raw_e
    raw_i = raw_e + ('originator_id', 'cluster_list')

    def tables():
        expect_table(s2, want(False), raw_e)
        expect_table(s1, want(False), bird_e)
        expect_table(s3, want(True), bird_i)
        expect_table(s4, want(True), raw_i, routes=lambda: exa_table(s4))

    # The first full table comes first: the policy checks look at it.
    run.check('tables', tables)

    def community_check(prefix, community):
        def check():
            ebgp_have = {s.name for s in (s1, s2) if prefix in {r['prefix'] for r in s.routes()}}
            ibgp_have = {s.name for s in (s3, s4) if prefix in {r['prefix'] for r in s.routes()}}
            if ebgp_have:
                raise AssertionError(f'{prefix} with {community} reached eBGP spokes {sorted(ebgp_have)}')
            if ibgp_have != {'s3', 's4'}:
                raise AssertionError(f'{prefix} with {community} missing at iBGP spokes '
                                     f'{sorted({"s3", "s4"} - ibgp_have)}')
            for r in s3.routes() + s4.routes():
                if r['prefix'] == prefix and community not in r['communities']:
                    raise AssertionError(f'{prefix}: community {community} lost: {r["communities"]}')
        return check

    def no_advertise():
        for s in spokes:
            if '10.3.1.0/24' in {r['prefix'] for r in s.routes()}:
                raise AssertionError(f'{s.name} holds 10.3.1.0/24 (NO_ADVERTISE)')
        for d in (s4, nva1, nva2):
            if exa_ever_announced(d, '10.3.1.0/24'):
                raise AssertionError(f'{d.name} was sent 10.3.1.0/24 (NO_ADVERTISE)')
        if '10.3.5.0/24' not in {r['prefix'] for r in s4.routes()}:
            raise AssertionError('control route 10.3.5.0/24 missing at s4')
    run.check('no-advertise', no_advertise)
    run.check('no-export', community_check('10.3.2.0/24', NO_EXPORT))
    run.check('no-peer', community_check('10.3.3.0/24', NO_PEER))
    run.check('no-export-subconfed', community_check('10.3.4.0/24', NO_EXPORT_SUBCONFED))

    def rib_route(prefix):
        """routehubd's own view of a prefix: `routehubctl --json show routes P`."""
        j = json.loads(rh.routehubctl('--json', 'show', 'routes', prefix).stdout)
        rs = [r for r in j.get('routes', []) if r.get('prefix') == prefix]
        if len(rs) != 1:
            raise AssertionError(f'routehubctl show routes {prefix}: {json.dumps(j)[:600]}')
        return rs[0]

    def rib_expect(prefix, paths, best_addr, ecmp_addrs):
        """routehubd holds exactly `paths` ({peer address: next hop}), the best is
        best_addr's and the ECMP set (equal through the AS path length) ecmp_addrs."""
        r = rib_route(prefix)
        have = {p['peer_address']: p['next_hop'] for p in r['paths']}
        bests = [p['peer_address'] for p in r['paths'] if p['best']]
        ecmp = {p['peer_address'] for p in r['paths'] if p['ecmp']}
        if have != paths or bests != [best_addr] or ecmp != set(ecmp_addrs) \
                or r['ecmp_paths'] != len(ecmp_addrs):
            raise AssertionError(f'routehubd {prefix}: paths {have} best {bests} ecmp {sorted(ecmp)} '
                                 f'(ecmp_paths {r["ecmp_paths"]}); want paths {paths} best '
                                 f'[{best_addr}] ecmp {sorted(ecmp_addrs)}')

    def ecmp():
        # Exact tables already hold nva2's 10.4.1.0/24 and nva1's 10.4.2.0/24; show
        # it explicitly at every spoke, and routehubd's own view of both paths.
        for s in spokes:
            rs = {r['prefix']: r for r in (exa_table(s) if s is s4 else s.routes())}
            if rs.get('10.4.1.0/24', {}).get('next_hop') != '198.18.4.2':
                raise AssertionError(f'{s.name}: 10.4.1.0/24 {rs.get("10.4.1.0/24")}, want nva2\'s '
                                     '198.18.4.2 (lower router id 10.0.0.10)')
            if rs.get('10.4.2.0/24', {}).get('next_hop') != '198.18.4.11':
                raise AssertionError(f'{s.name}: 10.4.2.0/24 {rs.get("10.4.2.0/24")}, want nva1\'s '
                                     '198.18.4.11 (MED 5 < 50)')
            n = sum(1 for r in s.routes() if r['prefix'] == '10.4.1.0/24')
            if n != 1:
                raise AssertionError(f'{s.name}: {n} paths for 10.4.1.0/24, want exactly 1')
        both = (nva1.address, nva2.address)
        rib_expect('10.4.1.0/24', {nva1.address: '198.18.4.1', nva2.address: '198.18.4.2'},
                   nva2.address, both)
        rib_expect('10.4.2.0/24', {nva1.address: '198.18.4.11', nva2.address: '198.18.4.12'},
                   nva1.address, both)
        rib_expect('10.5.1.0/24', {nva1.address: '198.18.5.1', nva2.address: '198.18.5.2'},
                   nva1.address, (nva1.address,))
    run.check('ecmp', ecmp)

    def prepend():
        for s in spokes:
            rs = {r['prefix']: r for r in s.routes()}
            r = rs.get('10.5.1.0/24')
            want_path = ([] if s in (s3, s4) else [RH_ASN]) + [NVA_ASN]
            if not r or r['next_hop'] != '198.18.5.1' or r['as_path'] != want_path:
                raise AssertionError(f'{s.name}: 10.5.1.0/24 {r}, want nva1\'s 198.18.5.1 path {want_path}')
    run.check('prepend', prepend)

    def withdraw_winner():
        nva1.withdraw('10.5.1.0/24')
        del held[('10.5.1.0/24', 'nva1')]
        nva2.withdraw('10.4.1.0/24')
        del held[('10.4.1.0/24', 'nva2')]
        tables()
        for s in (s1, s3):
            rs = {r['prefix']: r for r in s.routes()}
            want_path = ([] if s is s3 else [RH_ASN]) + [NVA_ASN] * 3
            if rs['10.5.1.0/24']['as_path'] != want_path or rs['10.4.1.0/24']['next_hop'] != '198.18.4.1':
                raise AssertionError(f'{s.name}: {rs["10.5.1.0/24"]} / {rs["10.4.1.0/24"]}')
    run.check('withdraw-winner', withdraw_winner)

    def community_change():
        # The best path of 10.3.5.0/24 gains NO_EXPORT (eBGP spokes must get a
        # withdrawal), then NO_ADVERTISE (now the iBGP ones too), then loses both.
        p = '10.3.5.0/24'
        base = held[(p, 'nva1')]
        for comms in ([NO_EXPORT, '65001:5'], [NO_ADVERTISE, '65001:5'], ['65001:5']):
            a = dict(base, communities=comms)
            nva1.announce([p], **a)
            held[(p, 'nva1')] = a
            tables()
    run.check('community-change', community_change)

    def nva_tables():
        for d in (nva1, nva2):
            got = exa_ever_announced(d)
            if got:
                raise AssertionError(f'{d.name} (AS {NVA_ASN}) was sent {sorted(set(got))}: '
                                     f'every route has {NVA_ASN} in its AS path')
    run.check('nva-tables', nva_tables)

    print(f'{len(run.passed)} passed, {len(run.failed)} failed '
          f'({time.monotonic() - t0:.1f}s)', flush=True)
    return 1 if run.failed else 0


if __name__ == '__main__':
    sys.exit(main())
