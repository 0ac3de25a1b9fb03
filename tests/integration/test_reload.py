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
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import check, drain, ipv4_update, poll  # noqa: E402


def peers(h, changed_hold=90, with_gone=True):
    out = [
        f'  - {{name: stays, address: {h.addr(11)}, asn: 65001, passive: true}}',
        f'  - {{name: changed, address: {h.addr(12)}, asn: 65002, passive: true, '
        f'hold_time: {changed_hold}}}',
    ]
    if with_gone:
        out.append(f'  - {{name: gone, address: {h.addr(13)}, asn: 65003, passive: true}}')
    return '\n'.join(out) + '\n'


def body(h):
    def peer_table():
        r = h.ctl('--json', 'show', 'peers')
        return {p['name']: p for p in json.loads(r.stdout)} if r.returncode == 0 else {}

    def route_count(name):
        r = h.ctl('--json', 'show', 'routes', 'peer', name)
        if r.returncode != 0:
            return -1
        return len(json.loads(r.stdout).get('routes', []))

    def prefix_paths(prefix):
        r = h.ctl('--json', 'show', 'routes', prefix)
        if r.returncode != 0:
            return -1
        return sum(len(x.get('paths', [])) for x in json.loads(r.stdout).get('routes', []))

    def wait(pred):
        return poll(pred, bool, 20)

    speakers = {}
    for name, host, asn, pfx in (('stays', 11, 65001, '10.71.0.0'),
                                 ('changed', 12, 65002, '10.72.0.0'),
                                 ('gone', 13, 65003, '10.73.0.0')):
        s = h.connect(h.addr(host), asn, f'10.45.1.{host}',
                      caps=[rawbgp.cap_mp(), rawbgp.cap_as4(asn)])
        s.send(ipv4_update([pfx], f'198.18.45.{host}', asn))
        speakers[name] = s
    check(wait(lambda: all(route_count(n) == 1 for n in speakers)),
          'each peer has its route in the RIB')
    before = peer_table()['stays']

    # a broken file: refused, nothing changes
    h.write_conf(peers(h) + '  - {name: bad, address: 999.1.1.1}\n')
    r = h.ctl('reload')
    check(r.returncode == 1 and 'rh.yaml:' in r.stderr,
          f'a broken file is refused with FILE:LINE ({r.stderr.strip()[:80]})')
    check(all(p['state'] == 'Established' for p in peer_table().values()),
          'every session stays after the refused reload')

    # the real change, by SIGHUP
    h.write_conf(peers(h, changed_hold=30, with_gone=False))
    h.proc.send_signal(signal.SIGHUP)

    n = speakers['gone'].recv_notification(timeout=10)
    check((n.notification['code'], n.notification['subcode']) == (6, 3),
          f'removed peer got Cease/Peer De-configured ({n!r})')
    n = speakers['changed'].recv_notification(timeout=10)
    check((n.notification['code'], n.notification['subcode']) == (6, 6),
          f'changed peer got Cease/Other Configuration Change ({n!r})')
    check(prefix_paths('10.71.0.0/24') == 1, 'show routes finds a held prefix')
    check(wait(lambda: prefix_paths('10.73.0.0/24') == 0),
          'the removed peer\'s route left the RIB')

    # the changed peer comes back with the new hold time
    s = h.add(rawbgp.RawSpeaker.connect(h.rs, rhtest.PORT, source=h.addr(12)))
    m = s.handshake(65002, '10.45.1.12', hold_time=90,
                    caps=[rawbgp.cap_mp(), rawbgp.cap_as4(65002)])
    check(m.open['hold_time'] == 30, f'changed peer now offered hold 30 ({m.open["hold_time"]})')

    # the untouched one saw nothing and kept its route
    drain(speakers['stays'], budget=0.5)
    check(not any(m.code == rawbgp.NOTIFICATION for m in speakers['stays'].received),
          'the untouched peer received no NOTIFICATION')
    after = peer_table().get('stays', {})
    check(after.get('state') == 'Established' and after.get('flaps') == before.get('flaps')
          and after.get('established') == before.get('established'),
          'the untouched session stayed up (same established/flap counts)')
    check(route_count('stays') == 1, 'and kept its route')


if __name__ == '__main__':
    sys.exit(rhtest.run(45, 'rh-reload-', peers, body))
