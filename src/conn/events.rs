//! What a connection reports to the application (aioquic's `events`).

use bytes::Bytes;

use crate::cid::ConnectionId;

/// An event for the application, polled with `Connection::poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The ALPN protocol was agreed (comes before HandshakeCompleted).
    ProtocolNegotiated {
        /// The protocol, if ALPN was used.
        alpn: Option<Vec<u8>>,
    },
    /// The TLS handshake completed.
    HandshakeCompleted {
        /// The protocol, if ALPN was used.
        alpn: Option<Vec<u8>>,
        /// 0-RTT data was accepted.
        early_data_accepted: bool,
        /// The session was resumed from a ticket.
        session_resumed: bool,
    },
    /// In-order data arrived on a stream: what arrived since the stream was
    /// last polled, together (one event, not one per packet).
    StreamDataReceived {
        /// The stream.
        stream_id: u64,
        /// The bytes (possibly empty with `end_stream`).
        data: Bytes,
        /// The stream ends after `data`.
        end_stream: bool,
    },
    /// In read mode: a stream has data (or its end) to read with
    /// `Connection::stream_read`. Once per stream until the next read of
    /// it: read until there is nothing left.
    StreamReadable {
        /// The stream.
        stream_id: u64,
    },
    /// A stream's send buffer fell below the writable level
    /// (`Config::set_writable_level`) after reaching it: write more.
    StreamWritable {
        /// The stream.
        stream_id: u64,
    },
    /// The peer reset a stream (RESET_STREAM). Data announced before the
    /// reset came (an event waiting) is delivered before it; the rest is
    /// dropped.
    StreamReset {
        /// The stream.
        stream_id: u64,
        /// The peer's application error code.
        error_code: u64,
    },
    /// The peer asked us to stop sending on a stream (STOP_SENDING); our
    /// send side was reset with the same code.
    StopSendingReceived {
        /// The stream.
        stream_id: u64,
        /// The peer's application error code.
        error_code: u64,
    },
    /// A DATAGRAM frame arrived (RFC 9221).
    DatagramFrameReceived {
        /// The payload.
        data: Bytes,
    },
    /// A PING sent with `send_ping(uid)` was acknowledged.
    PingAcknowledged {
        /// The caller's identifier.
        uid: u64,
    },
    /// We issued a new connection ID the peer may use to reach us (a server
    /// routes it to this connection).
    ConnectionIdIssued {
        /// The connection ID.
        cid: ConnectionId,
    },
    /// The peer retired one of our connection IDs (stop routing it).
    ConnectionIdRetired {
        /// The connection ID.
        cid: ConnectionId,
    },
    /// Both directions now use a new generation of 1-RTT keys (RFC 9001
    /// §6): the peer answered our update, or we answered the peer's.
    KeyUpdated {
        /// The generation now in use (1 after the first update).
        generation: u64,
        /// We started this update (`request_key_update` or a packet limit).
        initiated_locally: bool,
    },
    /// The largest datagram the path carries changed (PMTU discovery, RFC
    /// 8899): a probe of `mtu` bytes was acknowledged, or (`black_hole`)
    /// large packets kept being lost and datagrams went back to 1200
    /// bytes.
    PathMtuChanged {
        /// The largest datagram sent from now on.
        mtu: usize,
        /// The path stopped carrying the previous size.
        black_hole: bool,
    },
    /// The peer's packets now come from `addr` and ours go there (RFC 9000
    /// §9.3); a PATH_VALIDATED event follows once it proved the address.
    /// Also reported when we go back to the last proven address because
    /// the new one did not answer.
    PeerMigrated {
        /// The peer's address now.
        addr: std::net::SocketAddr,
    },
    /// A path was validated (PATH_RESPONSE, RFC 9000 §8.2.3): a server's
    /// peer proved it owns its new address, or a client's probe of a new
    /// local address was answered.
    PathValidated {
        /// The path (boxed: path events are rare, and every queued event
        /// is as large as the largest kind).
        path: Box<PathAddrs>,
    },
    /// A client's probe of a new path got no answer (or lost its
    /// connection ID): the connection stays where it is.
    PathFailed {
        /// The path.
        path: Box<PathAddrs>,
        /// Why.
        reason: &'static str,
    },
    /// This client moved to a validated path (`migrate`, or the server's
    /// preferred address): datagrams now leave from `local` to `remote`.
    Migrated {
        /// The path now in use.
        path: Box<PathAddrs>,
    },
    /// The peer raised a stream limit that had refused us a stream
    /// (MAX_STREAMS): streams of that kind can be opened again.
    StreamsAvailable {
        /// The kind of stream.
        unidirectional: bool,
        /// How many of them the peer now allows in all.
        max_streams: u64,
    },
    /// The server sent a session ticket (a client with session tickets on):
    /// opaque bytes to keep, and hand to a later connection to the same
    /// server with `set_session_ticket` to resume (RFC 9001 §4.6). Newer
    /// tickets are better; each is meant to be used once.
    SessionTicket {
        /// The ticket, as `set_session_ticket` takes it.
        ticket: Vec<u8>,
    },
    /// The server refused our early data (0-RTT): everything sent in it is
    /// being sent again in 1-RTT (comes before HandshakeCompleted, whose
    /// `early_data_accepted` is then false).
    EarlyDataRejected,
    /// The server gave an address-validation token (NEW_TOKEN, RFC 9000
    /// §8.1.3): opaque bytes to keep for this server and present in a later
    /// connection's Initial with `set_address_token`, so the server trusts
    /// the address at once.
    NewToken {
        /// The token, as `set_address_token` takes it.
        token: Vec<u8>,
    },
    /// The connection ended: by us, by the peer, or by the idle timeout.
    ConnectionTerminated {
        /// Why: who closed, or which timeout or condition ended it.
        cause: Termination,
        /// Transport or application error code.
        error_code: u64,
        /// The frame type that caused a transport error, if any.
        frame_type: Option<u64>,
        /// Reason phrase (raw bytes; usually UTF-8).
        reason: Vec<u8>,
    },
}

/// Both ends of a network path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathAddrs {
    /// Our address (None: the caller never named it, its one socket).
    pub local: Option<std::net::SocketAddr>,
    /// The peer's address.
    pub remote: std::net::SocketAddr,
}

impl PathAddrs {
    /// The path from `local` to `remote`, boxed for an event.
    pub fn boxed(local: Option<std::net::SocketAddr>, remote: std::net::SocketAddr) -> Box<Self> {
        Box::new(Self { local, remote })
    }
}

/// Why a connection ended, so that an idle timeout is not mistaken for a
/// peer's application close with code 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// We found a protocol error (or an internal one) and closed with a
    /// transport error code.
    LocalError,
    /// Our application closed it (`close`).
    LocalClose,
    /// The peer sent CONNECTION_CLOSE with a transport error code (type
    /// 0x1c).
    PeerTransport,
    /// The peer's application closed it (CONNECTION_CLOSE type 0x1d).
    PeerApplication,
    /// Nothing arrived for the idle timeout (RFC 9000 §10.1).
    IdleTimeout,
    /// The handshake did not complete in time.
    HandshakeTimeout,
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    StatelessReset,
    /// No QUIC version in common (RFC 9000 §6).
    VersionNegotiation,
    /// Our application abandoned it (`abandon`): ended at once, the peer
    /// not told.
    Abandoned,
}
