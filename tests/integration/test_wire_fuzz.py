#!/usr/bin/env python3
"""Fuzz over the wire: hostile peers against one routehubd, bounded in count and time.

One routehubd and raw speakers (lib/rawbgp.py):

  ctl       a control peer (AS 65100, IPv4 and IPv6) that announces a fixed table
            once and then only keeps its session: it is never touched.
  spoke     eBGP (AS 65200, 4-octet AS, IPv4+IPv6): routehubd prepends 65515.
  spoke2    eBGP transparent (AS 65201, 2-octet AS only, extended messages).
            Both spokes decode every UPDATE they receive into a table.
  edge      first sends valid UPDATEs of unusual shape whose outcome at the
            spokes is known: IPv4 NLRI with an IPv6 MP_REACH_NLRI in one
            UPDATE (each family goes out as itself), a 300-AS path (over 1 KB),
            and a path that no longer fits spoke's 4096-octet messages once
            65515 is prepended (spoke loses the route it had, spoke2 gets it);
  fz0..fz4  configured eBGP fuzzers with different capabilities (4-octet AS or
            not, extended messages or not, both, IPv6 or not, an ADD-PATH
            capability that routehubd does not take up);
  dyn       rr-client (iBGP) fuzzers from a `range:` entry: dynamic neighbours
            that come and go (very fast reconnects).

The fuzzers send seeded random mutations of valid UPDATEs: flipped, inserted
and deleted bytes, wrong header / field / attribute lengths, huge AS paths,
hundreds of attributes, MP_REACH_NLRI with odd next-hop lengths and families,
ADD-PATH path identifiers nobody negotiated, 65535-byte messages without the
extended-message capability, garbage after valid messages, ROUTE-REFRESH in all
its forms, NOTIFICATIONs, OPENs and KEEPALIVEs where they do not belong, and
connections dropped at every step. RH_FUZZ_SEED (default: random, printed)
makes a run reproducible; RH_FUZZ_MESSAGES (2000) and RH_FUZZ_SECONDS (50)
bound it.

Asserted:
  * routehubd never dies: it answers `show status` throughout and at the end,
    and exits 0 on SIGTERM; its log holds no sanitizer report;
  * every session routehubd closes was closed with a NOTIFICATION, of a code
    that fits (header, UPDATE, FSM, Cease, ROUTE-REFRESH errors), and the
    deterministic cases get exactly theirs (1/2 with the length for a 65535-byte
    message without the capability, 1/3 for an unknown type);
  * the control peer's session never goes down and its paths in the RIB
    (`routehubctl --json show routes peer ctl`) stay exactly what it sent;
  * once the fuzzers are gone, the RIB holds the control peer's routes and
    nothing else, and both spokes hold exactly those routes with the attributes
    routehubd must give them (nothing a peer sent corrupted another's routes).

Exit 0 passed, 1 failed, 77 skipped (routehubd not built). RH_KEEP_LAB=1 keeps
the lab directory.
"""
import ipaddress
import json
import os
import random
import re
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

import rawbgp as R  # noqa: E402
from bgpharness import Lab, Routehubd, wait_for  # noqa: E402

RH_ASN = 65515
CTL_ASN = 65100
T = 30

# Codes a reset of an Established session may carry (RFC 4271 §4.5, RFC 4486,
# RFC 7313 §5): header errors, UPDATE errors, FSM errors, Cease (maximum
# prefixes, connection rejected, collision, out of resources), ROUTE-REFRESH.
PLAUSIBLE = {1: {1, 2, 3}, 3: set(range(1, 12)), 5: {0, 1, 2, 3}, 6: {1, 5, 7, 8}, 7: {1}}
# Before Established (fast reconnects: our OPEN may meet the previous session).
PLAUSIBLE_OPEN = {1: {1, 2, 3}, 2: set(range(0, 12)), 5: {0, 1, 2, 3}, 6: {5, 7, 8}}

SANITIZER = re.compile(r'(AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer):|'
                       r'runtime error:|SUMMARY: (Address|Undefined|Leak|Thread)')


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------
def attr(flags, t, val):
    val = bytes(val)
    if len(val) > 255 or flags & 0x10:
        return bytes([flags | 0x10, t]) + struct.pack('!H', len(val)) + val
    return bytes([flags, t, len(val)]) + val


def aspath_val(asns, w=4, segtype=2):
    out = b''
    for i in range(0, len(asns), 255):
        chunk = asns[i:i + 255]
        out += bytes([segtype, len(chunk)]) + b''.join(
            struct.pack('!I' if w == 4 else '!H', a) for a in chunk)
    return out


def pfx(net, path_id=None):
    n = ipaddress.ip_network(net)
    nb = (n.prefixlen + 7) // 8
    b = bytes([n.prefixlen]) + n.network_address.packed[:nb]
    return (struct.pack('!I', path_id) + b) if path_id is not None else b


def mp_reach(afi, safi, nh, nlri, res=0):
    return attr(0x80, 14, struct.pack('!HBB', afi, safi, len(nh)) + nh + bytes([res]) + nlri)


def mp_unreach(afi, safi, nlri):
    return attr(0x80, 15, struct.pack('!HB', afi, safi) + nlri)


def with_length(msg, length=None):
    """msg with its header length set to its real size (or to `length`)."""
    msg = bytearray(msg)
    struct.pack_into('!H', msg, 16, len(msg) if length is None else length)
    return bytes(msg)


# ---------------------------------------------------------------------------------------
# Decoding what the spokes receive
# ---------------------------------------------------------------------------------------
def parse_prefixes(b, af):
    out, i = [], 0
    size = 4 if af == 4 else 16
    while i < len(b):
        plen = b[i]
        nb = (plen + 7) // 8
        if plen > size * 8 or i + 1 + nb > len(b):
            raise Failed(f'routehubd sent a malformed prefix run {b.hex()}')
        addr = b[i + 1:i + 1 + nb] + bytes(size - nb)
        cls = ipaddress.IPv4Network if af == 4 else ipaddress.IPv6Network
        out.append(str(cls((addr, plen))))
        i += 1 + nb
    return out


def parse_aspath(v, w):
    out, i = [], 0
    while i + 2 <= len(v):
        t, c = v[i], v[i + 1]
        i += 2
        seg = [int.from_bytes(v[i + k * w:i + (k + 1) * w], 'big') for k in range(c)]
        i += c * w
        out.append((t, seg))
    if i != len(v):
        raise Failed(f'routehubd sent a malformed AS_PATH {v.hex()}')
    return out


def parse_update(body, as4):
    """(withdrawn [prefix], announced [prefix], attrs {type: value}) of an UPDATE
    body that routehubd sent; raises Failed on anything malformed."""
    if len(body) < 4:
        raise Failed(f'routehubd sent a short UPDATE {body.hex()}')
    wl = struct.unpack('!H', body[:2])[0]
    withdrawn = parse_prefixes(body[2:2 + wl], 4)
    al = struct.unpack('!H', body[2 + wl:4 + wl])[0]
    a = body[4 + wl:4 + wl + al]
    if len(a) != al:
        raise Failed('routehubd sent an UPDATE whose attributes overrun it')
    announced = parse_prefixes(body[4 + wl + al:], 4)
    attrs, i = {}, 0
    while i < len(a):
        flags, t = a[i], a[i + 1]
        if flags & 0x10:
            ln = struct.unpack('!H', a[i + 2:i + 4])[0]
            hl = 4
        else:
            ln, hl = a[i + 2], 3
        v = a[i + hl:i + hl + ln]
        if len(v) != ln or t in attrs:
            raise Failed(f'routehubd sent malformed attributes {a.hex()}')
        attrs[t] = v
        i += hl + ln
    if 14 in attrs:
        v = attrs[14]
        afi, safi, nhl = struct.unpack('!HBB', v[:4])
        fam = 6 if afi == 2 else 4
        if safi != 1 or afi not in (1, 2):
            raise Failed(f'routehubd sent MP_REACH_NLRI for AFI {afi} SAFI {safi}')
        attrs['mp_nh'] = v[4:4 + nhl]
        announced += parse_prefixes(v[5 + nhl:], fam)
    if 15 in attrs:
        v = attrs[15]
        afi, safi = struct.unpack('!HB', v[:3])
        withdrawn += parse_prefixes(v[3:], 6 if afi == 2 else 4)
    if announced and 2 not in attrs:
        raise Failed('routehubd announced routes without AS_PATH')
    if 2 in attrs:
        path = parse_aspath(attrs[2], 4 if as4 else 2)
        if not as4 and 17 in attrs:
            path = parse_aspath(attrs[17], 4)  # all our numbers fit 2 octets anyway
        attrs['path'] = [a for _t, seg in path for a in seg]
    return withdrawn, announced, attrs


# ---------------------------------------------------------------------------------------
# Speakers
# ---------------------------------------------------------------------------------------
class Peer:
    def __init__(self, name, addr, asn, bgp_id, caps, as4=True, ext=False, v6=True,
                 ibgp=False, enhanced_rr=False, vary=False, addpath=False):
        self.name, self.addr, self.asn, self.bgp_id = name, addr, asn, bgp_id
        self.caps, self.as4, self.ext, self.v6, self.ibgp = caps, as4, ext, v6, ibgp
        self.v4 = True
        self.enhanced_rr, self.addpath = enhanced_rr, addpath
        self.vary = vary  # new capabilities (AS width, message size, families) each session
        self.s = None
        self.mark = 0
        self.sessions = 0
        self.dirty = self.dirty_before = False

    @property
    def max_msg(self):
        return 65535 if self.ext else 4096

    @property
    def afi(self):
        """The family that synchronisation uses (IPv4 unless it has only IPv6)."""
        return 1 if self.v4 else 2

    def eor(self, m):
        """Is m the End-of-RIB (RFC 4724 §2) of p.afi?"""
        return m.code == R.UPDATE and m.body == (EOR4 if self.v4 else EOR6)


EOR4 = b'\0\0\0\0'
EOR6 = b'\0\0\0\x06\x80\x0f\x03\0\x02\x01'


def caps_for(asn, as4=True, ext=False, v6=True, rr=True, err=False, addpath=False, v4=True):
    c = [R.cap_mp(1, 1)] if v4 else []
    if v6:
        c.append(R.cap_mp(2, 1))
    if as4:
        c.append(R.cap_as4(asn))
    if rr:
        c.append(R.cap_route_refresh())
    if err:
        c.append(R.cap_enhanced_route_refresh())
    if ext:
        c.append(R.cap_ext_msg())
    if addpath:
        c.append(R.cap(69, struct.pack('!HBBHBB', 1, 1, 3, 2, 1, 3)))
    return c


class Fuzz:
    def __init__(self, lab, rh, seed):
        self.lab, self.rh = lab, rh
        self.rng = random.Random(seed)
        self.violations = []
        self.history = []  # (peer, case) of the last messages, for the report
        self.resets = {}
        self.cases = {}
        self.sent = 0
        self.connects = 0

    def violation(self, msg):
        msg = f'{time.strftime("%H:%M:%S")}.{int(time.time() * 1000) % 1000:03d} {msg}'
        print(f'VIOLATION: {msg}', flush=True)
        self.violations.append(msg)

    # -- connections -------------------------------------------------------------
    def connect(self, p, deadline):
        """Bring p up (retrying while routehubd still winds the last session
        down); False if it did not come up before the deadline."""
        while time.monotonic() < deadline:
            if p.vary:
                fam = self.rng.choice(('4', '6', '46'))
                p.as4, p.ext = self.rng.random() < 0.5, self.rng.random() < 0.5
                p.v4, p.v6 = '4' in fam, '6' in fam
                p.caps = caps_for(p.asn, as4=p.as4, ext=p.ext, v4=p.v4, v6=p.v6,
                                  err=p.enhanced_rr, addpath=p.addpath)
            try:
                s = R.RawSpeaker.connect(self.rh.address, 179, source=p.addr, timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                s.handshake(p.asn, p.bgp_id, hold_time=0, caps=p.caps,
                            timeout=5)
            except R.ProtocolError:
                self.check_open_refusal(p, s)
                s.close()
                time.sleep(0.05)
                continue
            except (R.ConnectionClosed, TimeoutError, OSError):
                self.check_open_refusal(p, s)
                s.close()
                time.sleep(0.05)
                continue
            p.s, p.mark, p.dirty = s, len(s.received), False
            p.sessions += 1
            self.connects += 1
            # The first table ends with End-of-RIB (RFC 4724 §2): from here
            # on every End-of-RIB answers a ROUTE-REFRESH of ours.
            start = p.mark
            deadline2 = time.monotonic() + 10
            while time.monotonic() < deadline2:
                v = self.drain(p, 0.2)
                if v is not None:
                    break
                if any(p.eor(m) for m in s.received[start:]):
                    return True
            else:
                self.violation(f'{p.name}: no End-of-RIB after Established')
                self.close(p)
            continue
        return False

    def check_open_refusal(self, p, s):
        for m in s.received:
            if m.code == R.NOTIFICATION:
                n = m.notification
                if n['subcode'] not in PLAUSIBLE_OPEN.get(n['code'], ()):
                    self.violation(f'{p.name}: refused at OPEN with {n["name"]}')

    def close(self, p):
        if p.s:
            p.s.close()
            p.s = None

    def drain(self, p, wait=0.0):
        """Read what p received; if routehubd closed the session, check that a
        NOTIFICATION came first and return it (True when closed without one
        being wrong). Returns None while the session is up."""
        s = p.s
        deadline = time.monotonic() + wait
        closed = False
        while True:
            left = max(0.0, deadline - time.monotonic())
            try:
                r, _, _ = select.select([s.sock], [], [], left)
            except (OSError, ValueError):
                closed = True
                break
            if not r:
                break
            try:
                data = s.sock.recv(262144)
            except (ConnectionResetError, OSError):
                closed = True
                break
            if not data:
                closed = True
                break
            s.buf += data
            wait = 0
            deadline = time.monotonic()
        try:
            while True:
                m, s.buf = R.parse_message(s.buf)
                if m is None:
                    break
                s.received.append(m)
        except R.ProtocolError as e:
            self.violation(f'{p.name}: routehubd sent bytes that are not BGP: {e}')
            closed = True
        new = s.received[p.mark:]
        p.mark = len(s.received)
        notes = [m for m in new if m.code == R.NOTIFICATION]
        if notes and not closed:
            # The close follows the NOTIFICATION at once.
            try:
                s.wait_closed(timeout=10)
            except TimeoutError:
                self.violation(f'{p.name}: still open 10 s after a NOTIFICATION')
            except (R.ProtocolError, OSError):
                pass
            closed = True
        if not closed:
            return None
        self.close(p)
        if not notes:
            self.violation(f'{p.name}: session closed by routehubd without a NOTIFICATION '
                           f'(last cases: {self.history[-3:]})')
            return ('none', None)
        n = notes[0].notification
        key = f'{n["code"]}/{n["subcode"]}'
        self.resets[key] = self.resets.get(key, 0) + 1
        if n['subcode'] not in PLAUSIBLE.get(n['code'], ()):
            self.violation(f'{p.name}: reset with {key} {n["name"]} '
                           f'(last cases: {self.history[-3:]})')
        return (n['code'], n['subcode'], n['data'])

    def send(self, p, data):
        try:
            p.s.send(data)
            return True
        except OSError:
            return False

    def sync(self, p, timeout=10):
        """Make sure routehubd read everything p sent: a ROUTE-REFRESH for p.afi,
        answered by the table and End-of-RIB (EoRR with enhanced route refresh).
        Returns drain()'s verdict if the session went down instead, or 'desync'
        if nothing came back. Only one table dump is ever in flight (connect()
        waits for the first, the refresh case for its own), so the End-of-RIB
        seen is the answer to this ROUTE-REFRESH."""
        if not self.send(p, R.route_refresh(p.afi, 1, 0)):
            return self.drain(p, 1.0) or 'gone'
        return self.answer(p, p.afi, timeout)

    def answer(self, p, afi, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            start = p.mark
            v = self.drain(p, 0.2)
            if v is not None:
                return v
            for m in p.s.received[start:]:
                if p.enhanced_rr:
                    if m.code == R.ROUTE_REFRESH and m.body[:3] == struct.pack('!HB', afi, 2):
                        return None
                elif p.eor(m):
                    return None
        return 'desync'

    # -- valid material ------------------------------------------------------------
    def v4_pool(self):
        r = self.rng.random()
        if r < 0.1:
            return f'10.77.{self.rng.randrange(40)}.0/24'  # the control peer's
        if r < 0.2:
            return str(ipaddress.ip_network(
                (self.rng.getrandbits(32), self.rng.randrange(8, 33)), strict=False))
        return f'10.200.{self.rng.randrange(64)}.{self.rng.choice((0, 64, 128))}/26'

    def v6_pool(self):
        if self.rng.random() < 0.1:
            return f'2001:db8:77:{self.rng.randrange(10)}::/64'
        return f'2001:db8:200:{self.rng.randrange(64):x}::/64'

    def attrs(self, p, path_len=None, mp=None):
        rng = self.rng
        w = 4 if p.as4 else 2
        path = [] if p.ibgp else [p.asn]
        path += [rng.randrange(1000, 60000) for _ in range(path_len if path_len is not None
                                                           else rng.randrange(0, 4))]
        out = attr(0x40, 1, [rng.randrange(3)])
        out += attr(0x40, 2, aspath_val(path, w) if path else b'')
        out += attr(0x40, 3, bytes([198, 18, rng.randrange(256), rng.randrange(1, 255)]))
        if rng.random() < 0.5:
            out += attr(0x80, 4, struct.pack('!I', rng.randrange(1000)))
        if p.ibgp or rng.random() < 0.1:
            out += attr(0x40, 5, struct.pack('!I', rng.randrange(50, 300)))
        if rng.random() < 0.1:
            out += attr(0x40, 6, b'')
        if rng.random() < 0.2:
            out += attr(0xc0, 7, struct.pack('!H' if w == 2 else '!I', p.asn) + b'\x0a\0\0\x01')
        if rng.random() < 0.6:
            comms = [rng.randrange(1 << 32) for _ in range(rng.randrange(1, 6))]
            if rng.random() < 0.2:
                comms.append(rng.choice((0xFFFFFF01, 0xFFFFFF02, 0xFFFFFF03, 0xFFFFFF04)))
            out += attr(0xc0, 8, b''.join(struct.pack('!I', c) for c in comms))
        if p.ibgp and rng.random() < 0.3:
            out += attr(0x80, 9, bytes([10, 1, 2, rng.randrange(256)]))
        if p.ibgp and rng.random() < 0.3:
            out += attr(0x80, 10, b''.join(struct.pack('!I', rng.getrandbits(32))
                                           for _ in range(rng.randrange(1, 4))))
        if mp is not None:
            out += mp
        if rng.random() < 0.3:
            out += attr(0xc0, 16, bytes(rng.getrandbits(8) for _ in range(8 * rng.randrange(1, 4))))
        if not p.as4 and rng.random() < 0.3:
            out += attr(0xc0, 17, aspath_val([p.asn, 4200000000 + rng.randrange(100)], 4))
        if rng.random() < 0.3:
            out += attr(0xc0, 32, bytes(rng.getrandbits(8) for _ in range(12 * rng.randrange(1, 3))))
        if rng.random() < 0.2:
            out += attr(0xc0, rng.randrange(100, 250), bytes(rng.getrandbits(8)
                                                            for _ in range(rng.randrange(0, 20))))
        return out

    def valid_update(self, p):
        rng = self.rng
        v4 = sorted({self.v4_pool() for _ in range(rng.randrange(0, 8))})
        wd4 = sorted({self.v4_pool() for _ in range(rng.randrange(0, 4))}) \
            if rng.random() < 0.4 else []
        mp = None
        if p.v6 and rng.random() < 0.4:
            v6 = sorted({self.v6_pool() for _ in range(rng.randrange(1, 6))})
            nh = ipaddress.IPv6Address('2001:db8:ffff::1').packed
            if rng.random() < 0.3:
                nh += ipaddress.IPv6Address('fe80::1').packed
            mp = mp_reach(2, 1, nh, b''.join(pfx(x) for x in v6))
        elif p.v6 and rng.random() < 0.2:
            mp = mp_unreach(2, 1, b''.join(pfx(self.v6_pool()) for _ in range(3)))
        if not v4 and mp is None:
            v4 = [self.v4_pool()]
        return R.update(withdrawn=b''.join(pfx(x) for x in wd4),
                        attrs=self.attrs(p, mp=mp) if (v4 or mp) else b'',
                        nlri=b''.join(pfx(x) for x in v4))

    # -- the cases -------------------------------------------------------------------
    # Each returns (bytes to send, what to expect): None (anything plausible),
    # 'ok' (the session stays up), (code, subcode[, data]) exactly, or 'close'
    # (we close the connection ourselves afterwards).
    def c_valid(self, p):
        return self.valid_update(p), 'ok'

    def c_flip(self, p):
        m = bytearray(self.valid_update(p))
        for _ in range(self.rng.randrange(1, 5)):
            i = self.rng.randrange(19, len(m))
            m[i] ^= 1 << self.rng.randrange(8)
        return bytes(m), None

    def c_insert(self, p):
        m = bytearray(self.valid_update(p))
        i = self.rng.randrange(19, len(m) + 1)
        m[i:i] = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randrange(1, 9)))
        return with_length(m), None

    def c_delete(self, p):
        m = bytearray(self.valid_update(p))
        if len(m) <= 24:
            return bytes(m), None
        i = self.rng.randrange(23, len(m))
        del m[i:i + self.rng.randrange(1, 9)]
        return with_length(m), None

    def c_header_length(self, p):
        m = self.valid_update(p)
        # Longer than what follows: the next message's bytes complete it.
        return with_length(m, self.rng.choice((len(m) + 1, len(m) + 40, len(m) - 1, 19, 20,
                                               22, p.max_msg))), 'maybe-desync'

    def c_field_length(self, p):
        m = bytearray(self.valid_update(p))
        wl = struct.unpack_from('!H', m, 19)[0]
        if self.rng.random() < 0.5:
            struct.pack_into('!H', m, 19, self.rng.randrange(1 << 16))
        else:
            struct.pack_into('!H', m, 21 + wl, self.rng.randrange(1 << 16))
        return bytes(m), None

    def c_attr_length(self, p):
        m = bytearray(self.valid_update(p))
        wl = struct.unpack_from('!H', m, 19)[0]
        al = struct.unpack_from('!H', m, 21 + wl)[0]
        i, start, offs = 23 + wl, 23 + wl, []
        while i < start + al:
            offs.append(i)
            hl = 4 if m[i] & 0x10 else 3
            ln = struct.unpack_from('!H', m, i + 2)[0] if hl == 4 else m[i + 2]
            i += hl + ln
        if offs:
            o = self.rng.choice(offs)
            if m[o] & 0x10:
                struct.pack_into('!H', m, o + 2, self.rng.randrange(1 << 16))
            elif self.rng.random() < 0.3:
                m[o] ^= 0x10  # extended-length bit flipped
            else:
                m[o + 2] = self.rng.randrange(256)
        return bytes(m), None

    def c_flags(self, p):
        m = bytearray(self.valid_update(p))
        wl = struct.unpack_from('!H', m, 19)[0]
        if len(m) > 23 + wl:
            m[23 + wl] = self.rng.getrandbits(8) & 0xef | (m[23 + wl] & 0x10)
        return bytes(m), None

    def c_huge_aspath(self, p):
        rng = self.rng
        w = 4 if p.as4 else 2
        room = (p.max_msg if rng.random() < 0.7 else 4096) - 19 - 4 - 120
        segs = b''
        while True:
            t = rng.choice((2, 2, 2, 1, 3, 4)) if rng.random() < 0.2 else 2
            c = rng.randrange(1, 256)
            seg = bytes([t, c]) + b''.join(struct.pack('!I' if w == 4 else '!H',
                                                       rng.randrange(1, 65535)) for _ in range(c))
            if len(segs) + len(seg) + 4 > room:
                break
            segs += seg
        if not p.ibgp:
            segs = aspath_val([p.asn], w) + segs
        a = attr(0x40, 1, [0]) + attr(0x50, 2, segs) + attr(0x40, 3, bytes([198, 18, 7, 7]))
        nlri = b''.join(pfx(self.v4_pool()) for _ in range(rng.randrange(1, 4)))
        m = R.update(attrs=a, nlri=nlri)
        if len(m) > p.max_msg:
            return with_length(m[:p.max_msg]), None
        return m, None

    def c_many_attrs(self, p):
        rng = self.rng
        a = self.attrs(p)
        types = list(range(40, 256))
        rng.shuffle(types)
        for t in types[:rng.randrange(50, 200)]:
            a += attr(rng.choice((0xc0, 0x80, 0xe0, 0x40 if rng.random() < 0.02 else 0xc0)), t,
                      bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 12))))
        if rng.random() < 0.5:  # repeats of known ones
            a += attr(0x40, 1, [1]) + attr(0xc0, 8, b'\0\1\0\1') + attr(0x80, 4, b'\0\0\0\1')
        m = R.update(attrs=a, nlri=pfx(self.v4_pool()))
        if len(m) > p.max_msg:
            m = with_length(m[:p.max_msg])
        return m, None

    def c_mp_nexthop(self, p):
        rng = self.rng
        nhl = rng.choice((0, 1, 3, 4, 5, 8, 12, 15, 16, 17, 24, 31, 32, 33, 48, 64, 255))
        afi = rng.choice((1, 2, 2, 2, 3, 25))
        safi = rng.choice((1, 1, 1, 2, 4, 128))
        fam = 6 if afi == 2 else 4
        nh = bytes(rng.getrandbits(8) for _ in range(nhl))
        nlri = b''.join(pfx(self.v6_pool() if fam == 6 else self.v4_pool())
                        for _ in range(rng.randrange(0, 4) if not p.ext or rng.random() < 0.7
                                       else rng.randrange(500, 3000)))
        body = struct.pack('!HBB', afi, safi, nhl) + nh + bytes([rng.choice((0, 0, 1))]) + nlri
        if rng.random() < 0.3:  # attribute length inconsistent with the next hop length
            body = body[:rng.randrange(0, len(body) + 1)]
        a = self.attrs(p, mp=attr(0x80, 14, body))
        m = R.update(attrs=a, nlri=pfx(self.v4_pool()) if rng.random() < 0.3 else b'')
        if len(m) > p.max_msg:
            m = with_length(m[:p.max_msg])
        return m, None

    def c_addpath(self, p):
        rng = self.rng
        v4 = b''.join(pfx(self.v4_pool(), rng.randrange(1 << 32)) for _ in range(rng.randrange(1, 4)))
        mp = None
        if p.v6 and rng.random() < 0.5:
            mp = mp_reach(2, 1, ipaddress.IPv6Address('2001:db8:ffff::2').packed,
                          b''.join(pfx(self.v6_pool(), rng.randrange(8)) for _ in range(2)))
        wd = pfx(self.v4_pool(), 1) if rng.random() < 0.3 else b''
        return R.update(withdrawn=wd, attrs=self.attrs(p, mp=mp), nlri=v4), None

    def c_big(self, p):
        rng = self.rng
        if p.ext:
            # A valid large UPDATE: many communities, a few prefixes.
            n = rng.randrange(2000, 15000)
            a = self.attrs(p) + attr(0xc0, 8, b''.join(struct.pack('!I', rng.getrandbits(32))
                                                       for _ in range(n)))
            m = R.update(attrs=a, nlri=b''.join(pfx(self.v4_pool()) for _ in range(3)))
            return m, 'ok'
        size = rng.choice((4097, 8192, 65535))
        m = bytearray(self.valid_update(p))
        m += bytes(size - len(m))
        return with_length(m), (1, 2, struct.pack('!H', size))

    def c_garbage_after(self, p):
        rng = self.rng
        g = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 120)))
        return self.valid_update(p) + g, 'maybe-desync'

    def c_refresh(self, p):
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            afi = rng.choice([a for a, on in ((1, p.v4), (2, p.v6)) if on])
            return R.route_refresh(afi, 1, 0), ('answer', afi)
        if kind == 1:
            return R.route_refresh(rng.choice((3, 25, 0xffff)), rng.choice((1, 128)), 0), 'ok'
        if kind == 2:
            return R.route_refresh(1, 1, rng.randrange(3, 256)), 'ok'
        if kind == 3:  # BoRR/EoRR with a body: RFC 7313 §5, 7/1 (data: the whole message)
            body = struct.pack('!HBB', 1, rng.choice((1, 2)), 1) + bytes(rng.randrange(1, p.max_msg))
            if len(body) + 19 > p.max_msg:
                body = body[:p.max_msg - 19]
            return R.message(R.ROUTE_REFRESH, body), (7, 1)
        if kind == 4:  # a plain one with a body: 1/2
            return R.message(R.ROUTE_REFRESH, struct.pack('!HBB', 1, 0, 1) + b'\0' * 3), (1, 2)
        return R.message(R.ROUTE_REFRESH, b'\0\1'), (1, 2)  # too short

    def c_notification(self, p):
        rng = self.rng
        return R.notification(rng.randrange(1, 8), rng.randrange(0, 12),
                              bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))), 'close'

    def c_open(self, p):
        return R.open_msg(p.asn, 0, p.bgp_id, caps=p.caps), None

    def c_keepalive_bad(self, p):
        return R.message(R.KEEPALIVE, b'\0' * self.rng.randrange(1, 10)), (1, 2)

    def c_unknown_type(self, p):
        t = self.rng.randrange(6, 256)
        return R.message(t, b'\0' * self.rng.randrange(0, 10)), (1, 3, bytes([t]))

    def c_eor(self, p):
        if p.v6 and self.rng.random() < 0.5:
            return R.update(attrs=mp_unreach(2, 1, b'')), 'ok'
        return R.update(), 'ok'

    def c_truncated(self, p):
        m = self.valid_update(p)
        cut = self.rng.randrange(23, len(m)) if len(m) > 23 else 23
        return with_length(m[:cut]), None

    def c_reconnect(self, p):
        return b'', 'close'

    def c_partial(self, p):
        m = self.valid_update(p)
        return m[:self.rng.randrange(1, len(m))], 'close'

    CASES = [  # (weight, case)
        (14, 'valid'), (8, 'flip'), (4, 'insert'), (4, 'delete'), (3, 'header_length'),
        (3, 'field_length'), (5, 'attr_length'), (3, 'flags'), (3, 'huge_aspath'),
        (3, 'many_attrs'), (5, 'mp_nexthop'), (4, 'addpath'), (2, 'big'),
        (3, 'garbage_after'), (5, 'refresh'), (1, 'notification'), (1, 'open'),
        (1, 'keepalive_bad'), (1, 'unknown_type'), (2, 'eor'), (3, 'truncated'),
        (2, 'reconnect'), (1, 'partial'),
    ]

    def pick(self):
        total = sum(w for w, _ in self.CASES)
        r = self.rng.randrange(total)
        for w, c in self.CASES:
            if r < w:
                return c
            r -= w
        return 'valid'

    # -- one step ------------------------------------------------------------------
    def step(self, p, case):
        data, expect = getattr(self, 'c_' + case)(p)
        answer = isinstance(expect, tuple) and expect[0] == 'answer'
        strict = expect == 'ok' or (isinstance(expect, tuple) and not answer)
        if strict and p.dirty:
            # Judge what the earlier, unchecked messages did first, so that a
            # reset they caused is not blamed on this one.
            v = self.sync(p)
            if v is not None:
                if v == 'desync':
                    self.violation(f'{p.name}: no answer to ROUTE-REFRESH '
                                   f'(last cases: {self.history[-3:]})')
                self.close(p)
                return
        self.history.append((round(time.time(), 3), p.name, case))
        del self.history[:-20]
        self.cases[case] = self.cases.get(case, 0) + 1
        self.sent += 1
        ok = self.send(p, data) if data else True
        p.dirty_before, p.dirty = p.dirty, True
        if expect == 'close':
            self.close(p)
            return
        if not ok:
            self.check_expected(p, case, expect, self.drain(p, 1.0))
            return
        if answer:
            v = self.answer(p, expect[1], 10)
            if v == 'desync':
                if not p.dirty_before:
                    self.violation(f'{p.name}: no answer to a ROUTE-REFRESH for AFI {expect[1]} '
                                   f'(last cases: {self.history[-3:]})')
                self.close(p)
                return
            if v is None:
                p.dirty = False
            return
        if strict or expect == 'maybe-desync' or self.rng.random() < 0.1:
            v = self.sync(p, 1.0 if expect == 'maybe-desync' else 10)
            if v == 'desync' and expect == 'maybe-desync':
                # A header length longer than what followed swallowed our
                # ROUTE-REFRESH: routehubd waits for the rest. Give it; the
                # bytes then read are no BGP message and must end the session
                # with a NOTIFICATION.
                self.send(p, bytes(p.max_msg))
                v = self.drain(p, 5.0)
                if v is None:
                    v = self.sync(p)
            if v == 'desync':
                self.violation(f'{p.name}: no answer to ROUTE-REFRESH after {case} '
                               f'(last cases: {self.history[-3:]})')
                self.close(p)
                return
            p.dirty = False
            self.check_expected(p, case, expect, v)
            return
        self.drain(p, 0.0)

    def check_expected(self, p, case, expect, verdict):
        if verdict is None:
            if isinstance(expect, tuple):
                self.violation(f'{p.name}: {case}: expected NOTIFICATION {expect[0]}/{expect[1]}, '
                               f'the session stayed up')
            return
        if verdict in ('gone', 'desync') or verdict[0] == 'none':
            return
        if expect == 'ok':
            self.violation(f'{p.name}: {case} (valid) reset the session: {verdict}')
        elif isinstance(expect, tuple):
            if tuple(verdict[:2]) != tuple(expect[:2]) or \
                    (len(expect) > 2 and verdict[2] != expect[2]):
                self.violation(f'{p.name}: {case}: expected {expect[0]}/{expect[1]}'
                               f'{" " + expect[2].hex() if len(expect) > 2 else ""}, got '
                               f'{verdict[0]}/{verdict[1]} {verdict[2].hex()}')


# ---------------------------------------------------------------------------------------
# The control peer and the spokes
# ---------------------------------------------------------------------------------------
CTL_V4 = [f'10.77.{i}.0/24' for i in range(40)]
CTL_V6 = [str(ipaddress.ip_network(f'2001:db8:77:{i}::/64')) for i in range(10)]
CTL_NH4 = '198.18.0.100'
CTL_NH6 = '2001:db8:ffff::100'
CTL_PATH = [CTL_ASN, 64999]
CTL_COMMS = [(65100 << 16) | 1, (65100 << 16) | 2]


def ctl_updates():
    a = attr(0x40, 1, [0]) + attr(0x40, 2, aspath_val(CTL_PATH)) \
        + attr(0x40, 3, ipaddress.IPv4Address(CTL_NH4).packed) + attr(0x80, 4, struct.pack('!I', 5)) \
        + attr(0xc0, 8, b''.join(struct.pack('!I', c) for c in CTL_COMMS))
    u4 = R.update(attrs=a, nlri=b''.join(pfx(x) for x in CTL_V4))
    a6 = attr(0x40, 1, [0]) + attr(0x40, 2, aspath_val(CTL_PATH)) \
        + attr(0x80, 4, struct.pack('!I', 5)) \
        + mp_reach(2, 1, ipaddress.IPv6Address(CTL_NH6).packed, b''.join(pfx(x) for x in CTL_V6)) \
        + attr(0xc0, 8, b''.join(struct.pack('!I', c) for c in CTL_COMMS))
    u6 = R.update(attrs=a6)
    return [u4, u6, R.update(), R.update(attrs=mp_unreach(2, 1, b''))]


class Spoke:
    def __init__(self, peer, want_path, want=None):
        self.p = peer
        self.want_path = want_path
        self.want = set(want if want is not None else CTL_V4 + CTL_V6)
        self.rib = {}
        self.seen = 0

    def pump(self, fz, wait=0.0):
        p = self.p
        s = p.s
        if s is None:
            raise Failed(f'{p.name}: its session went down')
        v = fz.drain(p, wait)
        new, self.seen = s.received[self.seen:], len(s.received)
        for m in new:
            if m.code != R.UPDATE:
                continue
            wd, ann, attrs = parse_update(m.body, p.as4)
            for x in wd:
                self.rib.pop(x, None)
            for x in ann:
                self.rib[x] = attrs
        if v is not None:
            raise Failed(f'{p.name}: session reset by routehubd: {v}')

    def matches(self):
        want = self.want
        if set(self.rib) != want:
            extra = sorted(set(self.rib) - want)[:5]
            missing = sorted(want - set(self.rib))[:5]
            return f'{self.p.name}: extra {extra}, missing {missing}'
        for x, a in self.rib.items():
            nh = ipaddress.ip_address(a['mp_nh'][:16]) if 14 in a else ipaddress.ip_address(a.get(3, b'\0' * 4))
            want_nh = ipaddress.ip_address(CTL_NH6 if ':' in x else CTL_NH4)
            comms = [struct.unpack('!I', a[8][i:i + 4])[0] for i in range(0, len(a.get(8, b'')), 4)]
            med = struct.unpack('!I', a[4])[0] if 4 in a else None
            if a.get('path') != self.want_path or nh != want_nh or comms != CTL_COMMS or med != 5 \
                    or a.get(1) != b'\0':
                return (f'{self.p.name}: {x}: path {a.get("path")} nh {nh} comms {comms} med {med}'
                        f' origin {a.get(1)}')
        return ''


EDGE_ASN = 65300


def edge_cases(fz, edge, spokes, spokes_match):
    """Valid UPDATEs of unusual shape, each with a known outcome at both spokes
    (spoke: 4-octet AS, 4096-octet messages, 65515 prepended; spoke2: 2-octet
    AS, extended messages, transparent). The edge peer then leaves and the
    spokes are back to the control routes."""
    if not fz.connect(edge, time.monotonic() + 30):
        raise Failed('edge: no session')
    spoke, spoke2 = spokes

    def expect(what, pred):
        def cond():
            for sp in spokes:
                sp.pump(fz, 0.05)
            return pred()
        try:
            wait_for(cond, T, interval=0.05, what=what)
        except TimeoutError:
            raise Failed(f'{what}: spoke has {sorted(x for x in spoke.rib if "88" in x)}, '
                         f'spoke2 has {sorted(x for x in spoke2.rib if "88" in x)}') from None

    def path(n):
        return [EDGE_ASN] + [1000 + i for i in range(n - 1)]

    def upd(nlri=b'', n=1, mp=None, nh='198.18.88.1'):
        a = attr(0x40, 1, [0]) + attr(0x40, 2, aspath_val(path(n))) \
            + attr(0x40, 3, ipaddress.IPv4Address(nh).packed)
        if mp is not None:
            a += mp
        m = R.update(attrs=a, nlri=nlri)
        if len(m) > 4096:
            raise Failed(f'edge case UPDATE of {len(m)} octets')
        return m

    # IPv4 NLRI and an IPv6 MP_REACH_NLRI in one UPDATE (RFC 4760 §3): each
    # family goes out as itself, with its own next hop.
    edge.s.send(upd(pfx('10.88.0.0/24'), mp=mp_reach(
        2, 1, ipaddress.IPv6Address('2001:db8:ffff::88').packed, pfx('2001:db8:88::/64'))))

    def mixed_ok():
        for sp in spokes:
            got = {x: a for x, a in sp.rib.items() if x not in CTL_V4 + CTL_V6}
            if set(got) != {'10.88.0.0/24', '2001:db8:88::/64'}:
                return False
            if got['10.88.0.0/24'].get(3) != bytes([198, 18, 88, 1]) or 14 in got['10.88.0.0/24']:
                return False
            if got['2001:db8:88::/64'].get('mp_nh', b'')[:16] != \
                    ipaddress.IPv6Address('2001:db8:ffff::88').packed:
                return False
        return True
    expect('IPv4 NLRI and IPv6 MP_REACH_NLRI of one UPDATE, each in its family', mixed_ok)
    # The same with an MP_REACH_NLRI that carries no prefix.
    edge.s.send(upd(pfx('10.88.3.0/24'), mp=mp_reach(
        2, 1, ipaddress.IPv6Address('2001:db8:ffff::88').packed, b'')))
    expect('IPv4 NLRI with an empty IPv6 MP_REACH_NLRI, as IPv4', lambda: all(
        sp.rib.get('10.88.3.0/24', {}).get(3) == bytes([198, 18, 88, 1])
        and 14 not in sp.rib['10.88.3.0/24']
        and not [x for x in sp.rib if ':' in x and x not in CTL_V6 + ['2001:db8:88::/64']]
        for sp in spokes))

    # An AS path of 300 4-octet ASes (over 1 KB) goes through.
    edge.s.send(upd(pfx('10.88.1.0/24'), n=300))
    expect('a route with a 300-AS path at both spokes', lambda: (
        spoke.rib.get('10.88.1.0/24', {}).get('path') == [RH_ASN] + path(300)
        and spoke2.rib.get('10.88.1.0/24', {}).get('path') == path(300)))

    # A route whose path, once 65515 is prepended, no longer fits spoke's
    # 4096-octet messages replaces one it had: spoke must lose the old route
    # (withdrawn), spoke2 (extended messages) gets the new one.
    edge.s.send(upd(pfx('10.88.2.0/24'), n=2))
    expect('10.88.2.0/24 with a short path', lambda: (
        spoke.rib.get('10.88.2.0/24', {}).get('path') == [RH_ASN] + path(2)
        and spoke2.rib.get('10.88.2.0/24', {}).get('path') == path(2)))
    edge.s.send(upd(pfx('10.88.2.0/24'), n=1011))
    expect('10.88.2.0/24 withdrawn from spoke (too long for it), long at spoke2', lambda: (
        '10.88.2.0/24' not in spoke.rib
        and spoke2.rib.get('10.88.2.0/24', {}).get('path') == path(1011)))

    fz.close(edge)
    try:
        wait_for(spokes_match, T, interval=0.05, what='the spokes back to the control routes')
    except TimeoutError:
        raise Failed('after the edge cases: ' + '; '.join(sp.matches() for sp in spokes)) from None


def ctl_paths_ok(rh):
    """'' if the RIB holds exactly the control peer's paths as sent, else why not."""
    j = json.loads(rh.routehubctl('--json', 'show', 'routes', 'peer', 'ctl', '--limit', '1000').stdout)
    got = {}
    for r in j.get('routes', []):
        ps = r.get('paths', [])
        if len(ps) != 1:
            return f'{r["prefix"]}: {len(ps)} paths from ctl'
        got[r['prefix']] = ps[0]
    want = set(CTL_V4 + CTL_V6)
    if set(got) != want:
        return f'ctl prefixes: extra {sorted(set(got) - want)[:5]} missing {sorted(want - set(got))[:5]}'
    for x, pth in got.items():
        nh = CTL_NH6 if ':' in x else CTL_NH4
        if (pth.get('as_path') != ' '.join(map(str, CTL_PATH)) or pth.get('next_hop') != nh
                or pth.get('med') != 5 or pth.get('origin') != 'igp'
                or pth.get('communities') != [f'{c >> 16}:{c & 0xffff}' for c in CTL_COMMS]):
            return f'{x}: ctl path now {pth}'
    return ''


def rib_only_ctl(rh):
    """'' once every path in the RIB is the control peer's."""
    rs = rh.routes()
    others = [(r['prefix'], r['peer']) for r in rs if r['peer'] != rh.ctl_addr]
    mine = {r['prefix'] for r in rs if r['peer'] == rh.ctl_addr}
    if others:
        return f'paths of others still in the RIB: {others[:5]} (+{max(0, len(others) - 5)})'
    if mine != set(CTL_V4 + CTL_V6):
        return f'ctl prefixes in the RIB: {sorted(mine)[:5]}...'
    return ''


def aligned_block(lab, prefix_len):
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
    raise Failed(f'no free aligned /{prefix_len} of lab addresses')


# ---------------------------------------------------------------------------------------
def scenario(lab, seed, n_msgs, seconds):
    rh = Routehubd(lab, 'rh', RH_ASN, '10.250.0.1', lab.address(), log_level='info')
    rng = random.Random(seed)
    peers = {}

    def conf(name, asn, **kw):
        a = lab.address()
        rh.add_neighbor(a, asn, passive=True, name=name, **kw)
        return a

    ctl = Peer('ctl', conf('ctl', CTL_ASN), CTL_ASN, '10.250.1.1', caps_for(CTL_ASN))
    edge = Peer('edge', conf('edge', EDGE_ASN), EDGE_ASN, '10.250.1.4', caps_for(EDGE_ASN))
    rh.ctl_addr = ctl.addr
    spoke = Peer('spoke', conf('spoke', 65200), 65200, '10.250.1.2', caps_for(65200))
    spoke2 = Peer('spoke2', conf('spoke2', 65201, rs_client=True), 65201, '10.250.1.3',
                  caps_for(65201, as4=False, ext=True), as4=False, ext=True)
    spoke3 = Peer('spoke3', conf('spoke3', 65202), 65202, '10.250.1.5',
                  caps_for(65202, as4=False, ext=True, v4=False, v6=True), as4=False, ext=True)
    spoke3.v4 = False
    fz_kinds = [
        dict(as4=True, ext=True, v6=True, err=False, addpath=False),
        dict(as4=False, ext=False, v6=False, err=False, addpath=False),
        dict(as4=True, ext=False, v6=True, err=True, addpath=True),
        dict(as4=True, ext=True, v6=True, err=True, addpath=True),
        dict(as4=False, ext=True, v6=True, err=False, addpath=False),
    ]
    fuzzers = []
    for i, k in enumerate(fz_kinds):
        asn = 65001 + i
        a = conf(f'fz{i}', asn)
        fuzzers.append(Peer(f'fz{i}', a, asn, f'10.250.2.{i + 1}',
                            caps_for(asn, as4=k['as4'], ext=k['ext'], v6=k['v6'], err=k['err'],
                                     addpath=k['addpath']),
                            as4=k['as4'], ext=k['ext'], v6=k['v6'], enhanced_rr=k['err'],
                            vary=i in (2, 3), addpath=k['addpath']))
    # Update groups come from (role, transparent, capabilities): fuzzers that
    # come back with other capabilities each time, in three roles, ask for
    # every combination there is.
    a = conf('fzt', 65010, rs_client=True)
    fuzzers.append(Peer('fzt', a, 65010, '10.250.2.10', caps_for(65010), vary=True))
    net, block = aligned_block(lab, 30)
    rh.add_range(f'{net}/30', role='rr-client', name='dyn')
    for i, a in enumerate(block):
        fuzzers.append(Peer(f'dyn{i}', a, RH_ASN, f'10.250.3.{i + 1}',
                            caps_for(RH_ASN, ext=bool(i % 2), err=bool(i % 2)),
                            ext=bool(i % 2), ibgp=True, enhanced_rr=bool(i % 2), vary=True))
    for p in [ctl, spoke, spoke2] + fuzzers:
        peers[p.name] = p
    lab.start_all()
    fz = Fuzz(lab, rh, seed)

    def status():
        return json.loads(rh.routehubctl('--json', 'show', 'status', timeout=20).stdout)

    # -- set up: control peer and spokes ------------------------------------------------
    t_end = time.monotonic() + 30
    for p in (ctl, spoke, spoke2):
        if not fz.connect(p, t_end):
            raise Failed(f'{p.name}: no session')
    for m in ctl_updates():
        ctl.s.send(m)
    spokes = [Spoke(spoke, [RH_ASN] + CTL_PATH), Spoke(spoke2, CTL_PATH)]

    def spokes_match():
        for sp in spokes:
            sp.pump(fz, 0.05)
        return all(not sp.matches() for sp in spokes)
    try:
        wait_for(spokes_match, T, interval=0.05, what='the spokes to hold the control routes')
    except TimeoutError:
        raise Failed('; '.join(sp.matches() for sp in spokes)) from None
    why = ctl_paths_ok(rh)
    if why:
        raise Failed(f'before fuzzing: {why}')
    edge_cases(fz, edge, spokes, spokes_match)

    # -- fuzz --------------------------------------------------------------------------
    t0 = time.monotonic()
    deadline = t0 + seconds
    checks = 0
    while fz.sent < n_msgs and time.monotonic() < deadline:
        p = rng.choice(fuzzers)
        if p.s is None and not fz.connect(p, min(deadline, time.monotonic() + 10)):
            fz.violation(f'{p.name}: could not establish again within 10 s')
            continue
        fz.step(p, fz.pick())
        if rh.proc.poll() is not None:
            raise Failed(f'routehubd exited with {rh.proc.returncode} (seed {seed}, last cases '
                         f'{fz.history[-5:]})')
        ctl_v = fz.drain(ctl, 0.0)
        if ctl_v is not None:
            raise Failed(f'the control peer lost its session: {ctl_v} (last cases {fz.history[-5:]})')
        for sp in spokes:
            sp.pump(fz)
        if fz.sent % 250 == 0:
            checks += 1
            status()
            why = ctl_paths_ok(rh)
            if why:
                fz.violation(f'after {fz.sent} messages: {why} (last cases {fz.history[-5:]})')
    elapsed = time.monotonic() - t0
    print(f'fuzz: seed {seed}: {fz.sent} messages in {elapsed:.1f} s over {fz.connects} sessions; '
          f'resets {dict(sorted(fz.resets.items()))}', flush=True)
    print(f'fuzz: cases {dict(sorted(fz.cases.items()))}', flush=True)

    # -- end: fuzzers gone, only the control routes remain ------------------------------
    for p in fuzzers:
        if p.s is not None:
            v = fz.sync(p)
            if v not in (None, 'desync'):
                pass  # drain() judged the reset already
            fz.close(p)
    try:
        wait_for(lambda: not rib_only_ctl(rh), T, what='the RIB to hold only the control routes')
    except TimeoutError:
        fz.violation(rib_only_ctl(rh))
    why = ctl_paths_ok(rh)
    if why:
        fz.violation(f'at the end: {why}')
    try:
        wait_for(spokes_match, T, interval=0.05, what='the spokes to hold only the control routes')
    except TimeoutError:
        for sp in spokes:
            if sp.matches():
                fz.violation(sp.matches())
    # A spoke that comes late, with capabilities of its own (2-octet AS,
    # extended messages, IPv6 only), gets the control routes of its family
    # and nothing else.
    if not fz.connect(spoke3, time.monotonic() + T):
        fz.violation('spoke3: no session at the end')
    else:
        late = Spoke(spoke3, [RH_ASN] + CTL_PATH, want=CTL_V6)
        try:
            wait_for(lambda: (late.pump(fz, 0.05), not late.matches())[1], T, interval=0.05,
                     what='the late spoke to hold the control IPv6 routes')
        except TimeoutError:
            fz.violation(late.matches())
        fz.close(spoke3)
    with open(rh.logfile, encoding='utf-8', errors='replace') as f:
        n = f.read().count('too many update groups')
    if n:
        fz.violation(f'{n} sessions came up without an update group (routes neither in nor out)')
    st = status()
    pc = json.loads(rh.routehubctl('--json', 'show', 'peer', 'ctl').stdout)
    pc = pc[0] if isinstance(pc, list) else pc
    if pc.get('flaps', 0) != 0 or pc.get('state') != 'Established':
        fz.violation(f'control peer: state {pc.get("state")}, flaps {pc.get("flaps")}')
    print(f'status: {json.dumps(st)[:300]}', flush=True)

    for p in (ctl, spoke, spoke2):
        fz.close(p)
    rc = lab.stop_process(rh.proc)
    rh.proc = None
    if rc != 0:
        fz.violation(f'routehubd exited with {rc} on SIGTERM')
    with open(rh.logfile, encoding='utf-8', errors='replace') as f:
        log = f.read()
    reports = [ln for ln in log.splitlines() if SANITIZER.search(ln)]
    if reports:
        fz.violation('sanitizer reports in the log: ' + ' | '.join(reports[:5]))
    return fz


def main():
    if Routehubd.missing():
        print(f'SKIP: routehubd not built: {", ".join(Routehubd.missing())}')
        return 77
    seed = int(os.environ.get('RH_FUZZ_SEED') or random.randrange(1 << 31))
    n_msgs = int(os.environ.get('RH_FUZZ_MESSAGES', '2000'))
    seconds = float(os.environ.get('RH_FUZZ_SECONDS', '50'))
    print(f'fuzz: RH_FUZZ_SEED={seed} RH_FUZZ_MESSAGES={n_msgs} RH_FUZZ_SECONDS={seconds:g}',
          flush=True)
    fz = None
    with Lab() as lab:
        try:
            fz = scenario(lab, seed, n_msgs, seconds)
        except Failed as e:
            lab.failed = True
            print(f'FAIL: {e}', flush=True)
            print(f'0 passed, 1 failed (RH_FUZZ_SEED={seed})')
            return 1
        if fz.violations:
            lab.failed = True
            for v in fz.violations[:30]:
                print(f'FAIL: {v}')
            print(f'0 passed, 1 failed ({len(fz.violations)} violations; RH_FUZZ_SEED={seed})')
            return 1
    print('1 passed, 0 failed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
