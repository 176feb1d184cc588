"""Connection events: aioquic's classes with aioquic's fields, so that code
matching on them runs unchanged, plus the events libquic reports that
aioquic has no class for (after the aioquic ones; ignore what you do not
know)."""

from dataclasses import dataclass
from typing import Optional, Tuple


class QuicEvent:
    """Base class of every event."""


@dataclass
class ConnectionIdIssued(QuicEvent):
    connection_id: bytes


@dataclass
class ConnectionIdRetired(QuicEvent):
    connection_id: bytes


@dataclass
class ConnectionTerminated(QuicEvent):
    error_code: int
    frame_type: Optional[int]
    reason_phrase: str
    #: libquic: why it ended (who closed, or which timeout): a
    #: libquic.quic.connection.Termination.
    termination: int = 0


@dataclass
class DatagramFrameReceived(QuicEvent):
    data: bytes


@dataclass
class HandshakeCompleted(QuicEvent):
    alpn_protocol: Optional[str]
    early_data_accepted: bool
    session_resumed: bool


@dataclass
class PingAcknowledged(QuicEvent):
    uid: int


@dataclass
class ProtocolNegotiated(QuicEvent):
    alpn_protocol: Optional[str]


@dataclass
class StopSendingReceived(QuicEvent):
    error_code: int
    stream_id: int


@dataclass
class StreamDataReceived(QuicEvent):
    data: bytes
    end_stream: bool
    stream_id: int


@dataclass
class StreamReset(QuicEvent):
    error_code: int
    stream_id: int


# ---- libquic's own events ----

@dataclass
class KeyUpdated(QuicEvent):
    """Both directions use a new generation of 1-RTT keys (RFC 9001 §6)."""


@dataclass
class PeerMigrated(QuicEvent):
    """The peer moved to a new address."""
    addr: Optional[Tuple[str, int]]


@dataclass
class PathValidated(QuicEvent):
    """A path was proven (RFC 9000 §8.2)."""
    local_addr: Optional[Tuple[str, int]]
    addr: Optional[Tuple[str, int]]


@dataclass
class PathFailed(QuicEvent):
    local_addr: Optional[Tuple[str, int]]
    addr: Optional[Tuple[str, int]]
    reason: str


@dataclass
class Migrated(QuicEvent):
    local_addr: Optional[Tuple[str, int]]
    addr: Optional[Tuple[str, int]]


@dataclass
class StreamsAvailable(QuicEvent):
    """The peer raised a stream limit that had held back a stream of ours."""
    unidirectional: bool
    max_streams: int


@dataclass
class EarlyDataRejected(QuicEvent):
    """The server refused our 0-RTT data; stream bytes are sent again."""


@dataclass
class StreamWritable(QuicEvent):
    stream_id: int


@dataclass
class PathMtuChanged(QuicEvent):
    mtu: int
    black_hole: bool


@dataclass
class UnknownEvent(QuicEvent):
    """An event kind this package does not know yet."""
    kind: int
