"""QuicConfiguration: aioquic's fields and methods, turned into a libquic
config (quic_config) when a connection is made from it."""

import ctypes
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, List, Optional, TextIO, Union

from .. import _lib
from .._lib import byref, lib
from ..tls import CipherSuite, SessionTicket
from .packet import QuicProtocolVersion

SMALLEST_MAX_DATAGRAM_SIZE = 1200

# The session ticket key of this process's servers, unless a configuration
# names its own (ticket_keys): any of them resumes a ticket another issued,
# as aioquic servers sharing a ticket store do.
_PROCESS_TICKET_KEY = os.urandom(_lib.TICKET_KEY_LEN)


class _ProcessRegister:
    """The register of 0-RTT tickets used by this process's servers
    (quic.h: quic_config_set_shared_register): with the process's ticket
    key, a flight replayed to another configuration of the process is
    still refused. Bounded: when full of live entries, early data is
    refused (the handshake goes on)."""

    LIMIT = 1 << 18

    def __init__(self):
        self._seen = {}
        self._lock = threading.Lock()
        self.callback = _lib.REGISTER_FN(self._query)

    def _query(self, _userdata, query):
        q = query.contents
        key = (q.kind, ctypes.string_at(q.id, q.id_len))
        now = time.monotonic()
        with self._lock:
            if key in self._seen and self._seen[key] > now:
                return 0
            if len(self._seen) >= self.LIMIT:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                if len(self._seen) >= self.LIMIT:
                    return 0
            self._seen[key] = now + q.keep_seconds
            return 1


_PROCESS_REGISTER = _ProcessRegister()

_CONGESTION = {"reno": _lib.CONGESTION_CONTROL_NEW_RENO, "cubic": _lib.CONGESTION_CONTROL_CUBIC}


def _pem(value) -> bytes:
    """PEM bytes from bytes, str, or a `cryptography` certificate or key."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if hasattr(value, "public_bytes") and not hasattr(value, "private_bytes"):
        from cryptography.hazmat.primitives.serialization import Encoding
        return value.public_bytes(Encoding.PEM)
    if hasattr(value, "private_bytes"):
        from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                                  PrivateFormat)
        return value.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    raise TypeError(f"cannot use {type(value).__name__} as PEM data")


@dataclass
class QuicConfiguration:
    """A QUIC configuration, as aioquic's.

    Every field means what it means in aioquic. Differences: `certificate`,
    `certificate_chain` and `private_key` also take PEM bytes (what
    load_cert_chain stores); `quantum_readiness_test` has no effect;
    `quic_logger` is not supported (a warning says so): use `qlog_dir`.
    libquic's own settings come last (`qlog_dir`, `max_pmtu`,
    `ticket_keys`).
    """

    alpn_protocols: Optional[List[str]] = None
    congestion_control_algorithm: str = "reno"
    connection_id_length: int = 8
    idle_timeout: float = 60.0
    is_client: bool = True
    max_data: int = 1048576
    max_datagram_size: int = SMALLEST_MAX_DATAGRAM_SIZE
    max_stream_data: int = 1048576
    quic_logger: Any = None
    secrets_log_file: Optional[TextIO] = None
    server_name: Optional[str] = None
    session_ticket: Optional[SessionTicket] = None
    token: bytes = b""
    cadata: Optional[bytes] = None
    cafile: Optional[str] = None
    capath: Optional[str] = None
    certificate: Any = None
    certificate_chain: List[Any] = field(default_factory=list)
    cipher_suites: Optional[List[CipherSuite]] = None
    initial_rtt: float = 0.1
    max_datagram_frame_size: Optional[int] = None
    original_version: Optional[int] = None
    private_key: Any = None
    quantum_readiness_test: bool = False
    supported_versions: List[int] = field(
        default_factory=lambda: [QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2])
    verify_mode: Optional[int] = None
    #: libquic: write a qlog trace of each connection into this directory.
    qlog_dir: Optional[str] = None
    #: libquic: probe for a larger path MTU up to this datagram size (RFC
    #: 8899). None, as aioquic: datagrams stay within max_datagram_size.
    max_pmtu: Optional[int] = None
    #: libquic: a server's session ticket keys, 80 bytes each (quic.h:
    #: quic_config_set_ticket_keys), the first sealing new tickets. None:
    #: one random key for the whole process, with one register of used
    #: 0-RTT tickets. With keys of your own, 0-RTT is refused for the first
    #: 20 seconds of each configuration (quic.h explains why).
    ticket_keys: Optional[List[bytes]] = None

    def load_cert_chain(self, certfile: Union[str, PathLike],
                        keyfile: Optional[Union[str, PathLike]] = None,
                        password: Optional[Union[bytes, str]] = None) -> None:
        """Loads a certificate chain (PEM), and its private key from keyfile
        or, without one, from certfile after the certificates."""
        with open(certfile, "rb") as fp:
            self.certificate = fp.read()
        self.certificate_chain = []
        if keyfile is not None:
            with open(keyfile, "rb") as fp:
                self.private_key = fp.read()
        else:
            self.private_key = self.certificate
        self._password = password.decode() if isinstance(password, bytes) else password

    def load_verify_locations(self, cafile: Optional[str] = None, capath: Optional[str] = None,
                              cadata: Optional[bytes] = None) -> None:
        """Sets the CA certificates the peer's certificate is verified
        against."""
        self.cafile = cafile
        self.capath = capath
        self.cadata = cadata

    def _native(self, tickets: bool):
        """The libquic config for this configuration's current values (one
        per distinct value set, kept: a server's session tickets need the
        same ticket keys across its connections)."""
        key = self._key(tickets)
        cache = self.__dict__.setdefault("_native_cache", {})
        native = cache.get(key)
        if native is None:
            if len(cache) >= 8:
                cache.clear()
            native = cache[key] = _NativeConfig(self, tickets)
        return native

    def _key(self, tickets):
        return (self.is_client, tuple(self.alpn_protocols or ()), self.congestion_control_algorithm,
                self.connection_id_length, self.idle_timeout, self.max_data, self.max_datagram_size,
                self.max_stream_data, id(self.secrets_log_file), self.server_name, self.cadata,
                self.cafile, self.capath, _pem(self.certificate),
                tuple(_pem(c) for c in self.certificate_chain), _pem(self.private_key),
                tuple(self.cipher_suites or ()), self.initial_rtt, self.max_datagram_frame_size,
                self.original_version, tuple(self.supported_versions), self.verify_mode,
                self.qlog_dir, self.max_pmtu, tuple(self.ticket_keys or ()),
                getattr(self, "_password", None), tickets)


class _NativeConfig:
    """Owns one quic_config and what its callbacks need."""

    def __init__(self, c: QuicConfiguration, tickets: bool):
        self.ptr = ctypes.c_void_p()
        _lib.check(lib.quic_config_new(c.is_client, byref(self.ptr)), "configuration")
        p = self.ptr

        def setting(rc, what):
            _lib.check(rc, what, p)

        def unsigned(value, what, bits=64):
            """A setting for an unsigned C parameter: ctypes would wrap a
            negative or too large value silently."""
            value = int(value)
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{what} out of range: {value}")
            return value

        if c.quic_logger is not None:
            warnings.warn("libquic does not feed aioquic's QuicLogger; set qlog_dir for a qlog trace",
                          stacklevel=4)
        if c.alpn_protocols:
            arr = (ctypes.c_char_p * len(c.alpn_protocols))(*[a.encode() for a in c.alpn_protocols])
            setting(lib.quic_config_set_alpn_protocols(p, arr, len(c.alpn_protocols)), "alpn_protocols")
        if c.congestion_control_algorithm not in _CONGESTION:
            raise ValueError(f"unknown congestion control algorithm {c.congestion_control_algorithm!r}"
                             f" (libquic has {', '.join(_CONGESTION)})")
        setting(lib.quic_config_set_congestion_control(p, _CONGESTION[c.congestion_control_algorithm]),
                "congestion_control_algorithm")
        setting(lib.quic_config_set_connection_id_length(p, unsigned(c.connection_id_length, "connection_id_length")), "connection_id_length")
        setting(lib.quic_config_set_idle_timeout(p, unsigned(c.idle_timeout * 1e9, "idle_timeout")), "idle_timeout")
        setting(lib.quic_config_set_max_data(p, unsigned(c.max_data, "max_data")), "max_data")
        setting(lib.quic_config_set_max_stream_data(p, unsigned(c.max_stream_data, "max_stream_data")), "max_stream_data")
        setting(lib.quic_config_set_max_datagram_size(p, unsigned(c.max_datagram_size, "max_datagram_size")), "max_datagram_size")
        max_pmtu = c.max_datagram_size if c.max_pmtu is None else c.max_pmtu
        setting(lib.quic_config_set_max_pmtu(p, unsigned(max_pmtu, "max_pmtu")), "max_pmtu")
        setting(lib.quic_config_set_initial_rtt(p, unsigned(c.initial_rtt * 1e9, "initial_rtt")), "initial_rtt")
        if c.max_datagram_frame_size is not None:
            setting(lib.quic_config_set_max_datagram_frame_size(p, unsigned(c.max_datagram_frame_size, "max_datagram_frame_size")),
                    "max_datagram_frame_size")
        if c.server_name is not None:
            setting(lib.quic_config_set_server_name(p, c.server_name.encode()), "server_name")
        if c.verify_mode is not None:
            setting(lib.quic_config_set_verify_mode(p, unsigned(c.verify_mode, "verify_mode", 32)), "verify_mode")
        if c.cafile or c.capath or c.cadata:
            cadata = c.cadata if isinstance(c.cadata, bytes) or c.cadata is None else c.cadata.encode()
            setting(lib.quic_config_load_verify_locations(
                p, c.cafile.encode() if c.cafile else None, c.capath.encode() if c.capath else None,
                cadata, len(cadata or b"")), "load_verify_locations")
        if c.certificate is not None:
            chain = _pem(c.certificate) + b"".join(_pem(x) for x in c.certificate_chain)
            key = _pem(c.private_key)
            password = getattr(c, "_password", None)
            setting(lib.quic_config_load_cert_chain_pem(p, chain, len(chain), key, len(key),
                                                        password.encode() if password else None),
                    "certificate")
        if c.cipher_suites:
            arr = (ctypes.c_uint16 * len(c.cipher_suites))(
                *[unsigned(v, "cipher_suites", 16) for v in c.cipher_suites])
            setting(lib.quic_config_set_cipher_suites(p, arr, len(c.cipher_suites)), "cipher_suites")
        if c.supported_versions:
            arr = (ctypes.c_uint32 * len(c.supported_versions))(
                *[unsigned(v, "supported_versions", 32) for v in c.supported_versions])
            setting(lib.quic_config_set_supported_versions(p, arr, len(c.supported_versions)),
                    "supported_versions")
        if c.original_version is not None:
            setting(lib.quic_config_set_original_version(p, unsigned(c.original_version, "original_version", 32)), "original_version")
        if c.secrets_log_file is not None:
            log = c.secrets_log_file

            def write(_userdata, line):
                log.write(line.decode() + "\n")
                log.flush()

            self._secrets_cb = _lib.SECRETS_LOG_FN(write)
            setting(lib.quic_config_set_secrets_log_callback(p, self._secrets_cb, None), "secrets_log_file")
        if c.qlog_dir is not None:
            setting(lib.quic_config_set_qlog_dir(p, c.qlog_dir.encode()), "qlog_dir")
        if tickets:
            setting(lib.quic_config_set_session_tickets(p, True), "session tickets")
            setting(lib.quic_config_set_early_data(p, True), "early data")
            if not c.is_client:
                keys = c.ticket_keys or [_PROCESS_TICKET_KEY]
                raw = b"".join(keys)
                setting(lib.quic_config_set_ticket_keys(p, raw, len(keys)), "ticket_keys")
                if not c.ticket_keys:
                    setting(lib.quic_config_set_shared_register(p, _PROCESS_REGISTER.callback, None),
                            "register")

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.quic_config_free(self.ptr)
            self.ptr = None
