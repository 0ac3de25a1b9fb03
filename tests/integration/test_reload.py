#!/usr/bin/env python3
"""Reload semantics (SIGHUP and `routehubctl reload`), seen on the wire.

Three raw speakers (lib/rawbgp.py) peer with routehubd and announce a prefix
each. Then the configuration file changes and routehubd reloads:

  removed     the entry of peer `gone` is deleted: it receives NOTIFICATION
              Cease/Peer De-configured (6/3) and its route disappears from the
              RIB.
  changed     peer `changed` gets another hold time: it receives Cease/Other
              Configuration Change (6/6), can establish again, and then has
              the new hold time.
  untouched   peer `stays` sees nothing: no NOTIFICATION, its session keeps
              its uptime and flap count, and its route stays in the RIB.
  bad file    a reload with a broken file is refused with FILE:LINE and the
              running configuration (and every session) stays.

Bounded polls only; no timing is asserted.
"""
import json
import os
import shutil
import signal
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
RS = '127.45.0.1'
FAILS = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        FAILS.append(what)


def ipv4_update(prefix, nexthop, asn):
    attrs = bytes([0x40, 1, 1, 0])
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton(nexthop)
    return rawbgp.update(attrs=attrs, nlri=bytes([24]) + socket.inet_aton(prefix)[:3])


def config(sock, changed_hold, with_gone):
    peers = [
        '  - {name: stays, address: 127.45.1.1, asn: 65001, passive: true}',
        f'  - {{name: changed, address: 127.45.1.2, asn: 65002, passive: true, '
        f'hold_time: {changed_hold}}}',
    ]
    if with_gone:
        peers.append('  - {name: gone, address: 127.45.1.3, asn: 65003, passive: true}')
    return (f'local:\n  asn: 65515\n  router_id: 10.45.0.1\n  listen: ["{RS}:179"]\n'
            f'  api: {{socket: {sock}}}\npeers:\n' + '\n'.join(peers) + '\n')


def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def peers(sock):
    r = ctl(sock, '--json', 'show', 'peers')
    return {p['name']: p for p in json.loads(r.stdout)} if r.returncode == 0 else {}


def route_count(sock, name):
    r = ctl(sock, '--json', 'show', 'routes', 'peer', name)
    if r.returncode != 0:
        return -1
    return len(json.loads(r.stdout).get('routes', []))


def wait(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def main():
    if not os.path.exists(os.path.join(BIN, 'routehubd')):
        print(f'SKIP: no routehubd in {BIN}')
        return 77
    tmp = tempfile.mkdtemp(prefix='rh-reload-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    with open(conf, 'w') as f:
        f.write(config(sock, 90, True))
    log = open(os.path.join(tmp, 'routehubd.log'), 'w')
    d = subprocess.Popen([os.path.join(BIN, 'routehubd'), '-c', conf], stdout=log,
                         stderr=subprocess.STDOUT)
    speakers = {}
    try:
        if not wait(lambda: ctl(sock, 'show', 'status').returncode == 0):
            raise RuntimeError('routehubd did not start')
        for name, src, asn, pfx in (('stays', '127.45.1.1', 65001, '10.71.0.0'),
                                    ('changed', '127.45.1.2', 65002, '10.72.0.0'),
                                    ('gone', '127.45.1.3', 65003, '10.73.0.0')):
            s = rawbgp.RawSpeaker.connect(RS, 179, source=src)
            s.handshake(asn, '10.45.1.' + src.rsplit('.', 1)[1], hold_time=90,
                        caps=[rawbgp.cap_mp(), rawbgp.cap_as4(asn)])
            s.send(ipv4_update(pfx, '198.18.45.' + src.rsplit('.', 1)[1], asn))
            speakers[name] = s
        check(wait(lambda: all(route_count(sock, n) == 1 for n in speakers)),
              'each peer has its route in the RIB')
        before = peers(sock)['stays']

        # a broken file: refused, nothing changes
        with open(conf, 'w') as f:
            f.write(config(sock, 90, True) + '  - {name: bad, address: 999.1.1.1}\n')
        r = ctl(sock, 'reload')
        check(r.returncode == 1 and 'rh.yaml:' in r.stderr,
              f'a broken file is refused with FILE:LINE ({r.stderr.strip()[:80]})')
        check(all(p['state'] == 'Established' for p in peers(sock).values()),
              'every session stays after the refused reload')

        # the real change, by SIGHUP
        with open(conf, 'w') as f:
            f.write(config(sock, 30, False))
        d.send_signal(signal.SIGHUP)

        n = speakers['gone'].recv_notification(timeout=10)
        check((n.notification['code'], n.notification['subcode']) == (6, 3),
              f'removed peer got Cease/Peer De-configured ({n!r})')
        n = speakers['changed'].recv_notification(timeout=10)
        check((n.notification['code'], n.notification['subcode']) == (6, 6),
              f'changed peer got Cease/Other Configuration Change ({n!r})')
        def prefix_paths(prefix):
            r = ctl(sock, '--json', 'show', 'routes', prefix)
            if r.returncode != 0:
                return -1
            return sum(len(x.get('paths', [])) for x in json.loads(r.stdout).get('routes', []))
        check(prefix_paths('10.71.0.0/24') == 1, 'show routes finds a held prefix')
        check(wait(lambda: prefix_paths('10.73.0.0/24') == 0),
              'the removed peer\'s route left the RIB')

        # the changed peer comes back with the new hold time
        s = rawbgp.RawSpeaker.connect(RS, 179, source='127.45.1.2')
        m = s.handshake(65002, '10.45.1.2', hold_time=90,
                        caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65002)])
        speakers['changed2'] = s
        check(m.open['hold_time'] == 30, f'changed peer now offered hold 30 ({m.open["hold_time"]})')

        # the untouched one saw nothing and kept its route
        got = []
        try:
            while True:
                got.append(speakers['stays'].recv_msg(timeout=0.5))
        except Exception:
            pass
        check(not any(m.code == rawbgp.NOTIFICATION for m in got),
              'the untouched peer received no NOTIFICATION')
        after = peers(sock).get('stays', {})
        check(after.get('state') == 'Established' and after.get('flaps') == before.get('flaps')
              and after.get('established') == before.get('established'),
              'the untouched session stayed up (same established/flap counts)')
        check(route_count(sock, 'stays') == 1, 'and kept its route')
    except Exception as e:  # noqa: BLE001
        check(False, f'exception: {e!r}')
    finally:
        for s in speakers.values():
            try:
                s.close()
            except Exception:
                pass
        d.terminate()
        try:
            rc = d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = -1
        check(rc == 0, f'routehubd exits 0 on SIGTERM ({rc})')
        log.close()
        if FAILS:
            print(open(os.path.join(tmp, 'routehubd.log')).read()[-3000:])
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f'{0 if FAILS else 1} passed, {len(FAILS)} failed')
    return 1 if FAILS else 0


if __name__ == '__main__':
    sys.exit(main())
