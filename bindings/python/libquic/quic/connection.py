"""QuicConnection: aioquic's sans-I/O connection API on libquic.

Code written against aioquic.quic.connection.QuicConnection runs on it:
connect, receive_datagram, datagrams_to_send, get_timer, handle_timer,
next_event and the stream, datagram, ping, key update and close calls,
with aioquic's event classes. Times are float seconds on the caller's
clock (time.time() or a monotonic one), as in aioquic; libquic gets them in
nanoseconds, never going back.

Where it differs from aioquic:
- A client's original_destination_connection_id is known once connect()
  has run (aioquic draws it in the constructor).
- A server's session tickets are sealed with its own ticket keys: its
  session_ticket_fetcher and session_ticket_handler switch tickets (and
  0-RTT) on but are never called.
- Stream misuse raises StreamError, a ValueError (aioquic raises
  ValueError too), with the library's result code.
"""

import ctypes
import types
from collections import deque
from enum import IntEnum
from typing import Any, Callable, Deque, List, Optional, Tuple

from .. import _lib
from .._lib import byref, lib
from ..tls import SessionTicket
from . import events
from .configuration import QuicConfiguration
from .packet import QuicErrorCode

NetworkAddress = Any
SessionTicketFetcher = Callable[[bytes], Optional[SessionTicket]]
SessionTicketHandler = Callable[[SessionTicket], None]
TokenHandler = Callable[[bytes], None]

_BUFFER = 65536
# The latest time libquic is given: below its UINT64_MAX ("no timer").
_CLOCK_MAX_NS = 2**63


class Termination(IntEnum):
    """Why a connection ended (ConnectionTerminated.termination)."""
    LOCAL_ERROR = _lib.TERMINATION_LOCAL_ERROR
    LOCAL_CLOSE = _lib.TERMINATION_LOCAL_CLOSE
    PEER_TRANSPORT = _lib.TERMINATION_PEER_TRANSPORT
    PEER_APPLICATION = _lib.TERMINATION_PEER_APPLICATION
    IDLE_TIMEOUT = _lib.TERMINATION_IDLE_TIMEOUT
    HANDSHAKE_TIMEOUT = _lib.TERMINATION_HANDSHAKE_TIMEOUT
    STATELESS_RESET = _lib.TERMINATION_STATELESS_RESET
    VERSION_NEGOTIATION = _lib.TERMINATION_VERSION_NEGOTIATION
    ABANDONED = _lib.TERMINATION_ABANDONED


# aioquic's reason phrases for the ends it reports without a frame.
_SILENT_REASONS = {
    Termination.IDLE_TIMEOUT: "Idle timeout",
    Termination.HANDSHAKE_TIMEOUT: "Handshake timeout",
    Termination.STATELESS_RESET: "Stateless reset",
    Termination.VERSION_NEGOTIATION: "Could not find a common protocol version",
    Termination.ABANDONED: "Abandoned",
}


def _addr(ss, n):
    return _lib.addr_tuple(ss, n) if n else None


class QuicConnection:
    """A QUIC connection, driven by the caller (see the module's text)."""

    # Defaults for connections made without a QuicConfiguration (_open).
    _configuration = None
    _session_ticket_handler = None
    _token_handler = None
    _borrowed = False
    _ptr = None

    def __init__(self, *, configuration: QuicConfiguration,
                 original_destination_connection_id: Optional[bytes] = None,
                 retry_source_connection_id: Optional[bytes] = None,
                 session_ticket_fetcher: Optional[SessionTicketFetcher] = None,
                 session_ticket_handler: Optional[SessionTicketHandler] = None,
                 token_handler: Optional[TokenHandler] = None,
                 address_validated: bool = False) -> None:
        if not configuration.is_client:
            assert original_destination_connection_id is not None, \
                "original_destination_connection_id is required for a server"
        self._configuration = configuration
        self._session_ticket_handler = session_ticket_handler
        self._token_handler = token_handler
        tickets = bool(session_ticket_handler or session_ticket_fetcher
                       or (configuration.is_client and configuration.session_ticket))
        native = configuration._native(tickets)
        if configuration.is_client:
            ticket = configuration.session_ticket
            self._open(native, True, session_ticket=ticket.ticket if ticket else None,
                       address_token=configuration.token)
        else:
            self._open(native, False, original_dcid=original_destination_connection_id,
                       retry_scid=retry_source_connection_id, address_validated=address_validated)

    def _open(self, native, is_client, original_dcid=None, retry_scid=None, session_ticket=None,
              address_token=None, address_validated=False):
        """Makes the libquic connection from a native config (anything with
        a `ptr` to a quic_config, kept alive with the connection)."""
        self._native = native
        self._setup(is_client, original_dcid)
        params = _lib.ConnParams()
        keep = []

        def put(value):
            if not value:
                return None, 0
            b = ctypes.create_string_buffer(bytes(value), len(value))
            keep.append(b)
            return ctypes.cast(b, ctypes.c_void_p), len(value)

        params.original_dcid, params.original_dcid_len = put(original_dcid)
        params.retry_scid, params.retry_scid_len = put(retry_scid)
        params.session_ticket, params.session_ticket_len = put(session_ticket)
        params.address_token, params.address_token_len = put(address_token)
        params.address_validated = address_validated
        ptr = ctypes.c_void_p()
        _lib.check(lib.quic_conn_new(native.ptr, byref(params), byref(ptr)), "QuicConnection", native.ptr)
        self._ptr = ptr

    def _setup(self, is_client, original_dcid=None):
        self._is_client = is_client
        self._original_dcid = original_dcid
        self._events: Deque[events.QuicEvent] = deque()
        self._queued = []
        self._early_sends = []
        self._now_ns = 0
        self._buf = ctypes.create_string_buffer(_BUFFER)
        self._ev = _lib.Event()

    @classmethod
    def _borrow(cls, ptr, is_client=False):
        """A connection an endpoint owns (quic_endpoint_conn): usable like
        any, never freed by this object."""
        conn = cls.__new__(cls)
        conn._setup(is_client)
        conn._ptr = ptr
        conn._borrowed = True
        return conn

    def __del__(self):
        if self._ptr and not self._borrowed:
            lib.quic_conn_free(self._ptr)
        self._ptr = None

    # ---- the clock ----

    def _ns(self, now: Optional[float]) -> int:
        """Seconds to nanoseconds, never before the last time given, and
        within what libquic's uint64_t clock holds (ctypes would wrap)."""
        if now is not None:
            self._now_ns = min(max(self._now_ns, int(round(now * 1e9))), _CLOCK_MAX_NS)
        return self._now_ns

    # ---- aioquic's API ----

    @property
    def configuration(self) -> QuicConfiguration:
        return self._configuration

    @property
    def original_destination_connection_id(self) -> Optional[bytes]:
        """The server: as given. The client: the Destination Connection ID
        of its first Initial, once connect() has run."""
        return self._original_dcid

    @property
    def host_cid(self) -> bytes:
        """The connection ID the peer currently routes to us by."""
        out, n = (ctypes.c_uint8 * 20)(), ctypes.c_size_t()
        _lib.check(lib.quic_conn_local_cid(self._ptr, out, 20, byref(n)), "host_cid")
        return bytes(out[:n.value])

    def connect(self, addr: NetworkAddress, now: float) -> None:
        """Starts the handshake with the server at addr (a client only)."""
        assert self._is_client, "connect() can only be called for clients"
        ss, n = _lib.sockaddr((addr[0], addr[1]))
        _lib.check(lib.quic_conn_connect(self._ptr, byref(ss), n, self._ns(now)), "connect")
        # The first Initial's DCID is the original one: read it from the
        # datagram, which stays queued for datagrams_to_send.
        first = self._pull(self._ns(now))
        if first:
            info = _lib.HeaderInfo()
            data = first[0][0]
            if lib.quic_header_parse(data, len(data), 0, byref(info)) == _lib.OK:
                self._original_dcid = _lib.string_at(info.dcid, info.dcid_len)
        self._queued = first

    def _pull(self, now_ns) -> List[Tuple[bytes, NetworkAddress, int]]:
        """Every datagram libquic has now, with its destination and ECN
        codepoint."""
        out = []
        n, info = ctypes.c_size_t(), _lib.DatagramInfo()
        while True:
            info.struct_size = ctypes.sizeof(info)
            rc = _lib.check(lib.quic_conn_send_info(self._ptr, self._buf, _BUFFER, byref(n), byref(info),
                                                    now_ns), "datagrams_to_send")
            if rc == _lib.DONE:
                return out
            out.append((self._buf.raw[:n.value], _lib.addr_tuple(info.remote, info.remote_len), info.ecn))

    def datagrams_to_send(self, now: float) -> List[Tuple[bytes, NetworkAddress]]:
        """Every datagram to send now, with its destination."""
        return [(d, a) for d, a, _ecn in self.datagrams_to_send_with_ecn(now)]

    def receive_datagram(self, data: bytes, addr: NetworkAddress, now: float, ecn: int = 0) -> None:
        """Feeds one datagram received from addr. A datagram libquic drops
        (garbage, another connection's, undecryptable) changes nothing.
        libquic: `ecn`, the datagram's ECN codepoint (IP_RECVTOS)."""
        if ecn:
            info = _lib.DatagramInfo(ecn=ecn)
            info.remote, info.remote_len = _lib.sockaddr((addr[0], addr[1]))
            _lib.check(lib.quic_conn_recv_info(self._ptr, bytes(data), len(data), byref(info),
                                               self._ns(now)), "receive_datagram")
        else:
            ss, n = _lib.sockaddr((addr[0], addr[1]))
            _lib.check(lib.quic_conn_recv(self._ptr, bytes(data), len(data), byref(ss), n, self._ns(now)),
                       "receive_datagram")
        self._take_events()

    def _take_events(self):
        """Moves libquic's events into the queue at once, so that the ticket
        and token handlers run during the call that received them, as in
        aioquic; then sends stream data that waited for the handshake."""
        while self._poll():
            pass
        if self._early_sends:
            self._send_early()

    def get_timer(self) -> Optional[float]:
        """When handle_timer is next due, in seconds, or None."""
        t = lib.quic_conn_timer(self._ptr)
        return None if t == _lib.NO_TIMER else t / 1e9

    def handle_timer(self, now: float) -> None:
        _lib.check(lib.quic_conn_handle_timer(self._ptr, self._ns(now)), "handle_timer")
        self._take_events()

    def next_event(self) -> Optional[events.QuicEvent]:
        """The next event, or None."""
        while not self._events:
            if not self._poll():
                return None
        return self._events.popleft()

    def _poll(self) -> bool:
        ev = self._ev
        ev.struct_size = ctypes.sizeof(ev)
        if _lib.check(lib.quic_conn_poll_event(self._ptr, byref(ev)), "next_event") == _lib.DONE:
            return False
        converted = self._convert(ev)
        if converted is not None:
            self._events.append(converted)
        return True

    def _convert(self, ev):
        k = ev.kind
        data = lambda: _lib.string_at(ev.data, ev.data_len)  # noqa: E731
        if k in (_lib.EV_HANDSHAKE_COMPLETED, _lib.EV_PROTOCOL_NEGOTIATED):
            alpn = _lib.string_at(ev.alpn, ev.alpn_len).decode() or None
            if k == _lib.EV_PROTOCOL_NEGOTIATED:
                return events.ProtocolNegotiated(alpn_protocol=alpn)
            return events.HandshakeCompleted(alpn_protocol=alpn, early_data_accepted=ev.early_data_accepted,
                                             session_resumed=ev.session_resumed)
        if k == _lib.EV_STREAM_DATA_RECEIVED:
            return events.StreamDataReceived(data=data(), end_stream=ev.end_stream, stream_id=ev.stream_id)
        if k == _lib.EV_STREAM_RESET:
            return events.StreamReset(error_code=ev.error_code, stream_id=ev.stream_id)
        if k == _lib.EV_STOP_SENDING_RECEIVED:
            return events.StopSendingReceived(error_code=ev.error_code, stream_id=ev.stream_id)
        if k == _lib.EV_DATAGRAM_FRAME_RECEIVED:
            return events.DatagramFrameReceived(data=data())
        if k == _lib.EV_PING_ACKNOWLEDGED:
            return events.PingAcknowledged(uid=ev.ping_uid)
        if k == _lib.EV_CONNECTION_ID_ISSUED:
            return events.ConnectionIdIssued(connection_id=_lib.string_at(ev.cid, ev.cid_len))
        if k == _lib.EV_CONNECTION_ID_RETIRED:
            return events.ConnectionIdRetired(connection_id=_lib.string_at(ev.cid, ev.cid_len))
        if k == _lib.EV_CONNECTION_TERMINATED:
            reason = _lib.string_at(ev.reason, ev.reason_len).decode(errors="replace")
            code = ev.error_code
            if not reason and ev.termination in _SILENT_REASONS:
                reason = _SILENT_REASONS[Termination(ev.termination)]
            return events.ConnectionTerminated(
                error_code=code, frame_type=ev.frame_type if ev.has_frame_type else None,
                reason_phrase=reason, termination=ev.termination)
        if k == _lib.EV_SESSION_TICKET:
            if self._session_ticket_handler is not None:
                self._session_ticket_handler(SessionTicket(ticket=data()))
            return None
        if k == _lib.EV_NEW_TOKEN:
            if self._token_handler is not None:
                self._token_handler(data())
            return None
        if k == _lib.EV_KEY_UPDATED:
            return events.KeyUpdated()
        if k == _lib.EV_PEER_MIGRATED:
            return events.PeerMigrated(addr=_addr(ev.remote_addr, ev.remote_addr_len))
        if k == _lib.EV_PATH_VALIDATED:
            return events.PathValidated(local_addr=_addr(ev.local_addr, ev.local_addr_len),
                                        addr=_addr(ev.remote_addr, ev.remote_addr_len))
        if k == _lib.EV_PATH_FAILED:
            return events.PathFailed(local_addr=_addr(ev.local_addr, ev.local_addr_len),
                                     addr=_addr(ev.remote_addr, ev.remote_addr_len),
                                     reason=_lib.string_at(ev.reason, ev.reason_len).decode(errors="replace"))
        if k == _lib.EV_MIGRATED:
            return events.Migrated(local_addr=_addr(ev.local_addr, ev.local_addr_len),
                                   addr=_addr(ev.remote_addr, ev.remote_addr_len))
        if k == _lib.EV_STREAMS_AVAILABLE:
            return events.StreamsAvailable(unidirectional=ev.unidirectional, max_streams=ev.max_streams)
        if k == _lib.EV_EARLY_DATA_REJECTED:
            return events.EarlyDataRejected()
        if k == _lib.EV_STREAM_WRITABLE:
            return events.StreamWritable(stream_id=ev.stream_id)
        if k == _lib.EV_PATH_MTU_CHANGED:
            return events.PathMtuChanged(mtu=ev.mtu, black_hole=ev.black_hole)
        return events.UnknownEvent(kind=k)

    def get_next_available_stream_id(self, is_unidirectional: bool = False) -> int:
        """The ID the next stream of ours of that direction gets."""
        sid = ctypes.c_uint64()
        _lib.check(lib.quic_conn_next_stream_id(self._ptr, is_unidirectional, byref(sid)),
                   "get_next_available_stream_id")
        next_id = sid.value
        # Streams written before the handshake are not open in libquic yet.
        for stream_id, _data, _end in self._early_sends:
            if stream_id % 4 == next_id % 4 and stream_id >= next_id:
                next_id = stream_id + 4
        return next_id

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Queues data on a stream (opening it if it is ours and new).
        Before the handshake has brought the peer's limits (and without
        0-RTT), the data waits here and goes once it has, as in aioquic."""
        if self._early_sends:
            self._early_sends.append((stream_id, bytes(data), end_stream))
            return
        rc = lib.quic_conn_stream_send(self._ptr, stream_id, bytes(data), len(data), end_stream)
        if rc == _lib.HANDSHAKE_PENDING:
            self._early_sends.append((stream_id, bytes(data), end_stream))
            return
        _lib.check(rc, "send_stream_data")

    def _send_early(self):
        """Hands libquic the stream data written before the handshake, once
        it takes it."""
        while self._early_sends:
            stream_id, data, end_stream = self._early_sends[0]
            rc = lib.quic_conn_stream_send(self._ptr, stream_id, data, len(data), end_stream)
            if rc == _lib.HANDSHAKE_PENDING:
                return
            self._early_sends.pop(0)
            if rc == _lib.CLOSING:
                self._early_sends.clear()
                return
            _lib.check(rc, "send_stream_data")

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        _lib.check(lib.quic_conn_stream_reset(self._ptr, stream_id, error_code), "reset_stream")

    def stop_stream(self, stream_id: int, error_code: int) -> None:
        _lib.check(lib.quic_conn_stream_stop(self._ptr, stream_id, error_code), "stop_stream")

    def send_datagram_frame(self, data: bytes) -> None:
        """Queues a DATAGRAM frame (RFC 9221)."""
        _lib.check(lib.quic_conn_send_datagram(self._ptr, bytes(data), len(data)), "send_datagram_frame")

    def send_ping(self, uid: int) -> None:
        _lib.check(lib.quic_conn_send_ping(self._ptr, uid), "send_ping")

    def request_key_update(self) -> None:
        """Moves to the next generation of 1-RTT keys (RFC 9001 §6)."""
        _lib.check(lib.quic_conn_request_key_update(self._ptr), "request_key_update")

    def change_connection_id(self) -> bool:
        """Moves to an unused connection ID of the peer's; nothing happens
        while there is none (as in aioquic). libquic: True when it moved."""
        rc = lib.quic_conn_change_connection_id(self._ptr)
        if rc in (_lib.NO_CONNECTION_ID, _lib.WOULD_BLOCK):
            return False
        _lib.check(rc, "change_connection_id")
        return True

    def close(self, error_code: int = QuicErrorCode.NO_ERROR, frame_type: Optional[int] = None,
              reason_phrase: str = "") -> None:
        """Closes the connection: an application close without frame_type,
        a transport close with one (aioquic's rule). Closing twice, or a
        connection already over, does nothing."""
        r = reason_phrase.encode()
        rc = lib.quic_conn_close(self._ptr, frame_type is None, error_code, frame_type or 0, r, len(r),
                                 self._now_ns)
        if rc != _lib.CLOSING:
            _lib.check(rc, "close")

    # ---- libquic's additions ----

    @property
    def is_established(self) -> bool:
        return bool(lib.quic_conn_is_established(self._ptr))

    @property
    def is_closed(self) -> bool:
        """True once nothing more will be sent: the object may go."""
        return bool(lib.quic_conn_is_closed(self._ptr))

    @property
    def key_generation(self) -> int:
        """How many 1-RTT key updates have completed."""
        return lib.quic_conn_key_generation(self._ptr)

    def stats(self) -> types.SimpleNamespace:
        """The connection's counters (quic_stats) as attributes: version,
        cipher_suite, rtt_ns, cwnd, bytes_sent, packets_lost, ecn_state, pmtu..."""
        st = _lib.Stats()
        _lib.check(lib.quic_conn_stats(self._ptr, byref(st)), "stats")
        return types.SimpleNamespace(**{name: getattr(st, name) for name, _ in _lib.Stats._fields_[1:]})

    def datagrams_to_send_with_ecn(self, now: float) -> List[Tuple[bytes, NetworkAddress, int]]:
        """datagrams_to_send with each datagram's ECN codepoint, to set on
        the socket (IP_TOS) when sending it."""
        queued, self._queued = self._queued, []
        return queued + self._pull(self._ns(now))

    def peer_address(self) -> Optional[NetworkAddress]:
        """Where the peer is now (it may have moved)."""
        ss, n = _lib.SockaddrStorage(), ctypes.c_uint32()
        if _lib.check(lib.quic_conn_peer_address(self._ptr, byref(ss), byref(n)), "peer_address") == _lib.DONE:
            return None
        return _lib.addr_tuple(ss, n.value)

    def peer_error(self) -> Optional[Tuple[bool, int, bytes]]:
        """How the peer closed: (application close?, code, reason), or None."""
        info = _lib.CloseInfo()
        if _lib.check(lib.quic_conn_peer_error(self._ptr, byref(info)), "peer_error") == _lib.DONE:
            return None
        return info.is_app, info.error_code, _lib.string_at(info.reason, info.reason_len)

    def rotate_connection_ids(self) -> bool:
        """Replaces every connection ID given to the peer (Retire Prior To);
        False while the peer has not retired the last set replaced."""
        rc = lib.quic_conn_rotate_connection_ids(self._ptr)
        if rc == _lib.WOULD_BLOCK:
            return False
        _lib.check(rc, "rotate_connection_ids")
        return True

    def stream_read(self, stream_id: int, cap: int) -> Optional[Tuple[bytes, bool]]:
        """With a configuration in read mode (quic.h: QUIC_RECEIVE_MODE_READ):
        up to `cap` bytes of a stream and whether it ended with them, or None
        when nothing is there yet."""
        buf = ctypes.create_string_buffer(max(cap, 1))
        n, fin = ctypes.c_size_t(), ctypes.c_bool()
        rc = _lib.check(lib.quic_conn_stream_read(self._ptr, stream_id, buf, cap, byref(n), byref(fin)),
                        "stream_read")
        if rc == _lib.DONE:
            return None
        return buf.raw[:n.value], fin.value

    def stream_consumed(self, stream_id: int, n: int) -> None:
        """Credits n bytes of a stream back to the peer (receive credit on
        consume)."""
        _lib.check(lib.quic_conn_stream_consumed(self._ptr, stream_id, n), "stream_consumed")

    def pause_reading(self, stream_id: int) -> None:
        _lib.check(lib.quic_conn_stream_pause_reading(self._ptr, stream_id), "pause_reading")

    def resume_reading(self, stream_id: int) -> None:
        _lib.check(lib.quic_conn_stream_resume_reading(self._ptr, stream_id), "resume_reading")

    def send_buffered(self, stream_id: int) -> int:
        """Bytes written to a stream and not yet acknowledged."""
        n = ctypes.c_uint64()
        _lib.check(lib.quic_conn_stream_send_buffered(self._ptr, stream_id, byref(n)), "send_buffered")
        return n.value
