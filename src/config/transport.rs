//! How a configuration's connections behave on the wire (the second layer
//! of a configuration, on the endpoint-wide one): flow-control windows and
//! how they grow, stream limits, timers, versions, DATAGRAM, congestion
//! control, key updates, paths and the preferred address.

use super::{ReceiveCredit, ReceiveMode};
use super::{DEFAULT_IDLE_TIMEOUT, DEFAULT_INITIAL_RTT, DEFAULT_WINDOW};
use crate::version;

/// Transport settings of a configuration.
#[derive(Clone)]
pub struct TransportSettings {
    /// Idle timeout in nanoseconds (0 = none).
    pub(crate) idle_timeout: u64,
    /// Connection-level receive window.
    pub(crate) max_data: u64,
    /// Per-stream receive window.
    pub(crate) max_stream_data: u64,
    /// Largest UDP payload we send (at least 1200).
    pub(crate) max_datagram_size: usize,
    /// Initial RTT estimate in nanoseconds.
    pub(crate) initial_rtt: u64,
    /// Versions, preferred first; a client starts with the first.
    pub(crate) supported_versions: Vec<u32>,
    /// DATAGRAM support: the largest frame we accept (None = off).
    pub(crate) max_datagram_frame_size: Option<u64>,
    /// How far auto-tuning may grow the per-stream window.
    pub(crate) max_stream_window: u64,
    /// When received stream data is credited back to the peer.
    pub(crate) receive_credit: ReceiveCredit,
    /// Events or reads.
    pub(crate) receive_mode: ReceiveMode,
    /// Send-buffer level for StreamWritable events (0: none).
    pub(crate) writable_level: u64,
    /// A PING after this long (ns) without sending an ack-eliciting
    /// packet or receiving one (0: never).
    pub(crate) keep_alive: u64,
    /// Tell the peer not to move to another address (RFC 9000 §18.2).
    pub(crate) disable_active_migration: bool,
    /// A server's preferred addresses, per family (RFC 9000 §9.6).
    pub(crate) preferred_v4: Option<std::net::SocketAddrV4>,
    pub(crate) preferred_v6: Option<std::net::SocketAddrV6>,
    /// A client moves to the server's preferred address (§9.6.1).
    pub(crate) follow_preferred_address: bool,
    /// How far auto-tuning may grow the connection window.
    pub(crate) max_connection_window: u64,
    /// Streams the peer may open at once, bidirectional.
    pub(crate) max_streams_bidi: u64,
    /// The congestion controller.
    pub(crate) congestion_control: crate::recovery::congestion::Algorithm,
    /// Mark packets ECT(0) and validate the path's ECN (RFC 9000 §13.4).
    pub(crate) ecn: bool,
    /// How far ahead of its pacing time a datagram may be handed out,
    /// stamped with the time to send it (0: never ahead).
    pub(crate) pacing_horizon: u64,
    /// The largest datagram PMTU discovery probes for (RFC 8899); at or
    /// below `max_datagram_size`, no discovery.
    pub(crate) pmtu_ceiling: usize,
    /// Streams the peer may open at once, unidirectional.
    pub(crate) max_streams_uni: u64,
    /// Start a 1-RTT key update after this many packets sent with one key
    /// (0 = only before the cipher's confidentiality limit, RFC 9001 §6.6).
    pub(crate) key_update_interval: u64,
    /// The version of a client's first flight (aioquic's
    /// `original_version`); None = the first of `supported_versions`.
    /// `supported_versions` is what the client offers to switch to by
    /// compatible negotiation (RFC 9368 §2.3), and a server's preference.
    pub(crate) original_version: Option<u32>,
    /// How long a handshake may take before the connection ends (ns);
    /// 0 = the idle timeout (aioquic's bound), or 60 s without one.
    pub(crate) handshake_timeout: u64,
}

impl TransportSettings {
    /// aioquic's defaults.
    pub(crate) fn new() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_data: DEFAULT_WINDOW,
            max_stream_data: DEFAULT_WINDOW,
            max_datagram_size: 1200,
            initial_rtt: DEFAULT_INITIAL_RTT,
            supported_versions: vec![version::V1, version::V2],
            max_datagram_frame_size: None,
            max_stream_window: 16 * DEFAULT_WINDOW,
            receive_credit: ReceiveCredit::OnPoll,
            receive_mode: ReceiveMode::Events,
            writable_level: 0,
            keep_alive: 0,
            disable_active_migration: false,
            preferred_v4: None,
            preferred_v6: None,
            follow_preferred_address: true,
            max_connection_window: 24 * DEFAULT_WINDOW,
            max_streams_bidi: 128,
            congestion_control: Default::default(),
            ecn: true,
            pmtu_ceiling: 1452,
            pacing_horizon: 0,
            max_streams_uni: 128,
            key_update_interval: 0,
            original_version: None,
            handshake_timeout: 0,
        }
    }
}
