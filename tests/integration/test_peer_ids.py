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
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import rawbgp  # noqa: E402
import rhtest  # noqa: E402
from rhtest import check, ipv4_update, is_eor, nlri_of  # noqa: E402


def announced(m):
    """The IPv4 prefixes an UPDATE announces, as 'a.b.c.d/len'."""
    if m.code != rawbgp.UPDATE:
        return set()
    out = set()
    for p in nlri_of(m)[0]:
        addr = p[1:] + b'\0' * (5 - len(p))
        out.add(f'{socket.inet_ntoa(addr)}/{p[0]}')
    return out


def gets(sp, prefix):
    """Whether sp is sent `prefix` ('a.b.c.d/len') within 10 s."""
    try:
        sp.recv_until(lambda m: prefix in announced(m), timeout=10)
        return True
    except (TimeoutError, rawbgp.ConnectionClosed):
        return False


CAPS = {asn: [rawbgp.cap_mp(), rawbgp.cap_as4(asn), rawbgp.cap_route_refresh()]
        for asn in (65001, 65002, 65003)}


def peers(h):
    return f'''  - {{name: a, address: {h.addr(11)}, asn: 65001, passive: true}}
  - {{name: b, address: {h.addr(12)}, asn: 65002, passive: true}}
  - {{name: dyn, range: {h.net}.32/28, asn: 65003}}
'''


def body(h):
    a_addr, b_addr, c_addr = h.addr(11), h.addr(12), h.addr(33)

    def connect(src, asn):
        return h.connect(src, asn, f'10.47.0.{asn - 65000}', hold_time=90, caps=CAPS[asn])

    def peer_states():
        r = h.ctl('--json', 'show', 'peers')
        if r.returncode != 0:
            return {}
        return {p['name']: p['state'] for p in json.loads(r.stdout or '[]')}

    a = connect(a_addr, 65001)
    a.send(ipv4_update(['10.47.1.0'], '198.18.47.1', 65001) + rawbgp.update())
    b = connect(b_addr, 65002)
    b.send(ipv4_update(['10.47.2.0'], '198.18.47.2', 65002) + rawbgp.update())
    check(gets(b, '10.47.1.0/24') and gets(a, '10.47.2.0/24'),
          'a and b (2 peer ids) are up and exchange routes')

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
    check(h.logged(f'{c_addr}: no rib peer id left: refusing the session'),
          'routehubd logged why c was refused')

    # a and b were not disturbed.
    st = peer_states()
    check(st.get('a') == 'Established' and st.get('b') == 'Established',
          f'a and b still Established ({st})')
    a.send(ipv4_update(['10.47.3.0'], '198.18.47.1', 65001))
    b.send(ipv4_update(['10.47.4.0'], '198.18.47.2', 65002))
    check(gets(b, '10.47.3.0/24') and gets(a, '10.47.4.0/24'),
          'a and b keep exchanging routes after the refusal')

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
    check(h.running(), 'routehubd is still running')


if __name__ == '__main__':
    sys.exit(rhtest.run(47, 'rh-ids-', peers, body, env={'RH_MAX_PEER_IDS': '2'}))
