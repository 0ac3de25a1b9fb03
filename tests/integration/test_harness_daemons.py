#!/usr/bin/env python3
"""Self-test of tests/integration/lib/bgpharness.py: real daemons peer with each other
on loopback (routehubd is not involved).

Scenarios (all daemons of all scenarios run at once in one Lab, then each scenario's
checks run in turn, every wait bounded):
  bird-rs      ExaBGP announces 3 prefixes (communities, large community, MED,
               prepended AS path) to BIRD as route server -> GoBGP and FRR receive
               them with next hop, AS path and communities intact; withdraw one ->
               gone at both; GoBGP originates one -> FRR gets it through BIRD; an FRR
               added to the running BIRD later (birdc configure) gets the table.
  frr-rs       OpenBGPD -> FRR (route server) -> BIRD and ExaBGP.
  openbgpd-rs  FRR -> OpenBGPD (route server) -> GoBGP and BIRD.
  gobgp-rs     BIRD -> GoBGP (route server) -> OpenBGPD and ExaBGP.
  md5          BIRD with TCP-MD5: FRR, OpenBGPD, ExaBGP with the right password come
               up; GoBGP with a wrong one does not (the kernel counts the rejected
               segments); an ExaBGP with an unexpected ASN gets a NOTIFICATION that
               both ends report through last_notification().
  routehubd    only if $RH_BIN/routehubd exists (RH_BIN defaults to <repo>/build/bin):
               the generated YAML passes --check, BIRD and FRR sessions come up and
               routehubctl reports them Established.

Usage: test_harness_daemons.py [SCENARIO...]. Exit 0 = all selected scenarios
passed, 1 = a failure, 77 = nothing could run because daemon binaries are missing
(a scenario whose daemon is missing is skipped and named).
"""
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

from bgpharness import (Bird, Exabgp, Frr, Gobgp, Lab, Openbgpd, Routehubd,  # noqa: E402
                        md5_failure_count, tcp_md5_supported, wait_for)

T = 30  # bound of every wait, seconds (they normally end in well under 5 s)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def rs_pair(rs, client):
    """Peer a route server with a client. GoBGP's first connect comes 5-10 s after it
    starts, so GoBGP is the passive side wherever it appears (the route server
    otherwise, as route servers usually are)."""
    rs_passive = isinstance(rs, Gobgp) or not isinstance(client, Gobgp)
    rs.add_neighbor(client.address, client.asn, passive=rs_passive, rs_client=True)
    client.add_neighbor(rs.address, rs.asn, passive=not rs_passive)


def check_received(rx, prefixes, *, from_peer, next_hop, as_path, communities=(), large=(), med=None):
    routes = rx.wait_prefixes(prefixes, T)
    for p in prefixes:
        mine = [r for r in routes if r['prefix'] == p and r['peer'] == from_peer]
        expect(mine, f'{rx.name}: {p} not received from {from_peer}: {[r for r in routes if r["prefix"] == p]}')
        r = mine[0]
        where = f'{rx.name} {p}'
        expect(r['next_hop'] == next_hop, f'{where}: next hop {r["next_hop"]}, want {next_hop} (unchanged)')
        expect(r['as_path'] == list(as_path), f'{where}: AS path {r["as_path"]}, want {list(as_path)}')
        expect(sorted(r['communities']) == sorted(communities),
               f'{where}: communities {r["communities"]}, want {list(communities)}')
        expect(sorted(r['large_communities']) == sorted(large),
               f'{where}: large communities {r["large_communities"]}, want {list(large)}')
        if med is not None:
            expect(r['med'] == med, f'{where}: MED {r["med"]}, want {med}')
        expect(r['origin'] == 'igp', f'{where}: origin {r["origin"]}, want igp')


def check_withdrawn(receivers, gone, kept):
    for rx in receivers:
        rx.wait_prefixes(gone, T, present=False)
        have = {r['prefix'] for r in rx.routes()}
        expect(set(kept) <= have, f'{rx.name}: withdrawing {gone} also lost {sorted(set(kept) - have)}')


# ---------------------------------------------------------------------------------------
def build_bird_rs(lab):
    rs = Bird(lab, 'b_rs', 65000, '10.255.1.1', lab.address())
    feed = Exabgp(lab, 'e_feed', 65011, '10.255.1.11', lab.address())
    g = Gobgp(lab, 'g_rx', 65012, '10.255.1.12', lab.address())
    f = Frr(lab, 'f_rx', 65013, '10.255.1.13', lab.address())
    for c in (feed, g, f):
        rs_pair(rs, c)

    def check():
        for c in (feed, g, f):
            c.wait_established(rs.address, T)
            rs.wait_established(c.address, T)
        pfx = ['10.11.0.0/24', '10.11.1.0/24', '10.11.2.0/24']
        comms, large = ['65011:100', '65011:200'], ['65011:1:2']
        feed.announce(pfx, '198.18.11.1', as_path=[65011, 65011, 64600], communities=comms,
                      large_communities=large, med=50)
        # ExaBGP prepends its own ASN on eBGP: 3 x 65011 in all; BIRD (rs client) adds none.
        want_path = [65011, 65011, 65011, 64600]
        for rx in (g, f):
            check_received(rx, pfx, from_peer=rs.address, next_hop='198.18.11.1', as_path=want_path,
                           communities=comms, large=large, med=50)
        check_received(rs, pfx, from_peer=feed.address, next_hop='198.18.11.1', as_path=want_path,
                       communities=comms, large=large, med=50)
        feed.withdraw('10.11.1.0/24')
        check_withdrawn((g, f), ['10.11.1.0/24'], ['10.11.0.0/24', '10.11.2.0/24'])

        # GoBGP as originator, through BIRD to FRR.
        g.announce('10.12.0.0/24', '198.18.12.1', as_path=[64612], communities=['65012:1'], med=12)
        check_received(f, ['10.12.0.0/24'], from_peer=rs.address, next_hop='198.18.12.1',
                       as_path=[65012, 64612], communities=['65012:1'], med=12)
        expect(not [r for r in feed.routes() if r['prefix'].startswith('10.11.')],
               'e_feed got its own routes back from BIRD')

        # A peer added to the running BIRD (birdc configure) gets the current table.
        late = Frr(lab, 'f_late', 65014, '10.255.1.14', lab.address())
        late.add_neighbor(rs.address, rs.asn)
        late.start()
        rs.add_neighbor(late.address, late.asn, passive=True, rs_client=True)
        late.wait_established(rs.address, T)
        check_received(late, ['10.11.0.0/24', '10.11.2.0/24'], from_peer=rs.address,
                       next_hop='198.18.11.1', as_path=want_path, communities=comms, large=large, med=50)
        late.wait_prefixes(['10.12.0.0/24'], T)
        expect('10.11.1.0/24' not in {r['prefix'] for r in late.routes()}, 'f_late got a withdrawn prefix')
    return check


def build_frr_rs(lab):
    rs = Frr(lab, 'f_rs', 65020, '10.255.2.1', lab.address())
    orig = Openbgpd(lab, 'o_orig', 65021, '10.255.2.21', lab.address())
    b = Bird(lab, 'b_rx2', 65022, '10.255.2.22', lab.address())
    e = Exabgp(lab, 'e_rx2', 65023, '10.255.2.23', lab.address())
    for c in (orig, b, e):
        rs_pair(rs, c)
    comms, large = ['65021:7'], ['65021:0:7']
    # Configured before start (network statement in bgpd.conf) ...
    orig.announce('10.21.0.0/24', '198.18.21.1', as_path=[65021, 65021], communities=comms,
                  large_communities=large, med=21)

    def check():
        for c in (orig, b, e):
            c.wait_established(rs.address, T)
        # ... and one added at run time (bgpctl reload).
        orig.announce('10.21.1.0/24', '198.18.21.1', as_path=[65021, 65021], communities=comms,
                      large_communities=large, med=21)
        pfx = ['10.21.0.0/24', '10.21.1.0/24']
        # OpenBGPD: prepend-self 2, plus its own ASN on eBGP; FRR (route-server-client) adds none.
        for rx in (b, e):
            check_received(rx, pfx, from_peer=rs.address, next_hop='198.18.21.1',
                           as_path=[65021, 65021, 65021], communities=comms, large=large, med=21)
        orig.withdraw('10.21.0.0/24')
        check_withdrawn((b, e), ['10.21.0.0/24'], ['10.21.1.0/24'])
    return check


def build_openbgpd_rs(lab):
    rs = Openbgpd(lab, 'o_rs', 65030, '10.255.3.1', lab.address())
    orig = Frr(lab, 'f_orig3', 65031, '10.255.3.31', lab.address())
    g = Gobgp(lab, 'g_rx3', 65032, '10.255.3.32', lab.address())
    b = Bird(lab, 'b_rx3', 65033, '10.255.3.33', lab.address())
    for c in (orig, g, b):
        rs_pair(rs, c)

    def check():
        for c in (orig, g, b):
            c.wait_established(rs.address, T)
        pfx = ['10.31.0.0/24', '10.31.1.0/24']
        comms, large = ['65031:1', '65031:2'], ['65031:3:4']
        orig.announce(pfx, '198.18.31.1', as_path=[64631, 64632], communities=comms,
                      large_communities=large, med=31)
        for rx in (g, b):
            check_received(rx, pfx, from_peer=rs.address, next_hop='198.18.31.1',
                           as_path=[65031, 64631, 64632], communities=comms, large=large, med=31)
        orig.withdraw('10.31.1.0/24')
        check_withdrawn((g, b), ['10.31.1.0/24'], ['10.31.0.0/24'])
    return check


def build_gobgp_rs(lab):
    rs = Gobgp(lab, 'g_rs', 65040, '10.255.4.1', lab.address())
    orig = Bird(lab, 'b_orig4', 65041, '10.255.4.41', lab.address())
    o = Openbgpd(lab, 'o_rx4', 65042, '10.255.4.42', lab.address())
    e = Exabgp(lab, 'e_rx4', 65043, '10.255.4.43', lab.address())
    for c in (orig, o, e):
        rs_pair(rs, c)

    def check():
        for c in (orig, o, e):
            c.wait_established(rs.address, T)
        pfx = ['10.41.0.0/24', '10.41.1.0/24']
        comms, large = ['65041:10'], ['65041:5:6']
        orig.announce(pfx, '198.18.41.1', as_path=[65041, 64641], communities=comms,
                      large_communities=large, med=41)
        for rx in (o, e):
            check_received(rx, pfx, from_peer=rs.address, next_hop='198.18.41.1',
                           as_path=[65041, 65041, 64641], communities=comms, large=large, med=41)
        orig.withdraw('10.41.0.0/24')
        check_withdrawn((o, e), ['10.41.0.0/24'], ['10.41.1.0/24'])
    return check


def build_md5(lab):
    srv = Bird(lab, 'b_md5', 65050, '10.255.5.1', lab.address())
    good = [Frr(lab, 'f_md5', 65051, '10.255.5.51', lab.address()),
            Openbgpd(lab, 'o_md5', 65052, '10.255.5.52', lab.address()),
            Exabgp(lab, 'e_md5', 65053, '10.255.5.53', lab.address())]
    bad = Gobgp(lab, 'g_md5bad', 65054, '10.255.5.54', lab.address())
    for c in good:
        srv.add_neighbor(c.address, c.asn, passive=True, password='right-Secret')
        c.add_neighbor(srv.address, srv.asn, password='right-Secret')
    # BIRD connects to GoBGP (passive) with the right key, GoBGP expects another one.
    srv.add_neighbor(bad.address, bad.asn, password='right-Secret')
    bad.add_neighbor(srv.address, srv.asn, passive=True, password='wrong-Secret')
    # An ExaBGP whose ASN BIRD does not expect: OPEN error, NOTIFICATION Bad Peer AS.
    badas = Exabgp(lab, 'e_badas', 65055, '10.255.5.55', lab.address())
    srv.add_neighbor(badas.address, 65999, passive=True)
    badas.add_neighbor(srv.address, srv.asn)
    base = {'md5_failures': md5_failure_count()}

    def check():
        for c in good:
            c.wait_established(srv.address, T)
            srv.wait_established(c.address, T)
        # The kernel drops BIRD's SYNs at GoBGP's socket (wrong key) and counts them.
        if base['md5_failures'] is not None:
            wait_for(lambda: md5_failure_count() >= base['md5_failures'] + 2, T,
                     what='kernel TCPMD5Failure counter to grow')
        for st in (bad.neighbor_state(srv.address), srv.neighbor_state(bad.address)):
            expect(st != 'Established', f'session with the wrong TCP-MD5 key is {st}')

        n_srv = wait_for(lambda: srv.last_notification(badas.address), T, what='b_md5 notification')
        n_exa = wait_for(lambda: badas.last_notification(srv.address), T, what='e_badas notification')
        expect('peer as' in n_srv.lower(), f'b_md5 last notification: {n_srv!r}')
        expect('code 2 subcode 2' in n_exa, f'e_badas last notification: {n_exa!r} (want OPEN/Bad Peer AS)')
        expect(badas.neighbor_state(srv.address) != 'Established', 'bad-AS session came up')
    return check


def build_routehubd(lab):
    """Only when routehubd is built: our YAML passes `routehubd --check`, sessions with
    BIRD and FRR come up, and Routehubd.neighbor_state() (routehubctl) reports them."""
    rh = Routehubd(lab, 'rh', 65515, '10.1.255.4', lab.address())
    peers = [Bird(lab, 'b_rh', 65061, '10.255.6.61', lab.address()),
             Frr(lab, 'f_rh', 65062, '10.255.6.62', lab.address())]
    for c in peers:
        rh.add_neighbor(c.address, c.asn, passive=True, hold_time=90, role='nva')
        c.add_neighbor(rh.address, rh.asn, hold_time=90)

    def check():
        for c in peers:
            c.wait_established(rh.address, T)
            rh.wait_established(c.address, T)
    return check


SCENARIOS = [
    ('bird-rs', (Bird, Exabgp, Gobgp, Frr), build_bird_rs),
    ('frr-rs', (Frr, Openbgpd, Bird, Exabgp), build_frr_rs),
    ('openbgpd-rs', (Openbgpd, Frr, Gobgp, Bird), build_openbgpd_rs),
    ('gobgp-rs', (Gobgp, Bird, Openbgpd, Exabgp), build_gobgp_rs),
    ('md5', (Bird, Frr, Openbgpd, Exabgp, Gobgp), build_md5),
    ('routehubd', (Routehubd, Bird, Frr), build_routehubd),
]


def main(argv):
    names = [s[0] for s in SCENARIOS]
    wanted = argv or names
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(f'unknown scenario(s) {unknown}; known: {names}', file=sys.stderr)
        return 2
    runnable, skipped = [], []
    for name, classes, build in SCENARIOS:
        if name not in wanted:
            continue
        missing = sorted({m for c in classes for m in c.missing()})
        if name == 'md5' and not tcp_md5_supported():
            missing.append('kernel TCP-MD5 (TCP_MD5SIG) support')
        if missing:
            print(f'SKIP {name}: not installed: {", ".join(missing)}')
            skipped.append(name)
        else:
            runnable.append((name, build))
    if not runnable:
        print(f'SKIP: no scenario can run ({len(skipped)} skipped)')
        return 77

    passed, failed = [], []
    t0 = time.monotonic()
    with Lab() as lab:
        checks = [(name, build(lab)) for name, build in runnable]
        lab.start_all()
        print(f'started {len(lab.daemons)} daemons in {time.monotonic() - t0:.1f}s', flush=True)
        for name, check in checks:
            t = time.monotonic()
            try:
                check()
            except Exception as e:  # noqa: BLE001 - any error fails this scenario only
                failed.append(name)
                lab.failed = True
                print(f'FAIL {name}: {type(e).__name__}: {e}', flush=True)
                if not isinstance(e, (AssertionError, TimeoutError)):
                    traceback.print_exc()
            else:
                passed.append(name)
                print(f'PASS {name} ({time.monotonic() - t:.1f}s)', flush=True)
    print(f'total {time.monotonic() - t0:.1f}s')
    line = f'{len(passed)} passed, {len(failed)} failed'
    if skipped:
        line += f', {len(skipped)} skipped'
    print(line)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
