//! A QUIC connection: the sans-I/O state machine (aioquic's
//! `QuicConnection`). Split by concern: receiving (`recv.rs`), packet
//! assembly (`send.rs`), driving TLS (`handshake.rs`), closing and timers
//! (`close.rs`), connection IDs (`cid.rs`), acknowledgements (`ack.rs`).

mod ack;
pub(crate) mod address_token;
mod batch;
pub(crate) mod cid;
mod close;
mod connection_ids;
mod crypto_stream;
mod deferred_data;
mod delivery;
mod early_data;
mod event_queue;
mod events;
mod handshake;
mod handshake_ids;
mod handshake_state;
mod idle;
mod keys;
pub(crate) mod migration;
mod path;
mod pmtud;
mod qlog_events;
mod qlog_state;
mod reassembly;
mod recv;
mod reports;
pub(crate) mod resumption;
mod send;
mod spaces;
mod stream_io;
mod streams;
#[cfg(test)]
mod test_hooks;
pub(crate) mod timers;
mod version_state;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::recovery::ecn::{Ecn, EcnState};
#[cfg(test)]
pub(crate) use crypto_stream::{MAX_CRYPTO_BUFFER, MAX_CRYPTO_PIECES};
pub use events::{Event, PathAddrs, Termination};

#[cfg(feature = "internals")]
pub(crate) use streams::RecvStream;
pub use streams::SendInfo;
#[cfg(test)]
pub(crate) use streams::MAX_OOO_PIECES_PER_CONNECTION;
#[cfg(any(test, feature = "internals"))]
pub(crate) use streams::MAX_OOO_PIECES_PER_STREAM;
use thiserror::Error;

use crate::cid::ConnectionId;
use crate::config::{Config, ReceiveCredit};
use crate::error::TransportError;
use crate::recovery::{HandshakeStatus, Recovery, Space};
use crate::side::Side;
use crate::tls::{TlsContext, TlsSession};
use crate::transport_params::TransportParameters;
use cid::{LocalCids, PeerCids};
use close::CloseState;
use event_queue::Queued;
use spaces::{PacketSpace, SentFrame};
use streams::{Streams, Windows};

/// Why an application call was refused. The connection is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// The call does not fit the connection's state (e.g. connect twice,
    /// or anything but free once closed).
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// An argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// TLS could not be set up for this connection.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The peer's stream limit does not allow opening this stream yet.
    #[error("stream limit reached")]
    StreamLimit,
    /// The peer's stream limits are not known until the handshake brings
    /// its transport parameters.
    #[error("the handshake has not brought the peer's stream limits yet")]
    HandshakePending,
    /// The stream ID cannot be used this way.
    #[error("invalid stream: {0}")]
    InvalidStream(&'static str),
    /// The stream's send side already ended with FIN.
    #[error("stream send side finished")]
    StreamFinished,
    /// The stream was reset, or the peer asked us to stop sending.
    #[error("stream reset")]
    StreamReset,
    /// The connection is closing or closed.
    #[error("connection closing")]
    Closing,
    /// The peer does not accept DATAGRAM frames.
    #[error("DATAGRAM not supported by the peer")]
    DatagramUnsupported,
    /// The datagram does not fit the peer's limit or a packet.
    #[error("datagram too large")]
    DatagramTooLarge,
    /// Too much is queued already; retry after sending.
    #[error("queue full")]
    WouldBlock,
    /// The peer has given no connection ID we have not used yet.
    #[error("no unused connection ID of the peer")]
    NoConnectionId,
    /// The peer sent disable_active_migration (RFC 9000 §18.2).
    #[error("the peer does not allow active migration")]
    MigrationDisabled,
}

/// Where a datagram goes: to `remote`, from `local` (None: the caller's
/// one socket, when it never named a local address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from.
    pub local: Option<SocketAddr>,
    /// The destination.
    pub remote: SocketAddr,
    /// The ECN codepoint to send with (the IP header's, RFC 9000 §13.4).
    pub ecn: Ecn,
    /// When to put it on the wire (ns): the `now` it was built at, or
    /// later with a pacing horizon (`Config::set_pacing_horizon`).
    pub send_at: u64,
}

/// A GSO batch written by [`Connection::send_batch`]: `segments`
/// datagrams for `transmit`, each `segment_size` bytes but the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Where every datagram of the batch goes.
    pub transmit: Transmit,
    /// The size of each datagram but the last (`UDP_SEGMENT`).
    pub segment_size: usize,
    /// How many datagrams.
    pub segments: usize,
}

/// How a connection ended, as seen by one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseError {
    /// Application close (CONNECTION_CLOSE 0x1d) rather than transport.
    pub is_app: bool,
    /// The error code.
    pub code: u64,
    /// The frame type that triggered a transport error, if any.
    pub frame_type: Option<u64>,
    /// The reason phrase.
    pub reason: Vec<u8>,
}

/// Figures about a connection, for logging and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// QUIC version.
    pub version: u32,
    /// TLS cipher suite identifier, 0 before the handshake.
    pub cipher_suite: u16,
    /// TLS key-exchange group codepoint (0x001d X25519, 0x11ec
    /// X25519MLKEM768, ...), 0 before the handshake.
    pub key_exchange_group: u16,
    /// Smoothed RTT (ns).
    pub rtt: u64,
    /// Congestion window (bytes).
    pub cwnd: u64,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// UDP payload bytes sent.
    pub bytes_sent: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Losses later found to be reordering.
    pub spurious_losses: u64,
    /// How losses were found, PTOs and window reductions.
    pub recovery: crate::recovery::RecoveryStats,
    /// Whether the path carries our ECN marks (RFC 9000 §13.4.2).
    pub ecn_state: EcnState,
    /// ECN marks on the packets we received, all spaces together.
    pub ecn_received: crate::frame::EcnCounts,
    /// The largest datagram sent now (PMTU discovery, RFC 8899).
    pub pmtu: usize,
    /// PMTU probes sent.
    pub pmtu_probes_sent: u64,
    /// PMTU probes lost (sizes the path may not carry).
    pub pmtu_probes_lost: u64,
    /// Black holes detected: the path stopped carrying the size found.
    pub pmtu_black_holes: u64,
    /// qlog records dropped because the trace's output fell behind
    /// ([`crate::qlog`]).
    pub qlog_records_dropped: u64,
}

/// One QUIC connection.
pub struct Connection {
    side: Side,
    config: Arc<Config>,
    tls_ctx: Arc<TlsContext>,
    /// The TLS session, from the handshake's start (`hs` says whether it
    /// started; this is None before, and while a client restarts in
    /// another version).
    tls: Option<TlsSession>,
    /// A client's ticket to resume with (`set_session_ticket`).
    resume: Option<resumption::StoredTicket>,
    /// When a client stops waiting for session tickets.
    ticket_wait_until: Option<u64>,
    /// A server's NEW_TOKEN token for its client, and whether it is owed
    /// (again, after a loss); dropped once acknowledged.
    new_token: Option<(Vec<u8>, bool)>,
    /// NEW_TOKEN events a client reported.
    new_tokens_reported: usize,
    /// 0-RTT keys and limits.
    early: early_data::EarlyData,
    version: u32,
    spaces: [PacketSpace; 3],
    recovery: Recovery<Vec<SentFrame>>,
    /// Emptied frame lists of packets done with, for the next packets.
    frame_lists: Vec<Vec<SentFrame>>,
    /// The packets of the datagram being built (kept for its memory).
    built: Vec<send::Built>,
    local_cids: LocalCids,
    peer_cids: PeerCids,
    /// The connection IDs and token of the handshake.
    ids: handshake_ids::HandshakeIds,
    /// The path in use, and the ones a client is probing (RFC 9000 §9).
    paths: migration::Paths,
    peer_params: Option<TransportParameters>,
    bytes_received: u64,
    bytes_sent: u64,
    /// Running, complete, confirmed.
    hs: handshake_state::HandshakeState,
    pings: Vec<u64>,
    /// What the connection reports: events for the application, and
    /// its qlog trace.
    reports: reports::Reports,
    close: CloseState,
    local_error: Option<CloseError>,
    peer_error: Option<CloseError>,
    /// The idle timeout and keep-alive.
    idle: idle::Idle,
    /// The handshake must complete by then, or the connection ends.
    handshake_deadline: Option<u64>,
    recv_buf: Vec<u8>,
    streams: Streams,
    /// DATAGRAM payloads waiting to be sent.
    datagrams: VecDeque<bytes::Bytes>,
    /// The latest time the caller gave us (for calls that take none).
    last_now: u64,
    /// Stream data is held back by pacing until then.
    pacing_deadline: Option<u64>,
    /// CRYPTO data was handed to TLS since it last ran.
    tls_fed: bool,
    /// A packet of the datagram being processed was decrypted (a datagram
    /// with none may be a stateless reset, RFC 9000 §10.3.1).
    opened_in_datagram: bool,
    /// DATAGRAM events queued and not yet polled.
    datagrams_undelivered: usize,
    /// The datagram being built carries a PATH_CHALLENGE: pad it.
    pad_datagram: bool,
    /// A frame of the packet being processed was refused: do not
    /// acknowledge the packet.
    drop_packet: bool,
    /// 1-RTT key generations (key update).
    key_gens: keys::KeyGenerations,
    /// Version negotiation state (RFC 9368, RFC 9369).
    vneg: version_state::VersionState,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("version", &self.version)
            .field("handshake_complete", &self.hs.is_complete())
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(
        config: Arc<Config>,
        tls_ctx: Arc<TlsContext>,
        original_dcid: ConnectionId,
        retry_scid: Option<ConnectionId>,
    ) -> Self {
        let side = config.side;
        let key_update_interval = config.transport.key_update_interval;
        let first_version = config
            .transport
            .original_version
            .unwrap_or(config.transport.supported_versions[0]);
        let local_cids = LocalCids::generate(&config);
        let mut streams = Streams::new(
            side,
            Windows {
                stream: config.transport.max_stream_data,
                connection: config.transport.max_data,
                max_stream: config
                    .transport
                    .max_stream_data
                    .max(config.transport.max_stream_window),
                max_connection: config
                    .transport
                    .max_data
                    .max(config.transport.max_connection_window),
            },
            [
                config.transport.max_streams_bidi,
                config.transport.max_streams_uni,
            ],
        );
        streams.set_credit_on_consume(config.transport.receive_credit == ReceiveCredit::OnConsume);
        streams.set_read_mode(config.transport.receive_mode == crate::config::ReceiveMode::Read);
        streams.set_writable_level(config.transport.writable_level);
        if config.endpoint.qlog.is_some() {
            streams.record_state_changes();
        }
        let mut recovery = Recovery::new(
            config.transport.initial_rtt,
            config.transport.congestion_control,
            config.transport.max_datagram_size as u64,
        );
        recovery.set_ecn(config.transport.ecn);
        let qlog = qlog_events::open_trace(&config, side, &original_dcid);
        let pmtud = pmtud::Pmtud::new(
            config.transport.max_datagram_size,
            config.transport.pmtu_ceiling,
        );
        Self {
            side,
            version: first_version,
            vneg: version_state::VersionState::new(first_version),
            recovery,
            config,
            tls_ctx,
            tls: None,
            resume: None,
            ticket_wait_until: None,
            new_token: None,
            new_tokens_reported: 0,
            early: Default::default(),
            spaces: Default::default(),
            local_cids,
            peer_cids: PeerCids::new(ConnectionId::default()),
            ids: handshake_ids::HandshakeIds::new(original_dcid, retry_scid),
            paths: migration::Paths::new(path::Path::new(
                side == Side::Client || retry_scid.is_some(),
                pmtud,
            )),
            peer_params: None,
            bytes_received: 0,
            bytes_sent: 0,
            hs: handshake_state::HandshakeState::default(),
            pings: Vec::new(),
            frame_lists: Vec::new(),
            built: Vec::new(),
            reports: reports::Reports {
                events: Default::default(),
                qlog,
            },
            close: CloseState::Open,
            local_error: None,
            peer_error: None,
            idle: idle::Idle::default(),
            handshake_deadline: None,
            recv_buf: Vec::new(),
            streams,
            datagrams: VecDeque::new(),
            last_now: 0,
            pacing_deadline: None,
            opened_in_datagram: false,
            tls_fed: false,
            datagrams_undelivered: 0,
            key_gens: keys::KeyGenerations::new(key_update_interval),
            pad_datagram: false,
            drop_packet: false,
        }
    }

    /// A client connection; call [`Connection::connect`] next.
    pub fn new_client(config: Arc<Config>, tls_ctx: Arc<TlsContext>) -> Result<Self, ApiError> {
        if config.side != Side::Client {
            return Err(ApiError::InvalidArgument("configuration is not a client's"));
        }
        // RFC 9000 §7.2: an unpredictable DCID of at least 8 bytes.
        let dcid = cid::random_cid(&*config.endpoint.random, 8);
        Ok(Self::new(config, tls_ctx, dcid, None))
    }

    /// A server connection for a client whose first Initial had DCID
    /// `original_dcid`. When the server sent a Retry, `retry_scid` is the
    /// SCID of that Retry (the client's address is then validated) and
    /// `original_dcid` the DCID of the client's very first Initial.
    pub fn new_server(
        config: Arc<Config>,
        tls_ctx: Arc<TlsContext>,
        original_dcid: &[u8],
        retry_scid: Option<&[u8]>,
    ) -> Result<Self, ApiError> {
        if config.side != Side::Server {
            return Err(ApiError::InvalidArgument("configuration is not a server's"));
        }
        if !config.tls.credentials.is_loaded() {
            return Err(ApiError::InvalidState(
                "a server needs a certificate chain and private key",
            ));
        }
        let odcid = ConnectionId::new(original_dcid).ok_or(ApiError::InvalidArgument(
            "original DCID longer than 20 bytes",
        ))?;
        let retry = match retry_scid {
            Some(r) => Some(
                ConnectionId::new(r)
                    .ok_or(ApiError::InvalidArgument("retry SCID longer than 20 bytes"))?,
            ),
            None => None,
        };
        let mut conn = Self::new(config, tls_ctx, odcid, retry);
        // RFC 9000 §9.6: the preferred address's CID goes in the transport
        // parameters; the application routes it to this connection too.
        let c = &conn.config;
        if c.transport.preferred_v4.is_some() || c.transport.preferred_v6.is_some() {
            if let Some(cid) = conn
                .local_cids
                .issue_for_preferred_address(&*conn.config.endpoint.random)
            {
                conn.reports
                    .events
                    .push(Event::ConnectionIdIssued { cid: cid.cid });
            }
        }
        Ok(conn)
    }

    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The QUIC version in use.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Our first connection ID (sequence 0): a server routes the client's
    /// packets by it once the client learned it. Once the peer retired it
    /// (`rotate_connection_ids`), the oldest one still in use.
    pub fn local_cid(&self) -> ConnectionId {
        self.local_cids
            .active
            .iter()
            .find(|c| c.seq == 0)
            .or(self.local_cids.active.first())
            .map(|c| c.cid)
            .unwrap_or_default()
    }

    /// The DCID of the client's first Initial.
    pub fn original_dcid(&self) -> ConnectionId {
        self.ids.original_dcid
    }

    /// The peer's address, once known.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.paths.active.peer
    }

    /// True once the handshake completed and until the connection closes.
    pub fn is_established(&self) -> bool {
        self.hs.is_complete() && matches!(self.close, CloseState::Open)
    }

    /// The latest time the caller gave (ns).
    pub(crate) fn last_now(&self) -> u64 {
        self.last_now
    }

    /// True once the handshake is confirmed (RFC 9001 §4.1.2).
    pub fn is_handshake_confirmed(&self) -> bool {
        self.hs.is_confirmed()
    }

    /// True once the connection is over: nothing more will be sent or
    /// received, and it can be freed.
    pub fn is_closed(&self) -> bool {
        matches!(self.close, CloseState::Closed)
    }

    /// How we closed the connection, if we did.
    pub fn local_error(&self) -> Option<&CloseError> {
        self.local_error.as_ref()
    }

    /// How the peer closed the connection, if it did.
    pub fn peer_error(&self) -> Option<&CloseError> {
        self.peer_error.as_ref()
    }

    /// The next event, oldest first. Taking stream data frees flow-control
    /// credit for the peer, unless the configuration gives credit on
    /// [`Connection::stream_consumed`] instead.
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = loop {
            let (front, seq) = self.reports.events.front()?;
            if let Queued::StreamData(sid) = *front {
                // A mark: the stream's data as it is now (the mark stays
                // while more waits).
                let taken = self.streams.take_marked(sid, seq);
                if !taken.as_ref().is_some_and(|(_, more)| *more) {
                    self.reports.events.pop();
                }
                if let Some((e, _)) = taken {
                    break e;
                }
            } else if let Some(Queued::Event(e)) = self.reports.events.pop() {
                break e;
            }
        };
        match &e {
            Event::StreamDataReceived {
                stream_id, data, ..
            } => {
                let rtt = self.recovery.path.rtt.smoothed();
                self.streams
                    .on_delivered(*stream_id, data.len() as u64, self.last_now, rtt);
            }
            Event::DatagramFrameReceived { .. } => {
                self.datagrams_undelivered = self.datagrams_undelivered.saturating_sub(1)
            }
            _ => {}
        }
        Some(e)
    }

    /// True when `poll_event` has something to look at: an event, or a
    /// stream's announced data, which comes to nothing when the stream was
    /// paused or reset since (then `poll_event` returns None).
    pub fn has_events(&self) -> bool {
        !self.reports.events.is_empty()
    }

    /// Sends a PING; `PingAcknowledged(uid)` follows its acknowledgement.
    pub fn send_ping(&mut self, uid: u64) -> Result<(), ApiError> {
        if !matches!(self.close, CloseState::Open) || self.paths.active.peer.is_none() {
            return Err(ApiError::InvalidState("connection not open"));
        }
        if self.pings.len() >= 1024 {
            return Err(ApiError::InvalidState("too many PINGs outstanding"));
        }
        self.pings.push(uid);
        Ok(())
    }

    /// The smoothed RTT estimate in ns.
    pub fn rtt(&self) -> u64 {
        self.recovery.path.rtt.smoothed()
    }

    /// What loss recovery did so far (losses by packet and time threshold,
    /// congestion events, PTOs); also in [`Connection::stats`].
    pub fn recovery_stats(&self) -> crate::recovery::RecoveryStats {
        self.recovery.stats()
    }

    /// Figures about the connection.
    pub fn stats(&self) -> Stats {
        Stats {
            version: self.version,
            cipher_suite: self
                .tls
                .as_ref()
                .and_then(|t| t.cipher_suite())
                .unwrap_or(0),
            key_exchange_group: self
                .tls
                .as_ref()
                .and_then(|t| t.key_exchange_group())
                .unwrap_or(0),
            rtt: self.recovery.path.rtt.smoothed(),
            cwnd: self.recovery.path.cc.window(),
            bytes_in_flight: self.recovery.bytes_in_flight(),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            packets_lost: self.recovery.packets_lost(),
            spurious_losses: self.recovery.spurious_losses(),
            recovery: self.recovery.stats(),
            ecn_state: self.recovery.ecn_state(),
            pmtu: self.max_datagram_size(),
            pmtu_probes_sent: self.paths.active.pmtud.probes_sent,
            pmtu_probes_lost: self.paths.active.pmtud.probes_lost,
            pmtu_black_holes: self.paths.active.pmtud.black_holes,
            qlog_records_dropped: self.qlog_dropped_records(),
            ecn_received: self.spaces.iter().fold(Default::default(), |sum, s| {
                let c = s.ack.ecn_total();
                crate::frame::EcnCounts {
                    ect0: sum.ect0 + c.ect0,
                    ect1: sum.ect1 + c.ect1,
                    ce: sum.ce + c.ce,
                }
            }),
        }
    }

    /// The congestion window (bytes).
    pub fn congestion_window(&self) -> u64 {
        self.recovery.path.cc.window()
    }

    /// Bytes in flight (sent, not acknowledged or lost).
    pub fn bytes_in_flight(&self) -> u64 {
        self.recovery.bytes_in_flight()
    }

    fn status(&self) -> HandshakeStatus {
        HandshakeStatus {
            confirmed: self.hs.is_confirmed(),
            has_handshake_keys: self.spaces[Space::Handshake as usize].seal.is_some(),
            peer_validated_address: self.side == Side::Server || self.hs.address_proven(),
            amplification_limited: self.paths.active.handshake_budget() == Some(0),
        }
    }

    fn push_terminated(&mut self, err: &CloseError, cause: Termination) {
        self.qlog_closed(err, cause);
        // What arrived before the end (in the same packet as the peer's
        // CONNECTION_CLOSE, say) is reported first: the end is the last
        // event.
        self.collect_stream_events();
        self.reports.events.push(Event::ConnectionTerminated {
            cause,
            error_code: err.code,
            frame_type: err.frame_type,
            reason: err.reason.clone(),
        });
    }

    /// Records a transport error of ours and starts closing.
    fn fail(&mut self, e: TransportError, now: u64) {
        self.close_with(
            CloseError {
                is_app: false,
                code: e.code,
                frame_type: Some(e.frame_type),
                reason: e.reason.as_bytes().to_vec(),
            },
            Termination::LocalError,
            now,
        );
    }
}
