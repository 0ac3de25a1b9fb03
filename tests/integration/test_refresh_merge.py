#!/usr/bin/env python3
"""Route refresh requests merged into one re-advertisement keep BoRR and EoRR
paired (RFC 7313 §4).

A raw feeder announces NPFX /24s; a raw spoke `s` with enhanced route refresh
takes the table and End-of-RIB, then sends three ROUTE-REFRESH (IPv4 unicast)
in one write. routehubd merges table dumps asked for while one is under way;
per family a BoRR opens a re-advertisement and an EoRR closes it, so `s` must
see them in pairs:

  - as many BoRR as EoRR, at least one, strictly alternating (BoRR, EoRR,
    BoRR, EoRR...): no BoRR for a request merged into a re-advertisement
    already begun, no EoRR without its BoRR;
  - every one of the NPFX prefixes re-sent between each BoRR and its EoRR,
    and nothing else of the re-advertisement after it;
  - a fourth request afterwards gets exactly one more pair: nothing of the
    first three was left pending.

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
NPFX = 5000
FAILS = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        FAILS.append(what)


def prefixes():
    return [bytes([24, 10 + (i >> 16), (i >> 8) & 255, i & 255]) for i in range(NPFX)]


def updates(asn=65001):
    """The whole table packed into 4096-byte UPDATEs."""
    attrs = bytes([0x40, 1, 1, 0])
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack('!I', asn)
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton('198.18.49.1')
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


def walk(buf):
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


def rr_subtype(m):
    """1 BoRR, 2 EoRR, 0 a request; None when m is no ROUTE-REFRESH."""
    return m.body[2] if m.code == rawbgp.ROUTE_REFRESH else None


def is_eor(m):
    return m.code == rawbgp.UPDATE and len(m.body) == 4


def ctl(sock, *args):
    return subprocess.run([os.path.join(BIN, 'routehubctl'), '-s', sock] + list(args),
                          capture_output=True, text=True, timeout=20)


def refresh_in(sock, name):
    r = ctl(sock, '--json', 'show', 'peer', name)
    return json.loads(r.stdout).get('refresh_in', 0) if r.returncode == 0 else 0


def rib_total(sock):
    r = ctl(sock, '--json', 'show', 'rib')
    if r.returncode != 0:
        return None
    return json.loads(r.stdout or '{}').get('prefixes', {}).get('total')


def drain(sp, budget=0.05):
    """Read whatever arrives within `budget` (kept in sp.received)."""
    try:
        while True:
            sp.recv_msg(timeout=budget)
    except TimeoutError:
        pass


def read_until(sp, cond, timeout):
    """Read until cond() holds (checked after every message); bounded."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            sp.recv_msg(timeout=min(left, 1.0))
        except TimeoutError:
            pass
    return True


def frames(msgs):
    """The RFC 7313 frames in msgs: (sequence of 'B'/'E', [prefixes announced
    between each BoRR and its EoRR], problems)."""
    seq, wins, bad = [], [], []
    cur = None
    for m in msgs:
        st = rr_subtype(m)
        if st == 1:
            seq.append('B')
            if cur is not None:
                bad.append('BoRR inside a re-advertisement')
            cur = set()
        elif st == 2:
            seq.append('E')
            if cur is None:
                bad.append('EoRR without BoRR')
            else:
                wins.append(cur)
            cur = None
        elif m.code == rawbgp.UPDATE and cur is not None:
            cur |= nlri_of(m)[0]
    if cur is not None:
        bad.append('a re-advertisement without EoRR')
    return seq, wins, bad


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
    net = pick_net(49)
    rs, feeder_addr, s_addr = net + '.1', net + '.11', net + '.21'
    tmp = tempfile.mkdtemp(prefix='rh-rrmerge-')
    sock = os.path.join(tmp, 'api.sock')
    conf = os.path.join(tmp, 'rh.yaml')
    logpath = os.path.join(tmp, 'routehubd.log')
    with open(conf, 'w') as f:
        f.write(f'''local:
  asn: 65515
  router_id: 10.49.0.1
  listen: ["{rs}:{PORT}"]
  api: {{socket: {sock}}}
peers:
  - {{name: feeder, address: {feeder_addr}, asn: 65001, passive: true, max_routes: 0,
     transparent: true}}
  - {{name: s, address: {s_addr}, asn: 65002, passive: true, transparent: true}}
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

        feeder = rawbgp.RawSpeaker.connect(rs, PORT, source=feeder_addr)
        speakers.append(feeder)
        feeder.handshake(65001, '10.49.1.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])
        feeder.send(b''.join(updates()) + rawbgp.update())

        # The feeder's table is in the RIB before s comes.
        deadline = time.monotonic() + 30
        while rib_total(sock) != NPFX:
            if time.monotonic() > deadline:
                raise RuntimeError(f'the RIB never held the {NPFX} prefixes')
            drain(feeder)
        all_pfx = set(prefixes())
        caps = [rawbgp.cap_mp(), rawbgp.cap_as4(65002), rawbgp.cap_route_refresh(),
                rawbgp.cap_enhanced_route_refresh()]
        s = rawbgp.RawSpeaker.connect(rs, PORT, source=s_addr)
        speakers.append(s)
        s.handshake(65002, '10.49.2.1', caps=caps)
        s.recv_until(is_eor, timeout=20)
        got = set().union(*(nlri_of(m)[0] for m in s.received if m.code == rawbgp.UPDATE))
        check(got == all_pfx, f's has the table ({len(got)} of {NPFX} prefixes) and End-of-RIB')

        # Three requests in one write.
        start = len(s.received)
        s.send(rawbgp.route_refresh(1, 1, 0) * 3)
        deadline = time.monotonic() + 20
        while refresh_in(sock, 's') < 3 and time.monotonic() < deadline:
            drain(s)
        check(refresh_in(sock, 's') == 3, 'routehubd read the three requests')

        def paired():
            seq, _w, _b = frames(s.received[start:])
            return seq and seq.count('B') == seq.count('E')
        read_until(s, paired, 20)
        seq, wins, bad = frames(s.received[start:])
        nb, ne = seq.count('B'), seq.count('E')
        check(nb >= 1 and nb == ne, f'three requests: {nb} BoRR, {ne} EoRR ({"".join(seq)})')
        check(not bad, f'BoRR and EoRR alternate ({bad or "".join(seq)})')
        check(wins and all(w == all_pfx for w in wins),
              f'all {NPFX} prefixes re-sent between each BoRR and its EoRR '
              f'({[len(w) for w in wins]})')

        # One more request: exactly one more pair, nothing left over.
        mid = len(s.received)
        s.send(rawbgp.route_refresh(1, 1, 0))
        read_until(s, lambda: any(rr_subtype(m) == 2 for m in s.received[mid:]), 20)
        seq2, wins2, bad2 = frames(s.received[mid:])
        check(seq2 == ['B', 'E'] and not bad2,
              f'a fourth request: one BoRR, one EoRR ({"".join(seq2)}, {bad2})')
        check(wins2 and wins2[0] == all_pfx, f'with the {NPFX} prefixes between them')
        check(d.poll() is None and not any(m.code == rawbgp.NOTIFICATION for m in s.received),
              'no NOTIFICATION, routehubd still running')
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
