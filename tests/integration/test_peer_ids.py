#!/usr/bin/env python3
"""Running out of peer ids: the session is refused, not left up without routes.

Export gives every Established session a dense peer id (below RIB_MAX_PEERS).
Opening 65,536 sessions is too heavy for a test, so routehubd runs with the
test hook RH_MAX_PEER_IDS=2 (engine/export.c, exp_new): two ids only.

  - raw speakers `a` and `b` come up and exchange routes;
  - a third, `c` (a dynamic neighbour of a range), completes the OPEN
    exchange and is then refused: NOTIFICATION Cease / Out of Resources
    (RFC 4486 subcode 8), connection closed, the reason in the log;
  - `a` and `b` stay Established and keep exchanging routes;
  - once `b` is gone its id is free again, and `c` is accepted and gets the
    table and End-of-RIB.

Every wait is a bounded poll; no timing is asserted.
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
FAILS = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        FAILS.append(what)


def ipv4_update(prefixes, nexthop, asn):
    """One UPDATE announcing the /24s `prefixes` (dotted strings)."""
    attrs = bytes([0x40, 1, 1, 0])                                     # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)        # AS_PATH
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton(nexthop)           # NEXT_HOP
    nlri = b''.join(bytes([24]) + socket.inet_aton(p)[:3] for p in prefixes)
    return rawbgp.update(attrs=attrs, nlri=nlri)


def announced(m):
    """The IPv4 prefixes an UPDATE announces, as 'a.b.c.d/len'."""
    if m.code != rawbgp.UPDATE:
        return set()
    b = m.body
    wl = struct.unpack('!H', b[:2])[0]
    al = struct.unpack('!H', b[2 + wl:4 + wl])[0]
    nlri = b[4 + wl + al:]
    out, j = set(), 0
    while j < len(nlri):
        plen = nlri[j]
        n = (plen + 7) // 8
        addr = bytes(nlri[j + 1:j + 1 + n]) + b'\0' * (4 - n)
        out.add(f'{socket.inet_ntoa(addr)}/{plen}')
        j += 1 + n
    return out


def is_eor(m):
    return m.code == rawbgp.UPDATE and len(m.body) == 4


def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def peer_states(sock):
    r = ctl(sock, '--json', 'show', 'peers')
    if r.returncode != 0:
        return {}
    return {p['name']: p['state'] for p in json.loads(r.stdout or '[]')}


CAPS = {asn: [rawbgp.cap_mp(), rawbgp.cap_as4(asn), rawbgp.cap_route_refresh()]
        for asn in (65001, 65002, 65003)}


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


def main():
    if not os.path.exists(os.path.join(BIN, 'routehubd')):
        print(f'SKIP: no routehubd in {BIN}')
        return 77
    net = pick_net(47)
    rs, a_addr, b_addr, c_addr = net + '.1', net + '.11', net + '.12', net + '.33'
    tmp = tempfile.mkdtemp(prefix='rh-ids-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    logpath = os.path.join(tmp, 'routehubd.log')
    with open(conf, 'w') as f:
        f.write(f'''local:
  asn: 65515
  router_id: 10.47.0.1
  listen: ["{rs}:{PORT}"]
  api: {{socket: {sock}}}
peers:
  - {{name: a, address: {a_addr}, asn: 65001, passive: true}}
  - {{name: b, address: {b_addr}, asn: 65002, passive: true}}
  - {{name: dyn, range: {net}.32/28, asn: 65003}}
''')
    env = dict(os.environ, RH_MAX_PEER_IDS='2')
    log = open(logpath, 'w')
    d = subprocess.Popen([os.path.join(BIN, 'routehubd'), '-c', conf], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    speakers = []

    def connect(src, asn):
        s = rawbgp.RawSpeaker.connect(rs, PORT, source=src)
        speakers.append(s)
        s.handshake(asn, f'10.47.0.{asn - 65000}', hold_time=90, caps=CAPS[asn])
        return s

    try:
        deadline = time.monotonic() + 20
        while ctl(sock, 'show', 'status').returncode != 0:
            if time.monotonic() > deadline or d.poll() is not None:
                raise RuntimeError('routehubd did not start')
            time.sleep(0.1)

        a = connect(a_addr, 65001)
        a.send(ipv4_update(['10.47.1.0'], '198.18.47.1', 65001) + rawbgp.update())
        b = connect(b_addr, 65002)
        b.send(ipv4_update(['10.47.2.0'], '198.18.47.2', 65002) + rawbgp.update())
        b.recv_until(lambda m: '10.47.1.0/24' in announced(m), timeout=10)
        a.recv_until(lambda m: '10.47.2.0/24' in announced(m), timeout=10)
        check(True, 'a and b (2 peer ids) are up and exchange routes')

        # The third session: OPEN exchange, then refused for want of an id.
        c = connect(c_addr, 65003)
        n = c.recv_notification(timeout=10)
        got = (n.notification['code'], n.notification['subcode'])
        check(got == (6, 8), f'c got Cease / Out of Resources (6/8), not {got} ({n!r})')
        try:
            c.wait_closed(timeout=10)
            closed = True
        except TimeoutError:
            closed = False
        check(closed, 'and routehubd closed c\'s connection')
        check(not any(announced(m) for m in c.received), 'c got no route before that')
        check(f'{c_addr}: no rib peer id left: refusing the session' in open(logpath).read(),
              'routehubd logged why c was refused')

        # a and b were not disturbed.
        st = peer_states(sock)
        check(st.get('a') == 'Established' and st.get('b') == 'Established',
              f'a and b still Established ({st})')
        a.send(ipv4_update(['10.47.3.0'], '198.18.47.1', 65001))
        b.recv_until(lambda m: '10.47.3.0/24' in announced(m), timeout=10)
        b.send(ipv4_update(['10.47.4.0'], '198.18.47.2', 65002))
        a.recv_until(lambda m: '10.47.4.0/24' in announced(m), timeout=10)
        check(True, 'a and b keep exchanging routes after the refusal')

        # b goes; once its id is released, c is served.
        b.close()
        deadline = time.monotonic() + 20
        table = None
        while table is None and time.monotonic() < deadline:
            s = None
            try:
                s = connect(c_addr, 65003)
                s.recv_until(is_eor, timeout=10)
                table = set().union(*(announced(m) for m in s.received))
            except (rawbgp.ConnectionClosed, rawbgp.ProtocolError, TimeoutError, OSError):
                if s is not None:
                    s.close()
                time.sleep(0.2)  # poll interval: b's id is released asynchronously
        check(table is not None, 'c is accepted once b\'s id is free again')
        check(table is not None and {'10.47.1.0/24', '10.47.3.0/24'} <= table,
              f'and gets a\'s routes, then End-of-RIB ({sorted(table or [])})')
        check(d.poll() is None, 'routehubd is still running')
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
