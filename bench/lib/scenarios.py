"""scenarios: what bench/run asks the loadgen to do, by scenario name.

Each scenario gives the loadgen's session and workload options, its phase list,
and which phase carries the headline figure. Sizes are the full-scale ones
multiplied by --scale (with small floors, so that --scale 0.01 still exercises
every code path: that is the CI smoke test).

Phases common to all: 'establish' first; a 'pause' after it where the scenario
measures steady-state propagation (not session set-up), so that every daemon
has finished its own start-of-session work (FRR, for instance, holds back the
first advertisements to a new update group for about 1 s + 50 ms per peer,
capped at 10 s). The pause is identical for every daemon.
"""

import os

RS_ASN = 65515  # the route server's ASN in every daemon's configuration
FULL_TABLE_UPDATES = 89678  # UPDATE messages in tests/data/mrt/updates.et-header.2015.gz


def _n(full, scale, floor):
    return max(floor, int(round(full * scale)))


def settle_pause(sessions):
    return round(min(11.0, 1.5 + 0.05 * sessions), 1)


class Scenario:
    name = ''
    title = ''
    ibgp_spokes = False  # spokes are iBGP route-reflector clients of the route server
    ibgp_feeders = False  # feeders too (RFC 4456: the route server reflects their routes)
    # phase kind (or phase text) whose convergence is the headline figure
    headline = 'announce'
    headline_label = 'convergence'
    soft_reset = False  # runner triggers a soft reset in towards the feeders

    def __init__(self, scale, repo):
        self.scale = scale
        self.repo = repo
        self.lg_opts = []
        self.phases = []
        self.feeders = self.spokes = 0
        self.notes = []
        self.build()

    def build(self):
        raise NotImplementedError

    def size_text(self):
        raise NotImplementedError

    def session_opts(self):
        o = ['--feeders', str(self.feeders), '--spokes', str(self.spokes)]
        if self.ibgp_feeders:
            o += ['--ibgp-feeders', '--feeder-asn', str(RS_ASN), '--feeder-asn-step', '0']
        if self.ibgp_spokes:
            o += ['--spoke-asn', str(RS_ASN), '--spoke-asn-step', '0']
        return o

    def loadgen_args(self):
        return self.session_opts() + self.lg_opts + ['--phases', ','.join(self.phases)]

    def selftest_phases(self):
        """Phases for the loadgen's own ceiling run (no daemon-side triggers)."""
        return [p for p in self.phases if not p.startswith('pause')]


class Ingest(Scenario):
    name = 'ingest'
    title = '1 feeder replays a full table (real MRT) -> 1 spoke'

    def mrt(self):
        return os.path.join(self.repo, 'tests', 'data', 'mrt', 'updates.et-header.2015.gz')

    def build(self):
        self.feeders, self.spokes = 1, 1
        self.lg_opts = ['--replay', self.mrt()]
        if self.scale < 1:
            self.lg_opts += ['--replay-max', str(_n(FULL_TABLE_UPDATES, self.scale, 50))]
        self.phases = ['establish', f'pause:duration={settle_pause(2)}', 'announce', 'eor',
                       'withdraw']

    def size_text(self):
        if self.scale < 1:
            return (f'first {_n(FULL_TABLE_UPDATES, self.scale, 50):,} of '
                    f'{FULL_TABLE_UPDATES:,} UPDATEs of the 2015 full table, 1 feeder -> 1 spoke')
        return f'2015 full table ({FULL_TABLE_UPDATES:,} UPDATEs, ~578k prefixes), 1 feeder -> 1 spoke'


class HardReset(Ingest):
    name = 'hard-reset'
    title = 'after ingest, the feeder drops its session: every spoke sees every withdrawal'
    headline = 'reset'
    headline_label = 'all withdrawals seen'

    def build(self):
        super().build()
        self.phases = ['establish', f'pause:duration={settle_pause(2)}', 'announce', 'eor',
                       'reset:feeders=0']


class Fanout(Scenario):
    name = 'fanout'
    title = '10 feeders (ECMP pairs) x 4,000 routes -> 1,000 eBGP route-server clients'

    def build(self):
        self.feeders = 10
        self.prefixes = _n(4000, self.scale, 20)
        self.spokes = _n(1000, self.scale, 2)
        self.lg_opts = ['--prefixes', str(self.prefixes), '--overlap', '2']
        self.phases = ['establish', f'pause:duration={settle_pause(self.feeders + self.spokes)}',
                       'announce', 'eor', 'withdraw']

    def size_text(self):
        return (f'{self.feeders} feeders in ECMP pairs x {self.prefixes:,} routes '
                f'({self.feeders // 2 * self.prefixes:,} prefixes) -> {self.spokes:,} spokes')


class SoftReset(Fanout):
    name = 'soft-reset'
    title = 'after fanout, route refresh to every feeder: time until done, spokes see no change'
    headline = 'soft-in'
    headline_label = 'soft reset in done'
    soft_reset = True

    def build(self):
        super().build()
        # The runner triggers the daemon's soft reset in at the start of the second
        # pause and times it from the daemon's CPU activity; 'wait' then checks the
        # spokes still hold exactly the same routes, and 'refresh' (the spokes ask
        # the route server for its table: soft reset out) is timed by the loadgen.
        self.refresh_pause = round(max(8.0, 60.0 * self.scale), 1)
        self.phases = ['establish', f'pause:duration={settle_pause(self.feeders + self.spokes)}',
                       'announce', 'eor', f'pause:duration={self.refresh_pause}', 'wait',
                       'refresh']

    def selftest_phases(self):
        return ['establish', 'announce', 'eor', 'refresh']


class Churn(Fanout):
    name = 'churn'
    title = 'steady 10,000 updates/s over the fanout peers: propagation latency'
    headline = 'churn'
    headline_label = 'latency p50/p99'

    def build(self):
        super().build()
        self.rate = 10000
        self.duration = round(max(3.0, 60.0 * self.scale), 1)
        self.phases = ['establish', f'pause:duration={settle_pause(self.feeders + self.spokes)}',
                       'announce', 'eor', f'churn:rate={self.rate}:duration={self.duration}']

    def size_text(self):
        return super().size_text() + f'; churn {self.rate:,} updates/s for {self.duration:g} s'


class Reflect(Scenario):
    name = 'reflect'
    title = '1 feeder x 100,000 routes -> 1,000 iBGP route-reflector clients'
    # Route reflection proper (RFC 4456): the feeder and the spokes are all iBGP
    # route-reflector clients of the route server, in its AS. The feeder
    # (--ibgp-feeders) sends the set's AS path as it is (no ASN of its own) and
    # LOCAL_PREF; the route server reflects its routes to the other clients with
    # AS path, next hop and LOCAL_PREF unchanged, ORIGINATOR_ID (the feeder's BGP
    # Identifier) and CLUSTER_LIST (its own CLUSTER_ID, by default its router id)
    # added, which every spoke checks route by route.
    ibgp_feeders = True
    ibgp_spokes = True

    def build(self):
        self.feeders = 1
        self.prefixes = _n(100000, self.scale, 100)
        self.spokes = _n(1000, self.scale, 2)
        self.lg_opts = ['--prefixes', str(self.prefixes)]
        self.phases = ['establish', f'pause:duration={settle_pause(self.feeders + self.spokes)}',
                       'announce', 'eor', 'withdraw']

    def size_text(self):
        return (f'1 iBGP feeder x {self.prefixes:,} routes -> {self.spokes:,} iBGP '
                f'route-reflector clients (the feeder one too)')


class Sessions(Scenario):
    name = 'sessions'
    title = '2,000 peers with 10 routes each: time to Established and to converged'
    headline = 'announce'

    def build(self):
        self.feeders = _n(2000, self.scale, 10)
        self.spokes = 10
        self.prefixes = 10
        self.lg_opts = ['--prefixes', '10']
        # no settle pause: session set-up is what this scenario is about
        self.phases = ['establish', 'announce', 'eor']

    def size_text(self):
        return (f'{self.feeders:,} feeders x 10 routes ({self.feeders * 10:,} prefixes, '
                f'every feeder receives all the others\') + {self.spokes} verifying spokes')


SCENARIOS = {c.name: c for c in (Ingest, Fanout, Reflect, Sessions, HardReset, SoftReset, Churn)}
ORDER = ['ingest', 'fanout', 'reflect', 'sessions', 'hard-reset', 'soft-reset', 'churn']


def scenario(name, scale, repo):
    return SCENARIOS[name](scale, repo)


__all__ = ['SCENARIOS', 'ORDER', 'scenario', 'settle_pause']
