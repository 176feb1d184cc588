//! Frames: every type of RFC 9000 §19 plus DATAGRAM (RFC 9221 §4).
//!
//! Parsed frames borrow their data from the decrypted packet; nothing is
//! copied until the connection decides to keep it.

mod ack;
mod parse;
mod write;

pub use ack::{AckFrame, AckRanges, EcnCounts};
pub use parse::{parse, Frames};
pub use write::*;

use crate::packet::PacketType;

/// Frame type codes (RFC 9000 §19, RFC 9221 §4).
pub mod kind {
    /// PADDING
    pub const PADDING: u64 = 0x00;
    /// PING
    pub const PING: u64 = 0x01;
    /// ACK
    pub const ACK: u64 = 0x02;
    /// ACK with ECN counts
    pub const ACK_ECN: u64 = 0x03;
    /// RESET_STREAM
    pub const RESET_STREAM: u64 = 0x04;
    /// STOP_SENDING
    pub const STOP_SENDING: u64 = 0x05;
    /// CRYPTO
    pub const CRYPTO: u64 = 0x06;
    /// NEW_TOKEN
    pub const NEW_TOKEN: u64 = 0x07;
    /// STREAM (0x08..=0x0f; bits OFF=0x04, LEN=0x02, FIN=0x01)
    pub const STREAM: u64 = 0x08;
    /// MAX_DATA
    pub const MAX_DATA: u64 = 0x10;
    /// MAX_STREAM_DATA
    pub const MAX_STREAM_DATA: u64 = 0x11;
    /// MAX_STREAMS (bidirectional)
    pub const MAX_STREAMS_BIDI: u64 = 0x12;
    /// MAX_STREAMS (unidirectional)
    pub const MAX_STREAMS_UNI: u64 = 0x13;
    /// DATA_BLOCKED
    pub const DATA_BLOCKED: u64 = 0x14;
    /// STREAM_DATA_BLOCKED
    pub const STREAM_DATA_BLOCKED: u64 = 0x15;
    /// STREAMS_BLOCKED (bidirectional)
    pub const STREAMS_BLOCKED_BIDI: u64 = 0x16;
    /// STREAMS_BLOCKED (unidirectional)
    pub const STREAMS_BLOCKED_UNI: u64 = 0x17;
    /// NEW_CONNECTION_ID
    pub const NEW_CONNECTION_ID: u64 = 0x18;
    /// RETIRE_CONNECTION_ID
    pub const RETIRE_CONNECTION_ID: u64 = 0x19;
    /// PATH_CHALLENGE
    pub const PATH_CHALLENGE: u64 = 0x1a;
    /// PATH_RESPONSE
    pub const PATH_RESPONSE: u64 = 0x1b;
    /// CONNECTION_CLOSE (transport)
    pub const CONNECTION_CLOSE: u64 = 0x1c;
    /// CONNECTION_CLOSE (application)
    pub const CONNECTION_CLOSE_APP: u64 = 0x1d;
    /// HANDSHAKE_DONE
    pub const HANDSHAKE_DONE: u64 = 0x1e;
    /// DATAGRAM without a Length field
    pub const DATAGRAM: u64 = 0x30;
    /// DATAGRAM with a Length field
    pub const DATAGRAM_LEN: u64 = 0x31;
}

/// The most streams of one type a peer may allow: stream IDs must stay
/// below 2^62 (RFC 9000 §4.6, §19.11).
pub const MAX_STREAMS_LIMIT: u64 = 1 << 60;

/// One frame, borrowing from the packet it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING bytes (collapsed into one frame).
    Padding {
        /// Number of padding bytes.
        len: usize,
    },
    /// PING.
    Ping,
    /// ACK or ACK_ECN.
    Ack(AckFrame<'a>),
    /// RESET_STREAM.
    ResetStream {
        /// Stream.
        stream_id: u64,
        /// Application error code.
        error_code: u64,
        /// Final size of the stream.
        final_size: u64,
    },
    /// STOP_SENDING.
    StopSending {
        /// Stream.
        stream_id: u64,
        /// Application error code.
        error_code: u64,
    },
    /// CRYPTO.
    Crypto {
        /// Offset in the crypto stream.
        offset: u64,
        /// Handshake bytes.
        data: &'a [u8],
    },
    /// NEW_TOKEN.
    NewToken {
        /// Address-validation token (never empty).
        token: &'a [u8],
    },
    /// STREAM.
    Stream {
        /// Stream.
        stream_id: u64,
        /// Offset of `data` in the stream.
        offset: u64,
        /// Stream bytes.
        data: &'a [u8],
        /// The stream ends after `data`.
        fin: bool,
    },
    /// MAX_DATA.
    MaxData(u64),
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// Stream.
        stream_id: u64,
        /// New limit.
        max: u64,
    },
    /// MAX_STREAMS.
    MaxStreams {
        /// Bidirectional (0x12) or unidirectional (0x13).
        bidi: bool,
        /// Cumulative stream count.
        max: u64,
    },
    /// DATA_BLOCKED.
    DataBlocked(u64),
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// Stream.
        stream_id: u64,
        /// The limit that blocked.
        limit: u64,
    },
    /// STREAMS_BLOCKED.
    StreamsBlocked {
        /// Bidirectional (0x16) or unidirectional (0x17).
        bidi: bool,
        /// The limit that blocked.
        limit: u64,
    },
    /// NEW_CONNECTION_ID.
    NewConnectionId {
        /// Sequence number.
        seq: u64,
        /// Retire every CID with a lower sequence number.
        retire_prior_to: u64,
        /// The connection ID (1..=20 bytes).
        cid: &'a [u8],
        /// Its stateless reset token.
        reset_token: [u8; 16],
    },
    /// RETIRE_CONNECTION_ID.
    RetireConnectionId {
        /// Sequence number to retire.
        seq: u64,
    },
    /// PATH_CHALLENGE.
    PathChallenge([u8; 8]),
    /// PATH_RESPONSE.
    PathResponse([u8; 8]),
    /// CONNECTION_CLOSE.
    ConnectionClose {
        /// Application close (0x1d) rather than transport (0x1c).
        app: bool,
        /// Error code.
        error_code: u64,
        /// The frame type that caused the error (transport close only).
        frame_type: u64,
        /// Reason phrase, meant to be UTF-8 but not guaranteed to be.
        reason: &'a [u8],
    },
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// DATAGRAM.
    Datagram {
        /// Application payload.
        data: &'a [u8],
        /// Whether the frame carried a Length field (type 0x31).
        with_len: bool,
    },
}

impl Frame<'_> {
    /// The frame type code (for STREAM, the base 0x08 with its flags).
    pub fn kind(&self) -> u64 {
        match self {
            Frame::Padding { .. } => kind::PADDING,
            Frame::Ping => kind::PING,
            Frame::Ack(a) => {
                if a.ecn.is_some() {
                    kind::ACK_ECN
                } else {
                    kind::ACK
                }
            }
            Frame::ResetStream { .. } => kind::RESET_STREAM,
            Frame::StopSending { .. } => kind::STOP_SENDING,
            Frame::Crypto { .. } => kind::CRYPTO,
            Frame::NewToken { .. } => kind::NEW_TOKEN,
            Frame::Stream { offset, fin, .. } => {
                kind::STREAM | 0x02 | (u64::from(*offset != 0) << 2) | u64::from(*fin)
            }
            Frame::MaxData(_) => kind::MAX_DATA,
            Frame::MaxStreamData { .. } => kind::MAX_STREAM_DATA,
            Frame::MaxStreams { bidi: true, .. } => kind::MAX_STREAMS_BIDI,
            Frame::MaxStreams { bidi: false, .. } => kind::MAX_STREAMS_UNI,
            Frame::DataBlocked(_) => kind::DATA_BLOCKED,
            Frame::StreamDataBlocked { .. } => kind::STREAM_DATA_BLOCKED,
            Frame::StreamsBlocked { bidi: true, .. } => kind::STREAMS_BLOCKED_BIDI,
            Frame::StreamsBlocked { bidi: false, .. } => kind::STREAMS_BLOCKED_UNI,
            Frame::NewConnectionId { .. } => kind::NEW_CONNECTION_ID,
            Frame::RetireConnectionId { .. } => kind::RETIRE_CONNECTION_ID,
            Frame::PathChallenge(_) => kind::PATH_CHALLENGE,
            Frame::PathResponse(_) => kind::PATH_RESPONSE,
            Frame::ConnectionClose { app: false, .. } => kind::CONNECTION_CLOSE,
            Frame::ConnectionClose { app: true, .. } => kind::CONNECTION_CLOSE_APP,
            Frame::HandshakeDone => kind::HANDSHAKE_DONE,
            Frame::Datagram {
                with_len: false, ..
            } => kind::DATAGRAM,
            Frame::Datagram { with_len: true, .. } => kind::DATAGRAM_LEN,
        }
    }

    /// True unless the frame is ACK, PADDING or CONNECTION_CLOSE
    /// (RFC 9000 §13.2, Table 3 "N").
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(
            self,
            Frame::Ack(_) | Frame::Padding { .. } | Frame::ConnectionClose { .. }
        )
    }

    /// Whether this frame may appear in a packet of type `ty` (RFC 9000
    /// §12.4 Table 3; RFC 9221 §4 for DATAGRAM). A frame where it is not
    /// permitted is a PROTOCOL_VIOLATION.
    pub fn permitted_in(&self, ty: PacketType) -> bool {
        match ty {
            PacketType::Initial | PacketType::Handshake => matches!(
                self,
                Frame::Padding { .. }
                    | Frame::Ping
                    | Frame::Ack(_)
                    | Frame::Crypto { .. }
                    | Frame::ConnectionClose { app: false, .. }
            ),
            PacketType::ZeroRtt => !matches!(
                self,
                Frame::Ack(_)
                    | Frame::Crypto { .. }
                    | Frame::NewToken { .. }
                    | Frame::PathResponse(_)
                    | Frame::RetireConnectionId { .. }
                    | Frame::HandshakeDone
            ),
            PacketType::OneRtt => true,
            PacketType::Retry | PacketType::VersionNegotiation | PacketType::UnknownVersion => {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests;
