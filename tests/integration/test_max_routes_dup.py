#!/usr/bin/env python3
"""max_routes counts prefixes, not NLRI entries.

A raw speaker `f` with max_routes: 5 sends one UPDATE whose NLRI lists five
distinct /24s with one of them twice (six entries). The Adj-RIB-In then holds
five routes (RFC 4271 §3.2), which is the limit, not over it:

  - the session stays up (no Cease/Maximum Number of Prefixes);
  - `routehubctl --json show rib` reports 5 routes received from `f` (the
    exact Adj-RIB-In count of max_routes) and 5 accepted in the RIB;
  - re-announcing held prefixes, repeated too, leaves the count at 5;
  - a sixth distinct prefix (listed twice) is over the limit: Cease /
    Maximum Number of Prefixes (RFC 4486 §4) with AFI 1, SAFI 1, bound 5.

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
LIMIT = 5
FAILS = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        FAILS.append(what)


def ipv4_update(prefixes, nexthop, asn):
    """One UPDATE whose NLRI field lists the /24s `prefixes` in this order
    (repeats included)."""
    attrs = bytes([0x40, 1, 1, 0])                                     # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)        # AS_PATH
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton(nexthop)           # NEXT_HOP
    nlri = b''.join(bytes([24]) + socket.inet_aton(p)[:3] for p in prefixes)
    return rawbgp.update(attrs=attrs, nlri=nlri)


def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def rib_peer(sock, name):
    """f's line of `show rib`: {received, accepted: {ipv4, ipv6, total}, ...}."""
    r = ctl(sock, '--json', 'show', 'rib')
    if r.returncode != 0:
        return None
    for p in json.loads(r.stdout or '{}').get('peers', []):
        if p.get('name') == name:
            return p
    return None


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
    net = pick_net(48)
    rs, f_addr = net + '.1', net + '.11'
    tmp = tempfile.mkdtemp(prefix='rh-maxr-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    logpath = os.path.join(tmp, 'routehubd.log')
    with open(conf, 'w') as f:
        f.write(f'''local:
  asn: 65515
  router_id: 10.48.0.1
  listen: ["{rs}:{PORT}"]
  api: {{socket: {sock}}}
peers:
  - {{name: f, address: {f_addr}, asn: 65001, passive: true, max_routes: {LIMIT}}}
''')
    log = open(logpath, 'w')
    d = subprocess.Popen([os.path.join(BIN, 'routehubd'), '-c', conf], stdout=log,
                         stderr=subprocess.STDOUT)
    speakers = []
    try:
        deadline = time.monotonic() + 20
        while ctl(sock, 'show', 'status').returncode != 0:
            if time.monotonic() > deadline or d.poll() is not None:
                raise RuntimeError('routehubd did not start')
            time.sleep(0.1)

        f = rawbgp.RawSpeaker.connect(rs, PORT, source=f_addr)
        speakers.append(f)
        f.handshake(65001, '10.48.1.1', hold_time=90,
                    caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001), rawbgp.cap_route_refresh()])
        pfx = [f'10.48.{i}.0' for i in range(1, LIMIT + 1)]
        listed = pfx[:3] + [pfx[2]] + pfx[3:]          # 6 NLRI entries, 5 prefixes
        f.send(ipv4_update(listed, '198.18.48.1', 65001) + rawbgp.update())

        # The shards get the routes only if the UPDATE was taken.
        p = wait_for(lambda: (lambda x: x if x and x['accepted']['total'] == LIMIT else None)(
            rib_peer(sock, 'f')), 10, f'{LIMIT} routes from f in the RIB')
        check(p['state'] == 'Established', f'f is still Established ({p["state"]})')
        check(p['received'] == LIMIT,
              f'show rib: f holds {LIMIT} routes, the repeated prefix once ({p["received"]})')
        check(p['accepted']['total'] == LIMIT, f'and {LIMIT} are in the RIB ({p["accepted"]})')
        info = peer_info(sock, 'f')
        check(info is not None and info['established'] == 1 and info['flaps'] == 0,
              f'show peer f: up once, no flap ({info and (info["established"], info["flaps"])})')

        # Held prefixes again, repeated: nothing new, still 5.
        f.send(ipv4_update([pfx[0], pfx[0], pfx[4]], '198.18.48.2', 65001))
        wait_for(lambda: (lambda x: x and x['updates_in'] >= 3)(peer_info(sock, 'f')), 10,
                 'routehubd to read the re-announcement')
        p = rib_peer(sock, 'f')
        check(p is not None and p['state'] == 'Established' and p['received'] == LIMIT,
              f're-announcing held prefixes twice keeps the count at {LIMIT} '
              f'({p and (p["state"], p["received"])})')

        # A sixth prefix, listed twice: over the limit by one.
        f.send(ipv4_update(['10.48.99.0', '10.48.99.0'], '198.18.48.1', 65001))
        n = f.recv_notification(timeout=10)
        nt = n.notification
        check((nt['code'], nt['subcode']) == (6, 1),
              f'a sixth prefix gets Cease / Maximum Number of Prefixes ({n!r})')
        check(nt['data'] == b'\x00\x01\x01' + struct.pack('!I', LIMIT),
              f'with AFI 1, SAFI 1 and the bound {LIMIT} (RFC 4486 §4) ({nt["data"].hex()})')
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
