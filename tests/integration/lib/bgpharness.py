"""bgpharness: run real BGP daemons on loopback for integration tests and benchmarks.

Standard library + PyYAML only. See docs/testing.md for the full story; in short:

    from bgpharness import Lab, Bird, Frr, Gobgp, Exabgp, Openbgpd, Routehubd

    with Lab() as lab:
        rs = Bird(lab, 'rs', 65000, '10.0.0.1', lab.address())
        e = Exabgp(lab, 'feed', 65001, '10.0.0.2', lab.address())
        g = Gobgp(lab, 'sink', 65002, '10.0.0.3', lab.address())
        rs.add_neighbor(e.address, e.asn, passive=True, rs_client=True)
        rs.add_neighbor(g.address, g.asn, passive=True, rs_client=True)
        e.add_neighbor(rs.address, rs.asn)
        g.add_neighbor(rs.address, rs.asn)
        lab.start_all()
        e.announce(['10.1.0.0/24'], '198.18.0.10', as_path=[65001, 65001])
        g.wait_routes(lambda rs: any(r['prefix'] == '10.1.0.0/24' for r in rs))

Conventions (the same for every daemon class):
  * every daemon listens on its own 127.x.y.z address (port 179 by default) and
    sources its connections from it;
  * next hops are never rewritten inside the lab (route-server style "next hop
    unchanged" on every session), so announce next hops from 198.18.0.0/15: FRR
    drops 127/8 next hops as martians and BIRD ignores 127/8 routes as bogus;
  * `as_path` given to announce() is the path inside the originating daemon; on an
    eBGP session it prepends its own ASN as every router does, except towards a
    neighbour added with rs_client=True (RFC 7947 route server: no prepend);
  * nothing is ever installed in the kernel (no FIB/zebra/kernel protocol);
  * connect/retry timers are short (1-2 s) so sessions come up quickly.

routes() returns what the daemon RECEIVED from its neighbours, as a list of dicts:
    {prefix, next_hop, as_path [int], communities ['a:b'], large_communities
     ['a:b:c'], med, local_pref, origin ('igp'|'egp'|'incomplete'), peer, best}
(`peer` = address of the neighbour it came from; `best` = True/False, or None
where the daemon does not say).
"""

import atexit
import errno
import hashlib
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import yaml

__all__ = [
    'Lab', 'Daemon', 'Bird', 'Frr', 'Gobgp', 'Exabgp', 'Openbgpd', 'Routehubd',
    'HarnessError', 'MissingBinary', 'DaemonDied', 'ALL_DAEMONS',
    'tcp_md5_supported', 'md5_failure_count', 'wait_for', 'repo_root',
]

LIB_DIR = os.path.dirname(os.path.abspath(__file__))


def repo_root():
    """The repository root (RH_SRC if set, else three levels above this file)."""
    return os.environ.get('RH_SRC') or os.path.abspath(os.path.join(LIB_DIR, '..', '..', '..'))


def rh_bin():
    """Directory of our own binaries: RH_BIN, else <repo>/build/bin."""
    return os.environ.get('RH_BIN') or os.path.join(repo_root(), 'build', 'bin')


class HarnessError(Exception):
    """Something in the lab did not behave (config refused, CLI failed, timeout)."""


class MissingBinary(HarnessError):
    """A daemon binary is not installed: tests should SKIP (exit 77), not fail."""


class DaemonDied(HarnessError):
    """A daemon process exited while the test still needed it."""


def wait_for(cond, timeout, interval=0.2, what='condition'):
    """Poll cond() until it returns something truthy; return that value.

    Raises TimeoutError after `timeout` seconds. The only waiting primitive used
    by the harness: every wait is for an observable condition, bounded in time.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except (DaemonDied, MissingBinary):
            raise
        except Exception as e:  # noqa: BLE001 - a transient CLI failure: retry
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f'timed out after {timeout:g}s waiting for {what}'
            if last_exc is not None:
                msg += f' (last error: {last_exc})'
            raise TimeoutError(msg)
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# Kernel facts
# --------------------------------------------------------------------------------------
_TCP_MD5SIG = 14


def tcp_md5_supported():
    """True when the kernel accepts TCP_MD5SIG (RFC 2385) keys on a socket."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sa = (struct.pack('=H', socket.AF_INET) + struct.pack('!H', 0)
              + socket.inet_aton('127.0.0.1')).ljust(128, b'\0')
        key = b'probe'
        s.setsockopt(socket.IPPROTO_TCP, _TCP_MD5SIG,
                     sa + struct.pack('=2xH4x80s', len(key), key))
        return True
    except OSError:
        return False
    finally:
        s.close()


def md5_failure_count():
    """Kernel-wide count of segments dropped for a bad or missing TCP-MD5 signature
    (TcpExt TCPMD5Failure + TCPMD5NotFound + TCPMD5Unexpected), or None."""
    try:
        with open('/proc/net/netstat', encoding='ascii') as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for i in range(0, len(lines) - 1, 2):
        if lines[i].startswith('TcpExt:'):
            d = dict(zip(lines[i].split()[1:], lines[i + 1].split()[1:]))
            keys = [k for k in ('TCPMD5Failure', 'TCPMD5NotFound', 'TCPMD5Unexpected') if k in d]
            if keys:
                return sum(int(d[k]) for k in keys)
    return None


# --------------------------------------------------------------------------------------
# Route normalisation helpers
# --------------------------------------------------------------------------------------
_WELL_KNOWN = {
    'gracefulshutdown': '65535:0', 'acceptown': '65535:1', 'llgrstale': '65535:6',
    'nollgr': '65535:7', 'blackhole': '65535:666', 'noexport': '65535:65281',
    'noadvertise': '65535:65282', 'noexportsubconfed': '65535:65283',
    'localas': '65535:65283', 'nopeer': '65535:65284',
}


def _norm_community(c):
    if isinstance(c, int):
        return f'{c >> 16}:{c & 0xffff}'
    if isinstance(c, (list, tuple)):
        return f'{int(c[0])}:{int(c[1])}'
    c = str(c).strip()
    if re.fullmatch(r'\d+:\d+', c):
        a, b = c.split(':')
        return f'{int(a)}:{int(b)}'
    key = re.sub(r'[^a-z]', '', c.lower())
    return _WELL_KNOWN.get(key, c)


def _norm_large(c):
    if isinstance(c, dict):
        vals = [c.get(k) for k in ('global_admin', 'local_data1', 'local_data2')]
        if None in vals:
            vals = [c.get(k) for k in ('ASN', 'LocalData1', 'LocalData2')]
        return ':'.join(str(int(v or 0)) for v in vals)
    if isinstance(c, (list, tuple)):
        return ':'.join(str(int(v)) for v in c)
    return ':'.join(str(int(v)) for v in re.findall(r'\d+', str(c)))


def _parse_as_path(s):
    """'65001 65002 {65003,65004}' -> [65001, 65002, 65003, 65004] (sets flattened)."""
    if s is None:
        return []
    if isinstance(s, (list, tuple)):
        out = []
        for x in s:
            out.extend(_parse_as_path(x) if isinstance(x, (list, tuple, str)) else [int(x)])
        return out
    return [int(x) for x in re.findall(r'\d+', str(s))]


_ORIGINS = {'i': 'igp', 'igp': 'igp', 'e': 'egp', 'egp': 'egp', '?': 'incomplete',
            'incomplete': 'incomplete', 0: 'igp', 1: 'egp', 2: 'incomplete'}


def _norm_origin(o):
    if o is None:
        return None
    return _ORIGINS.get(o if isinstance(o, int) else str(o).strip().lower(), str(o).lower())


def make_route(prefix, next_hop=None, as_path=(), communities=(), large_communities=(),
               med=None, local_pref=None, origin=None, peer=None, best=None):
    return {
        'prefix': str(ipaddress.ip_network(prefix, strict=False)),
        'next_hop': next_hop,
        'as_path': _parse_as_path(as_path),
        'communities': [_norm_community(c) for c in (communities or ())],
        'large_communities': [_norm_large(c) for c in (large_communities or ())],
        'med': None if med is None else int(med),
        'local_pref': None if local_pref is None else int(local_pref),
        'origin': _norm_origin(origin),
        'peer': peer,
        'best': best,
    }


class Neighbor:
    """One configured session of a daemon (the harness's own record of it)."""

    def __init__(self, address, asn, port=179, passive=False, rs_client=False, rr_client=False,
                 multihop=None, password=None, hold_time=None, add_path=None,
                 local_address=None, name=None):
        self.address = str(ipaddress.ip_address(address))
        self.asn = int(asn)
        self.port = int(port)
        self.passive = bool(passive)
        self.rs_client = bool(rs_client)
        self.rr_client = bool(rr_client)
        self.multihop = multihop
        self.password = password
        self.hold_time = hold_time
        if add_path is True:
            add_path = 'both'
        if add_path not in (None, False, 'send', 'receive', 'both'):
            raise ValueError(f"add_path must be None/True/'send'/'receive'/'both', not {add_path!r}")
        self.add_path = add_path or None
        self.local_address = local_address
        self.name = name

    @property
    def keepalive(self):
        if self.hold_time is None:
            return None
        return max(1, int(self.hold_time) // 3) if self.hold_time else 0

    @property
    def add_path_send(self):
        return self.add_path in ('send', 'both')

    @property
    def add_path_receive(self):
        return self.add_path in ('receive', 'both')

    def __repr__(self):
        return f'Neighbor({self.address}, AS{self.asn})'


class Announcement:
    """Attributes of a locally originated (static) route."""

    def __init__(self, next_hop, as_path=(), communities=(), large_communities=(), med=None,
                 local_pref=None, origin='igp'):
        self.next_hop = str(ipaddress.ip_address(next_hop))
        self.as_path = [int(a) for a in as_path]
        self.communities = [_norm_community(c) for c in communities]
        self.large_communities = [_norm_large(c) for c in large_communities]
        self.med = None if med is None else int(med)
        self.local_pref = None if local_pref is None else int(local_pref)
        self.origin = _norm_origin(origin) or 'igp'

    def key(self):
        return repr((self.next_hop, self.as_path, self.communities, self.large_communities,
                     self.med, self.local_pref, self.origin))

    def tag(self):
        return hashlib.sha1(self.key().encode()).hexdigest()[:10]


def _as_list(prefixes):
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    return [str(ipaddress.ip_network(p, strict=False)) for p in prefixes]


# --------------------------------------------------------------------------------------
# Lab
# --------------------------------------------------------------------------------------
_LIVE_LABS = []

# A watchdog per lab, in its own session: it reads "+PGID" / "-PGID" lines from a
# pipe and, when the pipe closes without the lab having stopped everything (the
# test process was SIGKILLed, e.g. by a ctest timeout), ends the process groups
# still listed (SIGTERM, then SIGKILL). Only groups the lab itself created.
_REAPER = r"""
import os, signal, sys, time
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == '+':
        groups.add(int(line[1:]))
    elif line[:1] == '-':
        groups.discard(int(line[1:]))
def alive(g):
    try:
        os.killpg(g, 0)
        return True
    except OSError:
        return False
for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
    live = [g for g in groups if alive(g)]
    if not live:
        break
    for g in live:
        try:
            os.killpg(g, sig)
        except OSError:
            pass
    end = time.monotonic() + grace
    while time.monotonic() < end and any(alive(g) for g in live):
        time.sleep(0.05)
"""


def _atexit_cleanup():
    for lab in list(_LIVE_LABS):
        try:
            lab.stop_all()
        except Exception as e:  # noqa: BLE001
            print(f'bgpharness: cleanup error: {e}', file=sys.stderr)


atexit.register(_atexit_cleanup)


class Lab:
    """Owns a temp dir, hands out loopback addresses and ports, runs and reaps processes.

    Use as a context manager. On exit every process it started is stopped by PID
    (SIGTERM, bounded wait, then SIGKILL of its process group). If the block
    raised (or lab.failed was set), the tail of every log is printed and the
    directory is kept; otherwise it is removed (set RH_KEEP_LAB=1 to keep it).

    Addresses come from 127.<net>.<sub>.1..254 where <net> defaults to 10
    (RH_LAB_NET=10..19 to change) and <sub> is picked at random per lab, so
    parallel labs rarely collide; each address is also checked by binding it.
    """

    def __init__(self, tmpdir=None, net=None, keep=None, tail_lines=40):
        self._own_dir = tmpdir is None
        self.dir = os.path.abspath(tmpdir or tempfile.mkdtemp(prefix='rhlab-'))
        os.makedirs(self.dir, exist_ok=True)
        self.keep = keep if keep is not None else os.environ.get('RH_KEEP_LAB') == '1'
        self.tail_lines = tail_lines
        self.net = int(net if net is not None else os.environ.get('RH_LAB_NET', '10'))
        self._sub = random.randrange(1, 255)
        self._host = 0
        self._used_addrs = set()
        self._used_ports = set()
        self.daemons = []
        self._procs = []  # (name, Popen, logfile)
        self.failed = False
        self._prev_sigterm = None
        self._reaper = None
        self._reaper_w = None
        self._reaper_lock = threading.Lock()
        _LIVE_LABS.append(self)

    # -- context manager -------------------------------------------------------
    def __enter__(self):
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                self._prev_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            pass
        return self

    @staticmethod
    def _on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, (SystemExit, KeyboardInterrupt)):
            self.failed = True
        if exc_type is not None and issubclass(exc_type, SystemExit) and exc is not None \
                and exc.code not in (0, None, 77):
            self.failed = True
        self.close()
        return False

    def close(self):
        if self.failed:
            self.dump_logs()
        self.stop_all()
        if self._prev_sigterm is not None:
            try:
                signal.signal(signal.SIGTERM, self._prev_sigterm)
            except ValueError:
                pass
            self._prev_sigterm = None
        if self in _LIVE_LABS:
            _LIVE_LABS.remove(self)
        if self.failed or self.keep:
            print(f'bgpharness: lab directory kept: {self.dir}', file=sys.stderr)
        elif self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- resources -------------------------------------------------------------
    def address(self):
        """A fresh 127.x.y.z that nothing on this host uses yet (bind-checked on :179)."""
        for _ in range(4 * 254):
            self._host += 1
            if self._host > 254:
                self._host = 1
                self._sub = self._sub % 254 + 1
            addr = f'127.{self.net}.{self._sub}.{self._host}'
            if addr in self._used_addrs:
                continue
            if self._addr_free(addr):
                self._used_addrs.add(addr)
                return addr
        raise HarnessError(f'no free address in 127.{self.net}.0.0/16')

    @staticmethod
    def _addr_free(addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, 179))
            return True
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                return False
            if e.errno == errno.EACCES:  # not root: port 179 needs privilege; try any port
                try:
                    s2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s2.bind((addr, 0))
                    s2.close()
                    return True
                except OSError:
                    return False
            raise
        finally:
            s.close()

    def port(self, address='127.0.0.1'):
        """A TCP port currently free on `address` (for APIs and extra listeners)."""
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((address, 0))
                p = s.getsockname()[1]
            finally:
                s.close()
            if (address, p) not in self._used_ports:
                self._used_ports.add((address, p))
                return p
        raise HarnessError('no free port')

    def subdir(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        return d

    # -- processes -------------------------------------------------------------
    def spawn(self, name, argv, logfile, env=None, cwd=None):
        """Start argv in its own process group, stdout+stderr appended to logfile."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        log = open(logfile, 'ab', buffering=0)
        try:
            log.write(f'# bgpharness: {" ".join(argv)}\n'.encode())
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env=full_env, cwd=cwd, start_new_session=True)
        finally:
            log.close()
        self._procs.append((name, p, logfile))
        self._watch(f'+{p.pid}')
        return p

    def _watch(self, line):
        """Tell the watchdog about a process group (start it on first use)."""
        with self._reaper_lock:
            if self._reaper is None:
                if line.startswith('-'):
                    return
                r, w = os.pipe()
                try:
                    self._reaper = subprocess.Popen([sys.executable, '-c', _REAPER], stdin=r,
                                                    stdout=subprocess.DEVNULL, start_new_session=True)
                finally:
                    os.close(r)
                self._reaper_w = w
            try:
                os.write(self._reaper_w, (line + '\n').encode())
            except OSError:
                pass

    def _stop_reaper(self):
        with self._reaper_lock:
            if self._reaper is None:
                return
            os.close(self._reaper_w)
            try:
                self._reaper.wait(15)
            except subprocess.TimeoutExpired:
                self._reaper.kill()
                self._reaper.wait()
            self._reaper = None

    def stop_process(self, p, timeout=10.0):
        """SIGTERM p, wait up to timeout, then SIGKILL its process group; reap."""
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
                    print(f'bgpharness: pid {p.pid} survived SIGKILL', file=sys.stderr)
        # Children left in the group (privsep helpers, API scripts): end them too.
        self._reap_group(p.pid)
        self._watch(f'-{p.pid}')
        return p.returncode

    @staticmethod
    def _reap_group(pgid):
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def _register(self, daemon):
        if any(d.name == daemon.name for d in self.daemons):
            raise HarnessError(f'daemon name {daemon.name!r} used twice in this lab')
        self.daemons.append(daemon)

    def start_all(self, parallel=True):
        """Start every daemon not yet running (in threads when parallel: most of a
        start is waiting for the daemon's control socket). Raises the first error."""
        todo = [d for d in self.daemons if not d.running]
        if not parallel:
            for d in todo:
                d.start()
            return
        errors = []

        def run(d):
            try:
                d.start()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append((d, e))
        threads = [threading.Thread(target=run, args=(d,), name=f'start-{d.name}') for d in todo]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            d, e = errors[0]
            raise e

    def stop_all(self):
        for d in reversed(self.daemons):
            try:
                d.stop()
            except Exception as e:  # noqa: BLE001
                print(f'bgpharness: stopping {d.name}: {e}', file=sys.stderr)
        for _name, p, _log in reversed(self._procs):
            self.stop_process(p)
        self._stop_reaper()

    def dump_logs(self, lines=None):
        lines = lines or self.tail_lines
        for d in self.daemons:
            for path in d.logfiles():
                print(f'----- {d.kind} {d.name}: tail of {path} -----', file=sys.stderr)
                print(_tail(path, lines), file=sys.stderr)


def _tail(path, n):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode('utf-8', 'replace')
    except OSError as e:
        return f'({e})'
    return '\n'.join(data.splitlines()[-n:])


# --------------------------------------------------------------------------------------
# Daemon base class
# --------------------------------------------------------------------------------------
class Daemon:
    """Common interface; subclasses implement the daemon-specific parts."""

    kind = 'daemon'
    binaries = ()

    def __init__(self, lab, name, asn, router_id, address, port=179):
        if not re.fullmatch(r'[A-Za-z][A-Za-z0-9_-]*', name):
            raise ValueError(f'daemon name {name!r}: letters, digits, _ and - only')
        self.lab = lab
        self.name = name
        self.asn = int(asn)
        self.router_id = str(ipaddress.IPv4Address(router_id))
        self.address = str(ipaddress.ip_address(address))
        self.port = int(port)
        self.dir = lab.subdir(name)
        self.logfile = os.path.join(self.dir, f'{name}.log')
        self.neighbors = {}
        self.originated = {}  # prefix -> Announcement
        self.proc = None
        lab._register(self)

    def __repr__(self):
        return f'{type(self).__name__}({self.name}, AS{self.asn}, {self.address}:{self.port})'

    # -- availability ----------------------------------------------------------
    @classmethod
    def missing(cls):
        """Names of required binaries that are not installed ([] when usable)."""
        out = []
        for b in cls.binaries:
            if os.path.isabs(b):
                if not os.access(b, os.X_OK):
                    out.append(b)
            elif shutil.which(b) is None:
                out.append(b)
        return out

    def _require(self):
        m = self.missing()
        if m:
            raise MissingBinary(f'{self.kind}: not installed: {", ".join(m)}')

    # -- process ---------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logfiles(self):
        return [self.logfile]

    def log_tail(self, n=30):
        return _tail(self.logfile, n)

    def _check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise DaemonDied(f'{self!r} exited with status {self.proc.returncode}; '
                             f'log tail:\n{self.log_tail()}')

    def start(self):
        self._require()
        if self.running:
            raise HarnessError(f'{self!r} already running')
        self._start()
        self._check_alive()
        return self

    def stop(self):
        if self.proc is not None:
            self.lab.stop_process(self.proc)

    def reload(self):
        """Re-read the (regenerated) configuration without restarting the process."""
        raise NotImplementedError

    def _run(self, argv, timeout=15, check=True, input=None):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f'{self.name}: {" ".join(argv)}: timed out after {timeout}s') from e
        if check and r.returncode != 0:
            raise HarnessError(f'{self.name}: {" ".join(argv)}: exit {r.returncode}: '
                               f'{(r.stderr or r.stdout).strip()[:2000]}')
        return r

    # -- configuration ---------------------------------------------------------
    def add_neighbor(self, address, asn, port=179, passive=False, rs_client=False, rr_client=False,
                     multihop=None, password=None, hold_time=None, add_path=None,
                     local_address=None, name=None):
        """Configure a session. If the daemon runs already, the change is applied live."""
        n = Neighbor(address, asn, port=port, passive=passive, rs_client=rs_client,
                     rr_client=rr_client, multihop=multihop, password=password,
                     hold_time=hold_time, add_path=add_path, local_address=local_address, name=name)
        if n.address in self.neighbors:
            raise HarnessError(f'{self.name}: neighbor {n.address} configured twice')
        self.neighbors[n.address] = n
        if self.running:
            self._neighbor_added(n)
        return n

    def _neighbor_added(self, n):
        self.reload()

    def local_address_for(self, n):
        return n.local_address or self.address

    def is_ebgp(self, n):
        return n.asn != self.asn

    def multihop_for(self, n):
        """TTL for a session: the neighbour's multihop, else 2 (loopback needs > 1 hop
        for most daemons to accept a 127/8 neighbour and off-net next hops)."""
        return int(n.multihop) if n.multihop else 2

    # -- routes ----------------------------------------------------------------
    def announce(self, prefixes, next_hop, as_path=(), communities=(), large_communities=(),
                 med=None, local_pref=None, origin='igp'):
        """Originate static routes (replaces earlier announcements of the same prefixes)."""
        a = Announcement(next_hop, as_path, communities, large_communities, med, local_pref, origin)
        prefixes = _as_list(prefixes)
        for p in prefixes:
            self.originated[p] = a
        if self.running:
            self._apply_routes(announced=prefixes, withdrawn=[])

    def withdraw(self, prefixes):
        prefixes = [p for p in _as_list(prefixes) if p in self.originated]
        for p in prefixes:
            del self.originated[p]
        if self.running and prefixes:
            self._apply_routes(announced=[], withdrawn=prefixes)

    def _apply_routes(self, announced, withdrawn):
        raise NotImplementedError

    def routes(self):
        """Routes RECEIVED from neighbours (list of dicts, see module doc)."""
        raise NotImplementedError

    def route_count(self):
        """Number of paths received from neighbours (cheap where the daemon keeps a
        counter: use it to wait for big tables, then routes() for details)."""
        return len(self.routes())

    # -- state -----------------------------------------------------------------
    def neighbor_state(self, addr):
        """'Established', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm' (or the
        daemon's own word when it has no equivalent)."""
        raise NotImplementedError

    def last_notification(self, addr):
        """Text of the last NOTIFICATION sent or received on that session (or the last
        error the daemon records), None if there is none."""
        raise NotImplementedError

    def wait_established(self, addr, timeout=30):
        addr = str(addr)

        def cond():
            self._check_alive()
            return self.neighbor_state(addr) == 'Established'
        try:
            return wait_for(cond, timeout, what=f'{self.name}: session to {addr} Established')
        except TimeoutError as e:
            raise TimeoutError(f'{e}; state={self._safe(self.neighbor_state, addr)!r}, '
                               f'last notification={self._safe(self.last_notification, addr)!r}; '
                               f'log tail:\n{self.log_tail(15)}') from None

    def wait_state(self, addr, predicate, timeout=30, what='state'):
        return wait_for(lambda: predicate(self.neighbor_state(addr)), timeout,
                        what=f'{self.name}: {addr} {what}')

    def wait_routes(self, predicate, timeout=30, what='routes'):
        """Poll routes() until predicate(routes) is truthy; return the routes."""
        box = {}

        def cond():
            self._check_alive()
            box['r'] = self.routes()
            return predicate(box['r'])
        try:
            wait_for(cond, timeout, interval=0.3, what=f'{self.name}: {what}')
        except TimeoutError as e:
            r = box.get('r')
            shown = json.dumps(r[:20], sort_keys=True) if r is not None else '(never read)'
            raise TimeoutError(f'{e}; {len(r or [])} routes, first: {shown}') from None
        return box['r']

    def wait_prefixes(self, prefixes, timeout=30, present=True):
        """Wait until every prefix is present (or, present=False, absent)."""
        want = set(_as_list(prefixes))

        def pred(rs):
            have = {r['prefix'] for r in rs}
            return want <= have if present else not (want & have)
        return self.wait_routes(pred, timeout, what=f'{"" if present else "no "}{sorted(want)}')

    @staticmethod
    def _safe(fn, *a):
        try:
            return fn(*a)
        except Exception as e:  # noqa: BLE001
            return f'<{e}>'


# --------------------------------------------------------------------------------------
# BIRD 2
# --------------------------------------------------------------------------------------
class Bird(Daemon):
    """BIRD 2: `bird -f`, control through `birdc -s SOCK`.

    Every neighbour is a `protocol bgp` with `strict bind` (several BIRDs share port
    179 on different addresses), `multihop`, `next hop keep`, and an IGP table with
    198.18.0.0/15 via "lo" to resolve next hops (BIRD refuses 127/8 routes as bogus).
    Static routes are a `static` protocol of blackhole routes carrying
    bgp_next_hop/bgp_path/...; announce/withdraw rewrite the config and run
    `birdc configure`.
    """

    kind = 'bird'
    binaries = ('bird', 'birdc')
    IGP_ROUTES = ('198.18.0.0/15',)

    def __init__(self, lab, name, asn, router_id, address, port=179):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'bird.conf')
        self.sock = os.path.join(self.dir, 'bird.ctl')
        self.extra_config = ''

    def proto_name(self, addr):
        return 'n_' + str(addr).replace('.', '_').replace(':', '_')

    def config_text(self):
        L = [f'# generated by bgpharness for {self.name}',
             f'router id {self.router_id};',
             'log stderr all;',
             'debug protocols { states, events };',
             'ipv4 table igp4;',
             'filter rh_export {',
             '  if proto = "originated" && defined(bgp_med) then bgp_med = bgp_med;',
             '  accept;',
             '}',
             'protocol device { }',
             'protocol static igp_static {',
             '  ipv4 { table igp4; };']
        L += [f'  route {p} via "lo";' for p in self.IGP_ROUTES]
        L += ['}', '', 'protocol static originated {', '  ipv4 { import all; };']
        for prefix, a in sorted(self.originated.items()):
            body = [f'bgp_next_hop = {a.next_hop};', f'bgp_origin = ORIGIN_{a.origin.upper()};']
            body += [f'bgp_path.prepend({asn});' for asn in reversed(a.as_path)]
            body += [f'bgp_community.add(({c.replace(":", ",")}));' for c in a.communities]
            body += [f'bgp_large_community.add(({c.replace(":", ",")}));' for c in a.large_communities]
            if a.med is not None:
                body.append(f'bgp_med = {a.med};')
            if a.local_pref is not None:
                body.append(f'bgp_local_pref = {a.local_pref};')
            L.append(f'  route {prefix} blackhole {{ {" ".join(body)} }};')
        L.append('}')
        for n in self.neighbors.values():
            L += ['', f'protocol bgp {self.proto_name(n.address)} {{']
            if n.name:
                L.append(f'  description "{n.name}";')
            L += [f'  local {self.local_address_for(n)} port {self.port} as {self.asn};',
                  f'  neighbor {n.address} port {n.port} as {n.asn};',
                  '  strict bind yes;',
                  f'  multihop {self.multihop_for(n)};',
                  '  connect delay time 1;',
                  '  connect retry time 2;',
                  '  error wait time 1, 5;']
            if n.passive:
                L.append('  passive on;')
            if n.rs_client:
                L.append('  rs client;')
            if n.rr_client:
                L.append('  rr client;')
            if n.password:
                L.append(f'  password "{n.password}";')
            if n.hold_time is not None:
                L += [f'  hold time {n.hold_time};', f'  keepalive time {n.keepalive};']
            L.append('  ipv4 {')
            # MED set on a static route is dropped towards eBGP peers unless it is
            # (re)set in the export filter (BIRD's BAF_ORIGINATED rule).
            L += ['    import all;', '    export filter rh_export;', '    next hop keep on;',
                  '    igp table igp4;']
            if n.add_path:
                L.append('    add paths ' + {'send': 'tx', 'receive': 'rx', 'both': 'on'}[n.add_path] + ';')
            L += ['  };', '}']
        if self.extra_config:
            L += ['', self.extra_config]
        return '\n'.join(L) + '\n'

    def write_config(self):
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(self.config_text())
        r = self._run(['bird', '-p', '-c', self.conf], check=False)
        if r.returncode != 0:
            raise HarnessError(f'{self.name}: bird refuses its config: {(r.stderr or r.stdout).strip()}')

    def _start(self):
        self.write_config()
        self.proc = self.lab.spawn(self.name, ['bird', '-f', '-c', self.conf, '-s', self.sock,
                                               '-P', os.path.join(self.dir, 'bird.pid')], self.logfile)
        wait_for(lambda: self._check_alive() or self.birdc('show status', check=False).returncode == 0,
                 15, what=f'{self.name}: birdc answering')

    def birdc(self, *cmd, check=True, timeout=30):
        return self._run(['birdc', '-s', self.sock, *cmd], check=check, timeout=timeout)

    def reload(self):
        self.write_config()
        out = self.birdc('configure').stdout
        if 'Reconfigured' not in out and 'Reconfiguration in progress' not in out:
            raise HarnessError(f'{self.name}: birdc configure: {out.strip()}')

    def _apply_routes(self, announced, withdrawn):
        self.reload()

    _STATES = {'established': 'Established', 'idle': 'Idle', 'connect': 'Connect', 'active': 'Active',
               'opensent': 'OpenSent', 'openconfirm': 'OpenConfirm', 'passive': 'Active'}

    def neighbor_state(self, addr):
        name = self.proto_name(addr)
        out = self.birdc('show protocols', name, check=False).stdout
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == name and len(f) >= 4:
                info = line.split(None, 5)[5] if len(f) >= 6 else ''
                word = info.split()[0] if info else ''
                if f[3] == 'up':
                    return 'Established'
                return self._STATES.get(word.lower(), word or f[3])
        return 'Unknown'

    def last_notification(self, addr):
        out = self.birdc('show protocols all', self.proto_name(addr), check=False).stdout
        m = re.search(r'^\s*Last error:\s*(.+)$', out, re.M)
        if m:
            return m.group(1).strip()
        for line in out.splitlines():
            f = line.split(None, 5)
            if f and f[0] == self.proto_name(addr) and len(f) == 6 and \
                    re.match(r'(Received|Error):', f[5].split(None, 1)[-1] if f[5] else ''):
                return f[5]
        return None

    def route_count(self):
        total = 0
        for a in self.neighbors:
            out = self.birdc('show route protocol', self.proto_name(a), 'count', check=False).stdout
            m = re.search(r'^(\d+) of \d+ routes', out, re.M)
            total += int(m.group(1)) if m else 0
        return total

    _HDR = re.compile(r'^(?P<prefix>\S+)?\s+(?P<type>\w+)\s+\[(?P<proto>\S+)\s[^\]]*\](?P<best>\s+\*)?')

    def routes(self):
        protos = {self.proto_name(a): a for a in self.neighbors}
        out = self.birdc('show route all table master4', timeout=60).stdout
        return self.parse_show_route_all(out, protos)

    @classmethod
    def parse_show_route_all(cls, out, protos):
        """Parse `birdc show route all` text; keep only paths from protocols in protos
        (name -> neighbour address)."""
        routes, cur, prefix = [], None, None
        for line in out.splitlines():
            if not line.strip() or line.startswith(('BIRD ', 'Table ')) or re.match(r'^\d{4} ', line):
                continue
            if not line.startswith('\t'):
                m = cls._HDR.match(line)
                if not m:
                    continue
                if m.group('prefix'):
                    prefix = m.group('prefix')
                cur = None
                if m.group('proto') in protos and prefix:
                    cur = {'prefix': prefix, 'peer': protos[m.group('proto')],
                           'best': bool(m.group('best')), 'attrs': {}}
                    routes.append(cur)
                continue
            if cur is None:
                continue
            kv = line.strip().split(':', 1)
            if len(kv) == 2:
                cur['attrs'][kv[0].strip()] = kv[1].strip()
        out_routes = []
        for r in routes:
            a = r['attrs']
            out_routes.append(make_route(
                r['prefix'], next_hop=(a.get('BGP.next_hop') or '').split()[0] or None,
                as_path=a.get('BGP.as_path', ''),
                communities=[f'{x}:{y}' for x, y in re.findall(r'\((\d+),\s*(\d+)\)', a.get('BGP.community', ''))],
                large_communities=[':'.join(t) for t in
                                   re.findall(r'\((\d+),\s*(\d+),\s*(\d+)\)', a.get('BGP.large_community', ''))],
                med=a.get('BGP.med'), local_pref=a.get('BGP.local_pref'),
                origin=a.get('BGP.origin'), peer=r['peer'], best=r['best']))
        return out_routes


# --------------------------------------------------------------------------------------
# FRR bgpd (alone, without zebra)
# --------------------------------------------------------------------------------------
class Frr(Daemon):
    """FRR bgpd without zebra: `bgpd -Z -S -P 0 -l ADDR -p PORT --vty_socket DIR`;
    queries and live changes through `vtysh --vty_socket DIR -d bgpd` (vtysh works
    with bgpd alone). Static routes are `network` statements with one route-map per
    attribute set (set ip next-hop / as-path prepend / community ...)."""

    kind = 'frr'
    BGPD = os.environ.get('RH_FRR_BGPD', '/usr/lib/frr/bgpd')
    binaries = (BGPD, 'vtysh')

    def __init__(self, lab, name, asn, router_id, address, port=179, log_level='informational'):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'bgpd.conf')
        self.frr_log = os.path.join(self.dir, 'bgpd.log')
        self.log_level = log_level
        self._applied = {}  # prefix -> route-map name, as configured in the daemon

    def logfiles(self):
        return [self.logfile, self.frr_log]

    def log_tail(self, n=30):
        return _tail(self.frr_log, n)

    @staticmethod
    def rmap_name(a):
        return f'RH-ORIG-{a.tag()}'

    def _rmap_lines(self, a):
        L = [f'route-map {self.rmap_name(a)} permit 10', f' set ip next-hop {a.next_hop}']
        if a.as_path:
            L.append(' set as-path prepend ' + ' '.join(str(x) for x in a.as_path))
        if a.communities:
            L.append(' set community ' + ' '.join(a.communities))
        if a.large_communities:
            L.append(' set large-community ' + ' '.join(a.large_communities))
        if a.med is not None:
            L.append(f' set metric {a.med}')
        if a.local_pref is not None:
            L.append(f' set local-preference {a.local_pref}')
        L.append(f' set origin {a.origin}')
        L.append('exit')
        return L

    def _neighbor_lines(self, n):
        """(router-bgp lines, address-family lines) for a neighbour."""
        a = n.address
        R = [f' neighbor {a} remote-as {n.asn}']
        if n.port != 179:
            R.append(f' neighbor {a} port {n.port}')
        R.append(f' neighbor {a} update-source {self.local_address_for(n)}')
        if self.is_ebgp(n):
            R.append(f' neighbor {a} ebgp-multihop {self.multihop_for(n)}')
        if n.passive:
            R.append(f' neighbor {a} passive')
        if n.password:
            R.append(f' neighbor {a} password {n.password}')
        if n.hold_time is not None:
            R.append(f' neighbor {a} timers {n.keepalive} {n.hold_time}')
        R += [f' neighbor {a} timers connect 1', f' neighbor {a} advertisement-interval 0']
        if n.name:
            R.append(f' neighbor {a} description {n.name}')
        F = [f'  neighbor {a} activate']
        if n.rs_client:
            F.append(f'  neighbor {a} route-server-client')
        if n.rr_client:
            F.append(f'  neighbor {a} route-reflector-client')
        # Lab convention: never rewrite next hops (without this FRR rewrites NEXT_HOP
        # on the wire even for route-server clients).
        F.append(f'  neighbor {a} attribute-unchanged next-hop')
        if n.add_path_send:
            F.append(f'  neighbor {a} addpath-tx-all-paths')
        return R, F

    def config_text(self):
        L = [f'! generated by bgpharness for {self.name}', 'frr defaults traditional',
             f'hostname {self.name}', f'log file {self.frr_log} {self.log_level}', '!']
        seen = set()
        for a in self.originated.values():
            if a.tag() not in seen:
                seen.add(a.tag())
                L += self._rmap_lines(a) + ['!']
        L += [f'router bgp {self.asn}', f' bgp router-id {self.router_id}',
              ' bgp log-neighbor-changes', ' no bgp ebgp-requires-policy', ' no bgp network import-check']
        fam = []
        for n in self.neighbors.values():
            R, F = self._neighbor_lines(n)
            L += R
            fam += F
        L.append(' address-family ipv4 unicast')
        L += fam
        for p, a in sorted(self.originated.items()):
            L.append(f'  network {p} route-map {self.rmap_name(a)}')
        L += [' exit-address-family', 'exit', '!']
        return '\n'.join(L) + '\n'

    def write_config(self):
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(self.config_text())

    def _start(self):
        self.write_config()
        self._run([self.BGPD, '-C', '-f', self.conf, '-Z'], check=True)
        pidfile = os.path.join(self.dir, 'bgpd.pid')
        self.proc = self.lab.spawn(self.name, [self.BGPD, '-f', self.conf, '-Z', '-S', '-l', self.address,
                                               '-p', str(self.port), '-P', '0', '-i', pidfile,
                                               '--vty_socket', self.dir], self.logfile)
        wait_for(lambda: self._check_alive() or self.vtysh('show bgp summary json', check=False).returncode == 0,
                 15, what=f'{self.name}: vtysh answering')
        self._applied = {p: self.rmap_name(a) for p, a in self.originated.items()}

    def vtysh(self, *cmds, check=True, timeout=30):
        argv = ['vtysh', '--vty_socket', self.dir, '-d', 'bgpd']
        for c in cmds:
            argv += ['-c', c]
        r = self._run(argv, check=False, timeout=timeout)
        bad = [ln for ln in r.stdout.splitlines() if ln.startswith('%')]
        if check and (r.returncode != 0 or bad):
            raise HarnessError(f'{self.name}: vtysh {cmds}: exit {r.returncode}: {bad or r.stderr.strip()}')
        return r

    def configure(self, *lines):
        """Run configuration commands (as typed after `configure terminal`)."""
        return self.vtysh('configure terminal', *lines)

    def _neighbor_added(self, n):
        R, F = self._neighbor_lines(n)
        self.configure(f'router bgp {self.asn}', *[x.strip() for x in R],
                       'address-family ipv4 unicast', *[x.strip() for x in F])
        self.write_config()

    def reload(self):
        """FRR has no config re-read: regenerate the file and apply it through vtysh
        (additive: what was removed from the file stays in the daemon)."""
        self.write_config()
        self.vtysh('configure terminal', *[ln for ln in self.config_text().splitlines()
                                           if ln.strip() and not ln.startswith(('!', 'frr defaults',
                                                                                 'hostname', 'log '))])

    def _apply_routes(self, announced, withdrawn):
        cmds, rmaps_done = [], set()
        for p in announced:
            a = self.originated[p]
            if a.tag() not in rmaps_done:
                rmaps_done.add(a.tag())
                cmds += [x.strip() for x in self._rmap_lines(a)]
        cmds += [f'router bgp {self.asn}', 'address-family ipv4 unicast']
        for p in withdrawn:
            if p in self._applied:
                cmds.append(f'no network {p}')
                del self._applied[p]
        for p in announced:
            rm = self.rmap_name(self.originated[p])
            cmds.append(f'network {p} route-map {rm}')
            self._applied[p] = rm
        self.configure(*cmds)
        self.write_config()

    _STATES = {'established': 'Established', 'idle': 'Idle', 'connect': 'Connect', 'active': 'Active',
               'opensent': 'OpenSent', 'openconfirm': 'OpenConfirm'}

    def _neighbor_json(self, addr):
        out = self.vtysh(f'show bgp neighbors {addr} json', check=False).stdout
        try:
            return json.loads(out).get(str(addr), {})
        except ValueError:
            return {}

    def neighbor_state(self, addr):
        st = self._neighbor_json(addr).get('bgpState', 'Unknown')
        return self._STATES.get(st.lower(), st)

    def last_notification(self, addr):
        """lastNotificationReason from `show bgp neighbors X json` (FRR fills it for
        received notifications), else the last %NOTIFICATION line of the log (sent
        ones; needs `bgp log-neighbor-changes`, set here). lastResetDueTo alone is not
        used: FRR sets it at configuration time ("No AFI/SAFI activated for peer")."""
        j = self._neighbor_json(addr)
        if j.get('lastNotificationReason'):
            parts = [j.get('lastNotificationReason'), j.get('lastShutdownDescription'),
                     j.get('lastResetDueTo')]
            return ' / '.join(str(x) for x in parts if x)
        last = None
        try:
            with open(self.frr_log, encoding='utf-8', errors='replace') as f:
                for line in f:
                    if '%NOTIFICATION' in line and f' {addr} ' in line + ' ':
                        last = line.split('%NOTIFICATION', 1)[1].strip(': ').strip()
        except OSError:
            pass
        return last

    def route_count(self):
        j = json.loads(self.vtysh('show bgp ipv4 unicast summary json').stdout or '{}')
        peers = j.get('peers') or (j.get('ipv4Unicast') or {}).get('peers') or {}
        return sum(int(v.get('pfxRcd', 0)) for k, v in peers.items() if k in self.neighbors)

    def routes(self, detail=True):
        """Paths learned from neighbours. detail=True adds communities (one vtysh call
        with a `show bgp ipv4 unicast PREFIX json` per prefix: fine for test-sized tables)."""
        j = json.loads(self.vtysh('show bgp ipv4 unicast json', timeout=120).stdout or '{}')
        summary = {}
        for prefix, paths in j.get('routes', {}).items():
            for p in paths:
                if p.get('peerId') in self.neighbors:
                    summary.setdefault(prefix, []).append(p)
        if not summary:
            return []
        if not detail:
            return [make_route(pf, next_hop=(p.get('nexthops') or [{}])[0].get('ip'),
                               as_path=p.get('path', ''), med=p.get('metric'), local_pref=p.get('locPrf'),
                               origin=p.get('origin'), peer=p.get('peerId'), best=bool(p.get('bestpath')))
                    for pf, ps in summary.items() for p in ps]
        out, prefixes = [], sorted(summary)
        for i in range(0, len(prefixes), 200):
            chunk = prefixes[i:i + 200]
            text = self.vtysh(*[f'show bgp ipv4 unicast {p} json' for p in chunk], timeout=120).stdout
            for d in _json_stream(text):
                pf = d.get('prefix')
                for p in d.get('paths', []):
                    peer = (p.get('peer') or {}).get('peerId')
                    if peer not in self.neighbors:
                        continue
                    best = p.get('bestpath')
                    out.append(make_route(
                        pf, next_hop=(p.get('nexthops') or [{}])[0].get('ip'),
                        as_path=[x for s in (p.get('aspath') or {}).get('segments', []) for x in s.get('list', [])],
                        communities=(p.get('community') or {}).get('list', []),
                        large_communities=(p.get('largeCommunity') or {}).get('list', []),
                        med=p.get('metric'), local_pref=p.get('locPrf'), origin=p.get('origin'),
                        peer=peer, best=bool(best.get('overall')) if isinstance(best, dict) else bool(best)))
        return out


def _json_stream(text):
    """Yield every JSON value in a concatenation of JSON documents."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        try:
            v, i = dec.raw_decode(text, i)
        except ValueError:
            nl = text.find('\n', i)
            if nl < 0:
                break
            i = nl + 1
            continue
        yield v


# --------------------------------------------------------------------------------------
# GoBGP
# --------------------------------------------------------------------------------------
class Gobgp(Daemon):
    """GoBGP: `gobgpd -f CONF -t toml -p --api-hosts ADDR:50051 --pprof-disable`
    (the gRPC API listens on the daemon's own loopback address, so no port clash);
    CLI `gobgp -u ADDR -p 50051`. Static routes via `gobgp global rib add/del`.
    routes() reads each neighbour's Adj-RIB-In (`gobgp neighbor X adj-in`): with
    route-server clients GoBGP keeps per-client RIBs, so the global RIB is not it."""

    kind = 'gobgp'
    binaries = ('gobgpd', 'gobgp')

    def __init__(self, lab, name, asn, router_id, address, port=179, api_port=50051, log_level='debug'):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'gobgpd.toml')
        self.api_port = api_port
        self.log_level = log_level

    def config_text(self):
        L = ['# generated by bgpharness', '[global.config]', f'  as = {self.asn}',
             f'  router-id = "{self.router_id}"', f'  port = {self.port}',
             f'  local-address-list = ["{self.address}"]']
        for n in self.neighbors.values():
            L += ['', '[[neighbors]]', '  [neighbors.config]', f'    neighbor-address = "{n.address}"',
                  f'    peer-as = {n.asn}']
            if n.password:
                L.append(f'    auth-password = "{n.password}"')
            if n.name:
                L.append(f'    description = "{n.name}"')
            L += ['  [neighbors.transport.config]', f'    local-address = "{self.local_address_for(n)}"',
                  f'    remote-port = {n.port}']
            if n.passive:
                L.append('    passive-mode = true')
            if self.is_ebgp(n):
                L += ['  [neighbors.ebgp-multihop.config]', '    enabled = true',
                      f'    multihop-ttl = {self.multihop_for(n)}']
            L += ['  [neighbors.timers.config]', '    connect-retry = 1', '    idle-hold-time-after-reset = 1']
            if n.hold_time is not None:
                L += [f'    hold-time = {n.hold_time}', f'    keepalive-interval = {n.keepalive}']
            if n.rs_client:
                L += ['  [neighbors.route-server.config]', '    route-server-client = true']
            if n.rr_client:
                L += ['  [neighbors.route-reflector.config]', '    route-reflector-client = true',
                      f'    route-reflector-cluster-id = "{self.router_id}"']
            L += ['  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]',
                  '      afi-safi-name = "ipv4-unicast"']
            if n.add_path:
                L += ['    [neighbors.afi-safis.add-paths.config]',
                      f'      receive = {"true" if n.add_path_receive else "false"}',
                      f'      send-max = {8 if n.add_path_send else 0}']
        return '\n'.join(L) + '\n'

    def write_config(self):
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(self.config_text())

    def _start(self):
        self.write_config()
        r = self._run(['gobgpd', '-d', '-f', self.conf, '-t', 'toml'], check=False)
        if r.returncode != 0:
            raise HarnessError(f'{self.name}: gobgpd refuses its config: {(r.stderr + r.stdout).strip()}')
        self.proc = self.lab.spawn(self.name, ['gobgpd', '-f', self.conf, '-t', 'toml', '-p', '-l', self.log_level,
                                               f'--api-hosts={self.address}:{self.api_port}',
                                               '--pprof-disable'], self.logfile)
        wait_for(lambda: self._check_alive() or self.cli('global', check=False).returncode == 0,
                 15, what=f'{self.name}: gobgp API answering')
        if self.originated:
            self._apply_routes(list(self.originated), [])

    def cli(self, *args, check=True, timeout=30):
        return self._run(['gobgp', '-u', self.address, '-p', str(self.api_port), *args],
                         check=check, timeout=timeout)

    def reload(self):
        """gobgpd re-reads its config file on SIGHUP (peers added/removed/updated)."""
        self.write_config()
        self.proc.send_signal(signal.SIGHUP)

    def _neighbor_added(self, n):
        self.reload()

    def _apply_routes(self, announced, withdrawn):
        for p in withdrawn:
            self.cli('global', 'rib', 'del', p, '-a', 'ipv4')
        for p in announced:
            a = self.originated[p]
            args = ['global', 'rib', 'add', p, 'nexthop', a.next_hop, 'origin', a.origin]
            if a.as_path:
                args += ['aspath', ','.join(str(x) for x in a.as_path)]
            if a.communities:
                args += ['community', ','.join(a.communities)]
            if a.large_communities:
                args += ['large-community', ','.join(a.large_communities)]
            if a.med is not None:
                args += ['med', str(a.med)]
            if a.local_pref is not None:
                args += ['local-pref', str(a.local_pref)]
            self.cli(*args, '-a', 'ipv4')

    # apipb.PeerState_SessionState
    _STATES = {0: 'Unknown', 1: 'Idle', 2: 'Connect', 3: 'Active', 4: 'OpenSent', 5: 'OpenConfirm',
               6: 'Established'}

    def _neighbor_json(self, addr):
        r = self.cli('neighbor', str(addr), '-j', check=False)
        if r.returncode != 0:
            return {}
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {}

    def neighbor_state(self, addr):
        st = self._neighbor_json(addr).get('state', {}).get('session_state', 0)
        if isinstance(st, str):
            return {'established': 'Established', 'idle': 'Idle', 'active': 'Active', 'connect': 'Connect',
                    'opensent': 'OpenSent', 'openconfirm': 'OpenConfirm'}.get(st.lower(), st)
        return self._STATES.get(st, str(st))

    _BENIGN = ('new-connection', 'open-msg-received', 'open-msg-negotiated', 'idle-hold-timer-expired',
               'connect-retry-timer-expired')

    def last_notification(self, addr):
        """GoBGP's API only counts notifications: take the reason of the last session
        drop from its log (needs log_level='debug', the default here)."""
        last = None
        key = f'Key={addr} '
        try:
            with open(self.logfile, encoding='utf-8', errors='replace') as f:
                for line in f:
                    if key not in line:
                        continue
                    if re.search(r'notification', line, re.I):
                        last = line.strip()
                        continue
                    m = re.search(r'msg="state changed".*new=BGP_FSM_IDLE old=(\S+) reason=(.*)$', line)
                    if m and m.group(2).strip() not in self._BENIGN:
                        last = f'{m.group(2).strip()} (in {m.group(1)})'
                    m = re.search(r'msg="Peer Down".*Reason="?([^"]*)"?', line)
                    if m:
                        last = m.group(1).strip()
        except OSError:
            pass
        return last

    def routes(self):
        out = []
        for addr in self.neighbors:
            r = self.cli('neighbor', addr, 'adj-in', '-a', 'ipv4', '-j', check=False, timeout=120)
            if r.returncode != 0 or not r.stdout.strip():
                continue
            try:
                j = json.loads(r.stdout)
            except ValueError:
                continue
            for r in self.parse_rib_json(j, default_peer=addr):
                r['best'] = None  # Adj-RIB-In: GoBGP reports best=false for every path there
                out.append(r)
        return out

    def route_count(self):
        total = 0
        for a in self.neighbors:
            for af in self._neighbor_json(a).get('afi_safis') or []:
                st = af.get('state') or {}
                if (st.get('family') or {}).get('afi') == 1 and (st.get('family') or {}).get('safi') == 1:
                    total += int(st.get('received', 0))
        return total

    @staticmethod
    def parse_rib_json(j, default_peer=None):
        out = []
        items = j.items() if isinstance(j, dict) else ((None, v) for v in j)
        for prefix, paths in items:
            if isinstance(paths, dict):
                paths = paths.get('paths', [paths])
            for p in paths:
                pf = prefix or (p.get('nlri') or {}).get('prefix')
                a = {'as_path': [], 'communities': [], 'large': [], 'nh': None, 'med': None, 'lp': None,
                     'origin': None}
                for at in p.get('attrs', []):
                    t = at.get('type')
                    if t == 1:
                        a['origin'] = at.get('value', 0)
                    elif t == 2:
                        for seg in at.get('as_paths', []):
                            a['as_path'] += seg.get('asns', [])
                    elif t == 3:
                        a['nh'] = at.get('nexthop')
                    elif t == 4:
                        a['med'] = at.get('metric')
                    elif t == 5:
                        a['lp'] = at.get('value')
                    elif t == 8:
                        a['communities'] = at.get('communities', [])
                    elif t == 14 and not a['nh']:
                        a['nh'] = at.get('nexthop')
                    elif t == 32:
                        a['large'] = at.get('value', [])
                out.append(make_route(pf, next_hop=a['nh'], as_path=a['as_path'], communities=a['communities'],
                                      large_communities=a['large'], med=a['med'], local_pref=a['lp'],
                                      origin=a['origin'], peer=p.get('neighbor-ip') or default_peer,
                                      best=p.get('best')))
        return out


# --------------------------------------------------------------------------------------
# OpenBGPD
# --------------------------------------------------------------------------------------
class Openbgpd(Daemon):
    """OpenBGPD (portable 7.x): `bgpd -d -f CONF` in the foreground, `bgpctl -s SOCK`.

    Needs the `_openbgpd` user and its chroot /run/openbgpd (created here if missing).
    Every neighbour gets `set nexthop no-modify`, `enforce neighbor-as no` (a route
    server peer does not prepend its ASN) and `multihop` (on directly connected
    eBGP sessions OpenBGPD sends itself as next hop whatever no-modify says).
    Route-server clients get `transparent-as yes`. Static routes are `network`
    statements; announce/withdraw rewrite the config and run `bgpctl reload`.
    OpenBGPD cannot originate an arbitrary AS path: only a repetition of its own
    ASN (`prepend-self N`).
    """

    kind = 'openbgpd'
    binaries = ('bgpd', 'bgpctl')
    CHROOT = '/run/openbgpd'
    USER = '_openbgpd'

    def __init__(self, lab, name, asn, router_id, address, port=179):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'bgpd.conf')
        self.sock = os.path.join(self.dir, 'bgpd.sock')

    @classmethod
    def missing(cls):
        m = super().missing()
        if not m:
            try:
                import pwd
                pwd.getpwnam(cls.USER)
            except KeyError:
                m.append(f'user {cls.USER}')
        return m

    @staticmethod
    def _set_clause(a, asn):
        s = [f'nexthop {a.next_hop}', f'origin {a.origin}']
        if a.as_path:
            if any(x != asn for x in a.as_path):
                raise HarnessError('OpenBGPD can only originate routes whose AS path repeats its own '
                                   f'ASN {asn} (prepend-self); asked for {a.as_path}')
            s.append(f'prepend-self {len(a.as_path)}')
        s += [f'community {c}' for c in a.communities]
        s += [f'large-community {c}' for c in a.large_communities]
        if a.med is not None:
            s.append(f'med {a.med}')
        if a.local_pref is not None:
            s.append(f'localpref {a.local_pref}')
        return 'set { ' + ' '.join(s) + ' }'

    def config_text(self):
        L = [f'# generated by bgpharness for {self.name}', f'AS {self.asn}', f'router-id {self.router_id}',
             f'listen on {self.address} port {self.port}', f'socket "{self.sock}"', 'fib-update no',
             'nexthop qualify via default', 'connect-retry 1', '']
        for p, a in sorted(self.originated.items()):
            L.append(f'network {p} {self._set_clause(a, self.asn)}')
        for n in self.neighbors.values():
            L += ['', f'neighbor {n.address} {{', f'  remote-as {n.asn}',
                  f'  local-address {self.local_address_for(n)}']
            if n.name:
                L.append(f'  descr "{n.name}"')
            if n.port != 179:
                L.append(f'  port {n.port}')
            if self.is_ebgp(n):
                L.append(f'  multihop {self.multihop_for(n)}')
            if n.passive:
                L.append('  passive')
            if n.password:
                L.append(f'  tcp md5sig password {n.password}')
            if n.hold_time is not None:
                L.append(f'  holdtime {n.hold_time}')
            if n.rs_client:
                L.append('  transparent-as yes')
            if n.rr_client:
                L.append('  route-reflector')
            if n.add_path_receive:
                L.append('  announce add-path recv yes')
            if n.add_path_send:
                L.append('  announce add-path send all')
            L += ['  enforce neighbor-as no', '  set nexthop no-modify', '}']
        L += ['', 'allow from any', 'allow to any']
        return '\n'.join(L) + '\n'

    def write_config(self):
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(self.config_text())
        r = self._run(['bgpd', '-n', '-f', self.conf], check=False)
        if r.returncode != 0:
            raise HarnessError(f'{self.name}: bgpd refuses its config: {(r.stderr + r.stdout).strip()}')

    def _start(self):
        os.makedirs(self.CHROOT, mode=0o755, exist_ok=True)
        self.write_config()
        self.proc = self.lab.spawn(self.name, ['bgpd', '-d', '-f', self.conf], self.logfile)
        wait_for(lambda: self._check_alive() or self.bgpctl('show', check=False).returncode == 0,
                 15, what=f'{self.name}: bgpctl answering')

    def bgpctl(self, *args, check=True, timeout=30):
        return self._run(['bgpctl', '-s', self.sock, *args], check=check, timeout=timeout)

    def reload(self):
        self.write_config()
        self.bgpctl('reload')

    def _apply_routes(self, announced, withdrawn):
        self.reload()

    def _neighbor_json(self, addr):
        r = self.bgpctl('-j', 'show', 'neighbor', str(addr), check=False)
        try:
            for nb in json.loads(r.stdout).get('neighbors', []):
                if nb.get('remote_addr') == str(addr):
                    return nb
        except ValueError:
            pass
        return {}

    def neighbor_state(self, addr):
        return self._neighbor_json(addr).get('state', 'Unknown')

    def last_notification(self, addr):
        nb = self._neighbor_json(addr)
        parts = []
        for k in ('last_error', 'last_error_sent', 'last_error_received', 'last_shutdown_communication',
                  'last_communication'):
            v = nb.get(k)
            if v:
                parts.append(f'{k}: {v}')
        if parts:
            return '; '.join(parts)
        r = self.bgpctl('show', 'neighbor', str(addr), check=False)
        m = re.findall(r'^\s*(Last error.*)$', r.stdout, re.M)
        return '; '.join(x.strip() for x in m) or None

    def route_count(self):
        r = self.bgpctl('-j', 'show', 'neighbor', check=False)
        try:
            nbs = json.loads(r.stdout).get('neighbors', [])
        except ValueError:
            return 0
        return sum(int(((nb.get('stats') or {}).get('prefixes') or {}).get('received', 0))
                   for nb in nbs if nb.get('remote_addr') in self.neighbors)

    def routes(self):
        r = self.bgpctl('-j', 'show', 'rib', 'detail', timeout=120)
        j = json.loads(r.stdout or '{}')
        out = []
        for e in j.get('rib', []):
            peer = (e.get('neighbor') or {}).get('remote_addr')
            if peer not in self.neighbors:
                continue
            out.append(make_route(e['prefix'], next_hop=e.get('exit_nexthop') or e.get('true_nexthop'),
                                  as_path=e.get('aspath', ''), communities=e.get('communities', []),
                                  large_communities=e.get('large_communities', []), med=e.get('metric'),
                                  local_pref=e.get('localpref'), origin=e.get('origin'), peer=peer,
                                  best=bool(e.get('best'))))
        return out


# --------------------------------------------------------------------------------------
# ExaBGP
# --------------------------------------------------------------------------------------
class Exabgp(Daemon):
    """ExaBGP 4.2 with an API process (lib/exabgp_api.py) bridging a FIFO to
    ExaBGP's command input and ExaBGP's JSON events to a file.

    announce()/withdraw() write `neighbor X announce route ...` commands to the FIFO
    and wait for ExaBGP's ack. ExaBGP sends AS_PATH exactly as told, so the harness
    prepends the local ASN itself on eBGP sessions (unless raw_as_path=True).
    routes()/neighbor_state()/last_notification() come from the JSON event stream
    (UPDATEs, state changes, NOTIFICATIONs). Run as root with
    exabgp.daemon.user=root, no CLI pipes (exabgp.api.cli=false), logs to stdout.
    """

    kind = 'exabgp'
    binaries = ('exabgp',)

    def __init__(self, lab, name, asn, router_id, address, port=179, raw_as_path=False):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'exabgp.conf')
        self.fifo = os.path.join(self.dir, 'api.fifo')
        self.events = os.path.join(self.dir, 'events.jsonl')
        self.raw_as_path = raw_as_path
        self._ev_off = 0
        self._ev_buf = b''
        self._rib = {}    # peer -> {prefix: route}
        self._state = {}  # peer -> state word
        self._notif = {}  # peer -> text
        self._down_reason = {}  # peer -> text of the last 'down' event
        self._acks = {'done': 0, 'error': 0}

    def config_text(self):
        api = os.path.join(LIB_DIR, 'exabgp_api.py')
        L = ['# generated by bgpharness', 'process harness {',
             f'  run {sys.executable} {api} {self.fifo} {self.events};', '  encoder json;', '}']
        for n in self.neighbors.values():
            L += ['', f'neighbor {n.address} {{',
                  f'  router-id {self.router_id};', f'  local-address {self.local_address_for(n)};',
                  f'  local-as {self.asn};', f'  peer-as {n.asn};', f'  connect {n.port};',
                  f'  listen {self.port};', '  adj-rib-out true;']
            if n.name:
                L.append(f'  description "{n.name}";')
            if n.passive:
                L.append('  passive true;')
            if n.password:
                L.append(f'  md5-password "{n.password}";')
            if n.hold_time is not None:
                L.append(f'  hold-time {n.hold_time};')
            if self.is_ebgp(n):
                L.append(f'  outgoing-ttl {self.multihop_for(n)};')
            L.append('  family { ipv4 unicast; }')
            if n.add_path:
                mode = {'send': 'send', 'receive': 'receive', 'both': 'send/receive'}[n.add_path]
                L += [f'  capability {{ add-path {mode}; }}', '  add-path { ipv4 unicast; }']
            L += ['  api {', '    processes [ harness ];', '    neighbor-changes;',
                  '    receive { parsed; update; notification; }', '  }', '}']
        return '\n'.join(L) + '\n'

    def env(self):
        return {
            'exabgp.daemon.user': 'root', 'exabgp.daemon.daemonize': 'false',
            'exabgp.daemon.drop': 'false', 'exabgp.daemon.pid': os.path.join(self.dir, 'exabgp.pid'),
            'exabgp.log.destination': 'stdout', 'exabgp.log.level': 'INFO',
            'exabgp.api.cli': 'false', 'exabgp.api.ack': 'true', 'exabgp.api.encoder': 'json',
            'exabgp.api.respawn': 'false', 'exabgp.tcp.bind': '', 'exabgp.tcp.port': str(self.port),
            'exabgp.bgp.openwait': '60', 'exabgp.daemon.umask': '0o022',
        }

    def write_config(self):
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(self.config_text())

    def _start(self):
        self.write_config()
        if not os.path.exists(self.fifo):
            os.mkfifo(self.fifo, 0o600)
        open(self.events, 'ab').close()
        self.proc = self.lab.spawn(self.name, ['exabgp', self.conf], self.logfile, env=self.env(),
                                   cwd=self.dir)
        # Ready when the API bridge has the FIFO open for reading.
        wait_for(lambda: self._check_alive() or self._fifo_has_reader(), 20,
                 what=f'{self.name}: ExaBGP API process up')
        if self.originated:
            self._apply_routes(list(self.originated), [])

    def _fifo_has_reader(self):
        try:
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return False
            raise
        os.close(fd)
        return True

    def send(self, *commands, timeout=15):
        """Send API commands; wait until ExaBGP acknowledged each (raise on 'error')."""
        self._poll_events()
        base_done, base_err = self._acks['done'], self._acks['error']
        data = ''.join(c.strip() + '\n' for c in commands).encode()
        fd = os.open(self.fifo, os.O_WRONLY)
        try:
            view = memoryview(data)
            while view:
                k = os.write(fd, view)
                view = view[k:]
        finally:
            os.close(fd)

        def acked():
            self._check_alive()
            self._poll_events()
            return (self._acks['done'] - base_done) + (self._acks['error'] - base_err) >= len(commands)
        wait_for(acked, timeout, interval=0.05, what=f'{self.name}: ExaBGP acks for {len(commands)} commands')
        if self._acks['error'] > base_err:
            raise HarnessError(f'{self.name}: ExaBGP refused {self._acks["error"] - base_err} of '
                               f'{commands!r}; log tail:\n{self.log_tail(10)}')

    def _attr_words(self, n, a):
        path = list(a.as_path)
        if self.is_ebgp(n) and not self.raw_as_path and not n.rs_client:
            path = [self.asn] + path
        w = f'next-hop {a.next_hop} origin {a.origin}'
        if path:
            w += ' as-path [ ' + ' '.join(str(x) for x in path) + ' ]'
        if a.communities:
            w += ' community [ ' + ' '.join(a.communities) + ' ]'
        if a.large_communities:
            w += ' large-community [ ' + ' '.join(a.large_communities) + ' ]'
        if a.med is not None:
            w += f' med {a.med}'
        if a.local_pref is not None and not self.is_ebgp(n):
            w += f' local-preference {a.local_pref}'
        return w

    def _apply_routes(self, announced, withdrawn):
        """One `announce attributes ... nlri P1 P2 ...` command per attribute set and
        neighbour (up to 400 prefixes each): thousands of routes go in seconds."""
        cmds = []
        for n in self.neighbors.values():
            for i in range(0, len(withdrawn), 400):
                cmds.append(f'neighbor {n.address} withdraw attributes next-hop 0.0.0.0 nlri '
                            + ' '.join(withdrawn[i:i + 400]))
            groups = {}
            for p in announced:
                groups.setdefault(self.originated[p].key(), []).append(p)
            for ps in groups.values():
                words = self._attr_words(n, self.originated[ps[0]])
                for i in range(0, len(ps), 400):
                    cmds.append(f'neighbor {n.address} announce attributes {words} nlri '
                                + ' '.join(ps[i:i + 400]))
        for i in range(0, len(cmds), 100):
            self.send(*cmds[i:i + 100], timeout=60)

    def reload(self):
        """SIGUSR1 makes ExaBGP re-read its configuration; API routes are re-sent."""
        self.write_config()
        self.proc.send_signal(signal.SIGUSR1)
        if self.originated:
            self._apply_routes(list(self.originated), [])

    # -- event stream ----------------------------------------------------------
    def _poll_events(self):
        try:
            with open(self.events, 'rb') as f:
                f.seek(self._ev_off)
                data = f.read()
        except FileNotFoundError:
            return
        self._ev_off += len(data)
        data = self._ev_buf + data
        lines = data.split(b'\n')
        self._ev_buf = lines.pop()
        for raw in lines:
            line = raw.decode('utf-8', 'replace').strip()
            if not line:
                continue
            if line in ('done', 'error'):
                self._acks[line] += 1
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self._event(ev)

    def _event(self, ev):
        t = ev.get('type')
        nb = ev.get('neighbor') or {}
        peer = (nb.get('address') or {}).get('peer')
        if t == 'state':
            st = nb.get('state')
            self._state[peer] = st
            if st == 'down':
                self._rib.pop(peer, None)
                if nb.get('reason'):
                    self._down_reason[peer] = nb.get('reason')
        elif t == 'notification':
            n = nb.get('notification') or ev.get('notification') or {}
            self._notif[peer] = (f"code {n.get('code')} subcode {n.get('subcode')}"
                                 + (f" data {n.get('data')}" if n.get('data') else ''))
        elif t == 'update':
            msg = (nb.get('message') or {}).get('update') or {}
            rib = self._rib.setdefault(peer, {})
            attrs = msg.get('attribute') or {}
            for fam, nhs in (msg.get('announce') or {}).items():
                if not fam.startswith('ipv4 unicast'):
                    continue
                for nh, nlris in nhs.items():
                    for x in nlris:
                        pf = x.get('nlri') if isinstance(x, dict) else x
                        rib[pf] = make_route(pf, next_hop=nh, as_path=attrs.get('as-path', []),
                                             communities=attrs.get('community', []),
                                             large_communities=attrs.get('large-community', []),
                                             med=attrs.get('med'), local_pref=attrs.get('local-preference'),
                                             origin=attrs.get('origin'), peer=peer, best=None)
            for fam, nlris in (msg.get('withdraw') or {}).items():
                if not fam.startswith('ipv4 unicast'):
                    continue
                for x in nlris:
                    pf = x.get('nlri') if isinstance(x, dict) else x
                    rib.pop(str(ipaddress.ip_network(pf, strict=False)), None)

    def routes(self):
        self._poll_events()
        return [dict(r) for peer in self._rib.values() for r in peer.values()]

    def neighbor_state(self, addr):
        self._poll_events()
        st = self._state.get(str(addr))
        return {'up': 'Established', 'connected': 'OpenSent', 'down': 'Idle', None: 'Idle'}.get(st, st)

    def last_notification(self, addr):
        self._poll_events()
        return self._notif.get(str(addr)) or self._down_reason.get(str(addr))


# --------------------------------------------------------------------------------------
# routehubd (ours)
# --------------------------------------------------------------------------------------
class Routehubd(Daemon):
    """routehubd from RH_BIN (default <repo>/build/bin): `routehubd -c FILE` with a
    generated YAML config (docs/configuration.md), events logged to stderr.

    Peers: add_neighbor(...) entries, with role= (default 'nva', 'rr-client' when
    rr_client=True), and add_range(prefix, asn='any', role=...) for dynamic peers.
    Extra top-level keys (hub, spokes, branch_to_branch, ...) go in self.extra.
    neighbor_state()/last_notification() use `routehubctl -s API_SOCKET --json show
    peers`; routes() pages through `routehubctl --json show routes` (every path of
    the RIB, both families; `peer` is the neighbour's address), route_count() sums
    the paths accepted per peer from `routehubctl --json show rib`.
    """

    kind = 'routehubd'

    def __init__(self, lab, name, asn, router_id, address, port=179, threads=None, log_level='debug'):
        super().__init__(lab, name, asn, router_id, address, port)
        self.conf = os.path.join(self.dir, 'routehub.yaml')
        self.api_socket = os.path.join(self.dir, 'api.sock')
        self.threads = threads or {'io': 2, 'rib': 2}
        self.log_level = log_level
        self.ranges = []
        self.extra = {}
        self.roles = {}
        self.max_routes = {}

    @property
    def binary(self):
        return os.path.join(rh_bin(), 'routehubd')

    @property
    def ctl(self):
        return os.path.join(rh_bin(), 'routehubctl')

    @classmethod
    def missing(cls):  # the path depends on RH_BIN, read at call time
        b = os.path.join(rh_bin(), 'routehubd')
        return [] if os.access(b, os.X_OK) else [b]

    def add_neighbor(self, address, asn, port=179, passive=False, rs_client=False, rr_client=False,
                     multihop=None, password=None, hold_time=None, add_path=None,
                     local_address=None, name=None, role=None, max_routes=None):
        n = super().add_neighbor(address, asn, port=port, passive=passive, rs_client=rs_client,
                                 rr_client=rr_client, multihop=multihop, password=password,
                                 hold_time=hold_time, add_path=add_path, local_address=local_address,
                                 name=name)
        self.roles[n.address] = role or ('rr-client' if rr_client else 'nva')
        if max_routes is not None:
            self.max_routes[n.address] = max_routes
        return n

    def add_range(self, prefix, asn='any', role='rr-client', name=None, **kw):
        entry = {'name': name or f'range{len(self.ranges) + 1}',
                 'range': str(ipaddress.ip_network(prefix)), 'role': role}
        if asn is not None and role != 'rr-client':
            entry['asn'] = asn
        entry.update(kw)
        self.ranges.append(entry)
        return entry

    def config(self):
        local = {'asn': self.asn, 'router_id': self.router_id,
                 'listen': [f'{self.address}:{self.port}'], 'threads': dict(self.threads),
                 'api': {'socket': self.api_socket}, 'log_level': self.log_level}
        peers = []
        for i, n in enumerate(self.neighbors.values()):
            role = self.roles.get(n.address, 'nva')
            p = {'name': n.name or f'p{i + 1}-{n.address.replace(".", "-")}', 'address': n.address,
                 'role': role}
            if role != 'rr-client':
                p['asn'] = n.asn
            if n.passive:
                p['passive'] = True
            if n.hold_time is not None:
                p['hold_time'] = int(n.hold_time)
                if n.hold_time:
                    p['keepalive'] = n.keepalive
                else:
                    p['keepalive'] = 0
            if n.password:
                p['password'] = n.password
            if n.multihop:
                p['multihop'] = int(n.multihop)
            if n.rs_client and role != 'rr-client':
                p['transparent'] = True
            if n.local_address or (role != 'rr-client' and not n.passive):
                p['local_address'] = self.local_address_for(n)
            if n.address in self.max_routes:
                p['max_routes'] = self.max_routes[n.address]
            peers.append(p)
        peers += [dict(r) for r in self.ranges]
        cfg = {'local': local}
        cfg.update(self.extra)
        cfg['peers'] = peers
        return cfg

    def config_text(self):
        return yaml.safe_dump(self.config(), sort_keys=False, default_flow_style=None)

    def write_config(self):
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write(self.config_text())
        r = self._run([self.binary, '--check', '-c', self.conf], check=False)
        if r.returncode != 0:
            raise HarnessError(f'{self.name}: routehubd --check refuses {self.conf}:\n'
                               f'{(r.stderr + r.stdout).strip()}\n--- config ---\n{self.config_text()}')

    def _start(self):
        self.write_config()
        argv = [self.binary, '-c', self.conf] + (['-d'] if self.log_level == 'debug' else [])
        self.proc = self.lab.spawn(self.name, argv, self.logfile)
        wait_for(lambda: self._check_alive() or os.path.exists(self.api_socket), 15,
                 what=f'{self.name}: control API socket {self.api_socket}')

    def routehubctl(self, *args, check=True, timeout=30):
        if not os.access(self.ctl, os.X_OK):
            raise NotImplementedError(f'Routehubd: {self.ctl} is not built')
        return self._run([self.ctl, '-s', self.api_socket, *args], check=check, timeout=timeout)

    def reload(self):
        """Regenerate the YAML and send SIGHUP (routehubd re-reads its file)."""
        self.write_config()
        self.proc.send_signal(signal.SIGHUP)

    def _apply_routes(self, announced, withdrawn):
        raise NotImplementedError('routehubd originates only hub/spoke address spaces '
                                  '(set self.extra["hub"] / ["spokes"] and reload())')

    def peers(self):
        """`routehubctl --json show peers`: list of peer dicts (name, address, state,
        last_error, prefixes_announced, ...)."""
        return json.loads(self.routehubctl('--json', 'show', 'peers').stdout or '[]')

    def _peer(self, addr):
        for p in self.peers():
            if p.get('address') == str(addr):
                return p
        return None

    def neighbor_state(self, addr):
        p = self._peer(addr)
        return p.get('state', 'Unknown') if p else 'Unknown'

    def last_notification(self, addr):
        p = self._peer(addr)
        return (p or {}).get('last_error') or None

    def routes(self):
        out, start = [], None
        for _ in range(100000):  # pages; a bound, not a wait
            args = ['--json', 'show', 'routes', '--limit', '20000']  # under the 64 MiB answer cap
            if start:
                args += ['--from', start]
            j = json.loads(self.routehubctl(*args, timeout=120).stdout or '{}')
            for r in j.get('routes', []):
                for p in r.get('paths', []):
                    out.append(make_route(
                        r['prefix'], next_hop=p.get('next_hop'), as_path=p.get('as_path', ''),
                        communities=p.get('communities', []),
                        large_communities=p.get('large_communities', []), med=p.get('med'),
                        local_pref=p.get('local_pref'), origin=p.get('origin'),
                        peer=p.get('peer_address'), best=bool(p.get('best'))))
            if not j.get('more'):
                return out
            start = j['next']
        raise HarnessError(f'{self.name}: show routes never ended')

    def route_count(self):
        j = json.loads(self.routehubctl('--json', 'show', 'rib').stdout or '{}')
        return sum(int((p.get('accepted') or {}).get('total', 0)) for p in j.get('peers', []))


ALL_DAEMONS = {'bird': Bird, 'frr': Frr, 'gobgp': Gobgp, 'exabgp': Exabgp, 'openbgpd': Openbgpd}
