#!/usr/bin/env python3
"""routehubd under hard and soft resets: hard reset, route refresh, RFC 7313 stale sweep.

Topology (everything on 127/8, each daemon its own address; routehubd AS 65515):

    feeders                                  spokes
    f1  ExaBGP  AS 65001                     s1  BIRD   AS 65101  (logs BGP packets)
    f2  BIRD    AS 65002  (logs packets)     s2  GoBGP  AS 65102
    f3  raw speaker AS 65003 (lib/rawbgp.py, enhanced route refresh, hold time 0)
    f4  FRR     AS 65004

10.99.0.0/24 comes from f1 (AS path 65001, length 1) and from f2 (65002 64500,
length 2): f1's is the best while f1 is up, f2's otherwise.

Checks (each prints PASS/FAIL; the run ends with `N passed, M failed`):
  tables           exact tables at s1 and s2 (prefix, next hop, AS path, communities,
                   large communities, MED).
  own-as-loop      FRR (f4) sends the hub's routes back with 65515 in the AS path
                   (it does no sender-side loop check): routehubd keeps none of
                   them, only f4's own route (RFC 4271 §9.1.2).
  refresh-in-bird  `birdc reload in` at s1 sends ROUTE-REFRESH to routehubd
                   (refresh_in + 1): routehubd sends BEGIN-OF-RR, its whole table
                   again, END-OF-RR (RFC 7313 §4, both negotiated enhanced route
                   refresh; BIRD's packet log), s1's import updates grow by the
                   table size, no withdrawal, the table is unchanged.
  refresh-in-raw   the raw speaker sends ROUTE-REFRESH: on the wire it reads BoRR,
                   UPDATEs announcing exactly the table an AS 65003 peer should
                   get (not its own routes: sender-side loop check), EoRR.
  soft-out-feeder  `birdc reload out` at f2: BIRD sends BoRR, its routes, EoRR
                   (routehubd's refresh_in + 2); routehubd keeps f2's routes (none
                   left stale, `routehubctl show routes peer f2`), and the spokes
                   see no UPDATE at all (s1's import counters) and the same table.
  soft-out-frr     `clear bgp ipv4 unicast RH soft out` at f4: FRR re-sends its routes
                   (routehubd's msgs_in from f4 grows); the spokes see no UPDATE and
                   the same table.
  stale-sweep-raw  f3 sends BoRR: its routes are stale in routehubd but still at the
                   spokes; it re-announces one of its two routes and sends EoRR: the
                   other is swept at every spoke, the re-announced one unchanged,
                   nothing of f3 stale any more. A second round re-announces with a
                   new next hop and adds a prefix: spokes get exactly that.
  stale-sweep-bird f2's export filter now rejects 10.20.2.0/24 (removed from what the
                   feeder exports), `birdc configure` and `birdc reload out`: the
                   route is gone at every spoke, the rest unchanged. (BIRD 2.0.12
                   withdraws it explicitly inside its BoRR..EoRR, as seen on the
                   wire, so the sweep proper is stale-sweep-raw's.)
  hard-reset-exabgp  f1 is stopped: routehubd's session goes down, every spoke loses
                   exactly f1's routes, and 10.99.0.0/24 falls back to f2's path.
  reconnect-exabgp f1 is started again: its routes come back, 10.99.0.0/24 is f1's.
  hard-reset-bird  `birdc disable` at f2 (NOTIFICATION Cease): every spoke loses
                   exactly f2's routes; `birdc enable`: they come back.
  spoke-reconnect  s1 is disabled; meanwhile f1 withdraws a prefix and adds one; s1
                   comes back with exactly the current table and then follows a
                   later withdrawal.
  hard-reset-raw   the raw speaker closes its TCP connection: its routes go.

Exit 0 passed, 1 failed, 77 skipped (routehubd or a daemon binary missing).
Environment: RH_BIN (routehubd, routehubctl), RH_KEEP_LAB=1 keeps the lab directory.
"""
import ipaddress
import json
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

import rawbgp  # noqa: E402
from bgpharness import Bird, Exabgp, Frr, Gobgp, Routehubd, wait_for  # noqa: E402
from routecheck import Runner, lab_main, norm, diff  # noqa: E402

T = 30          # bound of every wait, seconds
RH_ASN = 65515
RH_ID = '10.255.0.1'
F1_ASN, F2_ASN, F3_ASN, F4_ASN = 65001, 65002, 65003, 65004
S1_ASN, S2_ASN = 65101, 65102
F3_ID = '10.0.3.1'
RR_NORMAL, RR_BORR, RR_EORR = 0, 1, 2


# ---------------------------------------------------------------------------------------
# Small helpers (tables, diffs, a runner)
# ---------------------------------------------------------------------------------------
FIELDS = ('next_hop', 'as_path', 'communities', 'large_communities', 'med')


def expect_table(d, want, timeout=T):
    """Poll d.routes() until its table is exactly `want`; raise with the difference."""
    want = {p: {f: r.get(f) for f in FIELDS} for p, r in want.items()}
    box = {}

    def cond():
        box['have'] = norm(d.routes(), FIELDS)
        return box['have'] == want
    try:
        wait_for(cond, timeout, interval=0.2, what=f'{d.name}: exact table')
    except TimeoutError as e:
        raise AssertionError(f'{d.name}: table after {timeout}s: {diff(box.get("have", {}), want)} '
                             f'({e})') from None


class BirdX(Bird):
    """BIRD that also logs BGP packets (BEGIN-OF-RR / END-OF-RR lines) and whose
    export filter can reject prefixes (self.reject), to drop a route from what it
    exports without withdrawing it from its own table."""

    reject = ()

    def config_text(self):
        t = super().config_text()
        dbg = 'debug protocols { states, events };'
        tail = '  accept;\n}\n'
        if dbg not in t or tail not in t:
            raise AssertionError('bgpharness BIRD config changed; update BirdX')
        t = t.replace(dbg, 'debug protocols { states, events, packets };')
        if self.reject:
            nets = ', '.join(self.reject)
            t = t.replace(tail, f'  if net ~ [ {nets} ] then reject;\n' + tail, 1)
        return t

    def stats(self, addr):
        """(import updates received, import withdraws received) of the session."""
        out = self.birdc('show protocols all', self.proto_name(addr)).stdout
        up = re.search(r'Import updates:\s+(\d+)', out)
        wd = re.search(r'Import withdraws:\s+(\d+)', out)
        if not up or not wd:
            raise AssertionError(f'{self.name}: no route change stats in: {out[-600:]}')
        return int(up.group(1)), int(wd.group(1))

    def log_count(self, text):
        with open(self.logfile, encoding='utf-8', errors='replace') as f:
            return sum(1 for line in f if text in line)


class ExabgpR(Exabgp):
    """ExaBGP that survives its own stop/start: on SIGTERM ExaBGP writes an event
    {"type": "notification", "notification": "shutdown"} (a string, not the dict the
    harness's event parser expects), which would break the next start()."""

    def _event(self, ev):
        if ev.get('type') == 'notification' and isinstance(ev.get('notification'), str):
            return
        super()._event(ev)


# ---- the raw feeder --------------------------------------------------------------------
def pfx_bytes(prefix):
    n = ipaddress.ip_network(prefix)
    return bytes([n.prefixlen]) + n.network_address.packed[:(n.prefixlen + 7) // 8]


def attrs_bytes(next_hop, as_path):
    seg = struct.pack('!BB', 2, len(as_path)) + b''.join(struct.pack('!I', a) for a in as_path)
    return (bytes([0x40, 1, 1, 0])                       # ORIGIN IGP
            + bytes([0x40, 2, len(seg)]) + seg             # AS_PATH (4-octet ASNs)
            + bytes([0x40, 3, 4]) + ipaddress.IPv4Address(next_hop).packed)


def parse_prefixes(buf):
    out, i = [], 0
    while i < len(buf):
        ln = buf[i]
        k = (ln + 7) // 8
        addr = bytes(buf[i + 1:i + 1 + k]) + b'\0' * (4 - k)
        out.append(f'{ipaddress.IPv4Address(addr)}/{ln}')
        i += 1 + k
    return out


def parse_update(body):
    """(withdrawn prefixes, announced prefixes) of a raw IPv4 UPDATE body."""
    wl = struct.unpack('!H', body[:2])[0]
    withdrawn = parse_prefixes(body[2:2 + wl])
    al = struct.unpack('!H', body[2 + wl:4 + wl])[0]
    return withdrawn, parse_prefixes(body[4 + wl + al:])


class RawFeeder:
    """f3: a raw BGP speaker with enhanced route refresh and hold time 0."""

    def __init__(self, address):
        self.address = address
        self.asn = F3_ASN
        self.name = 'f3'
        self.conn = None
        self.routes = {}  # prefix -> (next_hop, as_path)

    def connect(self, rh):
        self.conn = rawbgp.RawSpeaker.connect(rh.address, source=self.address, timeout=T)
        caps = [rawbgp.cap_mp(1, 1), rawbgp.cap_as4(self.asn), rawbgp.cap_route_refresh(),
                rawbgp.cap_enhanced_route_refresh()]
        m = self.conn.handshake(self.asn, F3_ID, hold_time=0, caps=caps, timeout=T)
        if 'enhanced-route-refresh' not in m.open['cap_names']:
            raise AssertionError(f'routehubd offers no enhanced route refresh: {m!r}')

    def announce(self, prefix, next_hop, as_path):
        self.routes[prefix] = (next_hop, list(as_path))
        self.conn.send(rawbgp.update(attrs=attrs_bytes(next_hop, as_path), nlri=pfx_bytes(prefix)))

    def refresh(self, subtype):
        self.conn.send(rawbgp.route_refresh(1, 1, subtype))

    def drain(self):
        """Read what routehubd sent so far (nothing blocks on a full socket)."""
        try:
            while True:
                self.conn.recv_msg(timeout=0.05)
        except TimeoutError:
            pass

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------
F1_ROUTES = {
    '10.10.1.0/24': dict(next_hop='198.18.10.1', communities=['65001:1']),
    '10.99.0.0/24': dict(next_hop='198.18.10.9'),
}
F2_ROUTES = {
    '10.20.1.0/24': dict(next_hop='198.18.20.1', large_communities=['65002:1:1'], med=5),
    '10.20.2.0/24': dict(next_hop='198.18.20.2', communities=['65002:2']),
    '10.99.0.0/24': dict(next_hop='198.18.20.9', as_path=[64500]),
}
# FRR sends MED 0 on the routes it originates (docs/testing.md).
F4_ROUTES = {
    '10.40.1.0/24': dict(next_hop='198.18.40.1', communities=['65004:1'], med=0),
}
F3_ROUTES = {
    '10.30.1.0/24': ('198.18.30.1', [F3_ASN]),
    '10.30.2.0/24': ('198.18.30.2', [F3_ASN, 64530]),
}


def main():
    return lab_main('reset', (Bird, Exabgp, Frr, Gobgp), scenario)


def scenario(lab, t0):
    run = Runner(lab)
    rh = Routehubd(lab, 'rh', RH_ASN, RH_ID, lab.address())
    f1 = ExabgpR(lab, 'f1', F1_ASN, '10.0.1.1', lab.address())
    f2 = BirdX(lab, 'f2', F2_ASN, '10.0.2.1', lab.address())
    f3 = RawFeeder(lab.address())
    s1 = BirdX(lab, 's1', S1_ASN, '10.0.11.1', lab.address())
    s2 = Gobgp(lab, 's2', S2_ASN, '10.0.12.1', lab.address())
    f4 = Frr(lab, 'f4', F4_ASN, '10.0.4.1', lab.address())
    for d in (f1, f2, f4, s1):
        rh.add_neighbor(d.address, d.asn, passive=True, name=d.name)
        d.add_neighbor(rh.address, rh.asn)
    rh.add_neighbor(f3.address, F3_ASN, passive=True, name='f3')
    # GoBGP is the passive side (its own first connect comes 5-10 s late).
    rh.add_neighbor(s2.address, s2.asn, name='s2')
    s2.add_neighbor(rh.address, rh.asn, passive=True)
    for p, a in F1_ROUTES.items():
        f1.announce([p], **a)
    for p, a in F2_ROUTES.items():
        f2.announce([p], **a)
    for p, a in F4_ROUTES.items():
        f4.announce([p], **a)

    lab.start_all()
    print(f'started {len(lab.daemons)} daemons in {time.monotonic() - t0:.1f}s', flush=True)
    try:
        return checks(lab, run, rh, f1, f2, f3, f4, s1, s2, t0)
    finally:
        f3.close()


def checks(lab, run, rh, f1, f2, f3, f4, s1, s2, t0):
    spokes = (s1, s2)
    up = {'f1': True, 'f2': True, 'f3': True}
    f1_now, f2_now = dict(F1_ROUTES), dict(F2_ROUTES)
    f3_now = {}

    def established():
        for d in (f1, f2, f4, s1, s2):
            rh.wait_established(d.address, timeout=T)
            d.wait_established(rh.address, timeout=T)
        f3.connect(rh)
        rh.wait_established(f3.address, timeout=T)
        for p, (nh, path) in F3_ROUTES.items():
            f3.announce(p, nh, path)
            f3_now[p] = (nh, path)
    if not run.check('established', established):
        return 1

    def candidates():
        """{prefix: [(feeder, wire AS path, route)]} of the feeders that are up."""
        c = {}
        if up['f1']:
            for p, a in f1_now.items():
                c.setdefault(p, []).append(('f1', [F1_ASN] + a.get('as_path', []), a))
        if up['f2']:
            for p, a in f2_now.items():
                c.setdefault(p, []).append(('f2', [F2_ASN] + a.get('as_path', []), a))
        if up['f3']:
            for p, (nh, path) in f3_now.items():
                c.setdefault(p, []).append(('f3', list(path), {'next_hop': nh}))
        for p, a in F4_ROUTES.items():
            c.setdefault(p, []).append(('f4', [F4_ASN], a))
        return c

    def want(exclude_asn=None):
        out = {}
        for p, cands in candidates().items():
            cands.sort(key=lambda c: len(c[1]))
            if len(cands) > 1 and len(cands[0][1]) == len(cands[1][1]):
                raise AssertionError(f'test bug: tie for {p}')
            _f, path, a = cands[0]
            if exclude_asn in path:
                continue
            out[p] = {'next_hop': a['next_hop'], 'as_path': [RH_ASN] + path,
                      'communities': sorted(a.get('communities', [])),
                      'large_communities': sorted(a.get('large_communities', [])),
                      'med': a.get('med')}
        return out

    def peer(addr):
        p = rh._peer(addr)
        if p is None:
            raise AssertionError(f'routehubd has no peer {addr}')
        return p

    def rib_of(name):
        """routehubd's paths received from peer `name`: {prefix: path}."""
        j = json.loads(rh.routehubctl('--json', 'show', 'routes', 'peer', name).stdout)
        out = {}
        for r in j.get('routes', []):
            for p in r.get('paths', []):
                if p.get('peer') == name:
                    out[r['prefix']] = p
        return out

    def tables():
        for s in spokes:
            expect_table(s, want(s.asn))
        f3.drain()
    run.check('tables', tables)

    def own_as_loop():
        # FRR does no sender-side loop check: it sends routehubd's routes back with
        # 65515 in the path. routehubd must keep none of them (RFC 4271 §9.1.2).
        wait_for(lambda: peer(f4.address)['prefixes_announced'] > len(F4_ROUTES), T,
                 what='f4 echoes the hub table back')
        got = rib_of('f4')
        if set(got) != set(F4_ROUTES):
            loops = {p: r['as_path'] for p, r in got.items() if p not in F4_ROUTES}
            raise AssertionError(f'routehubd keeps routes with its own AS 65515 in the path: {loops}')
    run.check('own-as-loop', own_as_loop)

    def refresh_in_bird():
        before = peer(s1.address)['refresh_in']
        upd0, wd0 = s1.stats(rh.address)
        borr0, eorr0 = s1.log_count('Got BEGIN-OF-RR'), s1.log_count('Got END-OF-RR')
        s1.birdc('reload in', s1.proto_name(rh.address))
        wait_for(lambda: peer(s1.address)['refresh_in'] == before + 1, T,
                 what='routehubd counts the ROUTE-REFRESH from s1')
        n = len(want(s1.asn))
        wait_for(lambda: s1.log_count('Got END-OF-RR') > eorr0, T, what='END-OF-RR at s1')
        upd1, wd1 = s1.stats(rh.address)
        if s1.log_count('Got BEGIN-OF-RR') != borr0 + 1:
            raise AssertionError('s1 logged no BEGIN-OF-RR before the re-sent table')
        if upd1 - upd0 != n or wd1 != wd0:
            raise AssertionError(f's1 import updates {upd0} -> {upd1} (want +{n}), '
                                 f'withdraws {wd0} -> {wd1} (want +0)')
        expect_table(s1, want(s1.asn))
        expect_table(s2, want(s2.asn))
    run.check('refresh-in-bird', refresh_in_bird)

    def refresh_in_raw():
        f3.drain()
        start = len(f3.conn.received)
        f3.refresh(RR_NORMAL)
        f3.conn.recv_until(lambda m: m.code == rawbgp.ROUTE_REFRESH and m.body[2] == RR_EORR, T)
        msgs = f3.conn.received[start:]
        kinds = []
        announced, withdrawn = [], []
        for m in msgs:
            if m.code == rawbgp.ROUTE_REFRESH:
                afi, sub, safi = struct.unpack('!HBB', m.body)
                kinds.append(('RR', afi, sub, safi))
            elif m.code == rawbgp.UPDATE:
                w, a = parse_update(m.body)
                withdrawn += w
                announced += a
                kinds.append(('UPDATE',))
        if kinds[0] != ('RR', 1, RR_BORR, 1) or kinds[-1] != ('RR', 1, RR_EORR, 1):
            raise AssertionError(f'refresh answer framing: {kinds}')
        if sorted(announced) != sorted(want(F3_ASN)) or withdrawn:
            raise AssertionError(f'refresh answer announced {sorted(announced)}, withdrew {withdrawn}; '
                                 f'want {sorted(want(F3_ASN))} and nothing withdrawn')
    run.check('refresh-in-raw', refresh_in_raw)

    def expect_resent(name, routes, s1_0):
        """After a feeder re-sent its table (soft reset out towards us):
        exactly its routes in routehubd, none stale, both spokes' tables
        right, and s1 (UPDATE counts s1_0 before) got nothing: the table
        did not change."""
        wait_for(lambda: set(rib_of(name)) == set(routes) and
                 not any(p.get('stale') for p in rib_of(name).values()), T,
                 what=f'{name} routes in routehubd, none stale')
        expect_table(s1, want(s1.asn))
        expect_table(s2, want(s2.asn))
        s1_1 = s1.stats(rh.address)
        if s1_1 != s1_0:
            raise AssertionError(f's1 got UPDATEs for an unchanged table: (updates, withdraws) '
                                 f'{s1_0} -> {s1_1}')

    def soft_out_feeder():
        before = peer(f2.address)['refresh_in']
        s1_0 = s1.stats(rh.address)
        f2.birdc('reload out', f2.proto_name(rh.address))
        wait_for(lambda: peer(f2.address)['refresh_in'] >= before + 2, T,
                 what='routehubd counts BoRR and EoRR from f2')
        if f2.log_count('Sending BEGIN-OF-RR') < 1 or f2.log_count('Sending END-OF-RR') < 1:
            raise AssertionError('f2 did not frame its refresh with BoRR/EoRR')
        # routehubd's view: all of f2's routes, none left stale.
        expect_resent('f2', f2_now, s1_0)
    run.check('soft-out-feeder', soft_out_feeder)

    def soft_out_frr():
        before = peer(f4.address)['msgs_in']
        s1_0 = s1.stats(rh.address)
        f4.vtysh(f'clear bgp ipv4 unicast {rh.address} soft out')
        # FRR re-sends at least one UPDATE (its one route), maybe more.
        wait_for(lambda: peer(f4.address)['msgs_in'] > before, T, what='f4 re-sends its routes')
        expect_resent('f4', F4_ROUTES, s1_0)
    run.check('soft-out-frr', soft_out_frr)

    def stale_sweep_raw():
        f3.refresh(RR_BORR)
        wait_for(lambda: all(p.get('stale') for p in rib_of('f3').values()) and len(rib_of('f3')) == 2,
                 T, what='f3 routes stale in routehubd after BoRR')
        # Stale routes stay in use until EoRR (RFC 7313 §4.2).
        for s in spokes:
            expect_table(s, want(s.asn))
        nh, path = F3_ROUTES['10.30.1.0/24']
        f3.announce('10.30.1.0/24', nh, path)
        f3.refresh(RR_EORR)
        del f3_now['10.30.2.0/24']
        for s in spokes:
            expect_table(s, want(s.asn))
        r = rib_of('f3')
        if set(r) != {'10.30.1.0/24'} or any(p.get('stale') for p in r.values()):
            raise AssertionError(f'routehubd keeps of f3: {json.dumps(r)[:500]}')
        # Second round: new next hop for one route, a new prefix, nothing else.
        f3.refresh(RR_BORR)
        f3.announce('10.30.1.0/24', '198.18.30.11', path)
        f3.announce('10.30.3.0/24', '198.18.30.3', [F3_ASN])
        f3.refresh(RR_EORR)
        f3_now['10.30.1.0/24'] = ('198.18.30.11', path)
        f3_now['10.30.3.0/24'] = ('198.18.30.3', [F3_ASN])
        for s in spokes:
            expect_table(s, want(s.asn))
        f3.drain()
    run.check('stale-sweep-raw', stale_sweep_raw)

    def stale_sweep_bird():
        f2.reject = ('10.20.2.0/24',)
        f2.reload()   # birdc configure: the changed filter re-feeds the session
        f2.birdc('reload out', f2.proto_name(rh.address))
        del f2_now['10.20.2.0/24']
        for s in spokes:
            expect_table(s, want(s.asn))
        wait_for(lambda: set(rib_of('f2')) == set(f2_now), T, what='routehubd drops 10.20.2.0/24')
    run.check('stale-sweep-bird', stale_sweep_bird)

    def hard_reset_exabgp():
        f1.stop()
        up['f1'] = False
        wait_for(lambda: peer(f1.address)['state'] != 'Established', T, what='f1 session down')
        for s in spokes:
            expect_table(s, want(s.asn))
        if want(s1.asn)['10.99.0.0/24']['next_hop'] != '198.18.20.9':
            raise AssertionError('test bug: 10.99.0.0/24 should fall back to f2')
    run.check('hard-reset-exabgp', hard_reset_exabgp)

    def reconnect_exabgp():
        f1.start()
        up['f1'] = True
        f1.wait_established(rh.address, timeout=T)
        for s in spokes:
            expect_table(s, want(s.asn))
    run.check('reconnect-exabgp', reconnect_exabgp)

    def hard_reset_bird():
        f2.birdc('disable', f2.proto_name(rh.address))
        up['f2'] = False
        wait_for(lambda: peer(f2.address)['state'] != 'Established', T, what='f2 session down')
        for s in spokes:
            expect_table(s, want(s.asn))
        err = peer(f2.address).get('last_error') or ''
        if 'cease' not in err.lower() and '6/' not in err:
            raise AssertionError(f'routehubd last_error for f2: {err!r}, want the Cease it received')
        f2.birdc('enable', f2.proto_name(rh.address))
        up['f2'] = True
        f2.wait_established(rh.address, timeout=T)
        for s in spokes:
            expect_table(s, want(s.asn))
    run.check('hard-reset-bird', hard_reset_bird)

    def spoke_reconnect():
        # s1 goes away; while it is gone f1 withdraws one prefix and adds another.
        s1.birdc('disable', s1.proto_name(rh.address))
        wait_for(lambda: peer(s1.address)['state'] != 'Established', T, what='s1 session down')
        f1.withdraw('10.10.1.0/24')
        del f1_now['10.10.1.0/24']
        a = dict(next_hop='198.18.10.2', communities=['65001:2'])
        f1.announce(['10.10.2.0/24'], **a)
        f1_now['10.10.2.0/24'] = a
        expect_table(s2, want(s2.asn))
        s1.birdc('enable', s1.proto_name(rh.address))
        s1.wait_established(rh.address, timeout=T)
        expect_table(s1, want(s1.asn))
        # And the rejoined member still gets later changes (its group's state).
        f1.withdraw('10.10.2.0/24')
        del f1_now['10.10.2.0/24']
        for s in spokes:
            expect_table(s, want(s.asn))
    run.check('spoke-reconnect', spoke_reconnect)

    def hard_reset_raw():
        f3.close()
        up['f3'] = False
        wait_for(lambda: peer(f3.address)['state'] != 'Established', T, what='f3 session down')
        for s in spokes:
            expect_table(s, want(s.asn))
    run.check('hard-reset-raw', hard_reset_raw)

    print(f'{len(run.passed)} passed, {len(run.failed)} failed '
          f'({time.monotonic() - t0:.1f}s)', flush=True)
    return 1 if run.failed else 0


if __name__ == '__main__':
    sys.exit(main())
