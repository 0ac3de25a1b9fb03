#!/usr/bin/env python3
"""max_routes_action: warn keeps the session and the routes over the limit.

A raw speaker `f` with max_routes: 3 and max_routes_action: warn announces
five /24s in three UPDATEs (2, 2, 1: the second crosses the limit, the third
comes while over it). A raw receiver `r` takes what routehubd exports.

Expected, all checked:
  - `f` stays Established (no NOTIFICATION, no flap) and all five prefixes
    reach `r`;
  - the log has exactly one "over its route limit" warning for `f`: once per
    crossing, not once per UPDATE over the limit;
  - `routehubctl --json show peer f` shows routes_received 5, max_routes 3 and
    max_routes_exceeded true;
  - after withdrawals bring the count back to 2 (within the limit) the flag is
    false; announcing two more (4, over again) logs a second warning and sets
    it again;
  - a reload raising max_routes to 10 (a live change) clears the flag.

The default action (teardown: Cease / Maximum Number of Prefixes, RFC 4486)
is covered by test_max_routes_dup.py. Every wait is a bounded poll; no timing
is asserted.
"""
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402

BIN = os.environ.get('RH_BIN') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'build', 'bin')
PORT = 179
LIMIT = 3
FAILS = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        FAILS.append(what)


def pfx(p):
    """A /24 in wire form (length, three octets)."""
    return bytes([24]) + socket.inet_aton(p)[:3]


def announce(prefixes, asn=65001):
    attrs = bytes([0x40, 1, 1, 0])                                     # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)        # AS_PATH
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton('198.18.50.1')     # NEXT_HOP
    return rawbgp.update(attrs=attrs, nlri=b''.join(pfx(p) for p in prefixes))


def withdraw(prefixes):
    return rawbgp.update(withdrawn=b''.join(pfx(p) for p in prefixes))


def walk(buf):
    j = 0
    while j < len(buf):
        n = (buf[j] + 7) // 8
        yield bytes(buf[j:j + 1 + n])
        j += 1 + n


class Table:
    """What a receiver holds: IPv4 prefixes (wire form) announced, not withdrawn."""

    def __init__(self):
        self.routes = set()

    def apply(self, m):
        if m.code != rawbgp.UPDATE:
            return
        b = m.body
        wl = struct.unpack('!H', b[:2])[0]
        al = struct.unpack('!H', b[2 + wl:4 + wl])[0]
        self.routes -= set(walk(b[2:2 + wl]))
        self.routes |= set(walk(b[4 + wl + al:]))


def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def peer_info(sock, name):
    r = ctl(sock, '--json', 'show', 'peer', name)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out waiting for {what}')
        time.sleep(0.1)  # poll interval


def read_until(sp, table, cond, timeout):
    """Read sp's messages into table until cond() holds; bounded."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            table.apply(sp.recv_msg(timeout=min(left, 0.5)))
        except TimeoutError:
            pass
    return True


def drain(sp, budget=0.05):
    """Read whatever arrives within `budget` (kept in sp.received)."""
    try:
        while True:
            sp.recv_msg(timeout=budget)
    except TimeoutError:
        pass


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


def write_conf(conf, rs, sock, f_addr, r_addr, limit):
    with open(conf, 'w') as f:
        f.write(f'''local:
  asn: 65515
  router_id: 10.50.0.1
  listen: ["{rs}:{PORT}"]
  api: {{socket: {sock}}}
peers:
  - {{name: f, address: {f_addr}, asn: 65001, passive: true, max_routes: {limit},
     max_routes_action: warn, transparent: true}}
  - {{name: r, address: {r_addr}, asn: 65002, passive: true, transparent: true}}
''')


def main():
    if not os.path.exists(os.path.join(BIN, 'routehubd')):
        print(f'SKIP: no routehubd in {BIN}')
        return 77
    net = pick_net(50)
    rs, f_addr, r_addr = net + '.1', net + '.11', net + '.21'
    tmp = tempfile.mkdtemp(prefix='rh-maxrwarn-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    logpath = os.path.join(tmp, 'routehubd.log')
    write_conf(conf, rs, sock, f_addr, r_addr, LIMIT)
    log = open(logpath, 'w')
    d = subprocess.Popen([os.path.join(BIN, 'routehubd'), '-c', conf], stdout=log,
                         stderr=subprocess.STDOUT)
    speakers = []
    marker = f'peer f {f_addr}: over its route limit'

    def warnings():
        return sum(1 for line in open(logpath) if marker in line)

    try:
        deadline = time.monotonic() + 20
        while ctl(sock, 'show', 'status').returncode != 0:
            if time.monotonic() > deadline or d.poll() is not None:
                raise RuntimeError('routehubd did not start')
            time.sleep(0.1)

        r = rawbgp.RawSpeaker.connect(rs, PORT, source=r_addr)
        speakers.append(r)
        r.handshake(65002, '10.50.2.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65002)])
        f = rawbgp.RawSpeaker.connect(rs, PORT, source=f_addr)
        speakers.append(f)
        f.handshake(65001, '10.50.1.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])

        five = [f'10.50.{i}.0' for i in range(1, 6)]
        f.send(announce(five[0:2]) + announce(five[2:4]) + announce(five[4:5]) +
               rawbgp.update())
        rt = Table()
        want = {pfx(p) for p in five}
        read_until(r, rt, lambda: want <= rt.routes, 20)
        check(rt.routes == want,
              f'r gets all 5 prefixes, 2 over the limit ({len(rt.routes)})')

        info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 5 else None)(
            peer_info(sock, 'f')), 20, 'show peer f: 5 routes received')
        check(info['state'] == 'Established' and info['established'] == 1 and
              info['flaps'] == 0,
              f'f stays Established, no flap ({info["state"]}, {info["flaps"]} flaps)')
        check(info['max_routes'] == LIMIT and info['max_routes_exceeded'] is True,
              f'show peer f: max_routes {LIMIT}, max_routes_exceeded true '
              f'({info["max_routes"]}, {info["max_routes_exceeded"]})')
        drain(f)
        check(not any(m.code == rawbgp.NOTIFICATION for m in f.received),
              'f got no NOTIFICATION')
        check(warnings() == 1,
              f'one warning for three UPDATEs, two of them over the limit ({warnings()})')
        rinfo = peer_info(sock, 'r')
        check(rinfo is not None and rinfo['max_routes_exceeded'] is False and
              rinfo['routes_received'] == 0,
              f'show peer r: nothing received, not exceeded '
              f'({rinfo and (rinfo["routes_received"], rinfo["max_routes_exceeded"])})')

        # Back within the limit (2 held), then over it again (4): a second
        # warning, only now.
        f.send(withdraw(five[2:5]))
        info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 2 else None)(
            peer_info(sock, 'f')), 20, 'show peer f: 2 routes received')
        check(info['max_routes_exceeded'] is False,
              f'2 held: max_routes_exceeded false ({info["max_routes_exceeded"]})')
        check(warnings() == 1, f'going back within the limit is no warning ({warnings()})')
        f.send(announce(five[2:4]))
        info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 4 else None)(
            peer_info(sock, 'f')), 20, 'show peer f: 4 routes received')
        check(info['max_routes_exceeded'] is True and info['state'] == 'Established',
              f'4 held: over again, still Established '
              f'({info["max_routes_exceeded"]}, {info["state"]})')
        check(warnings() == 2, f'crossing the limit again warns again ({warnings()})')
        want = {pfx(p) for p in five[0:4]}
        read_until(r, rt, lambda: rt.routes == want, 20)
        check(rt.routes == want, f'r holds the 4 prefixes ({len(rt.routes)})')

        # A reload raising the limit (a live change): within it, no flap.
        write_conf(conf, rs, sock, f_addr, r_addr, 10)
        rl = ctl(sock, 'reload')
        check(rl.returncode == 0, f'reload with max_routes 10 ({rl.stderr.strip()})')
        info = wait_for(lambda: (lambda x: x if x and x.get('max_routes') == 10 else None)(
            peer_info(sock, 'f')), 20, 'show peer f: max_routes 10')
        check(info['max_routes_exceeded'] is False and info['routes_received'] == 4 and
              info['flaps'] == 0,
              f'max_routes 10: 4 held, not exceeded, no flap '
              f'({info["routes_received"]}, {info["max_routes_exceeded"]}, {info["flaps"]})')
        check(warnings() == 2, f'no warning from the reload ({warnings()})')
        check(d.poll() is None, 'routehubd still running')
    except Exception as e:  # noqa: BLE001
        check(False, f'exception: {e!r}')
    finally:
        for s in speakers:
            try:
                s.close()
            except Exception:
                pass
        d.terminate()
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait(5)
        log.close()
        if FAILS:
            print(open(logpath).read()[-4000:])
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f'{0 if FAILS else 1} passed, {len(FAILS)} failed')
    return 1 if FAILS else 0


if __name__ == '__main__':
    sys.exit(main())
