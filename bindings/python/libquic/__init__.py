"""libquic for Python: aioquic's sans-I/O QUIC API on the libquic C library.

Replace `aioquic.quic` with `libquic.quic` in imports (and `aioquic.tls`
with `libquic.tls`) and code written for aioquic's QuicConnection,
QuicConfiguration and events runs on libquic.
"""

from ._lib import LibquicError, StreamError  # noqa: F401
from .quic.configuration import QuicConfiguration  # noqa: F401
from .quic.connection import QuicConnection, Termination  # noqa: F401

__version__ = "0.2.0"
