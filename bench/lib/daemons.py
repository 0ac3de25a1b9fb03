"""daemons: the route servers bench/run compares, configured alike.

Each daemon listens on its own loopback address and is configured from the
templates in bench/configs/ as a route server that passes everything: no
policy rejects, no FIB, next hop and AS path unchanged where the daemon allows
it (eBGP groups: RFC 7947 route-server clients), or as a route reflector with
route-reflector clients (iBGP groups).

Peers come in groups (feeders, spokes), each a list of (address, ASN) and the
prefix covering them. Where the daemon accepts dynamic neighbours from a range
with any ASN (routehubd, BIRD 2, FRR, GoBGP) the config has one range per
group; OpenBGPD lists every session.

A Daemon object owns its process: start() spawns it in its own session and
waits until it listens; stop() ends it by PID (SIGTERM, bounded wait, then
SIGKILL to its process group). Nothing here touches processes it did not start.
"""

import ipaddress
import os
import re
import shutil
import signal
import string
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(os.path.dirname(HERE), 'configs')


class NotSupported(Exception):
    """The daemon cannot do what the scenario needs (reported as n/a)."""


class StartError(Exception):
    """The daemon refused its configuration or did not come up."""


def tmpl(_template, **kw):
    with open(os.path.join(CONFIGS, _template), encoding="utf-8") as f:
        return string.Template(f.read()).substitute(**kw)


def covering_prefix(addrs):
    """Smallest IPv4 prefix that holds every address of addrs."""
    ints = [int(ipaddress.IPv4Address(a)) for a in addrs]
    lo, hi = min(ints), max(ints)
    plen = 32
    while plen > 0 and (lo >> (32 - plen)) != (hi >> (32 - plen)):
        plen -= 1
    return ipaddress.IPv4Network((lo >> (32 - plen) << (32 - plen), plen))


class Group:
    """A set of sessions configured alike: name, role, [(addr, asn)], range.

    role: 'rs-client' (eBGP route-server client: RFC 7947, AS path and next hop
    unchanged), 'rr-client' (iBGP route-reflector client, in the daemon's AS: its
    routes are reflected to the other clients with next hop, AS path and LOCAL_PREF
    unchanged and ORIGINATOR_ID / CLUSTER_LIST added, RFC 4456 — feeders and spokes
    of the reflect scenario) or 'ebgp' (a plain eBGP neighbour: what reaches iBGP
    clients carries its path unprepended anyway)."""

    def __init__(self, name, peers, role='rs-client'):
        assert role in ('rs-client', 'rr-client', 'ebgp')
        self.name = name
        self.peers = list(peers)
        self.role = role
        self.ibgp = role == 'rr-client'
        self.rs = role == 'rs-client'
        self.range = covering_prefix([a for a, _ in self.peers]) if self.peers else None

    def __repr__(self):
        return f'Group({self.name}, {len(self.peers)} peers, {self.range})'


def _listening(addr, port):
    """True when something listens on addr:port (IPv4), from /proc/net/tcp."""
    want = '%08X:%04X' % (int.from_bytes(ipaddress.IPv4Address(addr).packed, 'little'), port)
    try:
        with open('/proc/net/tcp', encoding='ascii') as f:
            next(f)
            for line in f:
                p = line.split()
                if p[1] == want and p[3] == '0A':
                    return True
    except OSError:
        pass
    return False


class Daemon:
    kind = 'daemon'
    label = 'daemon'
    binaries = ()
    # loadgen phase kinds this daemon cannot pass for a known reason: {kind: why}
    skip_phases = {}

    def __init__(self, workdir, addr, asn, router_id, groups, port=179, threads=None, bindir=None):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.addr = addr
        self.port = port
        self.asn = asn
        self.router_id = router_id
        self.groups = groups
        self.threads = threads
        self.bindir = bindir
        self.proc = None
        self.logfile = os.path.join(self.dir, f'{self.kind}.out')
        self.conf = None

    # -- availability --------------------------------------------------------------
    @classmethod
    def missing(cls, bindir=None):
        out = []
        for b in cls.binaries:
            if os.path.isabs(b):
                if not os.access(b, os.X_OK):
                    out.append(b)
            elif shutil.which(b) is None:
                out.append(b)
        return out

    def version(self):
        return ''

    # -- lifecycle -------------------------------------------------------------------
    def write_config(self):
        raise NotImplementedError

    def argv(self):
        raise NotImplementedError

    def check_config(self):
        """Run the daemon's own config check; raise StartError with its words."""

    def _run(self, argv, timeout=30, check=True):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise StartError(f'{" ".join(argv)}: timed out after {timeout} s') from e
        if check and r.returncode != 0:
            raise StartError(f'{" ".join(argv)}: exit {r.returncode}: '
                             f'{(r.stderr + r.stdout).strip()[:1500]}')
        return r

    def start(self, wrap=None, timeout=30):
        """Spawn (optionally under `wrap` argv prefix) and wait until it listens."""
        self.write_config()
        self.check_config()
        argv = (wrap or []) + self.argv()
        with open(self.logfile, 'ab', buffering=0) as log:
            log.write(f'# bench/run: {" ".join(argv)}\n'.encode())
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _listening(self.addr, self.port):
            if self.proc.poll() is not None:
                raise StartError(f'{self.kind} exited with status {self.proc.returncode} at start; '
                                 f'log: {self.tail()}')
            if time.monotonic() > deadline:
                raise StartError(f'{self.kind} not listening on {self.addr}:{self.port} after '
                                 f'{timeout} s; log: {self.tail()}')
            time.sleep(0.05)
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM by PID, wait, then SIGKILL the process group (ours: own session)."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        # children left in its group (privsep processes): end them too
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(p.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + grace
            while time.monotonic() < end:
                try:
                    os.killpg(p.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        return p.returncode

    def logfiles(self):
        return [self.logfile]

    def tail(self, n=15):
        out = []
        for path in self.logfiles():
            try:
                with open(path, 'rb') as f:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - 8192))
                    lines = f.read().decode('utf-8', 'replace').splitlines()[-n:]
                out.append(f'[{os.path.basename(path)}] ' + ' | '.join(lines))
            except OSError:
                pass
        return ' '.join(out)[-3000:]

    # -- scenario hooks --------------------------------------------------------------
    def soft_reset_in(self, group):
        """Make the daemon send ROUTE-REFRESH to every session of `group`."""
        raise NotSupported(f'{self.kind}: no soft reset command in bench/run')


# ------------------------------------------------------------------------------------
class Routehubd(Daemon):
    kind = 'routehub'
    label = 'routehubd'

    @property
    def binary(self):
        return os.path.join(self.bindir, 'routehubd')

    @classmethod
    def missing(cls, bindir=None):
        b = os.path.join(bindir or '', 'routehubd')
        return [] if os.access(b, os.X_OK) else [b]

    def version(self):
        return 'routehubd (this tree)'

    def write_config(self):
        groups = ''
        for g in self.groups:
            if g.ibgp:
                who = 'role: rr-client'
            else:
                who = 'asn: any, role: nva' + (', transparent: true' if g.rs else '')
            groups += tmpl('routehubd-group.tmpl', name=g.name, range=g.range, who=who)
        threads = ''
        if self.threads:
            threads = '  threads: {io: %d, rib: %d}\n' % (self.threads['io'], self.threads['rib'])
        self.conf = os.path.join(self.dir, 'routehub.yaml')
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(tmpl('routehubd.yaml.tmpl', asn=self.asn, router_id=self.router_id,
                         addr=self.addr, port=self.port, threads=threads, dir=self.dir,
                         groups=groups))

    def check_config(self):
        self._run([self.binary, '--check', '-c', self.conf])

    def argv(self):
        return [self.binary, '-c', self.conf]

    def soft_reset_in(self, group):
        """`routehubctl reset RANGE-NAME in`: ROUTE-REFRESH to every dynamic neighbour
        of the range entry (older builds have no `reset`: n/a)."""
        ctl = os.path.join(self.bindir, 'routehubctl')
        r = self._run([ctl, 'help'], check=False)
        if not re.search(r'^\s+reset\s', r.stdout + r.stderr, re.M):
            raise NotSupported('routehubd: this routehubctl has no reset command')
        r = self._run([ctl, '-s', os.path.join(self.dir, 'api.sock'), 'reset', group.name, 'in'])
        return (r.stdout + r.stderr).strip()[-300:]


class Bird(Daemon):
    kind = 'bird'
    label = 'BIRD'
    binaries = ('bird', 'birdc')

    def version(self):
        r = self._run(['bird', '--version'], check=False)
        return (r.stdout + r.stderr).strip()

    def write_config(self):
        groups = ''
        for g in self.groups:
            groups += tmpl('bird-group.tmpl', name=g.name, range=g.range,
                           kind='internal' if g.ibgp else 'external',
                           client='rr client;' if g.ibgp else 'rs client;' if g.rs else '')
        self.conf = os.path.join(self.dir, 'bird.conf')
        self.sock = os.path.join(self.dir, 'bird.ctl')
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(tmpl('bird.conf.tmpl', asn=self.asn, router_id=self.router_id,
                         addr=self.addr, port=self.port, dir=self.dir, groups=groups))

    def check_config(self):
        self._run(['bird', '-p', '-c', self.conf])

    def argv(self):
        return ['bird', '-f', '-c', self.conf, '-s', self.sock, '-P',
                os.path.join(self.dir, 'bird.pid')]

    def logfiles(self):
        return [self.logfile, os.path.join(self.dir, 'bird.log')]

    def soft_reset_in(self, group):
        r = self._run(['birdc', '-s', self.sock, 'reload', 'in', f'"{group.name}_*"'])
        return r.stdout.strip()[-300:]


class Frr(Daemon):
    kind = 'frr'
    label = 'FRR'
    BGPD = os.environ.get('RH_FRR_BGPD', '/usr/lib/frr/bgpd')
    binaries = (BGPD, 'vtysh')

    def version(self):
        r = self._run([self.BGPD, '--version'], check=False)
        return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ''

    @staticmethod
    def pg(g):
        return g.name.upper()

    def write_config(self):
        groups = fams = ''
        for g in self.groups:
            groups += tmpl('frr-group.tmpl', pg=self.pg(g), range=g.range,
                           kind='internal' if g.ibgp else 'external',
                           multihop='' if g.ibgp else f' neighbor {self.pg(g)} ebgp-multihop 2\n')
            client = ('route-reflector-client' if g.ibgp else 'route-server-client' if g.rs
                      else 'activate')
            fams += tmpl('frr-family.tmpl', pg=self.pg(g), client=client)
        self.conf = os.path.join(self.dir, 'bgpd.conf')
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(tmpl('frr-bgpd.conf.tmpl', asn=self.asn, router_id=self.router_id,
                         dir=self.dir, groups=groups.rstrip('\n'), families=fams.rstrip('\n')))

    def check_config(self):
        self._run([self.BGPD, '-C', '-f', self.conf, '-Z'])

    def argv(self):
        return [self.BGPD, '-f', self.conf, '-Z', '-S', '-l', self.addr, '-p', str(self.port),
                '-P', '0', '-i', os.path.join(self.dir, 'bgpd.pid'), '--vty_socket', self.dir]

    def logfiles(self):
        return [self.logfile, os.path.join(self.dir, 'bgpd.log')]

    def soft_reset_in(self, group):
        r = self._run(['vtysh', '--vty_socket', self.dir, '-d', 'bgpd', '-c',
                       f'clear bgp ipv4 unicast peer-group {self.pg(group)} soft in'])
        return r.stdout.strip()[-300:]


class Gobgp(Daemon):
    kind = 'gobgp'
    label = 'GoBGP'
    binaries = ('gobgpd', 'gobgp')
    API_PORT = 50051

    def version(self):
        r = self._run(['gobgpd', '--version'], check=False)
        return (r.stdout + r.stderr).strip()

    def write_config(self):
        groups = ''
        for g in self.groups:
            if g.ibgp:
                client = ('  [peer-groups.route-reflector.config]\n'
                          '    route-reflector-client = true\n'
                          f'    route-reflector-cluster-id = "{self.router_id}"\n')
                multihop = ''
                peer_as = f'    peer-as = {self.asn}\n'
            else:
                # GoBGP keeps route-server clients' routes in a separate RIB that only
                # other route-server clients see: a plain eBGP feeder feeds iBGP clients
                client = ('  [peer-groups.route-server.config]\n    route-server-client = true\n'
                          if g.rs else '')
                multihop = ('  [peer-groups.ebgp-multihop.config]\n    enabled = true\n'
                            '    multihop-ttl = 2\n')
                peer_as = ''  # no peer-as: any ASN is accepted from the range
            groups += tmpl('gobgpd-group.tmpl', name=g.name, range=g.range, client=client,
                           multihop=multihop, peer_as=peer_as)
        self.conf = os.path.join(self.dir, 'gobgpd.toml')
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(tmpl('gobgpd.toml.tmpl', asn=self.asn, router_id=self.router_id,
                         addr=self.addr, port=self.port, groups=groups))

    def check_config(self):
        self._run(['gobgpd', '-d', '-f', self.conf, '-t', 'toml'])

    def argv(self):
        return ['gobgpd', '-f', self.conf, '-t', 'toml', '-p', '-l', 'warn',
                f'--api-hosts={self.addr}:{self.API_PORT}', '--pprof-disable']

    def soft_reset_in(self, group):
        out = []
        for a, _asn in group.peers:
            r = self._run(['gobgp', '-u', self.addr, '-p', str(self.API_PORT), 'neighbor', a,
                           'softresetin'], check=False)
            if r.returncode != 0:
                out.append(f'{a}: {(r.stderr + r.stdout).strip()[:200]}')
        return '; '.join(out)


class Openbgpd(Daemon):
    kind = 'openbgpd'
    label = 'OpenBGPD'
    binaries = ('bgpd', 'bgpctl')
    CHROOT = '/run/openbgpd'
    skip_phases = {'refresh': "OpenBGPD 7.7 ignores the spokes' ROUTE-REFRESH (it logs 'route "
                              "refresh: AID IPv4 unicast not negotiated' although bgpctl shows "
                              "IPv4 unicast and route refresh negotiated)"}

    @classmethod
    def missing(cls, bindir=None):
        m = super().missing(bindir)
        if not m:
            try:
                import pwd
                pwd.getpwnam('_openbgpd')
            except KeyError:
                m.append('user _openbgpd')
        return m

    def version(self):
        r = self._run(['bgpd', '-V'], check=False)
        return (r.stdout + r.stderr).strip()

    def write_config(self):
        groups = ''
        for g in self.groups:
            if g.ibgp:
                options = '  route-reflector\n'
            else:
                options = '  multihop 2\n' + ('  transparent-as yes\n' if g.rs else '')
            nb = ''.join(f'  neighbor {a} {{\n    remote-as {asn}\n  }}\n' for a, asn in g.peers)
            groups += tmpl('openbgpd-group.tmpl', name=g.name, addr=self.addr, options=options,
                           neighbors=nb)
        self.conf = os.path.join(self.dir, 'bgpd.conf')
        self.sock = os.path.join(self.dir, 'bgpd.sock')
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(tmpl('openbgpd.conf.tmpl', asn=self.asn, router_id=self.router_id,
                         addr=self.addr, port=self.port, dir=self.dir, groups=groups))

    def check_config(self):
        os.makedirs(self.CHROOT, mode=0o755, exist_ok=True)
        self._run(['bgpd', '-n', '-f', self.conf])

    def argv(self):
        return ['bgpd', '-d', '-f', self.conf]

    def soft_reset_in(self, group):
        r = self._run(['bgpctl', '-s', self.sock, 'neighbor', 'group', group.name, 'refresh'],
                      check=False)
        if r.returncode == 0:
            return r.stdout.strip()[-300:]
        out = []
        for a, _asn in group.peers:
            r = self._run(['bgpctl', '-s', self.sock, 'neighbor', a, 'refresh'], check=False)
            if r.returncode != 0:
                out.append(f'{a}: {(r.stderr + r.stdout).strip()[:200]}')
        return '; '.join(out)


DAEMONS = {'routehub': Routehubd, 'bird': Bird, 'frr': Frr, 'gobgp': Gobgp, 'openbgpd': Openbgpd}
ORDER = ['routehub', 'bird', 'frr', 'gobgp', 'openbgpd']
