//! Packet number spaces (RFC 9000 §12.3) and what each sent packet held.

use super::ack::AckState;
use super::crypto_stream::{CryptoRecv, CryptoSend};
use crate::crypto::DirectionalKeys;
use crate::recovery::Space;
use crate::tls::Level;

/// A frame worth remembering until its packet is acknowledged or lost:
/// the information needed to resend it, not the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SentFrame {
    /// CRYPTO bytes at this space's level.
    Crypto { offset: u64, len: u64 },
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// NEW_TOKEN (the token is kept by the connection until acknowledged).
    NewToken,
    /// PATH_CHALLENGE with this data (sent again when lost).
    PathChallenge { data: [u8; 8] },
    /// PING sent for `send_ping(uid)`.
    Ping { uid: u64 },
    /// NEW_CONNECTION_ID for our CID with this sequence number.
    NewConnectionId { seq: u64 },
    /// RETIRE_CONNECTION_ID for the peer's CID with this sequence number.
    RetireConnectionId { seq: u64 },
    /// STREAM data.
    Stream {
        id: u64,
        offset: u64,
        len: u64,
        fin: bool,
    },
    /// RESET_STREAM.
    ResetStream { id: u64 },
    /// STOP_SENDING.
    StopSending { id: u64 },
    /// MAX_DATA.
    MaxData,
    /// MAX_STREAM_DATA.
    MaxStreamData { id: u64 },
    /// MAX_STREAMS.
    MaxStreams { bidi: bool },
    /// An ACK frame whose Largest Acknowledged was `largest`: once the peer
    /// acknowledges it, the ranges below need not be reported again (RFC
    /// 9000 §13.2.4). Never resent.
    Ack { largest: u64 },
    /// A PMTU probe of this many bytes (RFC 8899): its fate moves the
    /// search; nothing is resent.
    MtuProbe { size: usize },
    /// DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED and DATAGRAM are
    /// not resent; they are recorded for acknowledgement accounting only.
    NotResent,
}

/// One packet number space of a connection.
#[derive(Debug, Default)]
pub(crate) struct PacketSpace {
    pub(crate) seal: Option<DirectionalKeys>,
    pub(crate) open: Option<DirectionalKeys>,
    pub(crate) crypto_send: CryptoSend,
    pub(crate) crypto_recv: CryptoRecv,
    pub(crate) ack: AckState,
    pub(crate) next_pn: u64,
    /// Keys dropped for good (RFC 9001 §4.9).
    pub(crate) discarded: bool,
    /// Probe packets owed after a probe timeout.
    pub(crate) probes: u8,
    /// Times our CRYPTO data was resent early because the peer repeated
    /// its own (RFC 9002 §6.2.3); capped so it cannot become a loop.
    pub(crate) early_resends: u8,
}

impl PacketSpace {
    /// The TLS level whose CRYPTO data this space carries.
    pub(crate) fn level(space: Space) -> Level {
        match space {
            Space::Initial => Level::Initial,
            Space::Handshake => Level::Handshake,
            Space::Application => Level::OneRtt,
        }
    }

    /// Drops keys and pending data for good.
    pub(crate) fn discard(&mut self) {
        self.seal = None;
        self.open = None;
        self.crypto_send = CryptoSend::default();
        self.discarded = true;
        self.probes = 0;
    }
}
