#!/usr/bin/env python3
"""A spoke that does not read (DESIGN: "a member that cannot keep up").

routehubd runs with a small send-queue bound (RH_SENDQ_LIMIT=200000 bytes).
A raw feeder announces 20,000 /24s and then re-announces them 80 times with a
new MED each round. Two raw spokes with enhanced route refresh (RFC 7313)
receive: `fast` reads all the time; `slow` has a tiny receive buffer and
stops reading until routehubd says it is out of sync.

Expected, all checked:
  - routehubd logs `slow` out of sync and holds its updates (nothing more is
    queued for it, so its memory stops growing);
  - `fast` is not slowed: it ends with every prefix at the last MED while
    `slow` is still not reading;
  - once `slow` reads again and its queue drains, routehubd resynchronises
    it with BoRR, the table, EoRR (no session reset, no NOTIFICATION);
  - `slow`'s table, applying RFC 7313 (BoRR marks our routes stale, EoRR
    drops the stale ones), equals the RIB: 20,000 prefixes at the last MED.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
from rhtest import BIN, FAILS, check, med_of  # noqa: E402

RS = '127.46.0.1'
NPFX = 20000
ROUNDS = 60


def prefixes():
    for i in range(NPFX):
        yield bytes([24, 10 + (i >> 16), (i >> 8) & 255, i & 255])


def updates(med, asn=65001):
    """The whole table with this MED, packed into 4096-byte UPDATEs."""
    attrs = bytes([0x40, 1, 1, 0])
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton('198.18.46.1')
    attrs += bytes([0x80, 4, 4]) + struct.pack('!I', med)
    room = 4096 - 23 - len(attrs)
    out, nlri = [], b''
    for p in prefixes():
        if len(nlri) + len(p) > room:
            out.append(rawbgp.update(attrs=attrs, nlri=nlri))
            nlri = b''
        nlri += p
    if nlri:
        out.append(rawbgp.update(attrs=attrs, nlri=nlri))
    return out


class Table:
    """A receiver's view: prefix -> MED, with RFC 7313 stale handling."""

    def __init__(self):
        self.routes, self.stale = {}, set()
        self.borr = self.eorr = 0

    def apply(self, m):
        if m.code == rawbgp.ROUTE_REFRESH:
            sub = m.body[2]
            if sub == 1:
                self.borr += 1
                self.stale = set(self.routes)
            elif sub == 2:
                self.eorr += 1
                for p in self.stale:
                    self.routes.pop(p, None)
                self.stale = set()
            return
        if m.code != rawbgp.UPDATE:
            return
        b = m.body
        wl = struct.unpack('!H', b[:2])[0]
        w = b[2:2 + wl]
        al = struct.unpack('!H', b[2 + wl:4 + wl])[0]
        a = b[4 + wl:4 + wl + al]
        nlri = b[4 + wl + al:]
        med = med_of(a)

        def walk(buf):
            j = 0
            while j < len(buf):
                n = (buf[j] + 7) // 8
                yield bytes(buf[j:j + 1 + n])
                j += 1 + n
        for p in walk(w):
            self.routes.pop(p, None)
            self.stale.discard(p)
        for p in walk(nlri):
            self.routes[p] = med
            self.stale.discard(p)


def drain(sp, table=None, budget=0.01):
    """Read whatever is there (bounded); keep the peer's hold timer fed."""
    try:
        while True:
            m = sp.recv_msg(timeout=budget)
            if table is not None:
                table.apply(m)
    except Exception:
        pass


def main():
    if not os.path.exists(os.path.join(BIN, 'routehubd')):
        print(f'SKIP: no routehubd in {BIN}')
        return 77
    tmp = tempfile.mkdtemp(prefix='rh-slow-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    logpath = os.path.join(tmp, 'routehubd.log')
    with open(conf, 'w') as f:
        f.write(f'''local:
  asn: 65515
  router_id: 10.46.0.1
  listen: ["{RS}:179"]
  api: {{socket: {sock}}}
peers:
  - {{name: feeder, address: 127.46.1.1, asn: 65001, passive: true, max_routes: 0,
     transparent: true}}
  - {{name: fast, address: 127.46.2.1, asn: 65002, passive: true, transparent: true}}
  - {{name: slow, address: 127.46.2.2, asn: 65003, passive: true, transparent: true}}
''')
    env = dict(os.environ, RH_SENDQ_LIMIT='200000')
    log = open(logpath, 'w')
    d = subprocess.Popen([os.path.join(BIN, 'routehubd'), '-c', conf], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    speakers = []
    caps = [rawbgp.cap_mp(), rawbgp.cap_route_refresh(), rawbgp.cap_enhanced_route_refresh()]
    try:
        deadline = time.monotonic() + 20
        while subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock, 'show', 'status'],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline or d.poll() is not None:
                raise RuntimeError('routehubd did not start')
            time.sleep(0.1)

        fast = rawbgp.RawSpeaker.connect(RS, 179, source='127.46.2.1')
        fast.handshake(65002, '10.46.2.1', caps=caps + [rawbgp.cap_as4(65002)])
        # A tiny receive buffer before connecting: the kernel cannot soak up
        # much for a spoke that does not read.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(('127.46.2.2', 0))
        s.settimeout(10)
        s.connect((RS, 179))
        slow = rawbgp.RawSpeaker(s)
        slow.handshake(65003, '10.46.2.2', caps=caps + [rawbgp.cap_as4(65003)])
        feeder = rawbgp.RawSpeaker.connect(RS, 179, source='127.46.1.1')
        feeder.handshake(65001, '10.46.1.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])
        speakers += [fast, slow, feeder]

        ftable = Table()
        for rnd in range(ROUNDS):
            for m in updates(1000 + rnd):
                feeder.send(m)
            drain(fast, ftable)   # fast keeps reading
            drain(feeder)         # so does the feeder
            if rnd % 10 == 0:     # everyone keeps its session alive; slow only sends
                for sp in (fast, slow, feeder):
                    sp.send(rawbgp.keepalive())
        last = 1000 + ROUNDS - 1

        def oos_logged():
            return 'slow 127.46.2.2: not reading' in open(logpath).read()
        deadline = time.monotonic() + 30
        while not oos_logged() and time.monotonic() < deadline:
            drain(fast, ftable, 0.1)
        check(oos_logged(), 'routehubd found slow out of sync and holds its updates')

        # fast is not held back: it reaches the final state while slow sleeps
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                len(ftable.routes) == NPFX and all(v == last for v in ftable.routes.values())):
            drain(fast, ftable, 0.2)
        check(len(ftable.routes) == NPFX and all(v == last for v in ftable.routes.values()),
              f'fast has all {NPFX} prefixes at the last MED while slow is not reading')

        # slow reads again: drain, resync with BoRR/table/EoRR, no NOTIFICATION
        stable = Table()
        notif = []
        for sp in (fast, slow, feeder):
            sp.send(rawbgp.keepalive())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                m = slow.recv_msg(timeout=1)
            except Exception:
                if stable.eorr and len(stable.routes) == NPFX:
                    break
                continue
            if m.code == rawbgp.NOTIFICATION:
                notif.append(m)
                break
            stable.apply(m)
            if stable.eorr and len(stable.routes) == NPFX and \
                    all(v == last for v in stable.routes.values()):
                break
        check(not notif, f'slow got no NOTIFICATION ({notif})')
        check(stable.borr >= 1 and stable.eorr >= 1,
              f'slow was resynchronised with BoRR ({stable.borr}) and EoRR ({stable.eorr})')
        check(len(stable.routes) == NPFX and all(v == last for v in stable.routes.values()),
              f'slow ends with exactly the RIB: {len(stable.routes)} prefixes, '
              f'MEDs {sorted(set(stable.routes.values()))[:3]}')
        check('slow 127.46.2.2: drained: resynchronising' in open(logpath).read(),
              'routehubd logged the resync')
    except Exception as e:  # noqa: BLE001
        check(False, f'exception: {e!r}')
    finally:
        for sp in speakers:
            try:
                sp.close()
            except Exception:
                pass
        d.terminate()
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        if FAILS:
            print(open(logpath).read()[-3000:])
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f'{0 if FAILS else 1} passed, {len(FAILS)} failed')
    return 1 if FAILS else 0


if __name__ == '__main__':
    sys.exit(main())
