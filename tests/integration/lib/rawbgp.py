"""rawbgp: a tiny BGP speaker built from raw bytes, for tests that need to send what
no real daemon would (malformed OPENs, silence after OPEN, bad markers, over-long
messages) and to read exactly what the other side answers.

Standard library only.

    from rawbgp import RawSpeaker, open_msg, keepalive, cap_as4, cap_mp

    with RawSpeaker.connect('127.10.3.1', source='127.10.3.7', timeout=5) as s:
        s.send(open_msg(65001, hold_time=9, bgp_id='10.0.0.7', caps=[cap_mp(1, 1), cap_as4(65001)]))
        m = s.recv_msg(timeout=5)             # Message(type='OPEN', ...)
        print(m.open['hold_time'], m.open['caps'])
        s.send(keepalive())
        m = s.recv_until(lambda m: m.type == 'NOTIFICATION', timeout=15)
        print(m.notification)                  # {'code': 4, 'subcode': 0, 'data': b'', ...}

Every read has a timeout; a closed connection raises ConnectionClosed (carrying
the messages read before the close), a timeout raises TimeoutError. Nothing here
sleeps.
"""

import ipaddress
import select
import socket
import struct
import time

__all__ = [
    'MARKER', 'OPEN', 'UPDATE', 'NOTIFICATION', 'KEEPALIVE', 'ROUTE_REFRESH', 'TYPE_NAMES',
    'message', 'open_msg', 'keepalive', 'notification', 'update', 'route_refresh',
    'cap', 'cap_mp', 'cap_as4', 'cap_route_refresh', 'cap_enhanced_route_refresh',
    'cap_ext_msg', 'CAP_NAMES', 'parse_message', 'parse_open', 'parse_notification',
    'Message', 'RawSpeaker', 'RawListener', 'ConnectionClosed', 'ProtocolError',
    'err_name',
]

MARKER = b'\xff' * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
TYPE_NAMES = {OPEN: 'OPEN', UPDATE: 'UPDATE', NOTIFICATION: 'NOTIFICATION',
              KEEPALIVE: 'KEEPALIVE', ROUTE_REFRESH: 'ROUTE-REFRESH'}
HEADER_LEN = 19
MAX_MSG = 4096

CAP_NAMES = {1: 'multiprotocol', 2: 'route-refresh', 6: 'extended-message',
             64: 'graceful-restart', 65: 'as4', 69: 'add-path', 70: 'enhanced-route-refresh',
             73: 'fqdn', 128: 'route-refresh-old'}

_ERR_NAMES = {
    (1, None): 'Message Header Error', (1, 1): 'Connection Not Synchronized',
    (1, 2): 'Bad Message Length', (1, 3): 'Bad Message Type',
    (2, None): 'OPEN Message Error', (2, 1): 'Unsupported Version Number',
    (2, 2): 'Bad Peer AS', (2, 3): 'Bad BGP Identifier',
    (2, 4): 'Unsupported Optional Parameter', (2, 6): 'Unacceptable Hold Time',
    (2, 7): 'Unsupported Capability',
    (3, None): 'UPDATE Message Error', (4, None): 'Hold Timer Expired',
    (5, None): 'Finite State Machine Error', (6, None): 'Cease',
    (6, 1): 'Maximum Number of Prefixes Reached', (6, 2): 'Administrative Shutdown',
    (6, 3): 'Peer De-configured', (6, 4): 'Administrative Reset',
    (6, 5): 'Connection Rejected', (6, 6): 'Other Configuration Change',
    (6, 7): 'Connection Collision Resolution', (6, 8): 'Out of Resources',
    (6, 9): 'Hard Reset',
}


def err_name(code, subcode):
    """'Cease / Administrative Shutdown' for (6, 2)."""
    major = _ERR_NAMES.get((code, None), f'code {code}')
    minor = _ERR_NAMES.get((code, subcode))
    return f'{major} / {minor}' if minor else f'{major} (subcode {subcode})'


class ProtocolError(Exception):
    """Bytes that are not a BGP message (bad marker, impossible length)."""


class ConnectionClosed(Exception):
    """The other side closed the connection (EOF or reset). `.messages` holds the
    messages read before the close, `.reset` is True for a reset."""

    def __init__(self, msg, messages=(), reset=False):
        super().__init__(msg)
        self.messages = list(messages)
        self.reset = reset


# ---------------------------------------------------------------------------------
# Building messages
# ---------------------------------------------------------------------------------
def message(mtype, body=b'', marker=MARKER, length=None):
    """A BGP message: 16-byte marker, 2-byte length (the real one unless given), type,
    body. `marker` and `length` may be wrong on purpose."""
    if length is None:
        length = HEADER_LEN + len(body)
    return bytes(marker) + struct.pack('!HB', length, mtype) + bytes(body)


def _ip4(addr):
    if isinstance(addr, int):
        return struct.pack('!I', addr)
    return ipaddress.IPv4Address(addr).packed


def cap(code, value=b''):
    """One capability TLV (RFC 5492)."""
    return struct.pack('!BB', code, len(value)) + bytes(value)


def cap_mp(afi=1, safi=1):
    return cap(1, struct.pack('!HBB', afi, 0, safi))


def cap_as4(asn):
    return cap(65, struct.pack('!I', asn))


def cap_route_refresh():
    return cap(2)


def cap_enhanced_route_refresh():
    return cap(70)


def cap_ext_msg():
    return cap(6)


def open_msg(asn, hold_time=90, bgp_id='10.0.0.1', caps=None, version=4, opt_params=None,
             my_as=None):
    """An OPEN. `caps` is a list of capability TLVs (cap_*()), sent in one optional
    parameter of type 2; default: IPv4 unicast, 4-octet AS, route refresh.
    `opt_params` (raw bytes) replaces the whole optional-parameter block.
    `my_as` is the 2-octet My Autonomous System field (AS_TRANS 23456 when asn is
    above 65535, unless given)."""
    if caps is None:
        caps = [cap_mp(1, 1), cap_as4(asn), cap_route_refresh()]
    if opt_params is None:
        blob = b''.join(caps)
        opt_params = struct.pack('!BB', 2, len(blob)) + blob if caps else b''
    if my_as is None:
        my_as = asn if asn <= 0xffff else 23456
    body = struct.pack('!BHH', version, my_as, hold_time) + _ip4(bgp_id) \
        + struct.pack('!B', len(opt_params)) + opt_params
    return message(OPEN, body)


def keepalive():
    return message(KEEPALIVE)


def notification(code, subcode, data=b''):
    return message(NOTIFICATION, struct.pack('!BB', code, subcode) + bytes(data))


def update(withdrawn=b'', attrs=b'', nlri=b''):
    """A raw UPDATE from already-encoded parts (End-of-RIB for IPv4 unicast when all
    are empty)."""
    return message(UPDATE, struct.pack('!H', len(withdrawn)) + withdrawn
                   + struct.pack('!H', len(attrs)) + attrs + nlri)


def route_refresh(afi=1, safi=1, subtype=0):
    return message(ROUTE_REFRESH, struct.pack('!HBB', afi, subtype, safi))


# ---------------------------------------------------------------------------------
# Parsing messages
# ---------------------------------------------------------------------------------
class Message:
    """A parsed message: .type ('OPEN', ...), .code (1..5), .length, .body (bytes
    after the header), .raw, and .open / .notification dicts where they apply."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        self.length, self.code = struct.unpack('!HB', self.raw[16:19])
        self.type = TYPE_NAMES.get(self.code, f'type-{self.code}')
        self.body = self.raw[HEADER_LEN:]
        self.open = parse_open(self.body) if self.code == OPEN else None
        self.notification = parse_notification(self.body) if self.code == NOTIFICATION else None

    def __repr__(self):
        if self.notification:
            n = self.notification
            return f'<NOTIFICATION {n["code"]}/{n["subcode"]} {n["name"]} data={n["data"].hex()}>'
        if self.open:
            o = self.open
            return (f'<OPEN v{o["version"]} AS{o["asn"]} hold {o["hold_time"]} id {o["bgp_id"]} '
                    f'caps {sorted(o["cap_names"])}>')
        return f'<{self.type} len {self.length}>'


def parse_open(body):
    """RFC 4271 §4.2 / RFC 5492 / RFC 6793: {version, my_as, asn (4-octet if
    announced), hold_time, bgp_id, caps: [(code, bytes)], cap_names: {name}, families:
    [(afi, safi)]}. Raises ProtocolError on a truncated OPEN."""
    if len(body) < 10:
        raise ProtocolError(f'OPEN body of {len(body)} bytes')
    version, my_as, hold, bgp_id, optlen = struct.unpack('!BHHIB', body[:10])
    params = body[10:10 + optlen]
    if len(params) != optlen:
        raise ProtocolError('OPEN optional parameters truncated')
    caps = []
    i = 0
    while i + 2 <= len(params):
        ptype, plen = params[i], params[i + 1]
        pval = params[i + 2:i + 2 + plen]
        i += 2 + plen
        if ptype != 2:
            continue
        j = 0
        while j + 2 <= len(pval):
            ccode, clen = pval[j], pval[j + 1]
            caps.append((ccode, bytes(pval[j + 2:j + 2 + clen])))
            j += 2 + clen
    asn = my_as
    families = []
    for ccode, cval in caps:
        if ccode == 65 and len(cval) == 4:
            asn = struct.unpack('!I', cval)[0]
        if ccode == 1 and len(cval) == 4:
            afi, _res, safi = struct.unpack('!HBB', cval)
            families.append((afi, safi))
    return {'version': version, 'my_as': my_as, 'asn': asn, 'hold_time': hold,
            'bgp_id': str(ipaddress.IPv4Address(bgp_id)), 'caps': caps,
            'cap_names': {CAP_NAMES.get(c, f'cap-{c}') for c, _ in caps},
            'families': families}


def parse_notification(body):
    """RFC 4271 §4.5: {code, subcode, data, name, shutdown_text}. shutdown_text is
    the RFC 8203 communication of a Cease 2 or 4 (None when there is none)."""
    if len(body) < 2:
        raise ProtocolError(f'NOTIFICATION body of {len(body)} bytes')
    code, subcode = body[0], body[1]
    data = bytes(body[2:])
    text = None
    if code == 6 and subcode in (2, 4) and data:
        n = data[0]
        if 1 + n <= len(data):
            text = data[1:1 + n].decode('utf-8', 'replace')
    return {'code': code, 'subcode': subcode, 'data': data, 'name': err_name(code, subcode),
            'shutdown_text': text}


def parse_message(buf):
    """Cut one message off the front of buf: (Message, rest) or (None, buf) when
    more bytes are needed. Raises ProtocolError on a bad marker or length."""
    if len(buf) < HEADER_LEN:
        return None, buf
    if buf[:16] != MARKER:
        raise ProtocolError(f'bad marker {bytes(buf[:16]).hex()}')
    length = struct.unpack('!H', buf[16:18])[0]
    if length < HEADER_LEN or length > 65535:
        raise ProtocolError(f'bad length {length}')
    if len(buf) < length:
        return None, buf
    return Message(buf[:length]), buf[length:]


# ---------------------------------------------------------------------------------
# The speaker
# ---------------------------------------------------------------------------------
def _deadline(timeout):
    return time.monotonic() + timeout


class RawSpeaker:
    """One TCP connection carrying raw BGP. Build with connect() or a RawListener."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.received = []  # every message read, in order
        self.closed_by_peer = False
        self.reset_by_peer = False

    @classmethod
    def connect(cls, address, port=179, source=None, timeout=10, ttl=None, md5_key=None,
                rcvbuf=None):
        """Connect to address:port, from `source` (a 127.x address) when given;
        rcvbuf: a receive buffer that small, set before connecting (a peer
        that stops reading then fills up at once)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if rcvbuf is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if ttl is not None:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            if md5_key is not None:
                _set_md5(s, address, md5_key)
            if source:
                s.bind((source, 0))
            s.settimeout(timeout)
            s.connect((address, port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            s.close()
            raise
        return cls(s)

    @property
    def local(self):
        return self.sock.getsockname()

    @property
    def remote(self):
        return self.sock.getpeername()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def send(self, data):
        """Send raw bytes (one or more messages, or anything at all)."""
        self.sock.sendall(bytes(data))

    def _fill(self, deadline):
        """Read more bytes into self.buf, or raise TimeoutError / ConnectionClosed."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no message before the deadline')
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError('no message before the deadline')
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.closed_by_peer = self.reset_by_peer = True
            raise ConnectionClosed('connection reset by peer', self.received, reset=True) from None
        if not data:
            self.closed_by_peer = True
            raise ConnectionClosed('connection closed by peer', self.received)
        self.buf += data

    def recv_msg(self, timeout=10):
        """The next message, waiting at most `timeout` seconds."""
        deadline = _deadline(timeout)
        while True:
            m, self.buf = parse_message(self.buf)
            if m is not None:
                self.received.append(m)
                return m
            self._fill(deadline)

    def recv_until(self, pred, timeout=10):
        """Read messages until pred(message) holds; return that message. Messages
        read on the way stay in self.received."""
        deadline = _deadline(timeout)
        while True:
            m = self.recv_msg(max(0.0, deadline - time.monotonic()) or 0.001)
            if pred(m):
                return m

    def recv_notification(self, timeout=10):
        """Wait for a NOTIFICATION (skipping KEEPALIVEs and others) and return it."""
        return self.recv_until(lambda m: m.code == NOTIFICATION, timeout)

    def wait_closed(self, timeout=10):
        """Read (and keep) messages until the other side closes; return the messages
        read meanwhile. TimeoutError if it is still open after `timeout`."""
        deadline = _deadline(timeout)
        start = len(self.received)
        try:
            while True:
                self.recv_msg(max(0.0, deadline - time.monotonic()) or 0.001)
        except ConnectionClosed:
            return self.received[start:]

    def handshake(self, asn, bgp_id, hold_time=90, caps=None, timeout=10):
        """Send OPEN, read the other side's OPEN, send KEEPALIVE, read its KEEPALIVE:
        the session is Established at both ends. Returns the received OPEN. A
        NOTIFICATION on the way raises ProtocolError naming it."""
        self.send(open_msg(asn, hold_time=hold_time, bgp_id=bgp_id, caps=caps))
        m = self.recv_msg(timeout)
        if m.code != OPEN:
            raise ProtocolError(f'expected OPEN, got {m!r}')
        self.send(keepalive())
        k = self.recv_msg(timeout)
        if k.code != KEEPALIVE:
            raise ProtocolError(f'expected KEEPALIVE after OPEN, got {k!r}')
        return m


class RawListener:
    """A listening socket on address:port for a daemon that connects to us."""

    def __init__(self, address, port=179, backlog=4):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((address, port))
            self.sock.listen(backlog)
        except BaseException:
            self.sock.close()
            raise

    def accept(self, timeout=10):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            raise TimeoutError('no incoming connection before the deadline')
        s, _addr = self.sock.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return RawSpeaker(s)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


_TCP_MD5SIG = 14


def _set_md5(s, peer, key):
    """RFC 2385 key for `peer` on socket s (struct tcp_md5sig)."""
    key = key.encode() if isinstance(key, str) else bytes(key)
    sa = (struct.pack('=H', socket.AF_INET) + struct.pack('!H', 0)
          + socket.inet_aton(peer)).ljust(128, b'\0')
    s.setsockopt(socket.IPPROTO_TCP, _TCP_MD5SIG, sa + struct.pack('=2xH4x80s', len(key), key))
