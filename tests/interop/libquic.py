"""A small ctypes binding of libquic's C API, enough to drive connections
against aioquic in one process (and to show Python users the calls).

The library is taken from $LIBQUIC, else target/release/libquic.so."""

import ctypes
import os
import socket
from ctypes import (POINTER, Structure, byref, c_bool, c_char, c_char_p,
                    c_int32, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64,
                    c_void_p)

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_lib = ctypes.CDLL(os.environ.get("LIBQUIC", os.path.join(_ROOT, "target/release/libquic.so")))

OK, DONE = 0, 1
WOULD_BLOCK, NO_CONNECTION_ID, NO_SUCH_CONNECTION = -9, -11, -13
INVALID_ARGUMENT = -2
NO_TIMER = 2**64 - 1
(HANDSHAKE_COMPLETED, PROTOCOL_NEGOTIATED, STREAM_DATA_RECEIVED, STREAM_RESET,
 STOP_SENDING_RECEIVED, DATAGRAM_FRAME_RECEIVED, PING_ACKNOWLEDGED,
 CONNECTION_ID_ISSUED, CONNECTION_ID_RETIRED, CONNECTION_TERMINATED, KEY_UPDATED,
 PEER_MIGRATED, PATH_VALIDATED, STREAMS_AVAILABLE, SESSION_TICKET, NEW_TOKEN,
 EARLY_DATA_REJECTED, STREAM_READABLE, STREAM_WRITABLE) = range(1, 20)
RECEIVE_MODE_READ = 1


class SockaddrStorage(Structure):
    _fields_ = [("data", c_uint8 * 128)]


class Sized(Structure):
    """A struct under quic.h's growth rule: struct_size first, set to the
    size this binding knows; the library writes no further."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.struct_size = ctypes.sizeof(self)


class Event(Sized):
    _fields_ = [
        ("struct_size", c_size_t), ("kind", c_uint32), ("stream_id", c_uint64),
        ("data", POINTER(c_uint8)), ("data_len", c_size_t), ("end_stream", c_bool),
        ("error_code", c_uint64), ("frame_type", c_uint64), ("has_frame_type", c_bool),
        ("reason", POINTER(c_uint8)), ("reason_len", c_size_t),
        ("alpn", POINTER(c_uint8)), ("alpn_len", c_size_t),
        ("session_resumed", c_bool), ("early_data_accepted", c_bool),
        ("ping_uid", c_uint64), ("cid", POINTER(c_uint8)), ("cid_len", c_size_t),
        ("termination", c_uint32),
    ]


class HeaderInfo(Sized):
    _fields_ = [
        ("struct_size", c_size_t), ("packet_type", c_uint32), ("is_long", c_bool), ("fixed_bit", c_bool),
        ("version", c_uint32), ("dcid", POINTER(c_uint8)), ("dcid_len", c_size_t),
        ("scid", POINTER(c_uint8)), ("scid_len", c_size_t),
        ("token", POINTER(c_uint8)), ("token_len", c_size_t),
        ("supported_versions", POINTER(c_uint8)), ("supported_versions_count", c_size_t),
        ("packet_len", c_size_t),
    ]


class Stats(Sized):
    _fields_ = [("struct_size", c_size_t), ("version", c_uint32), ("cipher_suite", c_uint16),
                ("key_exchange_group", c_uint16), ("rtt_ns", c_uint64), ("cwnd", c_uint64),
                ("bytes_in_flight", c_uint64), ("bytes_sent", c_uint64),
                ("bytes_received", c_uint64), ("packets_lost", c_uint64),
                ("spurious_losses", c_uint64), ("lost_by_packet_threshold", c_uint64),
                ("lost_by_time_threshold", c_uint64), ("probe_timeouts", c_uint64),
                ("congestion_events", c_uint64), ("persistent_congestion", c_uint64),
                ("ecn_state", c_uint32), ("ecn_received_ect0", c_uint64),
                ("ecn_received_ect1", c_uint64), ("ecn_received_ce", c_uint64),
                ("ecn_ce_reported", c_uint64), ("ecn_congestion_events", c_uint64)]


# quic_ecn_state
ECN_DISABLED, ECN_TESTING, ECN_UNKNOWN, ECN_CAPABLE, ECN_FAILED = range(5)


class CloseInfo(Sized):
    _fields_ = [("struct_size", c_size_t), ("is_app", c_bool), ("error_code", c_uint64), ("frame_type", c_uint64),
                ("has_frame_type", c_bool), ("reason", POINTER(c_uint8)),
                ("reason_len", c_size_t)]


def _sig(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


_sig("quic_result_str", c_char_p, c_int32)
_sig("quic_config_new", c_int32, c_bool, POINTER(c_void_p))
_sig("quic_config_free", None, c_void_p)
_sig("quic_config_last_error", c_char_p, c_void_p)
_sig("quic_config_set_alpn_protocols", c_int32, c_void_p, POINTER(c_char_p), c_size_t)
_sig("quic_config_set_server_name", c_int32, c_void_p, c_char_p)
_sig("quic_config_set_verify_peer", c_int32, c_void_p, c_bool)
_sig("quic_config_load_verify_locations", c_int32, c_void_p, c_char_p, c_char_p, c_void_p, c_size_t)
_sig("quic_config_load_cert_chain", c_int32, c_void_p, c_char_p, c_char_p, c_char_p)
_sig("quic_config_set_cipher_suites", c_int32, c_void_p, POINTER(c_uint16), c_size_t)
_sig("quic_config_set_idle_timeout", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_keep_alive", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_receive_mode", c_int32, c_void_p, c_uint32)
_sig("quic_config_set_writable_level", c_int32, c_void_p, c_uint64)
_sig("quic_conn_stream_read", c_int32, c_void_p, c_uint64, c_void_p, c_size_t,
     POINTER(c_size_t), POINTER(c_bool))
class ConnParams(Structure):
    """quic_conn_params: struct_size first, fields only ever added at the end."""
    _fields_ = [("struct_size", c_size_t), ("original_dcid", c_void_p),
                ("original_dcid_len", c_size_t), ("retry_scid", c_void_p),
                ("retry_scid_len", c_size_t), ("session_ticket", c_void_p),
                ("session_ticket_len", c_size_t), ("address_token", c_void_p),
                ("address_token_len", c_size_t), ("address_validated", c_bool)]


class TokenInfo(Sized):
    _fields_ = [("struct_size", c_size_t), ("kind", c_uint32),
                ("original_dcid", c_uint8 * 20), ("original_dcid_len", c_size_t),
                ("retry_scid", c_uint8 * 20), ("retry_scid_len", c_size_t)]


TOKEN_NONE, TOKEN_INVALID, TOKEN_RETRY, TOKEN_NEW_TOKEN = range(4)


_sig("quic_conn_new", c_int32, c_void_p, POINTER(ConnParams), POINTER(c_void_p))
_sig("quic_token_check", c_int32, c_void_p, POINTER(HeaderInfo), c_void_p, c_uint32,
     POINTER(TokenInfo))
_sig("quic_retry_with_token", c_int32, c_void_p, POINTER(HeaderInfo), c_void_p, c_uint32,
     c_void_p, c_size_t, POINTER(c_size_t))
_sig("quic_conn_free", None, c_void_p)
_sig("quic_conn_connect", c_int32, c_void_p, c_void_p, c_uint32, c_uint64)
_sig("quic_conn_recv", c_int32, c_void_p, c_char_p, c_size_t, c_void_p, c_uint32, c_uint64)
_sig("quic_conn_send", c_int32, c_void_p, c_void_p, c_size_t, POINTER(c_size_t),
     POINTER(SockaddrStorage), POINTER(c_uint32), c_uint64)
_sig("quic_conn_timer", c_uint64, c_void_p)
_sig("quic_conn_handle_timer", c_int32, c_void_p, c_uint64)
_sig("quic_conn_poll_event", c_int32, c_void_p, POINTER(Event))
_sig("quic_conn_send_ping", c_int32, c_void_p, c_uint64)
_sig("quic_conn_request_key_update", c_int32, c_void_p)
_sig("quic_conn_change_connection_id", c_int32, c_void_p)
_sig("quic_endpoint_new", c_int32, c_void_p, c_void_p, POINTER(c_void_p))
_sig("quic_endpoint_free", None, c_void_p)
_sig("quic_endpoint_connect", c_int32, c_void_p, c_void_p, c_void_p, c_void_p, c_uint32, c_uint64,
     POINTER(c_uint64))
_sig("quic_conn_recv_info", c_int32, c_void_p, c_char_p, c_size_t, c_void_p, c_uint64)
_sig("quic_conn_send_info", c_int32, c_void_p, c_void_p, c_size_t, POINTER(c_size_t), c_void_p,
     c_uint64)
_sig("quic_endpoint_recv", c_int32, c_void_p, c_char_p, c_size_t, c_void_p, c_uint64)
_sig("quic_endpoint_send", c_int32, c_void_p, c_void_p, c_size_t, POINTER(c_size_t), c_void_p,
     c_uint64)
_sig("quic_endpoint_timeout", c_uint64, c_void_p)
_sig("quic_endpoint_handle_timer", c_int32, c_void_p, c_uint64)
_sig("quic_endpoint_poll_event", c_int32, c_void_p, c_void_p, c_void_p)
_sig("quic_endpoint_conn", c_int32, c_void_p, c_uint64, POINTER(c_void_p))
_sig("quic_endpoint_stats", c_int32, c_void_p, c_void_p)
_sig("quic_config_set_quic_lb", c_int32, c_void_p, c_void_p)
_sig("quic_lb_server_id", c_int32, c_char_p, c_size_t, c_size_t, c_void_p, c_void_p)
_sig("quic_conn_rotate_connection_ids", c_int32, c_void_p)
_sig("quic_conn_local_cid", c_int32, c_void_p, c_void_p, c_size_t, POINTER(c_size_t))
_sig("quic_conn_key_generation", c_uint64, c_void_p)
_sig("quic_config_set_key_update_interval", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_supported_versions", c_int32, c_void_p, POINTER(c_uint32), c_size_t)
_sig("quic_config_set_original_version", c_int32, c_void_p, c_uint32)
_sig("quic_conn_stats", c_int32, c_void_p, c_void_p)
_sig("quic_conn_peer_address", c_int32, c_void_p, POINTER(SockaddrStorage), POINTER(c_uint32))
_sig("quic_conn_stream_send", c_int32, c_void_p, c_uint64, c_char_p, c_size_t, c_bool)
_sig("quic_conn_stream_reset", c_int32, c_void_p, c_uint64, c_uint64)
_sig("quic_conn_stream_stop", c_int32, c_void_p, c_uint64, c_uint64)
_sig("quic_conn_next_stream_id", c_int32, c_void_p, c_bool, POINTER(c_uint64))
_sig("quic_conn_send_datagram", c_int32, c_void_p, c_char_p, c_size_t)
_sig("quic_config_set_max_datagram_frame_size", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_max_streams", c_int32, c_void_p, c_uint64, c_uint64)
_sig("quic_config_set_max_data", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_max_stream_data", c_int32, c_void_p, c_uint64)
_sig("quic_config_set_max_windows", c_int32, c_void_p, c_uint64, c_uint64)
_sig("quic_config_set_receive_credit", c_int32, c_void_p, c_uint32)
_sig("quic_config_set_session_tickets", c_int32, c_void_p, c_bool)
_sig("quic_config_set_early_data", c_int32, c_void_p, c_bool)
_sig("quic_config_set_ticket_keys", c_int32, c_void_p, c_char_p, c_size_t)
_sig("quic_conn_stream_consumed", c_int32, c_void_p, c_uint64, c_uint64)
_sig("quic_conn_stream_pause_reading", c_int32, c_void_p, c_uint64)
_sig("quic_conn_stream_resume_reading", c_int32, c_void_p, c_uint64)
_sig("quic_conn_stream_send_buffered", c_int32, c_void_p, c_uint64, POINTER(c_uint64))
_sig("quic_conn_close", c_int32, c_void_p, c_bool, c_uint64, c_uint64, c_char_p, c_size_t, c_uint64)
_sig("quic_conn_is_established", c_bool, c_void_p)
_sig("quic_conn_is_closed", c_bool, c_void_p)
_sig("quic_conn_peer_error", c_int32, c_void_p, POINTER(CloseInfo))
_sig("quic_conn_local_error", c_int32, c_void_p, POINTER(CloseInfo))
_sig("quic_sockaddr_parse", c_int32, c_char_p, POINTER(SockaddrStorage), POINTER(c_uint32))
_sig("quic_sockaddr_format", c_int32, c_void_p, c_uint32, POINTER(c_char), c_size_t)
_sig("quic_header_parse", c_int32, c_char_p, c_size_t, c_size_t, POINTER(HeaderInfo))


STREAM_LIMIT = -300
RECEIVE_CREDIT_ON_CONSUME = 1


class QuicError(Exception):
    def __init__(self, message, rc):
        super().__init__(message)
        self.rc = rc


def check(rc, what, config=None):
    if rc not in (OK, DONE):
        detail = _lib.quic_config_last_error(config).decode() if config else ""
        raise QuicError(f"{what}: {_lib.quic_result_str(rc).decode()} {detail}".strip(), rc)
    return rc


def _bytes(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


def sockaddr(host, port):
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ss, n = SockaddrStorage(), c_uint32()
    check(_lib.quic_sockaddr_parse(text.encode(), byref(ss), byref(n)), "sockaddr")
    return ss, n.value


def addr_tuple(ss, n):
    buf = (c_char * 64)()
    check(_lib.quic_sockaddr_format(byref(ss), n, buf, 64), "format")
    text = buf.value.decode()
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


class QuicLbConfig(Sized):
    _fields_ = [("struct_size", c_size_t), ("config_rotation", c_uint8),
                ("server_id", c_char_p), ("server_id_len", c_size_t), ("nonce_len", c_size_t)]


def quic_lb_server_id(cid, server_id_len):
    """(config rotation, server ID) of a QUIC-LB plaintext connection ID,
    or None when it is unroutable."""
    rotation, out = c_uint8(), (c_uint8 * max(server_id_len, 1))()
    rc = _lib.quic_lb_server_id(cid, len(cid), server_id_len, byref(rotation), out)
    if rc == INVALID_ARGUMENT:
        return None
    check(rc, "quic_lb_server_id")
    return rotation.value, bytes(out[:server_id_len])


class Config:
    def __init__(self, is_client, alpn=(), server_name=None, verify=None, cafile=None,
                 certfile=None, keyfile=None, cipher_suites=None, idle_timeout_s=None,
                 max_datagram_frame_size=None, max_streams=None, max_data=None,
                 max_stream_data=None, key_update_interval=None, supported_versions=None,
                 original_version=None, max_windows=None, credit_on_consume=False,
                 session_tickets=False, ticket_keys=None, early_data=False,
                 read_mode=False, writable_level=None, keep_alive_s=None, quic_lb=None):
        self.ptr = c_void_p()
        check(_lib.quic_config_new(is_client, byref(self.ptr)), "config_new")
        p = self.ptr
        if alpn:
            arr = (c_char_p * len(alpn))(*[a.encode() for a in alpn])
            check(_lib.quic_config_set_alpn_protocols(p, arr, len(alpn)), "alpn", p)
        if server_name:
            check(_lib.quic_config_set_server_name(p, server_name.encode()), "server_name", p)
        if verify is not None:
            check(_lib.quic_config_set_verify_peer(p, verify), "verify", p)
        if cafile:
            check(_lib.quic_config_load_verify_locations(p, cafile.encode(), None, None, 0), "ca", p)
        if certfile:
            check(_lib.quic_config_load_cert_chain(p, certfile.encode(), keyfile.encode(), None), "cert", p)
        if cipher_suites:
            arr = (c_uint16 * len(cipher_suites))(*cipher_suites)
            check(_lib.quic_config_set_cipher_suites(p, arr, len(cipher_suites)), "suites", p)
        if idle_timeout_s is not None:
            check(_lib.quic_config_set_idle_timeout(p, int(idle_timeout_s * 1e9)), "idle", p)
        if keep_alive_s is not None:
            check(_lib.quic_config_set_keep_alive(p, int(keep_alive_s * 1e9)), "keep_alive", p)
        if max_datagram_frame_size is not None:
            check(_lib.quic_config_set_max_datagram_frame_size(p, max_datagram_frame_size), "dgram", p)
        if max_streams is not None:
            check(_lib.quic_config_set_max_streams(p, max_streams, max_streams), "streams", p)
        if max_data is not None:
            check(_lib.quic_config_set_max_data(p, max_data), "max_data", p)
        if max_stream_data is not None:
            check(_lib.quic_config_set_max_stream_data(p, max_stream_data), "max_stream_data", p)
        if max_windows is not None:
            check(_lib.quic_config_set_max_windows(p, *max_windows), "max_windows", p)
        if session_tickets:
            check(_lib.quic_config_set_session_tickets(p, True), "tickets", p)
        if early_data:
            check(_lib.quic_config_set_early_data(p, True), "early_data", p)
        if ticket_keys:
            raw = b"".join(ticket_keys)
            check(_lib.quic_config_set_ticket_keys(p, raw, len(ticket_keys)), "ticket_keys", p)
        if read_mode:
            check(_lib.quic_config_set_receive_mode(p, RECEIVE_MODE_READ), "receive_mode", p)
        if writable_level is not None:
            check(_lib.quic_config_set_writable_level(p, writable_level), "writable", p)
        if credit_on_consume:
            check(_lib.quic_config_set_receive_credit(p, RECEIVE_CREDIT_ON_CONSUME), "credit", p)
        if supported_versions:
            arr = (c_uint32 * len(supported_versions))(*supported_versions)
            check(_lib.quic_config_set_supported_versions(p, arr, len(supported_versions)),
                  "versions", p)
        if original_version is not None:
            check(_lib.quic_config_set_original_version(p, original_version), "original", p)
        if key_update_interval is not None:
            check(_lib.quic_config_set_key_update_interval(p, key_update_interval), "key_update", p)
        if quic_lb is not None:
            rotation, server_id, nonce_len = quic_lb
            lb = QuicLbConfig(config_rotation=rotation, server_id=server_id,
                              server_id_len=len(server_id), nonce_len=nonce_len)
            check(_lib.quic_config_set_quic_lb(p, byref(lb)), "quic_lb", p)

    def __del__(self):
        if getattr(self, "ptr", None):
            _lib.quic_config_free(self.ptr)
            self.ptr = None


def ns(t):
    """Seconds (aioquic's float clock) to libquic's nanoseconds, rounded so
    a timer read back as seconds is not turned into an earlier instant."""
    return int(round(t * 1e9))


class Connection:
    """Mirrors aioquic's QuicConnection: times are float seconds."""

    def __init__(self, config, original_dcid=None, session_ticket=None, retry_scid=None,
                 address_token=None, address_validated=False):
        self.ptr = c_void_p()
        params = ConnParams()
        params.struct_size = ctypes.sizeof(ConnParams)
        self._keep = []

        def buf(b):
            if b is None:
                return None, 0
            c = ctypes.create_string_buffer(bytes(b), len(b))
            self._keep.append(c)
            return ctypes.cast(c, c_void_p), len(b)

        params.original_dcid, params.original_dcid_len = buf(original_dcid)
        params.retry_scid, params.retry_scid_len = buf(retry_scid)
        params.session_ticket, params.session_ticket_len = buf(session_ticket)
        params.address_token, params.address_token_len = buf(address_token)
        params.address_validated = address_validated
        check(_lib.quic_conn_new(config.ptr, byref(params), byref(self.ptr)), "conn_new",
              config.ptr)
        self._buf = ctypes.create_string_buffer(65536)

    def __del__(self):
        if getattr(self, "ptr", None):
            _lib.quic_conn_free(self.ptr)
            self.ptr = None

    def connect(self, addr, now):
        ss, n = sockaddr(*addr)
        check(_lib.quic_conn_connect(self.ptr, byref(ss), n, ns(now)), "connect")

    def receive_datagram(self, data, addr, now):
        ss, n = sockaddr(*addr)
        check(_lib.quic_conn_recv(self.ptr, data, len(data), byref(ss), n, ns(now)), "recv")

    def datagrams_to_send(self, now):
        out = []
        while True:
            n, ss, sl = c_size_t(), SockaddrStorage(), c_uint32()
            rc = check(_lib.quic_conn_send(self.ptr, self._buf, len(self._buf), byref(n),
                                           byref(ss), byref(sl), ns(now)), "send")
            if rc == DONE:
                return out
            out.append((self._buf.raw[:n.value], addr_tuple(ss, sl.value)))

    def get_timer(self):
        t = _lib.quic_conn_timer(self.ptr)
        return None if t == NO_TIMER else t / 1e9

    def handle_timer(self, now):
        check(_lib.quic_conn_handle_timer(self.ptr, ns(now)), "handle_timer")

    def next_event(self):
        ev = Event()
        if check(_lib.quic_conn_poll_event(self.ptr, byref(ev)), "poll_event") == DONE:
            return None
        return {
            "kind": ev.kind,
            "stream_id": ev.stream_id,
            "data": _bytes(ev.data, ev.data_len),
            "end_stream": ev.end_stream,
            "alpn": _bytes(ev.alpn, ev.alpn_len),
            "error_code": ev.error_code,
            "frame_type": ev.frame_type if ev.has_frame_type else None,
            "reason": _bytes(ev.reason, ev.reason_len),
            "ping_uid": ev.ping_uid,
            "cid": _bytes(ev.cid, ev.cid_len),
            "termination": ev.termination,
            "session_resumed": ev.session_resumed,
            "early_data_accepted": ev.early_data_accepted,
        }

    def send_ping(self, uid):
        check(_lib.quic_conn_send_ping(self.ptr, uid), "ping")

    def request_key_update(self):
        check(_lib.quic_conn_request_key_update(self.ptr), "request_key_update")

    def change_connection_id(self):
        """aioquic's change_connection_id; False when the peer has given
        no unused connection ID (or retirements wait to be sent)."""
        rc = _lib.quic_conn_change_connection_id(self.ptr)
        if rc in (NO_CONNECTION_ID, WOULD_BLOCK):
            return False
        check(rc, "change_connection_id")
        return True

    def rotate_connection_ids(self):
        """Replaces every connection ID given to the peer (Retire Prior
        To); False while the peer has not retired the last set replaced."""
        rc = _lib.quic_conn_rotate_connection_ids(self.ptr)
        if rc == WOULD_BLOCK:
            return False
        check(rc, "rotate_connection_ids")
        return True

    def local_cid(self):
        out, n = (c_uint8 * 20)(), c_size_t()
        check(_lib.quic_conn_local_cid(self.ptr, out, 20, byref(n)), "local_cid")
        return bytes(out[:n.value])

    def peer_address(self):
        ss, n = SockaddrStorage(), c_uint32()
        if check(_lib.quic_conn_peer_address(self.ptr, byref(ss), byref(n)), "peer_address") == DONE:
            return None
        return addr_tuple(ss, n.value)

    @property
    def version(self):
        """The QUIC version in use (from quic_stats)."""
        return self.stats().version

    def stats(self):
        stats = Stats()
        check(_lib.quic_conn_stats(self.ptr, byref(stats)), "stats")
        return stats

    def receive_marked(self, data, addr, ecn, now):
        """quic_conn_recv_info with the datagram's ECN codepoint."""
        info = DatagramInfo(ecn=ecn)
        info.remote, info.remote_len = sockaddr(*addr)
        check(_lib.quic_conn_recv_info(self.ptr, data, len(data), byref(info), ns(now)), "recv")

    def marked_datagrams_to_send(self, now):
        """quic_conn_send_info: [(datagram, addr, ECN codepoint)]."""
        out = []
        while True:
            n, info = c_size_t(), DatagramInfo()
            rc = check(_lib.quic_conn_send_info(self.ptr, self._buf, len(self._buf), byref(n),
                                                byref(info), ns(now)), "send")
            if rc == DONE:
                return out
            out.append((self._buf.raw[:n.value], addr_tuple(info.remote, info.remote_len),
                        info.ecn))

    @property
    def key_generation(self):
        return _lib.quic_conn_key_generation(self.ptr)

    def send_stream_data(self, stream_id, data, end_stream=False):
        check(_lib.quic_conn_stream_send(self.ptr, stream_id, data, len(data), end_stream), "stream_send")

    def stream_read(self, stream_id, cap):
        """Read mode: up to `cap` bytes and whether the stream ended with
        them, or None when nothing is there yet."""
        buf = ctypes.create_string_buffer(max(cap, 1))
        n, fin = c_size_t(), c_bool()
        rc = _lib.quic_conn_stream_read(self.ptr, stream_id, buf, cap, byref(n), byref(fin))
        if rc == DONE:
            return None
        check(rc, "stream_read")
        return buf.raw[:n.value], fin.value

    def stream_consumed(self, stream_id, n):
        check(_lib.quic_conn_stream_consumed(self.ptr, stream_id, n), "stream_consumed")

    def pause_reading(self, stream_id):
        check(_lib.quic_conn_stream_pause_reading(self.ptr, stream_id), "pause_reading")

    def resume_reading(self, stream_id):
        check(_lib.quic_conn_stream_resume_reading(self.ptr, stream_id), "resume_reading")

    def send_buffered(self, stream_id):
        n = c_uint64()
        check(_lib.quic_conn_stream_send_buffered(self.ptr, stream_id, byref(n)), "send_buffered")
        return n.value

    def reset_stream(self, stream_id, error_code):
        check(_lib.quic_conn_stream_reset(self.ptr, stream_id, error_code), "stream_reset")

    def stop_stream(self, stream_id, error_code):
        check(_lib.quic_conn_stream_stop(self.ptr, stream_id, error_code), "stream_stop")

    def get_next_available_stream_id(self, is_unidirectional=False):
        sid = c_uint64()
        check(_lib.quic_conn_next_stream_id(self.ptr, is_unidirectional, byref(sid)), "next_stream_id")
        return sid.value

    def send_datagram_frame(self, data):
        check(_lib.quic_conn_send_datagram(self.ptr, data, len(data)), "send_datagram")

    def close(self, error_code=0, frame_type=None, reason_phrase="", now=0.0):
        r = reason_phrase.encode()
        check(_lib.quic_conn_close(self.ptr, frame_type is None, error_code, frame_type or 0,
                                   r, len(r), ns(now)), "close")

    @property
    def is_established(self):
        return _lib.quic_conn_is_established(self.ptr)

    @property
    def is_closed(self):
        return _lib.quic_conn_is_closed(self.ptr)

    def peer_error(self):
        info = CloseInfo()
        if check(_lib.quic_conn_peer_error(self.ptr, byref(info)), "peer_error") == DONE:
            return None
        return (info.is_app, info.error_code, _bytes(info.reason, info.reason_len))


def server_front(config, datagram, addr, retry=True):
    """What a server does with a datagram that matches no connection:
    ("retry", packet) for a client to validate with a libquic Retry token,
    or ("accept", kwargs for Connection) when its token validated it (or
    when `retry` is off)."""
    info = HeaderInfo()
    check(_lib.quic_header_parse(datagram, len(datagram), 8, byref(info)), "header")
    ss, n = sockaddr(*addr)
    tok = TokenInfo()
    check(_lib.quic_token_check(config.ptr, byref(info), byref(ss), n, byref(tok)), "token_check",
          config.ptr)
    if tok.kind == TOKEN_RETRY:
        return "accept", dict(original_dcid=bytes(tok.original_dcid[:tok.original_dcid_len]),
                              retry_scid=bytes(tok.retry_scid[:tok.retry_scid_len]))
    validated = tok.kind == TOKEN_NEW_TOKEN
    if validated or not retry:
        return "accept", dict(original_dcid=_bytes(info.dcid, info.dcid_len),
                              address_validated=validated)
    out, out_len = ctypes.create_string_buffer(1500), c_size_t()
    check(_lib.quic_retry_with_token(config.ptr, byref(info), byref(ss), n, out, len(out),
                                     byref(out_len)), "retry_with_token", config.ptr)
    return "retry", out.raw[:out_len.value]


def header_dcid(datagram, short_dcid_len=8):
    info = HeaderInfo()
    check(_lib.quic_header_parse(datagram, len(datagram), short_dcid_len, byref(info)), "header")
    return _bytes(info.dcid, info.dcid_len)


class DatagramInfo(Sized):
    # sockaddr_storage is 8-byte aligned in C; SockaddrStorage here is
    # bytes, so the padding C inserts is spelled out.
    _fields_ = [("struct_size", c_size_t), ("local", SockaddrStorage), ("local_len", c_uint32),
                ("_pad", c_uint32), ("remote", SockaddrStorage), ("remote_len", c_uint32),
                ("_pad2", c_uint32), ("segment_size", c_uint64), ("ecn", c_uint8)]


class EndpointParams(Sized):
    _fields_ = [("struct_size", c_size_t), ("connection_id_length", c_size_t),
                ("max_connections", c_uint32), ("max_half_open", c_uint32),
                ("retry_policy", c_uint32), ("retry_half_open_threshold", c_uint32),
                ("initials_per_address_per_second", c_uint32), ("resets_per_second", c_uint32),
                ("reset_key", c_void_p)]


class EndpointEvent(Sized):
    _fields_ = [("struct_size", c_size_t), ("kind", c_uint32), ("connection", c_uint64),
                ("context", c_void_p), ("address_proof", c_uint32)]


class EndpointStats(Sized):
    _fields_ = [("struct_size", c_size_t)] + [(n, c_uint64) for n in (
        "connections", "half_open", "accepted", "version_negotiations", "retries",
        "refused_connection_limit", "refused_half_open_limit", "refused_initial_rate",
        "stateless_resets", "resets_rate_limited", "unroutable", "stateless_dropped")]


(ENDPOINT_NEW_CONNECTION, ENDPOINT_CONNECTION, ENDPOINT_CONNECTION_DONE) = (1, 2, 3)
RETRY_NEVER, RETRY_ALWAYS = 1, 2


class BorrowedConnection(Connection):
    """A connection of an endpoint, borrowed for one use (quic.h:
    quic_endpoint_conn); the endpoint frees it, never this object."""

    def __init__(self, ptr):
        self.ptr = ptr
        self._buf = ctypes.create_string_buffer(65536)

    def __del__(self):
        pass


class Endpoint:
    """quic_endpoint: many connections behind one address, in memory."""

    def __init__(self, server_config=None, retry_policy=0, max_connections=0):
        params = EndpointParams(retry_policy=retry_policy, max_connections=max_connections)
        self.ptr = c_void_p()
        check(_lib.quic_endpoint_new(server_config.ptr if server_config else None,
                                     byref(params), byref(self.ptr)), "endpoint_new")
        self._buf = ctypes.create_string_buffer(65536)

    def __del__(self):
        if getattr(self, "ptr", None):
            _lib.quic_endpoint_free(self.ptr)
            self.ptr = None

    def connect(self, config, addr, now):
        """A client connection to `addr` on this endpoint; its handle."""
        ss, n = sockaddr(*addr)
        handle = c_uint64()
        check(_lib.quic_endpoint_connect(self.ptr, config.ptr, None, byref(ss), n, ns(now),
                                         byref(handle)), "endpoint_connect", config.ptr)
        return handle.value

    def receive_datagram(self, data, addr, now):
        info = DatagramInfo()
        ss, n = sockaddr(*addr)
        info.remote, info.remote_len = ss, n
        check(_lib.quic_endpoint_recv(self.ptr, data, len(data), byref(info), ns(now)), "recv")

    def datagrams_to_send(self, now):
        out = []
        while True:
            n, info = c_size_t(), DatagramInfo()
            rc = check(_lib.quic_endpoint_send(self.ptr, self._buf, len(self._buf), byref(n),
                                               byref(info), ns(now)), "send")
            if rc == DONE:
                return out
            out.append((self._buf.raw[:n.value], addr_tuple(info.remote, info.remote_len)))

    def get_timer(self):
        t = _lib.quic_endpoint_timeout(self.ptr)
        return None if t == NO_TIMER else t / 1e9

    def handle_timer(self, now):
        check(_lib.quic_endpoint_handle_timer(self.ptr, ns(now)), "handle_timer")

    def next_event(self):
        """(kind, handle, connection event dict or None), or None."""
        e, ev = EndpointEvent(), Event()
        if check(_lib.quic_endpoint_poll_event(self.ptr, byref(e), byref(ev)),
                 "poll_event") == DONE:
            return None
        conn_event = None
        if e.kind == ENDPOINT_CONNECTION:
            conn_event = {"kind": ev.kind, "stream_id": ev.stream_id,
                          "data": _bytes(ev.data, ev.data_len), "end_stream": ev.end_stream,
                          "error_code": ev.error_code}
        return e.kind, e.connection, conn_event

    def conn(self, handle):
        """The connection of `handle`, borrowed; None once freed."""
        ptr = c_void_p()
        rc = _lib.quic_endpoint_conn(self.ptr, handle, byref(ptr))
        if rc == NO_SUCH_CONNECTION:
            return None
        check(rc, "endpoint_conn")
        return BorrowedConnection(ptr)

    def stats(self):
        st = EndpointStats()
        check(_lib.quic_endpoint_stats(self.ptr, byref(st)), "endpoint_stats")
        return {name: getattr(st, name) for name, _ in EndpointStats._fields_[1:]}
