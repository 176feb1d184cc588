"""What aioquic code takes from aioquic.tls: session tickets and cipher
suite numbers. libquic's TLS is OpenSSL's, inside the C library."""

from dataclasses import dataclass
from enum import IntEnum


class CipherSuite(IntEnum):
    AES_128_GCM_SHA256 = 0x1301
    AES_256_GCM_SHA384 = 0x1302
    CHACHA20_POLY1305_SHA256 = 0x1303


@dataclass
class SessionTicket:
    """A session ticket from a server, opaque to the application: store it
    (pickle works) and give it back as QuicConfiguration.session_ticket to
    resume, with 0-RTT where the server allows."""

    ticket: bytes
