//! Connection settings (aioquic's `QuicConfiguration`), validated as they
//! are set so that mistakes surface at the call that made them.
//!
//! A `Config` is three layers, in their order of dependency:
//! - [`EndpointSettings`] (`endpoint.rs`): what every connection of an
//!   endpoint shares: connection IDs and their generator, the reset and
//!   token keys, randomness, the wall clock, the one-time registers;
//! - [`TransportSettings`] (`transport.rs`): how connections behave on the
//!   wire;
//! - [`TlsSettings`] (in `tls`, so that `tls` never imports this module):
//!   what OpenSSL is set up with; it reads the clock and the shared
//!   register of the first layer through [`TlsInputs`].
//!
//! The setters below are the one way in, for Rust and C callers alike.

use crate::crypto::random::{RandomSource, SystemRandom};
pub use crate::error::ConfigError;
use crate::shared_register::SharedRegister;
use crate::tls::settings::TlsInputs;
pub use crate::tls::settings::{KeyLogFn, TlsSettings, VerifyMode};
use crate::tls::{Credentials, TicketKey};
use crate::token::{TokenKey, UnixClock};
use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::Suite;
use crate::packet::MAX_CID_LEN;
use crate::side::Side;
use crate::version;

mod endpoint;
mod transport;
pub use endpoint::EndpointSettings;
pub use transport::TransportSettings;

/// Makes a new connection ID in a buffer of the configured connection ID
/// length, which arrives holding random bytes: how a fleet makes the IDs
/// its load balancers route by (a server ID in the leading bytes, say),
/// overwriting what it routes by and leaving the rest random. Called from
/// any thread that uses the configuration; each ID must be unique to this
/// server.
pub type CidGeneratorFn = Arc<dyn Fn(&mut [u8]) + Send + Sync>;

/// When data received on a stream is credited back to the peer (as
/// MAX_STREAM_DATA and MAX_DATA), which sets how fast the peer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiveCredit {
    /// As soon as the application takes the data event (aioquic's way):
    /// right for an application that handles data as it comes.
    #[default]
    OnPoll,
    /// Only when the application says it consumed the bytes
    /// (`Connection::stream_consumed`): the peer sends at the pace the
    /// application works at, and what it holds stays within the windows.
    OnConsume,
}

/// How the application receives stream data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiveMode {
    /// In [`crate::conn::Event::StreamDataReceived`] events, as it arrives
    /// (aioquic's way), credited as [`ReceiveCredit`] says. No copy: the
    /// event holds the received buffer.
    #[default]
    Events,
    /// Kept in the library until [`crate::conn::Connection::stream_read`]
    /// copies it out; [`crate::conn::Event::StreamReadable`] says when a
    /// stream has some. Credit goes back as it is read, so what a stream
    /// holds never exceeds its window ([`ReceiveCredit`] does not apply).
    Read,
}

/// Settings shared by the connections made from them. Fields are set
/// through the validating setters, so a `Config` only holds values the
/// rest of the library can use.
#[derive(Clone)]
pub struct Config {
    /// Client or server.
    pub(crate) side: Side,
    /// Settings every connection of an endpoint shares: connection IDs,
    /// keys, randomness, the clock and the registers of one-time use.
    pub(crate) endpoint: EndpointSettings,
    /// How connections behave on the wire: windows, limits, timers,
    /// versions, paths.
    pub(crate) transport: TransportSettings,
    /// What the TLS layer is configured with.
    pub(crate) tls: TlsSettings,
}

impl TlsInputs for Config {
    fn tls_settings(&self) -> &TlsSettings {
        &self.tls
    }

    fn unix_clock(&self) -> Arc<dyn UnixClock> {
        self.endpoint.unix_clock.clone()
    }

    fn shared_register(&self) -> Option<Arc<dyn SharedRegister>> {
        self.endpoint.shared_register.clone()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("side", &self.side)
            .field("alpn_protocols", &self.tls.alpn_protocols)
            .field("server_name", &self.tls.server_name)
            .finish_non_exhaustive()
    }
}

/// aioquic's default idle timeout: 60 s.
const DEFAULT_IDLE_TIMEOUT: u64 = 60_000_000_000;
/// The longest timeout a setter takes: a day.
const MAX_TIMEOUT: u64 = 86_400_000_000_000;
/// aioquic's default windows: 1 MiB.
const DEFAULT_WINDOW: u64 = 1 << 20;
/// A fresh random 32-byte key.
fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    SystemRandom.fill(&mut k);
    k
}

/// RFC 8446 §4.6.1: at most seven days.
const MAX_TICKET_LIFETIME: u32 = 604_800;
/// Ticket keys a server may hold (the current one and older ones still
/// accepted).
pub const MAX_TICKET_KEYS: usize = 16;
/// aioquic's default initial RTT: 100 ms.
const DEFAULT_INITIAL_RTT: u64 = 100_000_000;

impl Config {
    /// Defaults of aioquic's `QuicConfiguration` for `side`.
    pub fn new(side: Side) -> Self {
        Self {
            side,
            endpoint: EndpointSettings::new(),
            transport: TransportSettings::new(),
            tls: TlsSettings::new(side),
        }
    }

    /// Sets the ALPN list: at least one name, 1..=255 bytes each. (An
    /// empty list would fail every handshake later, with no hint why.)
    pub fn set_alpn_protocols(&mut self, protocols: Vec<Vec<u8>>) -> Result<(), ConfigError> {
        if protocols.is_empty() {
            return Err(ConfigError::Invalid(
                "the ALPN list needs at least one protocol".into(),
            ));
        }
        if protocols.iter().any(|p| p.is_empty() || p.len() > 255) {
            return Err(ConfigError::Invalid(
                "ALPN protocols are 1 to 255 bytes".into(),
            ));
        }
        self.tls.alpn_protocols = protocols;
        Ok(())
    }

    /// Sets the length of the connection IDs we issue.
    pub fn set_connection_id_length(&mut self, len: usize) -> Result<(), ConfigError> {
        if len > MAX_CID_LEN {
            return Err(ConfigError::Invalid(
                "connection IDs are at most 20 bytes".into(),
            ));
        }
        if let Some(lb) = self.endpoint.quic_lb_cid_len.filter(|&l| l != len) {
            return Err(ConfigError::Invalid(format!(
                "the QUIC-LB configuration sets the connection ID length ({lb} bytes)"
            )));
        }
        self.endpoint.connection_id_length = len;
        Ok(())
    }

    /// Sets the largest UDP payload we send.
    pub fn set_max_datagram_size(&mut self, size: usize) -> Result<(), ConfigError> {
        if !(1200..=65_527).contains(&size) {
            return Err(ConfigError::Invalid(
                "max_datagram_size must be 1200..=65527".into(),
            ));
        }
        self.transport.max_datagram_size = size;
        Ok(())
    }

    /// Sets the allowed cipher suites.
    pub fn set_cipher_suites(&mut self, suites: Vec<Suite>) -> Result<(), ConfigError> {
        if suites.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one cipher suite is needed".into(),
            ));
        }
        self.tls.cipher_suites = suites;
        Ok(())
    }

    /// Sets the cipher suites by their TLS identifiers (0x1301..=0x1303),
    /// in preference order.
    pub fn set_cipher_suite_ids(&mut self, ids: &[u16]) -> Result<(), ConfigError> {
        let suites = ids
            .iter()
            .map(|&id| {
                Suite::from_tls_id(id).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "cipher suite {id:#06x} is not one QUIC can use (0x1301, 0x1302, 0x1303)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.set_cipher_suites(suites)
    }

    /// Sets the TLS key-exchange groups (OpenSSL list syntax), checked by
    /// OpenSSL now rather than when the first connection is made.
    pub fn set_groups(&mut self, groups: &str) -> Result<(), ConfigError> {
        crate::tls::check_groups(groups)?;
        self.tls.groups = Some(groups.to_owned());
        Ok(())
    }

    /// Sets the idle timeout (ns; 0 = none; at most a day).
    pub fn set_idle_timeout(&mut self, ns: u64) -> Result<(), ConfigError> {
        if ns > MAX_TIMEOUT {
            return Err(ConfigError::Invalid(
                "the idle timeout is at most a day".into(),
            ));
        }
        self.transport.idle_timeout = ns;
        Ok(())
    }

    /// Sets how long a handshake may take (ns, at most a day; 0 = the idle
    /// timeout).
    pub fn set_handshake_timeout(&mut self, ns: u64) -> Result<(), ConfigError> {
        if ns > MAX_TIMEOUT {
            return Err(ConfigError::Invalid(
                "the handshake timeout is at most a day".into(),
            ));
        }
        self.transport.handshake_timeout = ns;
        Ok(())
    }

    /// The handshake's time limit in effect (ns).
    pub fn effective_handshake_timeout(&self) -> u64 {
        match (
            self.transport.handshake_timeout,
            self.transport.idle_timeout,
        ) {
            (0, 0) => DEFAULT_IDLE_TIMEOUT,
            (0, idle) => idle,
            (h, _) => h,
        }
    }

    /// Sets the version a client's first flight uses; it must be one
    /// libquic implements.
    pub fn set_original_version(&mut self, v: u32) -> Result<(), ConfigError> {
        if !version::is_supported(v) {
            return Err(ConfigError::Invalid(
                "the original version must be 1 or 0x6b3343cf".into(),
            ));
        }
        self.transport.original_version = Some(v);
        Ok(())
    }

    /// Sets the versions; each must be one libquic implements.
    pub fn set_supported_versions(&mut self, versions: Vec<u32>) -> Result<(), ConfigError> {
        if versions.is_empty() || !versions.iter().all(|v| version::is_supported(*v)) {
            return Err(ConfigError::Invalid(
                "supported versions must be a non-empty list of 1 and 0x6b3343cf".into(),
            ));
        }
        self.transport.supported_versions = versions;
        Ok(())
    }

    /// Sets the initial RTT estimate (1 ms ..= 60 s).
    pub fn set_initial_rtt(&mut self, rtt_ns: u64) -> Result<(), ConfigError> {
        if !(1_000_000..=60_000_000_000).contains(&rtt_ns) {
            return Err(ConfigError::Invalid(
                "initial RTT must be between 1 ms and 60 s".into(),
            ));
        }
        self.transport.initial_rtt = rtt_ns;
        Ok(())
    }

    /// Sets the receive windows (each at most 2^62 - 1).
    pub fn set_windows(&mut self, max_data: u64, max_stream_data: u64) -> Result<(), ConfigError> {
        if max_data > crate::varint::MAX || max_stream_data > crate::varint::MAX {
            return Err(ConfigError::Invalid("windows are at most 2^62 - 1".into()));
        }
        self.transport.max_data = max_data;
        self.transport.max_stream_data = max_stream_data;
        Ok(())
    }

    /// Sets how far auto-tuning may grow the per-stream and connection
    /// receive windows (each at most 2^62 - 1).
    pub fn set_max_windows(&mut self, stream: u64, connection: u64) -> Result<(), ConfigError> {
        if stream > crate::varint::MAX || connection > crate::varint::MAX {
            return Err(ConfigError::Invalid(
                "window limits are at most 2^62 - 1".into(),
            ));
        }
        self.transport.max_stream_window = stream;
        self.transport.max_connection_window = connection;
        Ok(())
    }

    /// Sets how many streams of each kind the peer may open at once
    /// (each at most 2^60, RFC 9000 §4.6).
    pub fn set_max_streams(&mut self, bidi: u64, uni: u64) -> Result<(), ConfigError> {
        if bidi > crate::frame::MAX_STREAMS_LIMIT || uni > crate::frame::MAX_STREAMS_LIMIT {
            return Err(ConfigError::Invalid(
                "stream limits are at most 2^60 (RFC 9000 §4.6)".into(),
            ));
        }
        self.transport.max_streams_bidi = bidi;
        self.transport.max_streams_uni = uni;
        Ok(())
    }

    /// Accepts DATAGRAM frames up to `size` bytes (RFC 9221); 0 turns
    /// DATAGRAM support off.
    pub fn set_max_datagram_frame_size(&mut self, size: u64) -> Result<(), ConfigError> {
        if size > crate::varint::MAX {
            return Err(ConfigError::Invalid(
                "the DATAGRAM frame size is at most 2^62 - 1".into(),
            ));
        }
        self.transport.max_datagram_frame_size = (size > 0).then_some(size);
        Ok(())
    }

    /// Starts a 1-RTT key update every `packets` packets sent with one key
    /// (0: only before the AEAD confidentiality limit).
    pub fn set_key_update_interval(&mut self, packets: u64) {
        self.transport.key_update_interval = packets;
    }

    /// Picks the congestion controller.
    pub fn set_congestion_control(&mut self, algorithm: crate::recovery::congestion::Algorithm) {
        self.transport.congestion_control = algorithm;
    }

    /// Turns ECN on (the default) or off: packets marked ECT(0), the
    /// path validated from the peer's ACK_ECN counts, CE marks taken as
    /// congestion (RFC 9000 §13.4, RFC 9002 §7.1). Marks only travel when
    /// the caller sends each datagram with the codepoint it is given and
    /// reports the one each datagram arrived with; when it does not,
    /// validation fails and nothing is marked.
    pub fn set_ecn(&mut self, enabled: bool) {
        self.transport.ecn = enabled;
    }

    /// Sets the largest datagram PMTU discovery probes for (RFC 8899, RFC
    /// 9000 §14.3; 1200..=65527, default 1452: an Ethernet path over
    /// IPv6). Datagrams start at the max datagram size and grow once a
    /// probe of a larger size is acknowledged; a ceiling at or below the
    /// max datagram size turns discovery off. A caller's send buffer
    /// smaller than the size found keeps datagrams within it.
    pub fn set_max_pmtu(&mut self, size: usize) -> Result<(), ConfigError> {
        if !(1200..=65_527).contains(&size) {
            return Err(ConfigError::Invalid("max PMTU must be 1200..=65527".into()));
        }
        self.transport.pmtu_ceiling = size;
        Ok(())
    }

    /// Lets the send calls hand out datagrams up to `horizon_ns` ahead of
    /// the time the pacer (RFC 9002 §7.7) would release them, each
    /// stamped with that time ([`crate::conn::Transmit::send_at`]); the
    /// caller must not put one on the wire earlier (`SO_TXTIME`, or a
    /// timer of its own). Fewer wakeups for a paced sender. 0, the
    /// default: datagrams are handed out when they may leave; at most one
    /// second.
    pub fn set_pacing_horizon(&mut self, horizon_ns: u64) -> Result<(), ConfigError> {
        if horizon_ns > 1_000_000_000 {
            return Err(ConfigError::Invalid("pacing horizon is at most 1 s".into()));
        }
        self.transport.pacing_horizon = horizon_ns;
        Ok(())
    }

    /// Sets when received stream data is credited back to the peer.
    pub fn set_receive_credit(&mut self, credit: ReceiveCredit) {
        self.transport.receive_credit = credit;
    }

    /// Sets how the application receives stream data.
    pub fn set_receive_mode(&mut self, mode: ReceiveMode) {
        self.transport.receive_mode = mode;
    }

    /// Reports a stream writable ([`crate::conn::Event::StreamWritable`])
    /// when its send buffer (written, not yet acknowledged) falls below
    /// `level` bytes after reaching it; 0 (the default) reports nothing.
    pub fn set_writable_level(&mut self, level: u64) {
        self.transport.writable_level = level;
    }

    /// Sends a PING after `interval_ns` in which no packet came in and no
    /// ack-eliciting packet went out, once the handshake is complete
    /// (RFC 9000 §10.1.2), so a quiet but healthy connection outlives the
    /// idle timeout; 0 (the default) never does. Choose it well below the
    /// idle timeout (a third of it, say); a peer that stopped answering
    /// still ends the connection at the idle timeout.
    pub fn set_keep_alive(&mut self, interval_ns: u64) -> Result<(), ConfigError> {
        if interval_ns > MAX_TIMEOUT {
            return Err(ConfigError::Invalid(
                "the keep-alive interval is at most a day".into(),
            ));
        }
        self.transport.keep_alive = interval_ns;
        Ok(())
    }

    /// Sends the disable_active_migration transport parameter (RFC 9000
    /// §18.2): the peer must not probe or move to other local addresses.
    /// A NAT rebinding, which the peer does not choose, is still followed.
    pub fn set_disable_active_migration(&mut self, disable: bool) {
        self.transport.disable_active_migration = disable;
    }

    /// A server offers `addr` as its preferred address of that family (RFC
    /// 9000 §9.6): clients validate it after the handshake and move there.
    /// One per family; the application must receive there too and feed
    /// those datagrams to the same connection (routed by CID, with
    /// `recv_on` naming the local address).
    pub fn set_preferred_address(&mut self, addr: std::net::SocketAddr) -> Result<(), ConfigError> {
        if self.side != Side::Server {
            return Err(ConfigError::Invalid(
                "only a server has a preferred address".into(),
            ));
        }
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(ConfigError::Invalid(
                "a preferred address needs an IP address and a port".into(),
            ));
        }
        match addr {
            std::net::SocketAddr::V4(a) => self.transport.preferred_v4 = Some(a),
            std::net::SocketAddr::V6(a) => self.transport.preferred_v6 = Some(a),
        }
        Ok(())
    }

    /// Whether a client moves to the server's preferred address (on by
    /// default, as RFC 9000 §9.6.1 recommends). Off for a client that can
    /// send to one server address only.
    pub fn set_follow_preferred_address(&mut self, follow: bool) {
        self.transport.follow_preferred_address = follow;
    }

    /// Turns session tickets on: a server issues them after the handshake,
    /// a client reports each one as [`crate::conn::Event::SessionTicket`].
    pub fn set_session_tickets(&mut self, enabled: bool) {
        self.tls.session_tickets = enabled;
    }

    /// Sets a server's ticket keys: the first seals new tickets, all of
    /// them open tickets (so a rotated-out key keeps working for tickets
    /// already out). Random keys per configuration when never set.
    pub fn set_ticket_keys(&mut self, keys: Vec<TicketKey>) -> Result<(), ConfigError> {
        if keys.is_empty() || keys.len() > MAX_TICKET_KEYS {
            return Err(ConfigError::Invalid(format!(
                "1 to {MAX_TICKET_KEYS} ticket keys, not {}",
                keys.len()
            )));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.name == k.name) {
                return Err(ConfigError::Invalid(
                    "two ticket keys with the same name".into(),
                ));
            }
        }
        self.tls.ticket_keys = keys;
        Ok(())
    }

    /// Sets how long a server's tickets may be used, 1 s to 7 days (RFC
    /// 8446 §4.6.1).
    pub fn set_ticket_lifetime(&mut self, seconds: u32) -> Result<(), ConfigError> {
        if !(1..=MAX_TICKET_LIFETIME).contains(&seconds) {
            return Err(ConfigError::Invalid(
                "a ticket lifetime is 1 s to 7 days (RFC 8446 §4.6.1)".into(),
            ));
        }
        self.tls.ticket_lifetime = seconds;
        Ok(())
    }

    /// Sets a server's address-validation token key (Retry and NEW_TOKEN
    /// tokens): every server of a fleet the same, so any of them accepts
    /// the tokens of the others. Random per configuration when never set.
    pub fn set_token_key(&mut self, key: [u8; 32]) {
        self.endpoint.token_key = Arc::new(TokenKey::new(key));
    }

    /// Sets how long a server's NEW_TOKEN tokens are good for, in seconds
    /// (at most 30 days); 0 sends none.
    pub fn set_token_lifetime(&mut self, seconds: u64) -> Result<(), ConfigError> {
        if seconds > 30 * 86_400 {
            return Err(ConfigError::Invalid(
                "a token lifetime is at most 30 days".into(),
            ));
        }
        self.endpoint.token_lifetime = seconds;
        Ok(())
    }

    /// Takes wall-clock time for tokens from `clock` instead of the
    /// system's.
    pub fn set_unix_clock(&mut self, clock: Arc<dyn UnixClock>) {
        self.endpoint.unix_clock = clock;
    }

    /// Asks `register` too, besides this configuration's own registers,
    /// whether a NEW_TOKEN token or a 0-RTT ticket was used before: the
    /// application shares it across the servers of a fleet, or keeps it
    /// across restarts. With one, 0-RTT is also taken right after the
    /// configuration is made (see [`crate::tls`]'s strike register).
    pub fn set_shared_register(&mut self, register: Option<Arc<dyn SharedRegister>>) {
        self.endpoint.shared_register = register;
    }

    /// Turns 0-RTT on (RFC 9001 §4.6): a client resuming with a ticket that
    /// allows it sends streams and datagrams before the handshake
    /// completes; a server (with session tickets on) issues tickets that
    /// allow it and accepts early data. Early data can be replayed by an
    /// attacker: only what is safe to repeat belongs in it.
    pub fn set_early_data(&mut self, enabled: bool) {
        self.tls.early_data = enabled;
    }

    /// Sets how the peer's certificate is verified.
    pub fn set_verify_mode(&mut self, mode: VerifyMode) {
        self.tls.verify_mode = mode;
    }

    /// Writes a qlog trace of every connection made from this
    /// configuration to `sink` ([`crate::qlog::dir_sink`] for a directory,
    /// as aioquic's `QuicFileLogger`); None: no qlog (the default, which
    /// costs nothing).
    pub fn set_qlog(&mut self, sink: Option<crate::qlog::QlogSink>) {
        self.endpoint.qlog = sink;
    }

    /// Logs TLS secrets (NSS key log lines) to `log`; None stops.
    pub fn set_key_log(&mut self, log: Option<KeyLogFn>) {
        self.tls.key_log = log;
    }

    /// Derives the stateless reset token of every connection ID from
    /// `key` (RFC 9000 §10.3.2) instead of drawing it at random: servers
    /// of a fleet that share the key can reset each other's connections
    /// after a crash or a route change. The key is never sent; keep it
    /// secret, as anyone who knows it can end connections. An endpoint
    /// sets its own (`EndpointParams::reset_key`).
    pub fn set_stateless_reset_key(&mut self, key: Option<[u8; 32]>) {
        self.endpoint.reset_key = key;
    }

    /// Makes every connection ID this endpoint issues (and the SCID of its
    /// Retry packets) with `generator`, which gets random bytes to shape,
    /// so that the IDs carry what the fleet's load balancers route by.
    /// None: random.
    pub fn set_cid_generator(&mut self, generator: Option<CidGeneratorFn>) {
        self.endpoint.cid_generator = generator;
    }

    /// Makes every connection ID this endpoint issues (and the SCID of its
    /// Retry packets) after QUIC-LB's plaintext format (`lb`), and sets the
    /// connection ID length to its length, so that a stateless load
    /// balancer reads the server ID from any packet the clients send,
    /// whatever address they move to. None: random IDs again (the length
    /// stays). Replaces a generator set with `set_cid_generator`.
    pub fn set_quic_lb(&mut self, lb: Option<crate::quic_lb::QuicLbConfig>) {
        match lb {
            Some(lb) => {
                self.endpoint.connection_id_length = lb.cid_len();
                self.endpoint.quic_lb_cid_len = Some(lb.cid_len());
                self.endpoint.cid_generator = Some(Arc::new(move |cid: &mut [u8]| lb.fill(cid)));
            }
            None => {
                self.endpoint.cid_generator = None;
                self.endpoint.quic_lb_cid_len = None;
            }
        }
    }

    /// Takes randomness from `source` instead of the system's.
    pub fn set_random(&mut self, source: Arc<dyn RandomSource>) {
        self.endpoint.random = source;
    }

    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Sets the server name (SNI and certificate hostname).
    pub fn set_server_name(&mut self, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() || name.len() > 255 || name.contains('\0') {
            return Err(ConfigError::Invalid(
                "server name must be 1 to 255 bytes".into(),
            ));
        }
        self.tls.server_name = Some(name.to_owned());
        Ok(())
    }

    /// Loads trusted CAs: a PEM file, a hashed directory, and/or PEM data.
    pub fn load_verify_locations(
        &mut self,
        cafile: Option<&str>,
        capath: Option<&str>,
        cadata: Option<&[u8]>,
    ) -> Result<(), ConfigError> {
        // Parsed into a copy, so a failure leaves the settings as they were.
        let mut anchors = self.tls.ca_certs.clone();
        if let Some(path) = cafile {
            anchors.add_pem(&read(path)?, path)?;
        }
        if let Some(data) = cadata {
            anchors.add_pem(data, "cadata")?;
        }
        let dir = match capath {
            Some(p) => {
                let meta = std::fs::metadata(p).map_err(|e| ConfigError::Io {
                    path: p.into(),
                    reason: e.to_string(),
                })?;
                if !meta.is_dir() {
                    return Err(ConfigError::CaCertificates(format!(
                        "{p} is not a directory"
                    )));
                }
                Some(PathBuf::from(p))
            }
            None => None,
        };
        self.tls.ca_certs = anchors;
        if dir.is_some() {
            self.tls.ca_path = dir;
        }
        Ok(())
    }

    /// Loads our certificate chain (PEM, leaf first) and private key (PEM,
    /// optionally encrypted with `password`).
    pub fn load_cert_chain_pem(
        &mut self,
        chain_pem: &[u8],
        key_pem: &[u8],
        password: Option<&[u8]>,
    ) -> Result<(), ConfigError> {
        self.tls.credentials = Credentials::from_pem(chain_pem, key_pem, password)?;
        Ok(())
    }

    /// Like [`Config::load_cert_chain_pem`], from files. `keyfile` may be
    /// None when the key is in `certfile`.
    pub fn load_cert_chain(
        &mut self,
        certfile: &str,
        keyfile: Option<&str>,
        password: Option<&[u8]>,
    ) -> Result<(), ConfigError> {
        let chain = read(certfile)?;
        let key = match keyfile {
            Some(k) => read(k)?,
            None => chain.clone(),
        };
        self.load_cert_chain_pem(&chain, &key, password)
    }
}

fn read(path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError::Io {
        path: path.into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_aioquic() {
        let c = Config::new(Side::Client);
        assert_eq!(c.endpoint.connection_id_length, 8);
        assert_eq!(c.transport.max_datagram_size, 1200);
        assert_eq!(c.tls.verify_mode, VerifyMode::Required);
        assert_eq!(Config::new(Side::Server).tls.verify_mode, VerifyMode::None);
    }

    #[test]
    fn invalid_values_are_refused_when_set() {
        let mut c = Config::new(Side::Client);
        assert!(c.set_connection_id_length(21).is_err());
        assert!(c.set_max_datagram_size(1199).is_err());
        assert!(c.set_alpn_protocols(vec![vec![]]).is_err());
        assert!(c.set_cipher_suites(vec![]).is_err());
        assert!(c.set_supported_versions(vec![0x1a2a_3a4a]).is_err());
        assert!(c.set_initial_rtt(0).is_err());
        assert!(matches!(
            c.load_verify_locations(Some("/nonexistent/ca.pem"), None, None),
            Err(ConfigError::Io { .. })
        ));
        assert!(matches!(
            c.load_verify_locations(None, None, Some(b"not pem")),
            Err(ConfigError::CaCertificates(_))
        ));
        assert!(matches!(
            c.load_cert_chain_pem(b"junk", b"junk", None),
            Err(ConfigError::Certificate(_))
        ));
        // Nothing was changed by the refused calls.
        assert_eq!(c.endpoint.connection_id_length, 8);
        assert!(c.tls.ca_certs.is_empty());
    }
}
