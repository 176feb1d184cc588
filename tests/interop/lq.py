"""libquic as the interop, endpoint and slow-reader tests drive it: the
Python package (bindings/python: aioquic's QuicConnection API on the C
library), plus what only these tests use: a Config taking every libquic
setting as a keyword, events as dicts of the C event's fields, the
endpoint, and the stateless server helpers.

The library is $LIBQUIC, else the package's own search (pkg-config)."""

import ctypes
import os
import sys
from ctypes import byref, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(_ROOT, "bindings", "python"))
os.environ.setdefault("LIBQUIC", os.path.join(_ROOT, "target/release/libquic.so"))

from libquic import _lib  # noqa: E402
from libquic._lib import (DONE, INVALID_ARGUMENT, NO_SUCH_CONNECTION, NO_TIMER, OK,  # noqa: E402,F401
                          check, lib, string_at)
from libquic.quic.connection import QuicConnection  # noqa: E402

(HANDSHAKE_COMPLETED, PROTOCOL_NEGOTIATED, STREAM_DATA_RECEIVED, STREAM_RESET,
 STOP_SENDING_RECEIVED, DATAGRAM_FRAME_RECEIVED, PING_ACKNOWLEDGED,
 CONNECTION_ID_ISSUED, CONNECTION_ID_RETIRED, CONNECTION_TERMINATED, KEY_UPDATED,
 PEER_MIGRATED, PATH_VALIDATED, STREAMS_AVAILABLE, SESSION_TICKET, NEW_TOKEN,
 EARLY_DATA_REJECTED, STREAM_READABLE, STREAM_WRITABLE) = range(1, 20)
RECEIVE_MODE_READ = 1
RECEIVE_CREDIT_ON_CONSUME = 1
ECN_DISABLED, ECN_TESTING, ECN_UNKNOWN, ECN_CAPABLE, ECN_FAILED = range(5)
TOKEN_NONE, TOKEN_INVALID, TOKEN_RETRY, TOKEN_NEW_TOKEN = range(4)
ENDPOINT_NEW_CONNECTION, ENDPOINT_CONNECTION, ENDPOINT_CONNECTION_DONE = 1, 2, 3
RETRY_NEVER, RETRY_ALWAYS = 1, 2


def sockaddr(host, port):
    return _lib.sockaddr((host, port))


def ns(t):
    """Seconds to nanoseconds, rounded so a timer read back as seconds is
    not turned into an earlier instant."""
    return int(round(t * 1e9))


class Config:
    """A libquic config with any of its settings as keywords."""

    def __init__(self, is_client, alpn=(), server_name=None, verify=None, cafile=None,
                 certfile=None, keyfile=None, cipher_suites=None, idle_timeout_s=None,
                 max_datagram_frame_size=None, max_streams=None, max_data=None,
                 max_stream_data=None, key_update_interval=None, supported_versions=None,
                 original_version=None, max_windows=None, credit_on_consume=False,
                 session_tickets=False, ticket_keys=None, early_data=False,
                 read_mode=False, writable_level=None, keep_alive_s=None, quic_lb=None):
        self.is_client = is_client
        self.ptr = c_void_p()
        check(lib.quic_config_new(is_client, byref(self.ptr)), "config_new")
        p = self.ptr

        def setting(rc, what):
            check(rc, what, p)

        if alpn:
            arr = (ctypes.c_char_p * len(alpn))(*[a.encode() for a in alpn])
            setting(lib.quic_config_set_alpn_protocols(p, arr, len(alpn)), "alpn")
        if server_name:
            setting(lib.quic_config_set_server_name(p, server_name.encode()), "server_name")
        if verify is not None:
            setting(lib.quic_config_set_verify_peer(p, verify), "verify")
        if cafile:
            setting(lib.quic_config_load_verify_locations(p, cafile.encode(), None, None, 0), "ca")
        if certfile:
            cert, key = open(certfile, "rb").read(), open(keyfile, "rb").read()
            setting(lib.quic_config_load_cert_chain_pem(p, cert, len(cert), key, len(key), None), "cert")
        if cipher_suites:
            arr = (c_uint16 * len(cipher_suites))(*cipher_suites)
            setting(lib.quic_config_set_cipher_suites(p, arr, len(cipher_suites)), "suites")
        if idle_timeout_s is not None:
            setting(lib.quic_config_set_idle_timeout(p, int(idle_timeout_s * 1e9)), "idle")
        if keep_alive_s is not None:
            setting(lib.quic_config_set_keep_alive(p, int(keep_alive_s * 1e9)), "keep_alive")
        if max_datagram_frame_size is not None:
            setting(lib.quic_config_set_max_datagram_frame_size(p, max_datagram_frame_size), "dgram")
        if max_streams is not None:
            setting(lib.quic_config_set_max_streams(p, max_streams, max_streams), "streams")
        if max_data is not None:
            setting(lib.quic_config_set_max_data(p, max_data), "max_data")
        if max_stream_data is not None:
            setting(lib.quic_config_set_max_stream_data(p, max_stream_data), "max_stream_data")
        if max_windows is not None:
            setting(lib.quic_config_set_max_windows(p, *max_windows), "max_windows")
        if session_tickets:
            setting(lib.quic_config_set_session_tickets(p, True), "tickets")
        if early_data:
            setting(lib.quic_config_set_early_data(p, True), "early_data")
        if ticket_keys:
            raw = b"".join(ticket_keys)
            setting(lib.quic_config_set_ticket_keys(p, raw, len(ticket_keys)), "ticket_keys")
        if read_mode:
            setting(lib.quic_config_set_receive_mode(p, RECEIVE_MODE_READ), "receive_mode")
        if writable_level is not None:
            setting(lib.quic_config_set_writable_level(p, writable_level), "writable")
        if credit_on_consume:
            setting(lib.quic_config_set_receive_credit(p, RECEIVE_CREDIT_ON_CONSUME), "credit")
        if supported_versions:
            arr = (c_uint32 * len(supported_versions))(*supported_versions)
            setting(lib.quic_config_set_supported_versions(p, arr, len(supported_versions)), "versions")
        if original_version is not None:
            setting(lib.quic_config_set_original_version(p, original_version), "original")
        if key_update_interval is not None:
            setting(lib.quic_config_set_key_update_interval(p, key_update_interval), "key_update")
        if quic_lb is not None:
            rotation, server_id, nonce_len = quic_lb
            lb = _lib.QuicLbConfig(config_rotation=rotation, server_id=server_id,
                                   server_id_len=len(server_id), nonce_len=nonce_len)
            setting(lib.quic_config_set_quic_lb(p, byref(lb)), "quic_lb")

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.quic_config_free(self.ptr)
            self.ptr = None


class Connection(QuicConnection):
    """The package's QuicConnection made from a Config, whose events are
    dicts of the C event's fields (these tests' vocabulary)."""

    def __init__(self, config, original_dcid=None, session_ticket=None, retry_scid=None,
                 address_token=None, address_validated=False):
        self._open(config, config.is_client, original_dcid=original_dcid, retry_scid=retry_scid,
                   session_ticket=session_ticket, address_token=address_token,
                   address_validated=address_validated)

    def _convert(self, ev):
        return {
            "kind": ev.kind,
            "stream_id": ev.stream_id,
            "data": string_at(ev.data, ev.data_len),
            "end_stream": ev.end_stream,
            "alpn": string_at(ev.alpn, ev.alpn_len),
            "error_code": ev.error_code,
            "frame_type": ev.frame_type if ev.has_frame_type else None,
            "reason": string_at(ev.reason, ev.reason_len),
            "ping_uid": ev.ping_uid,
            "cid": string_at(ev.cid, ev.cid_len),
            "termination": ev.termination,
            "session_resumed": ev.session_resumed,
            "early_data_accepted": ev.early_data_accepted,
        }

    def close(self, error_code=0, frame_type=None, reason_phrase="", now=None):
        self._ns(now)
        super().close(error_code, frame_type, reason_phrase)

    def local_cid(self):
        return self.host_cid

    @property
    def version(self):
        """The QUIC version in use (from quic_stats)."""
        return self.stats().version

    def receive_marked(self, data, addr, ecn, now):
        self.receive_datagram(data, addr, now, ecn=ecn)

    def marked_datagrams_to_send(self, now):
        return self.datagrams_to_send_with_ecn(now)


def quic_lb_server_id(cid, server_id_len):
    """(config rotation, server ID) of a QUIC-LB plaintext connection ID,
    or None when it is unroutable."""
    rotation, out = c_uint8(), (c_uint8 * max(server_id_len, 1))()
    rc = lib.quic_lb_server_id(cid, len(cid), server_id_len, byref(rotation), out)
    if rc == INVALID_ARGUMENT:
        return None
    check(rc, "quic_lb_server_id")
    return rotation.value, bytes(out[:server_id_len])


def server_front(config, datagram, addr, retry=True):
    """What a server does with a datagram that matches no connection:
    ("retry", packet) for a client to validate with a libquic Retry token,
    or ("accept", kwargs for Connection) when its token validated it (or
    when `retry` is off)."""
    info = _lib.HeaderInfo()
    check(lib.quic_header_parse(datagram, len(datagram), 8, byref(info)), "header")
    ss, n = sockaddr(*addr)
    tok = _lib.TokenInfo()
    check(lib.quic_token_check(config.ptr, byref(info), byref(ss), n, byref(tok)), "token_check",
          config.ptr)
    if tok.kind == TOKEN_RETRY:
        return "accept", dict(original_dcid=bytes(tok.original_dcid[:tok.original_dcid_len]),
                              retry_scid=bytes(tok.retry_scid[:tok.retry_scid_len]))
    validated = tok.kind == TOKEN_NEW_TOKEN
    if validated or not retry:
        return "accept", dict(original_dcid=string_at(info.dcid, info.dcid_len),
                              address_validated=validated)
    out, out_len = ctypes.create_string_buffer(1500), c_size_t()
    check(lib.quic_retry_with_token(config.ptr, byref(info), byref(ss), n, out, len(out),
                                    byref(out_len)), "retry_with_token", config.ptr)
    return "retry", out.raw[:out_len.value]


def header_dcid(datagram, short_dcid_len=8):
    info = _lib.HeaderInfo()
    check(lib.quic_header_parse(datagram, len(datagram), short_dcid_len, byref(info)), "header")
    return string_at(info.dcid, info.dcid_len)


class Endpoint:
    """quic_endpoint: many connections behind one address, in memory."""

    def __init__(self, server_config=None, retry_policy=0, max_connections=0):
        params = _lib.EndpointParams(retry_policy=retry_policy, max_connections=max_connections)
        self.ptr = c_void_p()
        check(lib.quic_endpoint_new(server_config.ptr if server_config else None,
                                    byref(params), byref(self.ptr)), "endpoint_new")
        self._buf = ctypes.create_string_buffer(65536)

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.quic_endpoint_free(self.ptr)
            self.ptr = None

    def connect(self, config, addr, now):
        """A client connection to `addr` on this endpoint; its handle."""
        ss, n = sockaddr(*addr)
        handle = c_uint64()
        check(lib.quic_endpoint_connect(self.ptr, config.ptr, None, byref(ss), n, ns(now),
                                        byref(handle)), "endpoint_connect", config.ptr)
        return handle.value

    def receive_datagram(self, data, addr, now):
        info = _lib.DatagramInfo()
        info.remote, info.remote_len = sockaddr(*addr)
        check(lib.quic_endpoint_recv(self.ptr, data, len(data), byref(info), ns(now)), "recv")

    def datagrams_to_send(self, now):
        out = []
        while True:
            n, info = c_size_t(), _lib.DatagramInfo()
            rc = check(lib.quic_endpoint_send(self.ptr, self._buf, len(self._buf), byref(n),
                                              byref(info), ns(now)), "send")
            if rc == DONE:
                return out
            out.append((self._buf.raw[:n.value], _lib.addr_tuple(info.remote, info.remote_len)))

    def get_timer(self):
        t = lib.quic_endpoint_timeout(self.ptr)
        return None if t == NO_TIMER else t / 1e9

    def handle_timer(self, now):
        check(lib.quic_endpoint_handle_timer(self.ptr, ns(now)), "handle_timer")

    def next_event(self):
        """(kind, handle, connection event dict or None), or None."""
        e, ev = _lib.EndpointEvent(), _lib.Event()
        if check(lib.quic_endpoint_poll_event(self.ptr, byref(e), byref(ev)), "poll_event") == DONE:
            return None
        conn_event = None
        if e.kind == ENDPOINT_CONNECTION:
            conn_event = {"kind": ev.kind, "stream_id": ev.stream_id,
                          "data": string_at(ev.data, ev.data_len), "end_stream": ev.end_stream,
                          "error_code": ev.error_code}
        return e.kind, e.connection, conn_event

    def conn(self, handle):
        """The connection of `handle`, borrowed; None once freed."""
        ptr = c_void_p()
        rc = lib.quic_endpoint_conn(self.ptr, handle, byref(ptr))
        if rc == NO_SUCH_CONNECTION:
            return None
        check(rc, "endpoint_conn")
        return Connection._borrow(ptr)

    def stats(self):
        st = _lib.EndpointStats()
        check(lib.quic_endpoint_stats(self.ptr, byref(st)), "endpoint_stats")
        return {name: getattr(st, name) for name, _ in _lib.EndpointStats._fields_[1:]}
