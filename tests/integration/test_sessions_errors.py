#!/usr/bin/env python3
"""routehubd's session engine when things go wrong: each case must end as the RFC
says, checked on both sides (what the other end received, and routehubd's log
lines and `routehubctl --json show peers|status` counters).

One routehubd, and for each case its own peer address (a raw speaker from
lib/rawbgp.py, or a real daemon):

  hold-timer        a raw speaker completes OPEN/KEEPALIVE with hold time 3 and
                    goes silent: routehubd keeps sending KEEPALIVEs, then sends
                    NOTIFICATION 4/0 Hold Timer Expired and closes; last_error
                    "sent 4/0 ...", flaps 1. Not before 3 s: by routehubd's own log
                    stamps, its FSM's HoldTimer_Expires comes at least 3 s after
                    its OpenConfirm -> Established (our KEEPALIVE).
  collision-bird    routehubd (`passive: false`) and BIRD both connect. A relay on
                    BIRD's address holds routehubd's outgoing connection in OpenSent
                    until BIRD's own connection arrives, so the two always collide.
                    BIRD's router id is higher: routehubd logs "connection
                    collision", closes its own connection with Cease 6/7 (seen by the
                    relay), and exactly one session (BIRD's) is Established, once,
                    on both sides, with no flap.
  collision-raw-*   the same with raw speakers, both verdicts (RFC 4271 §6.8): a
                    higher remote id dumps routehubd's outgoing connection (in
                    OpenSent); a lower one dumps the new incoming one (the outgoing
                    one being in OpenConfirm), and the survivor becomes Established.
  bad-peer-as       FRR uses AS 65002 where routehubd expects 65001: routehubd sends
                    2/2 Bad Peer AS, FRR reports it, the session never comes up.
  md5               (if the kernel has TCP-MD5 on loopback) BIRD with a wrong key
                    does not come up, the kernel counts the dropped segments, and a
                    keyless connect from that address gets no answer; BIRD with the
                    right key comes up.
  unknown-source    (first) a connection from an address no peer matches is closed at once
                    without an OPEN, the `refused` counter of `show status` grows,
                    the log says so, and no peer appears.
  dynamic-range     BIRD and FRR from inside a `range:` entry (asn any, hold 15) come
                    up as dynamic neighbours with the entry's name, role and hold
                    time (they offer 30); `show peer RANGE` lists both; a BIRD just
                    outside the range is refused.
  open-*            malformed first messages from a raw speaker: version 3 -> 2/1
                    data 0x0004; hold time 1 and 2 -> 2/6; BGP id 0 -> 2/3; wrong
                    AS -> 2/2; an unsupported optional parameter -> 2/4; bad marker
                    -> 1/1; over-long (4119) and short (18) length -> 1/2 with the
                    length as data; unknown type 9 -> 1/3 with the type as data.
                    routehubd logs "sent NOTIFICATION c/s" and shows it in
                    last_error; the session never came up.
  open-recovers     after the version error the peer returns from Idle to Active and
                    the same address then completes a session.
  open-unknown-cap  an OPEN with an unknown capability (code 200) is accepted
                    (RFC 5492 §3: ignore it) and the session comes up.
  open-*-same-id    our own BGP identifier: from an iBGP peer 2/3, from an eBGP
                    peer accepted (RFC 6286 §2.2).
  notification-received  the peer sends Cease 6/4 with an RFC 8203 text:
                    routehubd logs code and text, last_error is "received 6/4
                    Administrative Reset: TEXT", flaps 1, it sends nothing back.
  peer-closes       the peer closes TCP: last_error "connection closed by peer".
  connect-refused   routehubd connects where nothing listens: last_error
                    "connect: Connection refused".
  refresh-borr-length  a BoRR with a 5-byte body -> 7/1, data = the message
                    (RFC 7313 §5).

Exit 0 passed, 1 failed, 77 skipped (routehubd not built). Daemon cases whose
daemon is missing are skipped by name. RH_KEEP_LAB=1 keeps the lab directory.
"""
import calendar
import json
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

import rawbgp as R  # noqa: E402
from bgpharness import (Bird, Frr, Routehubd, md5_failure_count,  # noqa: E402
                        tcp_md5_supported, wait_for)
from routecheck import lab_main  # noqa: E402

T = 30
RH_ASN = 65515
RH_ID = '10.1.255.4'
RAW_ASN = 65001
# Hold time of the raw sessions the test keeps open, without KEEPALIVEs of its
# own, while it looks at them through routehubctl: long enough that no stall of
# the test process ends them under it (their hold time is not what is checked).
RAW_HOLD = 90


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def _read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def log_time(line):
    """The time on a routehubd log line ("2026-01-31T12:00:00.123Z", UTC, cut to
    the millisecond by engine/log.c) in seconds since the epoch."""
    return calendar.timegm(time.strptime(line[:19], '%Y-%m-%dT%H:%M:%S')) + int(line[20:23]) / 1000


class Runner:
    """Runs named checks, reports each, goes on after a failure. Once BUDGET
    seconds have passed (a daemon that hangs makes every wait run to its bound),
    the remaining checks fail at once instead of waiting."""

    BUDGET = 150

    def __init__(self, lab):
        self.lab = lab
        self.t0 = time.monotonic()
        self.passed, self.failed, self.skipped = [], [], []

    def check(self, name, fn, *args):
        t = time.monotonic()
        if t - self.t0 > self.BUDGET:
            self.failed.append(name)
            self.lab.failed = True
            print(f'FAIL {name}: not run, the test is over its {self.BUDGET}s budget', flush=True)
            return False
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the run goes on
            self.failed.append(name)
            self.lab.failed = True
            print(f'FAIL {name}: {type(e).__name__}: {e}', flush=True)
            return False
        self.passed.append(name)
        print(f'PASS {name} ({time.monotonic() - t:.1f}s)', flush=True)
        return True

    def skip(self, name, why):
        self.skipped.append(name)
        print(f'SKIP {name}: {why}', flush=True)


def aligned_block(lab, prefix_len):
    """Consecutive lab addresses forming one aligned block of the given length:
    (network address, [all addresses of the block])."""
    size = 1 << (32 - prefix_len)
    for _ in range(64):
        a = lab.address()
        last = int(a.rsplit('.', 1)[1])
        if last % size:
            continue
        block = [a]
        base = a.rsplit('.', 1)[0]
        while len(block) < size:
            b = lab.address()
            if b != f'{base}.{last + len(block)}':
                break
            block.append(b)
        if len(block) == size:
            return a, block
    raise AssertionError(f'no free aligned /{prefix_len} of lab addresses')


class RouteHub(Routehubd):
    def peer(self, addr):
        return self._peer(addr)

    def status(self):
        return json.loads(self.routehubctl('--json', 'show', 'status').stdout)

    def log_lines(self, addr, needle):
        return [ln for ln in _read(self.logfile).splitlines() if f' {addr}: ' in ln and needle in ln]


def wait_sent(rh, addr, code, subcode):
    """routehubd's side of a NOTIFICATION it sent: its log line and last_error."""
    want = f'sent NOTIFICATION {code}/{subcode} '
    wait_for(lambda: rh.log_lines(addr, want), T, what=f'log line "{addr}: {want}"')
    p = wait_for(lambda: rh.peer(addr), T, what=f'peer {addr} in show peers')
    expect(p['last_error'].startswith(f'sent {code}/{subcode}'), f'{addr}: last_error {p["last_error"]!r}')
    return p


# ---------------------------------------------------------------------------------------
class Relay:
    """Holds routehubd's connection to a daemon's address (the daemon itself listens
    elsewhere) so that the daemon's own connection collides with it."""

    def __init__(self, address):
        self.listener = R.RawListener(address, 179)
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
        self.listener.close()


def main():
    return lab_main('errors', (), scenario, prefix='rh-sess-')


def scenario(lab, t0):
    run = Runner(lab)
    have_bird, have_frr = not Bird.missing(), not Frr.missing()
    md5_ok = tcp_md5_supported() and md5_failure_count() is not None
    # log_level debug: hold-timer reads the FSM's transition lines.
    rh = RouteHub(lab, 'rh', RH_ASN, RH_ID, lab.address(), log_level='debug')
    peer = {}  # case -> address

    def raw_peer(case, hold=RAW_HOLD, active=False):
        a = lab.address()
        rh.add_neighbor(a, RAW_ASN, passive=not active, hold_time=hold, name=case,
                        local_address=rh.address if active else None)
        peer[case] = a
        return a

    # -- raw cases ------------------------------------------------------------------------
    raw_peer('hold-timer')
    too_long = R.message(R.OPEN, R.open_msg(RAW_ASN, 9, '10.0.0.9')[19:] + b'\0' * 4072)  # 4117 > 4096
    open_cases = [
        # name, bytes, (code, subcode), expected data (None: not checked)
        ('open-version', R.open_msg(RAW_ASN, 9, '10.0.0.9', version=3), (2, 1), b'\x00\x04'),
        ('open-hold-1', R.open_msg(RAW_ASN, 1, '10.0.0.9'), (2, 6), None),
        ('open-hold-2', R.open_msg(RAW_ASN, 2, '10.0.0.9'), (2, 6), None),
        ('open-bgp-id-0', R.open_msg(RAW_ASN, 9, '0.0.0.0'), (2, 3), None),
        ('open-bad-peer-as', R.open_msg(RAW_ASN + 1, 9, '10.0.0.9'), (2, 2), None),
        ('open-opt-param', R.open_msg(RAW_ASN, 9, '10.0.0.9', opt_params=b'\x01\x02\x00\x00'), (2, 4), None),
        ('open-bad-marker', R.message(R.OPEN, R.open_msg(RAW_ASN, 9, '10.0.0.9')[19:],
                                      marker=b'\xff' * 15 + b'\xfe'), (1, 1), None),
        ('open-too-long', too_long, (1, 2), struct.pack('!H', len(too_long))),
        ('open-too-short', R.message(R.KEEPALIVE, b'', length=18), (1, 2), struct.pack('!H', 18)),
        ('open-bad-type', R.message(9, b''), (1, 3), b'\x09'),
    ]
    for case, *_ in open_cases:
        raw_peer(case)
    raw_peer('open-unknown-cap')
    raw_peer('open-ebgp-same-id')
    peer['open-ibgp-same-id'] = lab.address()
    rh.add_neighbor(peer['open-ibgp-same-id'], RH_ASN, passive=True, rr_client=True, hold_time=9,
                    name='open-ibgp-same-id')
    for case in ('notification-received', 'peer-closes', 'refresh-borr-length'):
        raw_peer(case)
    # Nothing listens there: routehubd's connects are refused.
    no_listener = lab.address()
    rh.add_neighbor(no_listener, RAW_ASN, passive=False, local_address=rh.address, hold_time=9,
                    name='connect-refused')
    for case in ('collision-raw-remote-wins', 'collision-raw-local-wins'):
        raw_peer(case, active=True)
    raw_listeners = {case: R.RawListener(peer[case], 179)
                     for case in ('collision-raw-remote-wins', 'collision-raw-local-wins')}
    unknown_src = lab.address()

    # -- daemon cases ---------------------------------------------------------------------
    relay = coll_bird = badas = None
    md5_bad = md5_good = None
    dyn = []
    outside = None
    if have_bird:
        # BIRD listens on 1179: port 179 of its address is the relay's.
        coll_addr = lab.address()
        relay = Relay(coll_addr)
        rh.add_neighbor(coll_addr, 65401, passive=False, local_address=rh.address, hold_time=9,
                        name='collision-bird')
        peer['collision-bird'] = coll_addr
    if have_frr:
        badas = Frr(lab, 'frr_badas', 65002, '10.0.5.2', lab.address())
        rh.add_neighbor(badas.address, 65001, passive=True, hold_time=9, name='bad-peer-as')
        badas.add_neighbor(rh.address, RH_ASN, hold_time=9)
    if have_bird and md5_ok:
        md5_bad = Bird(lab, 'bird_md5_bad', 65411, '10.0.6.1', lab.address())
        md5_good = Bird(lab, 'bird_md5_good', 65412, '10.0.6.2', lab.address())
        rh.add_neighbor(md5_bad.address, md5_bad.asn, passive=True, hold_time=9, password='rh-md5-key-one',
                        name='md5-wrong')
        md5_bad.add_neighbor(rh.address, RH_ASN, hold_time=9, password='not-the-key')
        rh.add_neighbor(md5_good.address, md5_good.asn, passive=True, hold_time=9, password='rh-md5-key-two',
                        name='md5-right')
        md5_good.add_neighbor(rh.address, RH_ASN, hold_time=9, password='rh-md5-key-two')
    net, block = aligned_block(lab, 30)
    rh.add_range(f'{net}/30', asn='any', role='nva', name='dyn', hold_time=15, keepalive=5)
    if have_bird and have_frr:
        dyn = [Bird(lab, 'bird_dyn', 65301, '10.0.7.1', block[1]), Frr(lab, 'frr_dyn', 65302, '10.0.7.2', block[2])]
        outside = Bird(lab, 'bird_outside', 65303, '10.0.7.3', lab.address())
        for d in dyn + [outside]:
            d.add_neighbor(rh.address, RH_ASN, hold_time=30)

    lab.start_all()
    print(f'started {len(lab.daemons)} daemons in {time.monotonic() - t0:.1f}s', flush=True)
    if have_bird:
        # routehubd connected to the relay at start; its OPEN is there, unanswered.
        relay.conn = relay.listener.accept(T)
        relay.conn.recv_msg(T)
        coll_bird = Bird(lab, 'bird_coll', 65401, '10.200.0.1', coll_addr, port=1179)
        coll_bird.add_neighbor(rh.address, RH_ASN, hold_time=9)
        coll_bird.start()

    # ---- unknown source -------------------------------------------------------------------
    def unknown_source():
        before = rh.status()['connections']['refused']
        with R.RawSpeaker.connect(rh.address, source=unknown_src, timeout=T) as s:
            s.send(R.open_msg(RAW_ASN, 9, '10.0.0.11'))
            got = s.wait_closed(T)
        expect(got == [], f'an unknown source got {got} before the close (want nothing)')
        wait_for(lambda: rh.status()['connections']['refused'] > before, T, what='refused counter to grow')
        # The log line is rate limited (the first 10 refusals, then every 1000th):
        # this check runs first, before the outside BIRD's retries use them up.
        if before < 9:
            expect(re.search(rf'connection from {re.escape(unknown_src)} refused', _read(rh.logfile)),
                   f'no "connection from {unknown_src} refused" log line')
        expect(rh.peer(unknown_src) is None, 'a peer entry appeared for the unknown source')
        r = rh.routehubctl('--json', 'show', 'peer', unknown_src, check=False)
        expect(r.returncode == 1, f'show peer {unknown_src}: exit {r.returncode}')
    run.check('unknown-source', unknown_source)

    # ---- hold timer ---------------------------------------------------------------------
    def hold_timer():
        # The timer must not expire early. The test cannot time that itself: its
        # clock would start when it gets the CPU back after the handshake, which on
        # a loaded machine can be well after routehubd armed the timer (a ">= 2.5 s"
        # measured here failed once in a full-suite run), and a look at the session
        # through routehubctl would have to fit in its 3 s of life. routehubd
        # reports both ends itself, in one thread: it logs "OpenConfirm -> Established
        # (KeepAliveMsg)" just before it arms the hold timer for that KEEPALIVE
        # (bconn_event_out, then run_actions), and "Established -> Idle
        # (HoldTimer_Expires)" only once the timer's deadline has passed (io/timer.c
        # runs no timer early). A slow daemon only widens the gap.
        a = peer['hold-timer']
        hold = 3
        before = time.time()
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.10', hold_time=hold, timeout=T)
            # silent from here on
            m = s.recv_notification(timeout=T)
            after = time.time()
            n = m.notification
            expect((n['code'], n['subcode']) == (4, 0), f'got {n["name"]}, want Hold Timer Expired')
            kinds = [x.type for x in s.received[2:-1]]
            expect('KEEPALIVE' in kinds, f'routehubd sent no KEEPALIVE while waiting: {kinds}')
            s.wait_closed(T)
        p = wait_sent(rh, a, 4, 0)
        p = wait_for(lambda: (lambda q: q if q['flaps'] == 1 else None)(rh.peer(a)), T, what='flaps == 1')
        expect(p['state'] != 'Established' and p['established'] == 1, f'{p}')
        up = rh.log_lines(a, f'{a}: Established (AS {RAW_ASN},')
        expect(len(up) == 1 and f' hold {hold}s' in up[0],
               f'Established log lines {up}: want one, with hold {hold}s (we offered {hold}, routehubd {RAW_HOLD})')
        start = rh.log_lines(a, 'OpenConfirm -> Established (KeepAliveMsg)')
        end = rh.log_lines(a, 'Established -> Idle (HoldTimer_Expires)')
        expect(len(start) == 1 and len(end) == 1, f'FSM log lines: {start + end}, want one of each')
        t_up, t_exp = log_time(start[0]), log_time(end[0])
        # The stamps are of this session (same clock as time.time(); a stamp is cut
        # to the millisecond, so it may read up to 1 ms early).
        expect(before - 0.001 <= t_up <= t_exp <= after,
               f'log stamps {start[0][:24]} / {end[0][:24]} not within the test\'s '
               f'{before:.3f}..{after:.3f}')
        # Both stamps cut to the millisecond: the gap reads at most 1 ms short.
        expect(t_exp - t_up >= hold - 0.002,
               f'HoldTimer_Expires {t_exp - t_up:.3f}s after the KEEPALIVE that armed it (hold {hold})')
    run.check('hold-timer', hold_timer)

    # ---- collisions ---------------------------------------------------------------------
    def collision_bird():
        a = peer['collision-bird']
        # BIRD's id (10.200.0.1) is higher: routehubd drops its own connection.
        m = relay.conn.recv_notification(T)
        expect((m.notification['code'], m.notification['subcode']) == (6, 7),
               f'relay (routehubd\'s own connection) got {m!r}, want Cease 6/7')
        relay.conn.wait_closed(T)
        coll_bird.wait_established(rh.address, T)
        rh.wait_established(a, T)
        lines = rh.log_lines(a, 'connection collision')
        expect(len(lines) == 1 and 'closing the outbound connection' in lines[0], f'collision log lines: {lines}')
        expect(rh.log_lines(a, 'sent NOTIFICATION 6/7'), 'no "sent NOTIFICATION 6/7" log line')
        p = rh.peer(a)
        expect(p['state'] == 'Established' and p['established'] == 1 and p['flaps'] == 0, f'{p}')
        blog = _read(coll_bird.logfile)
        expect(blog.count('BGP session established') == 1, 'BIRD saw its session come up more than once')
        expect('Received:' not in blog and 'Error:' not in blog,
               f'BIRD saw an error: {[ln for ln in blog.splitlines() if "Received:" in ln or "Error:" in ln]}')
        # The one survivor stays: still Established once at both ends after a moment
        # in which a second connection would have been noticed.
        wait_for(lambda: rh.peer(a)['msgs_in'] >= p['msgs_in'] + 1, T, what='a KEEPALIVE on the survivor')
        p2 = rh.peer(a)
        expect(p2['established'] == 1 and p2['flaps'] == 0 and coll_bird.neighbor_state(rh.address) == 'Established',
               f'{p2}')
    if have_bird:
        run.check('collision-bird', collision_bird)
    else:
        run.skip('collision-bird', 'BIRD not installed')

    def collision_raw_remote_wins():
        case = 'collision-raw-remote-wins'
        a = peer[case]
        out = raw_listeners[case].accept(T)          # routehubd's outgoing connection
        expect(out.recv_msg(T).code == R.OPEN, 'no OPEN on the outgoing connection')
        with out, R.RawSpeaker.connect(rh.address, source=a, timeout=T) as inc:
            inc.send(R.open_msg(RAW_ASN, RAW_HOLD, '10.200.0.2'))   # higher than 10.1.255.4
            n = out.recv_notification(T).notification
            expect((n['code'], n['subcode']) == (6, 7), f'outgoing connection got {n["name"]}, want 6/7')
            out.wait_closed(T)
            expect(inc.recv_msg(T).code == R.OPEN, 'no OPEN on the incoming connection')
            inc.send(R.keepalive())
            inc.recv_until(lambda m: m.code == R.KEEPALIVE, T)
            rh.wait_established(a, T)
            lines = rh.log_lines(a, 'connection collision')
            expect(len(lines) == 1 and 'closing the outbound connection' in lines[0], f'log: {lines}')
            p = rh.peer(a)
            expect(p['established'] == 1 and p['flaps'] == 0, f'{p}')
            expect(not [m for m in inc.received if m.code == R.NOTIFICATION], f'survivor got {inc.received}')

    def collision_raw_local_wins():
        case = 'collision-raw-local-wins'
        a = peer[case]
        out = raw_listeners[case].accept(T)
        with out:
            expect(out.recv_msg(T).code == R.OPEN, 'no OPEN on the outgoing connection')
            out.send(R.open_msg(RAW_ASN, RAW_HOLD, '10.0.0.2'))      # lower than 10.1.255.4
            out.recv_until(lambda m: m.code == R.KEEPALIVE, T)   # routehubd: OpenConfirm
            with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as inc:
                inc.send(R.open_msg(RAW_ASN, RAW_HOLD, '10.0.0.2'))
                n = inc.recv_notification(T).notification
                expect((n['code'], n['subcode']) == (6, 7), f'incoming connection got {n["name"]}, want 6/7')
                inc.wait_closed(T)
            out.send(R.keepalive())
            rh.wait_established(a, T)
            lines = rh.log_lines(a, 'connection collision')
            expect(len(lines) == 1 and 'closing the inbound connection' in lines[0], f'log: {lines}')
            p = rh.peer(a)
            expect(p['established'] == 1 and p['flaps'] == 0, f'{p}')
            # The survivor works: routehubd's End-of-RIB or KEEPALIVE arrives on it.
            out.recv_until(lambda m: m.code in (R.UPDATE, R.KEEPALIVE), T)
            expect(not [m for m in out.received if m.code == R.NOTIFICATION], f'survivor got {out.received}')
    run.check('collision-raw-remote-wins', collision_raw_remote_wins)
    run.check('collision-raw-local-wins', collision_raw_local_wins)

    # ---- bad peer AS (FRR) ----------------------------------------------------------------
    def bad_peer_as():
        a = badas.address
        wait_sent(rh, a, 2, 2)
        ln = wait_for(lambda: badas.last_notification(rh.address), T, what='FRR: last notification')
        expect('Bad Peer AS' in ln, f'FRR reports {ln!r}')
        p = rh.peer(a)
        expect(p['established'] == 0 and p['state'] != 'Established', f'{p}')
        expect(badas.neighbor_state(rh.address) != 'Established', 'FRR says Established')
    if badas:
        run.check('bad-peer-as', bad_peer_as)
    else:
        run.skip('bad-peer-as', 'FRR not installed')

    # ---- TCP-MD5 ----------------------------------------------------------------------------
    def md5():
        base = md5_failure_count()
        md5_good.wait_established(rh.address, T)
        rh.wait_established(md5_good.address, T)
        wait_for(lambda: md5_failure_count() > base, T, what='the kernel to drop segments with a bad key')
        # Keyless: the SYN is dropped, so the connect gets no answer at all.
        try:
            s = R.RawSpeaker.connect(rh.address, source=md5_bad.address, timeout=2)
        except (socket.timeout, TimeoutError):
            pass
        else:
            s.close()
            raise AssertionError('a keyless connection to an MD5 peer was accepted')
        p = rh.peer(md5_bad.address)
        expect(p['state'] != 'Established' and p['established'] == 0 and p['msgs_in'] == 0, f'{p}')
        expect(md5_bad.neighbor_state(rh.address) != 'Established', 'BIRD with the wrong key is Established')
    if md5_bad:
        run.check('md5', md5)
    else:
        run.skip('md5', 'BIRD not installed' if not have_bird else 'kernel without TCP-MD5 on loopback')

    # ---- dynamic neighbours ---------------------------------------------------------------
    def dynamic_range():
        for d in dyn:
            d.wait_established(rh.address, T)
            rh.wait_established(d.address, T)
        mine = [p for p in rh.peers() if p['name'] == 'dyn']
        expect(sorted(p['address'] for p in mine) == sorted(d.address for d in dyn), f'dyn peers: {mine}')
        for d in dyn:
            p = rh.peer(d.address)
            expect(p['dynamic'] is True and p['role'] == 'nva' and p['ibgp'] is False, f'{d.name}: {p}')
            expect(p['asn'] == 0 and p['peer_asn'] == d.asn, f'{d.name}: asn {p["asn"]}, peer_asn {p["peer_asn"]}')
            expect(p['hold_time'] == 15, f'{d.name}: hold time {p["hold_time"]}, want 15 (the range\'s; it offers 30)')
        listed = json.loads(rh.routehubctl('--json', 'show', 'peer', 'dyn').stdout)
        expect(isinstance(listed, list) and sorted(p['address'] for p in listed) == sorted(d.address for d in dyn),
               f'show peer dyn: {listed}')
        st = rh.status()
        expect(st['peers']['established'] >= 2, f'status: {st["peers"]}')
        wait_for(lambda: re.search(rf'connection from {re.escape(outside.address)} refused', _read(rh.logfile)),
                 T, what=f'"connection from {outside.address} refused" log line')
        expect(rh.peer(outside.address) is None, 'the outside BIRD got a peer entry')
        expect(outside.neighbor_state(rh.address) != 'Established', 'the outside BIRD is Established')
    if dyn:
        run.check('dynamic-range', dynamic_range)
    else:
        run.skip('dynamic-range', 'BIRD or FRR not installed')

    # ---- malformed first messages ---------------------------------------------------------
    def bad_open(case, data, code_sub, want_data):
        a = peer[case]
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.send(data)
            n = s.recv_notification(T).notification
            expect((n['code'], n['subcode']) == code_sub,
                   f'got {n["code"]}/{n["subcode"]} {n["name"]}, want {code_sub[0]}/{code_sub[1]}')
            if want_data is not None:
                expect(n['data'] == want_data, f'data {n["data"].hex()}, want {want_data.hex()}')
            s.wait_closed(T)
            expect(s.received[-1].code == R.NOTIFICATION, f'messages after the NOTIFICATION: {s.received}')
        p = wait_sent(rh, a, *code_sub)
        expect(p['established'] == 0 and p['state'] != 'Established', f'{p}')
    for case, data, code_sub, want_data in open_cases:
        run.check(case, bad_open, case, data, code_sub, want_data)

    def recovers():
        a = peer['open-version']
        wait_for(lambda: rh.peer(a)['state'] == 'Active', T, what='the peer back in Active after its error')
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.12', hold_time=RAW_HOLD, timeout=T)
            rh.wait_established(a, T)
        p = rh.peer(a)
        expect(p['established'] == 1, f'{p}')
    run.check('open-recovers', recovers)

    def unknown_cap():
        a = peer['open-unknown-cap']
        caps = [R.cap_mp(1, 1), R.cap_as4(RAW_ASN), R.cap(200, b'\x01\x02\x03')]
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.13', hold_time=RAW_HOLD, caps=caps, timeout=T)
            rh.wait_established(a, T)
            p = rh.peer(a)
            expect(p['capabilities'] == ['as4'], f'capabilities {p["capabilities"]}')
    run.check('open-unknown-cap', unknown_cap)

    def same_id(case, ibgp):
        # RFC 6286 §2.2: the local BGP Identifier from an internal peer is a Bad
        # BGP Identifier; from an external peer it is allowed.
        a = peer[case]
        asn = RH_ASN if ibgp else RAW_ASN
        caps = [R.cap_mp(1, 1), R.cap_as4(asn)]
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            if ibgp:
                s.send(R.open_msg(asn, 9, RH_ID, caps=caps))
                n = s.recv_notification(T).notification
                expect((n['code'], n['subcode']) == (2, 3), f'iBGP peer with our id got {n["name"]}, want 2/3')
                wait_sent(rh, a, 2, 3)
            else:
                s.handshake(asn, RH_ID, hold_time=RAW_HOLD, caps=caps, timeout=T)
                rh.wait_established(a, T)
                expect(rh.peer(a)['peer_id'] == RH_ID, f'{rh.peer(a)}')
    run.check('open-ibgp-same-id', same_id, 'open-ibgp-same-id', True)
    run.check('open-ebgp-same-id', same_id, 'open-ebgp-same-id', False)

    def notification_received():
        # The peer ends the session with Cease / Administrative Reset and an RFC 8203
        # text: routehubd logs both and keeps them in last_error.
        a = peer['notification-received']
        text = 'maintenance by the test'
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.14', hold_time=RAW_HOLD, timeout=T)
            rh.wait_established(a, T)
            s.send(R.notification(6, 4, bytes([len(text)]) + text.encode()))
            got = s.wait_closed(T)
            expect(not [m for m in got if m.code == R.NOTIFICATION], f'routehubd answered {got}')
        p = wait_for(lambda: (lambda q: q if q['flaps'] == 1 else None)(rh.peer(a)), T, what='flaps == 1')
        want = f'received 6/4 Administrative Reset: {text}'
        expect(p['last_error'] == want, f'last_error {p["last_error"]!r}, want {want!r}')
        expect(rh.log_lines(a, f'received NOTIFICATION 6/4 (Administrative Reset) "{text}"'),
               'no "received NOTIFICATION 6/4 ... text" log line')
        expect(rh.log_lines(a, f'session down: {want}'), f'no "session down: {want}" log line')
    run.check('notification-received', notification_received)

    def peer_closes():
        a = peer['peer-closes']
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.15', hold_time=RAW_HOLD, timeout=T)
            rh.wait_established(a, T)
            s.sock.shutdown(socket.SHUT_WR)
            s.wait_closed(T)
        p = wait_for(lambda: (lambda q: q if q['flaps'] == 1 else None)(rh.peer(a)), T, what='flaps == 1')
        expect(p['last_error'] == 'connection closed by peer', f'last_error {p["last_error"]!r}')
    run.check('peer-closes', peer_closes)

    def connect_refused():
        p = wait_for(lambda: (lambda q: q if q['last_error'] else None)(rh.peer(no_listener)), T,
                     what='a failed connect')
        expect(p['last_error'] == 'connect: Connection refused', f'last_error {p["last_error"]!r}')
        expect(p['state'] in ('Idle', 'Connect', 'Active') and p['established'] == 0, f'{p}')
    run.check('connect-refused', connect_refused)

    def refresh_borr_length():
        # RFC 7313 §5: a BoRR/EoRR whose body is not 4 bytes is answered with
        # ROUTE-REFRESH Message Error / Invalid Message Length, data = the message.
        a = peer['refresh-borr-length']
        caps = [R.cap_mp(1, 1), R.cap_as4(RAW_ASN), R.cap_route_refresh(), R.cap_enhanced_route_refresh()]
        bad = R.message(R.ROUTE_REFRESH, b'\x00\x01\x01\x01\x00')   # BoRR + one byte
        with R.RawSpeaker.connect(rh.address, source=a, timeout=T) as s:
            s.handshake(RAW_ASN, '10.0.0.16', hold_time=RAW_HOLD, caps=caps, timeout=T)
            s.send(bad)
            n = s.recv_notification(T).notification
            expect((n['code'], n['subcode']) == (7, 1), f'got {n["code"]}/{n["subcode"]}, want 7/1')
            expect(n['data'] == bad, f'data {n["data"].hex()}, want the message {bad.hex()}')
        wait_sent(rh, a, 7, 1)
    run.check('refresh-borr-length', refresh_borr_length)

    for lst in raw_listeners.values():
        lst.close()
    if relay:
        relay.close()
    print(f'total {time.monotonic() - t0:.1f}s')
    line = f'{len(run.passed)} passed, {len(run.failed)} failed'
    if run.skipped:
        line += f', {len(run.skipped)} skipped'
    print(line)
    return 1 if run.failed else 0


if __name__ == '__main__':
    sys.exit(main())
