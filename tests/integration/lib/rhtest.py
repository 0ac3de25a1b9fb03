"""rhtest: scaffolding for the tests that run one routehubd against raw BGP
speakers (lib/rawbgp.py): test_max_routes_*.py, test_peer_ids.py,
test_peer_reset.py, test_refresh_*.py, test_reload.py, test_slow_spoke.py.

    import rhtest
    from rhtest import check

    def peers(h):
        return f'  - {{name: f, address: {h.addr(11)}, asn: 65001, passive: true}}\\n'

    def body(h):
        f = h.connect(h.addr(11), 65001, '10.48.1.1', caps=[...])
        ...
        check(cond, 'what')

    if __name__ == '__main__':
        sys.exit(rhtest.run(48, 'rh-maxr-', peers, body))

run() skips (exit 77) without routehubd in RH_BIN, picks a free
127.<second>.<r>.0/24 (routehubd on .1), writes the config (router id
10.<second>.0.1), starts routehubd and waits for its API, runs the body, and
always closes the speakers and stops routehubd (its PID: terminate, kill after
10 s; it must exit 0). On failure the log tail is printed and the temporary
directory kept; otherwise it is removed. An exception in the body is a failed
check.

Also here: checks (check, PASSED, FAILS), bounded polls (wait_for, poll, read_until,
drain), `routehubctl` queries and IPv4 unicast messages in wire form.
"""
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import rawbgp

BIN = os.environ.get('RH_BIN') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'build', 'bin')
PORT = 179
PASSED, FAILS = [], []


# --- checks and bounded polls ---------------------------------------------

def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    (PASSED if cond else FAILS).append(what)


def wait_for(cond, timeout, what):
    """cond()'s first true value; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out waiting for {what}')
        time.sleep(0.1)  # poll interval


def poll(get, good, timeout):
    """Poll get() until good(value) or the deadline; the last value either way."""
    deadline = time.monotonic() + timeout
    while True:
        v = get()
        if good(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)  # poll interval


def read_until(sp, cond, timeout, table=None, step=0.5):
    """Read sp's messages (into table, if given) until cond() holds, checked
    after every message; bounded. False on the deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            m = sp.recv_msg(timeout=min(left, step))
        except TimeoutError:
            continue
        if table is not None:
            table.apply(m)
    return True


def drain(sp, table=None, budget=0.05):
    """Read whatever arrives within `budget` (kept in sp.received, and applied
    to table if given)."""
    try:
        while True:
            m = sp.recv_msg(timeout=budget)
            if table is not None:
                table.apply(m)
    except TimeoutError:
        pass


# --- IPv4 unicast in wire form --------------------------------------------

def pfx(p):
    """A /24 in wire form (length, three octets)."""
    return bytes([24]) + socket.inet_aton(p)[:3]


def base_attrs(asn=65001):
    attrs = bytes([0x40, 1, 1, 0])                                     # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)        # AS_PATH
    return attrs


def nexthop_attr(nexthop):
    return bytes([0x40, 3, 4]) + socket.inet_aton(nexthop)            # NEXT_HOP


def med_attr(med):
    return bytes([0x80, 4, 4]) + struct.pack('!I', med)               # MULTI_EXIT_DISC


def ipv4_update(prefixes, nexthop, asn=65001):
    """One UPDATE whose NLRI field lists the /24s `prefixes` (dotted strings)
    in this order, repeats included."""
    return rawbgp.update(attrs=base_attrs(asn) + nexthop_attr(nexthop),
                         nlri=b''.join(pfx(p) for p in prefixes))


def withdraw(prefixes):
    return rawbgp.update(withdrawn=b''.join(pfx(p) for p in prefixes))


def table_prefixes(n):
    """n distinct /24s in wire form, from 10.0.0.0/24 up."""
    return [bytes([24, 10 + (i >> 16), (i >> 8) & 255, i & 255]) for i in range(n)]


def pack_updates(prefixes, attrs):
    """prefixes (wire form) with attrs, packed into 4096-byte UPDATEs (a list)."""
    room = 4096 - 23 - len(attrs)
    out, nlri = [], b''
    for p in prefixes:
        if len(nlri) + len(p) > room:
            out.append(rawbgp.update(attrs=attrs, nlri=nlri))
            nlri = b''
        nlri += p
    if nlri:
        out.append(rawbgp.update(attrs=attrs, nlri=nlri))
    return out


def walk(buf):
    """The prefixes (wire form) of an NLRI or withdrawn routes field."""
    j = 0
    while j < len(buf):
        n = (buf[j] + 7) // 8
        yield bytes(buf[j:j + 1 + n])
        j += 1 + n


def nlri_of(m):
    """(announced, withdrawn) IPv4 prefixes of an UPDATE, in wire form."""
    b = m.body
    wl = struct.unpack('!H', b[:2])[0]
    al = struct.unpack('!H', b[2 + wl:4 + wl])[0]
    return set(walk(b[4 + wl + al:])), set(walk(b[2:2 + wl]))


def med_of(attrs):
    """The MULTI_EXIT_DISC in a path attributes field (the last one), None
    without one."""
    med = None
    i = 0
    while i < len(attrs):
        flags, t = attrs[i], attrs[i + 1]
        if flags & 0x10:
            ln, hl = struct.unpack('!H', attrs[i + 2:i + 4])[0], 4
        else:
            ln, hl = attrs[i + 2], 3
        if t == 4:
            med = struct.unpack('!I', attrs[i + hl:i + hl + 4])[0]
        i += hl + ln
    return med


def is_eor(m):
    return m.code == rawbgp.UPDATE and len(m.body) == 4


def rr_subtype(m):
    """1 BoRR, 2 EoRR, 0 a request; None when m is no ROUTE-REFRESH."""
    return m.body[2] if m.code == rawbgp.ROUTE_REFRESH else None


class Table:
    """What a receiver holds: IPv4 prefixes (wire form) announced, not withdrawn."""

    def __init__(self):
        self.routes = set()

    def apply(self, m):
        if m.code != rawbgp.UPDATE:
            return
        announced, withdrawn = nlri_of(m)
        self.routes -= withdrawn
        self.routes |= announced


class StaleTable:
    """A receiver's view with RFC 7313 handling: prefix (wire form) -> MED;
    BoRR marks every route stale, a route announced again is no longer
    stale, EoRR drops the stale ones. seq: 'B' / 'E' in the order received;
    at_eorr: at each EoRR, how many prefixes were announced since its BoRR
    (None: no BoRR before it)."""

    def __init__(self):
        self.routes, self.stale = {}, set()
        self.seq = []
        self.resent = None   # prefixes announced since the last BoRR
        self.at_eorr = []

    @property
    def borr(self):
        return self.seq.count('B')

    @property
    def eorr(self):
        return self.seq.count('E')

    def apply(self, m):
        sub = rr_subtype(m)
        if sub == 1:
            self.seq.append('B')
            self.stale = set(self.routes)
            self.resent = set()
            return
        if sub == 2:
            self.seq.append('E')
            self.at_eorr.append(None if self.resent is None else len(self.resent))
            for p in self.stale:
                self.routes.pop(p, None)
            self.stale, self.resent = set(), None
            return
        if m.code != rawbgp.UPDATE:
            return
        b = m.body
        wl = struct.unpack('!H', b[:2])[0]
        al = struct.unpack('!H', b[2 + wl:4 + wl])[0]
        med = med_of(b[4 + wl:4 + wl + al])
        for p in walk(b[2:2 + wl]):
            self.routes.pop(p, None)
            self.stale.discard(p)
            if self.resent is not None:
                self.resent.discard(p)
        for p in walk(b[4 + wl + al:]):
            self.routes[p] = med
            self.stale.discard(p)
            if self.resent is not None:
                self.resent.add(p)


# --- routehubd ------------------------------------------------------------

def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def pick_net(second):
    """'127.<second>.<r>': a /24 at random whose .1 nobody listens on, so that
    runs in parallel (other checkouts) do not collide."""
    for _ in range(64):
        net = f'127.{second}.{random.randrange(1, 255)}'
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((net + '.1', PORT))
            return net
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError(f'no free address in 127.{second}.0.0/16')


class Hub:
    """One routehubd on <net>.1 with its config, API socket and log in a
    temporary directory, and the raw speakers connected to it."""

    def __init__(self, second, tmp_prefix):
        self.second = second
        self.net = pick_net(second)
        self.rs = self.addr(1)
        self.tmp = tempfile.mkdtemp(prefix=tmp_prefix)
        self.sock = os.path.join(self.tmp, 'api.sock')
        self.conf = os.path.join(self.tmp, 'rh.yaml')
        self.logpath = os.path.join(self.tmp, 'routehubd.log')
        self.proc = None
        self.log = None
        self.speakers = []

    def addr(self, host):
        return f'{self.net}.{host}'

    def write_conf(self, peers):
        """The config: local AS 65515, router id 10.<second>.0.1, listening on
        <net>.1, then `peers` (the YAML lines of the peers list)."""
        with open(self.conf, 'w') as f:
            f.write(f'''local:
  asn: 65515
  router_id: 10.{self.second}.0.1
  listen: ["{self.rs}:{PORT}"]
  api: {{socket: {self.sock}}}
peers:
''' + peers)

    def start(self, env=None):
        """Start routehubd; env: variables added to the environment."""
        self.log = open(self.logpath, 'w')
        self.proc = subprocess.Popen(
            [os.path.join(BIN, 'routehubd'), '-c', self.conf], stdout=self.log,
            stderr=subprocess.STDOUT, env=dict(os.environ, **env) if env else None)

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while self.ctl('show', 'status').returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError('routehubd did not start')
            time.sleep(0.1)

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        """Close the speakers, stop routehubd; its exit status (SIGTERM)."""
        for sp in self.speakers:
            try:
                sp.close()
            except Exception:
                pass
        self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            rc = None
        self.log.close()
        return rc

    # the API
    def ctl(self, *args):
        return ctl(self.sock, *args)

    def peer_info(self, name):
        """GET /v1/peers/NAME (`show peer NAME`), None on error."""
        r = self.ctl('--json', 'show', 'peer', name)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def rib_peer(self, name):
        """name's line of `show rib`: {received, accepted: {ipv4, ipv6, total}, ...}."""
        r = self.ctl('--json', 'show', 'rib')
        if r.returncode != 0:
            return None
        for p in json.loads(r.stdout or '{}').get('peers', []):
            if p.get('name') == name:
                return p
        return None

    # the log
    def log_text(self):
        with open(self.logpath) as lf:
            return lf.read()

    def logged(self, text):
        return text in self.log_text()

    # raw speakers
    def add(self, sp):
        """sp is closed at the end of the run."""
        self.speakers.append(sp)
        return sp

    def connect(self, source, asn, bgp_id, caps=None, hold_time=90, rcvbuf=None):
        """A raw speaker from `source`, Established with routehubd (rcvbuf:
        rawbgp.RawSpeaker.connect's)."""
        sp = self.add(rawbgp.RawSpeaker.connect(self.rs, PORT, source=source, rcvbuf=rcvbuf))
        sp.handshake(asn, bgp_id, hold_time=hold_time, caps=caps)
        return sp


def run(second, tmp_prefix, peers, body, env=None):
    """The whole test; returns its exit code (77 skip, 1 failed, 0 passed).
    peers(hub) gives the config's peer lines, body(hub) runs the checks."""
    if not os.path.exists(os.path.join(BIN, 'routehubd')):
        print(f'SKIP: no routehubd in {BIN}')
        return 77
    h = Hub(second, tmp_prefix)
    h.write_conf(peers(h))
    h.start(env)
    try:
        h.wait_ready()
        body(h)
    except Exception as e:  # noqa: BLE001
        check(False, f'exception: {e!r}')
    finally:
        rc = h.stop()
        check(rc == 0, f'routehubd exits 0 on SIGTERM ({"killed after 10 s" if rc is None else rc})')
        if FAILS:
            print(h.log_text()[-4000:])
        else:
            shutil.rmtree(h.tmp, ignore_errors=True)
    print(f'{len(PASSED)} passed, {len(FAILS)} failed')
    return 1 if FAILS else 0
