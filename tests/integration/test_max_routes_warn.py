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
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import Table, check, drain, ipv4_update, pfx, read_until, wait_for, withdraw  # noqa: E402,E501

LIMIT = 3


def announce(prefixes, asn=65001):
    return ipv4_update(prefixes, '198.18.50.1', asn)


def peers(h, limit=LIMIT):
    return f'''  - {{name: f, address: {h.addr(11)}, asn: 65001, passive: true, max_routes: {limit},
     max_routes_action: warn, transparent: true}}
  - {{name: r, address: {h.addr(21)}, asn: 65002, passive: true, transparent: true}}
'''


def body(h):
    f_addr = h.addr(11)
    marker = f'peer f {f_addr}: over its route limit'

    def warnings():
        return sum(1 for line in h.log_text().splitlines() if marker in line)

    r = h.connect(h.addr(21), 65002, '10.50.2.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65002)])
    f = h.connect(f_addr, 65001, '10.50.1.1', caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65001)])

    five = [f'10.50.{i}.0' for i in range(1, 6)]
    f.send(announce(five[0:2]) + announce(five[2:4]) + announce(five[4:5]) +
           rawbgp.update())
    rt = Table()
    want = {pfx(p) for p in five}
    read_until(r, lambda: want <= rt.routes, 20, table=rt)
    check(rt.routes == want,
          f'r gets all 5 prefixes, 2 over the limit ({len(rt.routes)})')

    info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 5 else None)(
        h.peer_info('f')), 20, 'show peer f: 5 routes received')
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
    rinfo = h.peer_info('r')
    check(rinfo is not None and rinfo['max_routes_exceeded'] is False and
          rinfo['routes_received'] == 0,
          f'show peer r: nothing received, not exceeded '
          f'({rinfo and (rinfo["routes_received"], rinfo["max_routes_exceeded"])})')

    # Back within the limit (2 held), then over it again (4): a second
    # warning, only now.
    f.send(withdraw(five[2:5]))
    info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 2 else None)(
        h.peer_info('f')), 20, 'show peer f: 2 routes received')
    check(info['max_routes_exceeded'] is False,
          f'2 held: max_routes_exceeded false ({info["max_routes_exceeded"]})')
    check(warnings() == 1, f'going back within the limit is no warning ({warnings()})')
    f.send(announce(five[2:4]))
    info = wait_for(lambda: (lambda x: x if x and x.get('routes_received') == 4 else None)(
        h.peer_info('f')), 20, 'show peer f: 4 routes received')
    check(info['max_routes_exceeded'] is True and info['state'] == 'Established',
          f'4 held: over again, still Established '
          f'({info["max_routes_exceeded"]}, {info["state"]})')
    check(warnings() == 2, f'crossing the limit again warns again ({warnings()})')
    want = {pfx(p) for p in five[0:4]}
    read_until(r, lambda: rt.routes == want, 20, table=rt)
    check(rt.routes == want, f'r holds the 4 prefixes ({len(rt.routes)})')

    # A reload raising the limit (a live change): within it, no flap.
    h.write_conf(peers(h, 10))
    rl = h.ctl('reload')
    check(rl.returncode == 0, f'reload with max_routes 10 ({rl.stderr.strip()})')
    info = wait_for(lambda: (lambda x: x if x and x.get('max_routes') == 10 else None)(
        h.peer_info('f')), 20, 'show peer f: max_routes 10')
    check(info['max_routes_exceeded'] is False and info['routes_received'] == 4 and
          info['flaps'] == 0,
          f'max_routes 10: 4 held, not exceeded, no flap '
          f'({info["routes_received"]}, {info["max_routes_exceeded"]}, {info["flaps"]})')
    check(warnings() == 2, f'no warning from the reload ({warnings()})')
    check(h.running(), 'routehubd still running')


if __name__ == '__main__':
    sys.exit(rhtest.run(50, 'rh-maxrwarn-', peers, body))
