"""ctypes declarations of libquic's C API (include/quic.h, ABI 1).

Every struct that starts with struct_size follows quic.h's growth rule:
this module sets it to the size it knows, and the library writes no
further. The library is $LIBQUIC, else libquic.so.1 from pkg-config's
libdir, else the dynamic loader's search path.
"""

import ctypes
import os
import subprocess
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char, c_char_p,
                    c_int32, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)

SONAME = "libquic.so.1"


def _library_path():
    if os.environ.get("LIBQUIC"):
        return os.environ["LIBQUIC"]
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "quic"], capture_output=True,
                                text=True, check=True).stdout.strip()
        if libdir and os.path.exists(os.path.join(libdir, SONAME)):
            return os.path.join(libdir, SONAME)
    except (OSError, subprocess.CalledProcessError):
        pass
    return SONAME


try:
    lib = ctypes.CDLL(_library_path())
except OSError as e:
    raise ImportError(f"libquic: cannot load the C library ({e}); install it (make install, or the "
                      f"libquic1 package), or set LIBQUIC to the path of libquic.so") from e

OK, DONE = 0, 1
NULL_PARAMETER, INVALID_ARGUMENT, BUFFER_TOO_SMALL, INVALID_STATE = -1, -2, -3, -4
ALREADY_USED, FILE_UNREADABLE, INVALID_ADDRESS, CLOSING, WOULD_BLOCK = -5, -6, -7, -8, -9
HANDSHAKE_PENDING, NO_CONNECTION_ID, MIGRATION_DISABLED, NO_SUCH_CONNECTION = -10, -11, -12, -13
STREAM_LIMIT, INVALID_STREAM, STREAM_FINISHED, STREAM_RESET = -300, -301, -302, -303
DATAGRAM_UNSUPPORTED, DATAGRAM_TOO_LARGE = -304, -305
NO_TIMER = 2**64 - 1
TICKET_KEY_LEN = 80

# quic_event_type
(EV_HANDSHAKE_COMPLETED, EV_PROTOCOL_NEGOTIATED, EV_STREAM_DATA_RECEIVED, EV_STREAM_RESET,
 EV_STOP_SENDING_RECEIVED, EV_DATAGRAM_FRAME_RECEIVED, EV_PING_ACKNOWLEDGED,
 EV_CONNECTION_ID_ISSUED, EV_CONNECTION_ID_RETIRED, EV_CONNECTION_TERMINATED, EV_KEY_UPDATED,
 EV_PEER_MIGRATED, EV_PATH_VALIDATED, EV_STREAMS_AVAILABLE, EV_SESSION_TICKET, EV_NEW_TOKEN,
 EV_EARLY_DATA_REJECTED, EV_STREAM_READABLE, EV_STREAM_WRITABLE, EV_PATH_FAILED, EV_MIGRATED,
 EV_PATH_MTU_CHANGED) = range(1, 23)

# quic_termination
(TERMINATION_NONE, TERMINATION_LOCAL_ERROR, TERMINATION_LOCAL_CLOSE, TERMINATION_PEER_TRANSPORT,
 TERMINATION_PEER_APPLICATION, TERMINATION_IDLE_TIMEOUT, TERMINATION_HANDSHAKE_TIMEOUT,
 TERMINATION_STATELESS_RESET, TERMINATION_VERSION_NEGOTIATION, TERMINATION_ABANDONED) = range(10)

VERIFY_MODE_NONE, VERIFY_MODE_OPTIONAL, VERIFY_MODE_REQUIRED = 0, 1, 2
CONGESTION_CONTROL_NEW_RENO, CONGESTION_CONTROL_CUBIC = 0, 1


class SockaddrStorage(Structure):
    """struct sockaddr_storage: 128 bytes, 8-byte aligned (glibc)."""
    _fields_ = [("family", c_uint16), ("data", c_uint8 * 118), ("_align", c_uint64)]


class Sized(Structure):
    """A struct under quic.h's growth rule: struct_size first."""

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
        ("termination", c_uint32), ("unidirectional", c_bool), ("max_streams", c_uint64),
        ("local_addr", SockaddrStorage), ("local_addr_len", c_uint32),
        ("remote_addr", SockaddrStorage), ("remote_addr_len", c_uint32),
        ("mtu", c_uint64), ("black_hole", c_bool),
    ]


class ConnParams(Sized):
    _fields_ = [("struct_size", c_size_t), ("original_dcid", c_void_p),
                ("original_dcid_len", c_size_t), ("retry_scid", c_void_p),
                ("retry_scid_len", c_size_t), ("session_ticket", c_void_p),
                ("session_ticket_len", c_size_t), ("address_token", c_void_p),
                ("address_token_len", c_size_t), ("address_validated", c_bool)]


class HeaderInfo(Sized):
    _fields_ = [
        ("struct_size", c_size_t), ("packet_type", c_uint32), ("is_long", c_bool),
        ("fixed_bit", c_bool), ("version", c_uint32), ("dcid", POINTER(c_uint8)),
        ("dcid_len", c_size_t), ("scid", POINTER(c_uint8)), ("scid_len", c_size_t),
        ("token", POINTER(c_uint8)), ("token_len", c_size_t),
        ("supported_versions", POINTER(c_uint8)), ("supported_versions_count", c_size_t),
        ("packet_len", c_size_t),
    ]


class DatagramInfo(Sized):
    _fields_ = [("struct_size", c_size_t), ("local", SockaddrStorage), ("local_len", c_uint32),
                ("remote", SockaddrStorage), ("remote_len", c_uint32),
                ("segment_size", c_uint64), ("ecn", c_uint8), ("send_time_ns", c_uint64)]


class Stats(Sized):
    _fields_ = [("struct_size", c_size_t), ("version", c_uint32), ("cipher_suite", c_uint16),
                ("key_exchange_group", c_uint16)] + [(n, c_uint64) for n in (
                    "rtt_ns", "cwnd", "bytes_in_flight", "bytes_sent", "bytes_received",
                    "packets_lost", "spurious_losses", "lost_by_packet_threshold",
                    "lost_by_time_threshold", "probe_timeouts", "congestion_events",
                    "persistent_congestion")] + [("ecn_state", c_uint32)] + [(n, c_uint64) for n in (
                        "ecn_received_ect0", "ecn_received_ect1", "ecn_received_ce",
                        "ecn_ce_reported", "ecn_congestion_events", "pmtu", "pmtu_probes_sent",
                        "pmtu_probes_lost", "pmtu_black_holes", "qlog_records_dropped")]


class CloseInfo(Sized):
    _fields_ = [("struct_size", c_size_t), ("is_app", c_bool), ("error_code", c_uint64),
                ("frame_type", c_uint64), ("has_frame_type", c_bool),
                ("reason", POINTER(c_uint8)), ("reason_len", c_size_t)]


class TokenInfo(Sized):
    _fields_ = [("struct_size", c_size_t), ("kind", c_uint32),
                ("original_dcid", c_uint8 * 20), ("original_dcid_len", c_size_t),
                ("retry_scid", c_uint8 * 20), ("retry_scid_len", c_size_t)]


class QuicLbConfig(Sized):
    _fields_ = [("struct_size", c_size_t), ("config_rotation", c_uint8),
                ("server_id", c_char_p), ("server_id_len", c_size_t), ("nonce_len", c_size_t)]


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


SECRETS_LOG_FN = CFUNCTYPE(None, c_void_p, c_char_p)


class RegisterQuery(Sized):
    _fields_ = [("struct_size", c_size_t), ("kind", c_uint32), ("id", POINTER(c_uint8)),
                ("id_len", c_size_t), ("keep_seconds", c_uint64)]


REGISTER_FN = CFUNCTYPE(c_int32, c_void_p, POINTER(RegisterQuery))


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)


P = c_void_p
for _name, _res, _args in [
    ("quic_result_str", c_char_p, [c_int32]),
    ("quic_result_is_fatal", c_bool, [c_int32]),
    ("quic_config_new", c_int32, [c_bool, POINTER(P)]),
    ("quic_config_free", None, [P]),
    ("quic_config_last_error", c_char_p, [P]),
    ("quic_config_set_alpn_protocols", c_int32, [P, POINTER(c_char_p), c_size_t]),
    ("quic_config_set_server_name", c_int32, [P, c_char_p]),
    ("quic_config_set_verify_mode", c_int32, [P, c_uint32]),
    ("quic_config_load_verify_locations", c_int32, [P, c_char_p, c_char_p, c_char_p, c_size_t]),
    ("quic_config_load_cert_chain_pem", c_int32, [P, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p]),
    ("quic_config_set_cipher_suites", c_int32, [P, POINTER(c_uint16), c_size_t]),
    ("quic_config_set_idle_timeout", c_int32, [P, c_uint64]),
    ("quic_config_set_initial_rtt", c_int32, [P, c_uint64]),
    ("quic_config_set_connection_id_length", c_int32, [P, c_size_t]),
    ("quic_config_set_congestion_control", c_int32, [P, c_uint32]),
    ("quic_config_set_max_data", c_int32, [P, c_uint64]),
    ("quic_config_set_max_stream_data", c_int32, [P, c_uint64]),
    ("quic_config_set_max_datagram_size", c_int32, [P, c_size_t]),
    ("quic_config_set_max_datagram_frame_size", c_int32, [P, c_uint64]),
    ("quic_config_set_max_pmtu", c_int32, [P, c_size_t]),
    ("quic_config_set_supported_versions", c_int32, [P, POINTER(c_uint32), c_size_t]),
    ("quic_config_set_original_version", c_int32, [P, c_uint32]),
    ("quic_config_set_secrets_log_callback", c_int32, [P, SECRETS_LOG_FN, P]),
    ("quic_config_set_session_tickets", c_int32, [P, c_bool]),
    ("quic_config_set_early_data", c_int32, [P, c_bool]),
    ("quic_config_set_ticket_keys", c_int32, [P, c_char_p, c_size_t]),
    ("quic_config_set_shared_register", c_int32, [P, REGISTER_FN, P]),
    ("quic_config_set_qlog_dir", c_int32, [P, c_char_p]),
    ("quic_conn_new", c_int32, [P, POINTER(ConnParams), POINTER(P)]),
    ("quic_conn_free", None, [P]),
    ("quic_conn_connect", c_int32, [P, POINTER(SockaddrStorage), c_uint32, c_uint64]),
    ("quic_conn_recv", c_int32, [P, c_char_p, c_size_t, POINTER(SockaddrStorage), c_uint32, c_uint64]),
    ("quic_conn_recv_info", c_int32, [P, c_char_p, c_size_t, POINTER(DatagramInfo), c_uint64]),
    ("quic_conn_send", c_int32, [P, P, c_size_t, POINTER(c_size_t), POINTER(SockaddrStorage),
                                 POINTER(c_uint32), c_uint64]),
    ("quic_conn_send_info", c_int32, [P, P, c_size_t, POINTER(c_size_t), POINTER(DatagramInfo), c_uint64]),
    ("quic_conn_timer", c_uint64, [P]),
    ("quic_conn_handle_timer", c_int32, [P, c_uint64]),
    ("quic_conn_poll_event", c_int32, [P, POINTER(Event)]),
    ("quic_conn_send_ping", c_int32, [P, c_uint64]),
    ("quic_conn_request_key_update", c_int32, [P]),
    ("quic_conn_key_generation", c_uint64, [P]),
    ("quic_conn_change_connection_id", c_int32, [P]),
    ("quic_conn_local_cid", c_int32, [P, P, c_size_t, POINTER(c_size_t)]),
    ("quic_conn_peer_address", c_int32, [P, POINTER(SockaddrStorage), POINTER(c_uint32)]),
    ("quic_conn_stream_send", c_int32, [P, c_uint64, c_char_p, c_size_t, c_bool]),
    ("quic_conn_stream_reset", c_int32, [P, c_uint64, c_uint64]),
    ("quic_conn_stream_stop", c_int32, [P, c_uint64, c_uint64]),
    ("quic_conn_next_stream_id", c_int32, [P, c_bool, POINTER(c_uint64)]),
    ("quic_conn_send_datagram", c_int32, [P, c_char_p, c_size_t]),
    ("quic_conn_close", c_int32, [P, c_bool, c_uint64, c_uint64, c_char_p, c_size_t, c_uint64]),
    ("quic_conn_is_established", c_bool, [P]),
    ("quic_conn_is_closed", c_bool, [P]),
    ("quic_conn_peer_error", c_int32, [P, POINTER(CloseInfo)]),
    ("quic_conn_local_error", c_int32, [P, POINTER(CloseInfo)]),
    ("quic_conn_stats", c_int32, [P, POINTER(Stats)]),
    ("quic_config_set_keep_alive", c_int32, [P, c_uint64]),
    ("quic_config_set_max_streams", c_int32, [P, c_uint64, c_uint64]),
    ("quic_config_set_max_windows", c_int32, [P, c_uint64, c_uint64]),
    ("quic_config_set_key_update_interval", c_int32, [P, c_uint64]),
    ("quic_config_set_receive_mode", c_int32, [P, c_uint32]),
    ("quic_config_set_receive_credit", c_int32, [P, c_uint32]),
    ("quic_config_set_writable_level", c_int32, [P, c_uint64]),
    ("quic_config_set_verify_peer", c_int32, [P, c_bool]),
    ("quic_config_set_quic_lb", c_int32, [P, POINTER(QuicLbConfig)]),
    ("quic_conn_stream_read", c_int32, [P, c_uint64, P, c_size_t, POINTER(c_size_t), POINTER(c_bool)]),
    ("quic_conn_stream_consumed", c_int32, [P, c_uint64, c_uint64]),
    ("quic_conn_stream_pause_reading", c_int32, [P, c_uint64]),
    ("quic_conn_stream_resume_reading", c_int32, [P, c_uint64]),
    ("quic_conn_stream_send_buffered", c_int32, [P, c_uint64, POINTER(c_uint64)]),
    ("quic_conn_rotate_connection_ids", c_int32, [P]),
    ("quic_token_check", c_int32, [P, POINTER(HeaderInfo), POINTER(SockaddrStorage), c_uint32,
                                   POINTER(TokenInfo)]),
    ("quic_retry_with_token", c_int32, [P, POINTER(HeaderInfo), POINTER(SockaddrStorage), c_uint32, P,
                                        c_size_t, POINTER(c_size_t)]),
    ("quic_lb_server_id", c_int32, [c_char_p, c_size_t, c_size_t, P, P]),
    ("quic_endpoint_new", c_int32, [P, POINTER(EndpointParams), POINTER(P)]),
    ("quic_endpoint_free", None, [P]),
    ("quic_endpoint_connect", c_int32, [P, P, P, POINTER(SockaddrStorage), c_uint32, c_uint64,
                                        POINTER(c_uint64)]),
    ("quic_endpoint_recv", c_int32, [P, c_char_p, c_size_t, POINTER(DatagramInfo), c_uint64]),
    ("quic_endpoint_send", c_int32, [P, P, c_size_t, POINTER(c_size_t), POINTER(DatagramInfo), c_uint64]),
    ("quic_endpoint_timeout", c_uint64, [P]),
    ("quic_endpoint_handle_timer", c_int32, [P, c_uint64]),
    ("quic_endpoint_poll_event", c_int32, [P, POINTER(EndpointEvent), POINTER(Event)]),
    ("quic_endpoint_conn", c_int32, [P, c_uint64, POINTER(P)]),
    ("quic_endpoint_stats", c_int32, [P, POINTER(EndpointStats)]),
    ("quic_sockaddr_parse", c_int32, [c_char_p, POINTER(SockaddrStorage), POINTER(c_uint32)]),
    ("quic_sockaddr_format", c_int32, [POINTER(SockaddrStorage), c_uint32, POINTER(c_char), c_size_t]),
    ("quic_header_parse", c_int32, [c_char_p, c_size_t, c_size_t, POINTER(HeaderInfo)]),
]:
    _sig(_name, _res, *_args)


class LibquicError(Exception):
    """A libquic call failed: `code` is its quic_result."""

    def __init__(self, what, code, detail=""):
        text = lib.quic_result_str(code).decode()
        super().__init__(f"{what}: {text}" + (f" ({detail})" if detail else ""))
        self.code = code


class StreamError(LibquicError, ValueError):
    """Misuse of a stream (aioquic raises ValueError for these)."""


_STREAM_CODES = (INVALID_STREAM, STREAM_FINISHED, STREAM_RESET, STREAM_LIMIT)


def check(rc, what, config=None):
    if rc >= 0:
        return rc
    detail = ""
    if config:
        msg = lib.quic_config_last_error(config)
        detail = msg.decode() if msg else ""
    if rc in _STREAM_CODES:
        raise StreamError(what, rc, detail)
    raise LibquicError(what, rc, detail)


def string_at(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


_addr_cache = {}


def sockaddr(addr):
    """(host, port) -> (SockaddrStorage, length), cached for recent peers."""
    hit = _addr_cache.get(addr)
    if hit is None:
        host, port = addr[0], addr[1]
        text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        ss, n = SockaddrStorage(), c_uint32()
        check(lib.quic_sockaddr_parse(text.encode(), byref(ss), byref(n)), "address")
        hit = (ss, n.value)
        if len(_addr_cache) >= 1024:
            _addr_cache.clear()
        _addr_cache[addr] = hit
    return hit


def addr_tuple(ss, n):
    """SockaddrStorage -> (host, port)."""
    buf = (c_char * 64)()
    check(lib.quic_sockaddr_format(byref(ss), n, buf, 64), "address")
    host, port = buf.value.decode().rsplit(":", 1)
    return host.strip("[]"), int(port)
