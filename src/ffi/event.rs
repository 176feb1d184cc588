//! `quic_event`: one tagged plain struct for every event.

use std::ptr::null;

use super::addr::write_sockaddr;
use crate::conn::{Event, Termination};

/// What a `quic_event` reports. Numbers are stable; new kinds get new
/// numbers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_event_type {
    /// The handshake completed: `alpn`, `session_resumed`,
    /// `early_data_accepted`.
    HandshakeCompleted = 1,
    /// ALPN agreed (before HANDSHAKE_COMPLETED): `alpn`.
    ProtocolNegotiated = 2,
    /// Stream data arrived: `stream_id`, `data`, `end_stream`. What a
    /// stream received since it was last polled comes together (one event,
    /// not one per packet). Taking the
    /// event credits the bytes back to the peer, unless the config says
    /// `QUIC_RECEIVE_CREDIT_ON_CONSUME` (then `quic_conn_stream_consumed`
    /// does); `quic_conn_stream_pause_reading` holds a stream's events back.
    StreamDataReceived = 3,
    /// The peer reset a stream: `stream_id`, `error_code`. Data already
    /// announced when the reset came (an event waiting) is delivered
    /// before it; the rest is dropped.
    StreamReset = 4,
    /// The peer asked us to stop sending: `stream_id`, `error_code`.
    StopSendingReceived = 5,
    /// A DATAGRAM frame arrived: `data`.
    DatagramFrameReceived = 6,
    /// A PING from `quic_conn_send_ping` was acknowledged: `ping_uid`.
    PingAcknowledged = 7,
    /// We issued a connection ID (route it to this connection): `cid`.
    ConnectionIdIssued = 8,
    /// The peer retired one of our connection IDs (stop routing it): `cid`.
    ConnectionIdRetired = 9,
    /// The connection ended: `termination` says why (who closed, or which
    /// timeout); `error_code`, `frame_type` (when `has_frame_type`),
    /// `reason`. Keep calling `quic_conn_send` and the timer until
    /// `quic_conn_is_closed`, then free it.
    ConnectionTerminated = 10,
    /// Both directions now use a new generation of 1-RTT keys (RFC 9001
    /// §6), after our `quic_conn_request_key_update` or the peer's own
    /// update; `quic_conn_key_generation` tells which. No fields.
    KeyUpdated = 11,
    /// The peer moved to a new address (NAT rebinding or migration, RFC
    /// 9000 §9): `quic_conn_send` now gives that address, and libquic
    /// checks it with PATH_CHALLENGE; also when it goes back to the last
    /// proven address after the new one failed: `remote_addr` (also
    /// `quic_conn_peer_address`).
    PeerMigrated = 12,
    /// A path was validated (RFC 9000 §8.2): a server's peer proved it
    /// owns its current address, or a client's probe of a new local
    /// address (`quic_conn_probe_path`, `quic_conn_migrate`) was answered.
    /// `remote_addr`, and `local_addr` when known.
    PathValidated = 13,
    /// The peer raised a stream limit (MAX_STREAMS) that had refused us a
    /// stream with QUIC_RESULT_STREAM_LIMIT: `unidirectional`, and the new
    /// limit in `max_streams`. Once per refusal.
    StreamsAvailable = 14,
    /// The server sent a session ticket (a client with
    /// `quic_config_set_session_tickets` on): `data`, `data_len`. Copy the
    /// bytes and store them with the server's name; hand them to a later
    /// connection to the same server in `quic_conn_params.session_ticket`
    /// to resume. The newest is best; use each once.
    ///
    /// When: after HANDSHAKE_COMPLETED. A libquic server sends two tickets
    /// with its first 1-RTT flight, so they come with or before the first
    /// response; other servers may send them later, after a response. A
    /// client listens for tickets until three PTOs after the handshake is
    /// confirmed (a few round trips) and reports none after that: a
    /// client that closes as soon as its last response arrives may have
    /// none yet, so one that wants a ticket keeps the connection until
    /// this event or that time.
    SessionTicket = 15,
    /// The server gave an address-validation token (NEW_TOKEN): `data`,
    /// `data_len`. Copy and store it for this server; a later connection
    /// presents it in `quic_conn_params.address_token`, and the server then
    /// trusts the client's address at once (no Retry, no 3x limit).
    NewToken = 16,
    /// The server refused the early data (0-RTT) this client sent: no
    /// fields. No stream byte is lost: libquic sends them again in 1-RTT;
    /// early DATAGRAMs, unreliable, are not resent. HANDSHAKE_COMPLETED
    /// follows with `early_data_accepted` false. An
    /// application that made early data depend on the server's answer may
    /// want to know.
    EarlyDataRejected = 17,
    /// With `QUIC_RECEIVE_MODE_READ`: a stream has data, or its end, to
    /// read with `quic_conn_stream_read`: `stream_id`. One event per
    /// stream until it is read again, so read until `QUIC_RESULT_DONE` (or
    /// keep track of streams you stopped reading early yourself).
    StreamReadable = 18,
    /// A stream's send buffer (bytes written and not yet acknowledged)
    /// fell below the level set with `quic_config_set_writable_level`,
    /// after reaching it: `stream_id`. Once per crossing; not for a stream
    /// that ended (FIN or reset) or that the peer asked to stop.
    StreamWritable = 19,
    /// A client's probe of a new path got no answer within three PTOs, or
    /// the server retired the path's connection ID: `local_addr`,
    /// `remote_addr`, `reason`. The connection stays on its path; the
    /// probed socket may be closed.
    PathFailed = 20,
    /// This client moved to the validated path of `quic_conn_migrate`:
    /// `local_addr` is where datagrams leave from now, `remote_addr` the
    /// server. After its PATH_VALIDATED.
    Migrated = 21,
    /// The largest datagram the path carries changed (PMTU discovery, RFC
    /// 8899): `mtu` is the size used from now on; `black_hole` when large
    /// packets kept being lost and it fell back to 1200. The buffers
    /// given to the send calls bound it too: give them at least the
    /// ceiling of `quic_config_set_max_pmtu`.
    PathMtuChanged = 22,
}

/// Why a connection ended (`termination` of a CONNECTION_TERMINATED
/// event). Numbers are stable; new causes get new numbers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_termination {
    /// Not a CONNECTION_TERMINATED event.
    None = 0,
    /// We found a protocol (or internal) error and closed with that
    /// transport error code.
    LocalError = 1,
    /// Our application called `quic_conn_close`.
    LocalClose = 2,
    /// The peer closed with a transport error code (CONNECTION_CLOSE type
    /// 0x1c).
    PeerTransport = 3,
    /// The peer's application closed (CONNECTION_CLOSE type 0x1d).
    PeerApplication = 4,
    /// Nothing arrived for the idle timeout (RFC 9000 §10.1); closed
    /// silently.
    IdleTimeout = 5,
    /// The handshake did not complete within the handshake timeout.
    HandshakeTimeout = 6,
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    StatelessReset = 7,
    /// No QUIC version in common with the server (RFC 9000 §6).
    VersionNegotiation = 8,
    /// Our application called `quic_conn_abandon` (the peer is gone):
    /// ended at once, without telling the peer.
    Abandoned = 9,
}

impl From<Termination> for quic_termination {
    fn from(t: Termination) -> Self {
        match t {
            Termination::LocalError => Self::LocalError,
            Termination::LocalClose => Self::LocalClose,
            Termination::PeerTransport => Self::PeerTransport,
            Termination::PeerApplication => Self::PeerApplication,
            Termination::IdleTimeout => Self::IdleTimeout,
            Termination::HandshakeTimeout => Self::HandshakeTimeout,
            Termination::StatelessReset => Self::StatelessReset,
            Termination::VersionNegotiation => Self::VersionNegotiation,
            Termination::Abandoned => Self::Abandoned,
        }
    }
}

/// An event from `quic_conn_poll_event`. Only the fields its `kind` names
/// are meaningful; the others are zero / NULL. Its pointers (`data`,
/// `reason`, `alpn`, `cid`) stay valid until the next `quic_conn_poll_event`
/// or `quic_conn_free` on the same connection, and no other call ends them:
/// `data` may go straight into `quic_conn_stream_send` or
/// `quic_conn_send_datagram` on that connection (an echo), which copy it.
/// Set `struct_size` before polling; new kinds and fields (at the end)
/// appear in minor releases.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct quic_event {
    /// `sizeof(quic_event)`, set by the caller: the library writes no
    /// further (the growth rule in this header's opening comment).
    pub struct_size: usize,
    /// What happened.
    pub kind: quic_event_type,
    /// Stream events: the stream.
    pub stream_id: u64,
    /// Received bytes (stream data, datagram).
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// The stream ends with `data`.
    pub end_stream: bool,
    /// Error code (terminated, reset, stop sending).
    pub error_code: u64,
    /// The frame type of a transport error.
    pub frame_type: u64,
    /// Whether `frame_type` is set (transport errors only).
    pub has_frame_type: bool,
    /// Reason phrase bytes (usually UTF-8, not NUL-terminated).
    pub reason: *const u8,
    /// Length of `reason`.
    pub reason_len: usize,
    /// Negotiated ALPN protocol (not NUL-terminated); NULL when none.
    pub alpn: *const u8,
    /// Length of `alpn`.
    pub alpn_len: usize,
    /// The session was resumed.
    pub session_resumed: bool,
    /// 0-RTT data was accepted.
    pub early_data_accepted: bool,
    /// The uid given to `quic_conn_send_ping`.
    pub ping_uid: u64,
    /// A connection ID.
    pub cid: *const u8,
    /// Length of `cid`.
    pub cid_len: usize,
    /// CONNECTION_TERMINATED: why the connection ended.
    pub termination: quic_termination,
    /// STREAMS_AVAILABLE: the kind of stream.
    pub unidirectional: bool,
    /// STREAMS_AVAILABLE: how many streams of that kind the peer allows in
    /// all.
    pub max_streams: u64,
    /// Path events (PATH_VALIDATED, PATH_FAILED, MIGRATED): our address on
    /// the path; `local_addr_len` 0 when not known.
    pub local_addr: libc::sockaddr_storage,
    /// Length of `local_addr`.
    pub local_addr_len: libc::socklen_t,
    /// Path events, PEER_MIGRATED: the peer's address on the path.
    pub remote_addr: libc::sockaddr_storage,
    /// Length of `remote_addr`.
    pub remote_addr_len: libc::socklen_t,
    /// PATH_MTU_CHANGED: the largest datagram from now on. This field
    /// and the one after it were appended.
    pub mtu: u64,
    /// PATH_MTU_CHANGED: a black hole made it fall back.
    pub black_hole: bool,
}

fn ptr(s: &[u8]) -> *const u8 {
    if s.is_empty() {
        null()
    } else {
        s.as_ptr()
    }
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after `kind`.
unsafe impl super::sized::Growable for quic_event {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_event, kind) + 4;
}

impl quic_event {
    fn empty(kind: quic_event_type) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            kind,
            stream_id: 0,
            data: null(),
            data_len: 0,
            end_stream: false,
            error_code: 0,
            frame_type: 0,
            has_frame_type: false,
            reason: null(),
            reason_len: 0,
            alpn: null(),
            alpn_len: 0,
            session_resumed: false,
            early_data_accepted: false,
            ping_uid: 0,
            cid: null(),
            cid_len: 0,
            termination: quic_termination::None,
            unidirectional: false,
            max_streams: 0,
            // SAFETY: plain data; all-zero is a valid sockaddr_storage.
            local_addr: unsafe { std::mem::zeroed() },
            local_addr_len: 0,
            // SAFETY: as above.
            remote_addr: unsafe { std::mem::zeroed() },
            remote_addr_len: 0,
            mtu: 0,
            black_hole: false,
        }
    }

    /// An event about the path between `local` and `remote`.
    fn on_path(
        kind: quic_event_type,
        local: Option<std::net::SocketAddr>,
        remote: std::net::SocketAddr,
    ) -> Self {
        let mut out = Self::empty(kind);
        if let Some(l) = local {
            write_sockaddr(l, &mut out.local_addr, &mut out.local_addr_len);
        }
        write_sockaddr(remote, &mut out.remote_addr, &mut out.remote_addr_len);
        out
    }

    /// Describes `e`, borrowing its bytes (keep `e` alive as long as the
    /// pointers are used).
    pub(crate) fn describe(e: &Event) -> Self {
        match e {
            Event::ProtocolNegotiated { alpn } => {
                let mut out = Self::empty(quic_event_type::ProtocolNegotiated);
                let a = alpn.as_deref().unwrap_or(&[]);
                (out.alpn, out.alpn_len) = (ptr(a), a.len());
                out
            }
            Event::HandshakeCompleted {
                alpn,
                early_data_accepted,
                session_resumed,
            } => {
                let mut out = Self::empty(quic_event_type::HandshakeCompleted);
                let a = alpn.as_deref().unwrap_or(&[]);
                (out.alpn, out.alpn_len) = (ptr(a), a.len());
                out.early_data_accepted = *early_data_accepted;
                out.session_resumed = *session_resumed;
                out
            }
            Event::EarlyDataRejected => Self::empty(quic_event_type::EarlyDataRejected),
            Event::NewToken { token } => {
                let mut out = Self::empty(quic_event_type::NewToken);
                (out.data, out.data_len) = (ptr(token), token.len());
                out
            }
            Event::SessionTicket { ticket } => {
                let mut out = Self::empty(quic_event_type::SessionTicket);
                (out.data, out.data_len) = (ptr(ticket), ticket.len());
                out
            }
            Event::StreamDataReceived {
                stream_id,
                data,
                end_stream,
            } => {
                let mut out = Self::empty(quic_event_type::StreamDataReceived);
                out.stream_id = *stream_id;
                (out.data, out.data_len) = (ptr(data), data.len());
                out.end_stream = *end_stream;
                out
            }
            Event::StreamReadable { stream_id } | Event::StreamWritable { stream_id } => {
                let kind = if matches!(e, Event::StreamReadable { .. }) {
                    quic_event_type::StreamReadable
                } else {
                    quic_event_type::StreamWritable
                };
                let mut out = Self::empty(kind);
                out.stream_id = *stream_id;
                out
            }
            Event::StreamReset {
                stream_id,
                error_code,
            }
            | Event::StopSendingReceived {
                stream_id,
                error_code,
            } => {
                let kind = if matches!(e, Event::StreamReset { .. }) {
                    quic_event_type::StreamReset
                } else {
                    quic_event_type::StopSendingReceived
                };
                let mut out = Self::empty(kind);
                out.stream_id = *stream_id;
                out.error_code = *error_code;
                out
            }
            Event::DatagramFrameReceived { data } => {
                let mut out = Self::empty(quic_event_type::DatagramFrameReceived);
                (out.data, out.data_len) = (ptr(data), data.len());
                out
            }
            Event::PingAcknowledged { uid } => {
                let mut out = Self::empty(quic_event_type::PingAcknowledged);
                out.ping_uid = *uid;
                out
            }
            Event::ConnectionIdIssued { cid } | Event::ConnectionIdRetired { cid } => {
                let kind = if matches!(e, Event::ConnectionIdIssued { .. }) {
                    quic_event_type::ConnectionIdIssued
                } else {
                    quic_event_type::ConnectionIdRetired
                };
                let mut out = Self::empty(kind);
                (out.cid, out.cid_len) = (ptr(cid), cid.len());
                out
            }
            Event::StreamsAvailable {
                unidirectional,
                max_streams,
            } => {
                let mut out = Self::empty(quic_event_type::StreamsAvailable);
                out.unidirectional = *unidirectional;
                out.max_streams = *max_streams;
                out
            }
            Event::KeyUpdated { .. } => Self::empty(quic_event_type::KeyUpdated),
            Event::PathMtuChanged { mtu, black_hole } => {
                let mut out = Self::empty(quic_event_type::PathMtuChanged);
                out.mtu = *mtu as u64;
                out.black_hole = *black_hole;
                out
            }
            Event::PeerMigrated { addr } => {
                Self::on_path(quic_event_type::PeerMigrated, None, *addr)
            }
            Event::PathValidated { path } => {
                Self::on_path(quic_event_type::PathValidated, path.local, path.remote)
            }
            Event::PathFailed { path, reason } => {
                let mut out = Self::on_path(quic_event_type::PathFailed, path.local, path.remote);
                (out.reason, out.reason_len) = (ptr(reason.as_bytes()), reason.len());
                out
            }
            Event::Migrated { path } => {
                Self::on_path(quic_event_type::Migrated, path.local, path.remote)
            }
            Event::ConnectionTerminated {
                cause,
                error_code,
                frame_type,
                reason,
            } => {
                let mut out = Self::empty(quic_event_type::ConnectionTerminated);
                out.termination = (*cause).into();
                out.error_code = *error_code;
                out.has_frame_type = frame_type.is_some();
                out.frame_type = frame_type.unwrap_or(0);
                (out.reason, out.reason_len) = (ptr(reason), reason.len());
                out
            }
        }
    }
}
