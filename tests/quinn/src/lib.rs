//! libquic against quinn-proto (a second, independent QUIC stack, Rust and
//! rustls) in one process, over an in-memory link with a virtual clock,
//! delay, seeded loss and reordering. Both are sans-I/O: each side's
//! datagrams are handed to the other.
//!
//! The application on both ends: the client opens one bidirectional stream
//! and sends `size` bytes with FIN; the server answers on that stream with
//! `size` bytes of its own as soon as the stream appears. Both directions
//! are checked byte for byte.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quic::config::{Config, ReceiveCredit};
use quic::conn::{Connection as LibConn, Ecn, Event as LibEvent};
use quic::crypto::Suite;
use quic::packet::{header, PacketType};
use quic::server::InitialToken;
use quic::side::Side;
use quic::tls::TlsContext;
use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    ClientConfig, Connection as QConn, ConnectionHandle, DatagramEvent, Dir, EcnCodepoint,
    Endpoint, EndpointConfig, Event as QEvent, ServerConfig, StreamEvent, StreamId,
    TransportConfig, VarInt,
};
use rustls::crypto::ring as rring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// One millisecond in nanoseconds.
pub const MS: u64 = 1_000_000;
const ALPN: &[u8] = b"hq-interop";

/// What one run does.
#[derive(Debug, Clone)]
pub struct Opts {
    /// libquic is the client (quinn-proto the server), or the reverse.
    pub libquic_client: bool,
    /// Bytes sent each way.
    pub size: usize,
    /// Both sides offer only TLS_CHACHA20_POLY1305_SHA256.
    pub chacha20: bool,
    /// The server makes every new client go through a Retry.
    pub retry: bool,
    /// Share of datagrams lost, and of datagrams held back by `reorder_by`.
    pub loss: f64,
    /// Share of datagrams reordered.
    pub reorder: f64,
    /// Seed of the link's randomness.
    pub seed: u64,
    /// libquic asks for a key update once it received this many bytes.
    pub libquic_update_after: Option<usize>,
    /// quinn-proto forces a key update once it received this many bytes.
    pub quinn_update_after: Option<usize>,
    /// libquic's automatic key update interval in packets (0: none).
    pub libquic_update_interval: u64,
    /// libquic credits received data only as its application consumes it
    /// (ReceiveCredit::OnConsume), this many bytes per ms of virtual time,
    /// with windows of [`SLOW_WINDOW`] growing to [`SLOW_MAX_WINDOW`].
    pub libquic_consume_per_ms: Option<usize>,
    /// libquic pauses reading its stream when the first data arrives, and
    /// resumes at this time (ns); same windows.
    pub libquic_pause_until: Option<u64>,
    /// Session tickets on: the run is made twice, the second connection
    /// resuming the first one's session (each side keeps its config, as
    /// a real client and server do).
    pub resume: bool,
    /// With `resume`: 0-RTT on both sides; the second connection's client
    /// writes before its handshake completes.
    pub zero_rtt: bool,
    /// A libquic client migrates to [`lib_new_addr`] once it received
    /// this many bytes (RFC 9000 §9.2).
    pub libquic_migrate_after: Option<usize>,
    /// A libquic client moves to a new connection ID of quinn-proto's
    /// (retiring the old one) every this many bytes received.
    pub libquic_change_cid_every: Option<usize>,
    /// libquic (either role) replaces all its connection IDs, with Retire
    /// Prior To, every this many bytes received.
    pub libquic_rotate_every: Option<usize>,
    /// quinn-proto's connection IDs live this long: it then issues new
    /// ones with Retire Prior To (its `cid_lifetime`).
    pub quinn_cid_lifetime: Option<Duration>,
    /// A quinn-proto server offers [`quinn_preferred_addr`] as its
    /// preferred address (RFC 9000 §9.6).
    pub quinn_preferred_address: bool,
    /// A libquic server offers [`lib_new_addr`] as its preferred address.
    pub libquic_preferred_address: bool,
    /// The client (either stack) opens its stream only at this time (ns):
    /// the connection is quiet until then.
    pub client_writes_at: u64,
    /// quinn-proto's max_idle_timeout (default: quinn-proto's 30 s).
    pub quinn_idle_timeout: Option<Duration>,
    /// libquic sends a PING after this long without sending (ns).
    pub libquic_keep_alive: Option<u64>,
    /// libquic's PMTU ceiling (None: its default, 1452).
    pub libquic_max_pmtu: Option<usize>,
    /// Share of ECT-marked datagrams to libquic, and to quinn-proto, the
    /// link marks CE after the handshake.
    pub ce_to_libquic: f64,
    pub ce_to_quinn: f64,
    /// A libquic server loses its connection once quinn-proto received
    /// this many bytes, as a crash and restart would: a fresh endpoint
    /// with the same stateless reset key takes its place.
    pub libquic_restart_after: Option<usize>,
}

/// The stateless reset key of a libquic server that restarts.
const RESET_KEY: [u8; 32] = [0x5e; 32];

/// libquic's stream window in the slow-reader runs, and how far it may grow.
pub const SLOW_WINDOW: u64 = 64 * 1024;
pub const SLOW_MAX_WINDOW: u64 = 256 * 1024;

impl Default for Opts {
    fn default() -> Self {
        Self {
            libquic_client: true,
            size: 1 << 20,
            chacha20: false,
            retry: false,
            loss: 0.0,
            reorder: 0.0,
            seed: 1,
            libquic_update_after: None,
            quinn_update_after: None,
            libquic_update_interval: 0,
            libquic_consume_per_ms: None,
            libquic_pause_until: None,
            resume: false,
            zero_rtt: false,
            libquic_migrate_after: None,
            libquic_change_cid_every: None,
            libquic_rotate_every: None,
            quinn_cid_lifetime: None,
            quinn_preferred_address: false,
            libquic_preferred_address: false,
            client_writes_at: 0,
            quinn_idle_timeout: None,
            libquic_keep_alive: None,
            libquic_restart_after: None,
            ce_to_libquic: 0.0,
            ce_to_quinn: 0.0,
            libquic_max_pmtu: None,
        }
    }
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// libquic's 1-RTT write key generation at the end.
    pub libquic_generation: u64,
    /// libquic's KEY_UPDATED events: (generation, started by libquic).
    pub libquic_key_updates: Vec<(u64, bool)>,
    /// libquic's negotiated cipher suite.
    pub suite: u16,
    /// Retry packets the server sent.
    pub retries: usize,
    /// Datagrams the link dropped and reordered.
    pub dropped: usize,
    /// Datagrams held back.
    pub reordered: usize,
    /// Virtual time the run took (ns).
    pub elapsed: u64,
    /// The most libquic's application held received and not consumed.
    pub libquic_max_unconsumed: u64,
    /// Stream bytes libquic delivered while its stream was paused.
    pub libquic_received_while_paused: usize,
    /// UDP bytes quinn-proto sent while libquic's stream was paused.
    pub quinn_sent_while_paused: u64,
    /// libquic's HandshakeCompleted said the session was resumed.
    pub libquic_resumed: bool,
    /// Session tickets libquic's client received.
    pub libquic_tickets: Vec<Vec<u8>>,
    /// libquic's HandshakeCompleted said early data was accepted.
    pub libquic_early_accepted: bool,
    /// The server (whichever stack) had stream data before its handshake
    /// completed: it came in 0-RTT.
    pub server_read_early: bool,
    /// libquic's path events: PathValidated, Migrated, PathFailed.
    pub libquic_path_events: Vec<LibEvent>,
    /// Where quinn-proto sent at the end.
    pub quinn_remote: Option<SocketAddr>,
    /// Connection ID changes libquic's client made.
    pub libquic_cid_changes: usize,
    /// Times libquic replaced all its connection IDs.
    pub libquic_rotations: usize,
    /// Distinct destination CIDs of libquic's short-header datagrams.
    pub libquic_dcids_used: usize,
    /// Distinct destination CIDs of quinn-proto's short-header datagrams.
    pub quinn_dcids_used: usize,
    /// Why quinn-proto's connection was lost, when that was expected.
    pub quinn_lost: Option<String>,
    /// Stateless resets the restarted libquic endpoint sent.
    pub libquic_resets_sent: u64,
    /// Datagrams libquic sent to each of quinn-proto's addresses.
    pub libquic_sent_to: std::collections::HashMap<SocketAddr, usize>,
    /// Datagrams that went on the link with an ECN mark, to quinn-proto
    /// and to libquic; of them, those the link marked CE.
    pub ect_marked: [usize; 2],
    pub ce_marked: usize,
    /// libquic's statistics at the end (ECN state and counts).
    pub libquic_stats: Option<quic::conn::Stats>,
    /// quinn-proto's congestion events and lost packets at the end, and
    /// whether its last datagram was still marked.
    pub quinn_congestion_events: u64,
    pub quinn_lost_packets: u64,
    pub quinn_still_marking: bool,
}

/// The bytes one side sends: a pattern that differs per side and offset.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 11) as u8 ^ seed)
        .collect()
}

fn certs_dir() -> String {
    std::env::var("CERT_DIR").unwrap_or_else(|_| "../../build/certs".into())
}

fn lib_addr() -> SocketAddr {
    "10.0.0.1:4433".parse().unwrap()
}

/// The libquic client's second local address (migration).
pub fn lib_new_addr() -> SocketAddr {
    "10.0.0.3:5555".parse().unwrap()
}

fn quinn_addr() -> SocketAddr {
    "10.0.0.2:4433".parse().unwrap()
}

/// quinn-proto's preferred address, when it offers one.
pub fn quinn_preferred_addr() -> SocketAddr {
    "10.0.0.3:4433".parse().unwrap()
}

/// A seeded xorshift generator.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        p > 0.0 && (self.0 >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// The application state of one end.
#[derive(Debug, Default)]
struct App {
    outgoing: Vec<u8>,
    written: usize,
    received: Vec<u8>,
    finished: bool,
    update_after: Option<usize>,
    update_done: bool,
}

/// libquic's application reading at its own pace (see [`Opts`]).
#[derive(Debug, Default)]
struct SlowReader {
    consume_per_ms: Option<usize>,
    consumed: usize,
    max_unconsumed: u64,
    pause_until: Option<u64>,
    paused: bool,
    pause_done: bool,
    received_while_paused: usize,
}

/// libquic's end, with a server front end that makes connections (and
/// Retries, as a server application does with the stateless helpers).
struct LibEnd {
    conn: Option<LibConn>,
    config: Arc<Config>,
    tls: Arc<TlsContext>,
    retry: bool,
    retries: usize,
    app: App,
    key_updates: Vec<(u64, bool)>,
    reader: SlowReader,
    resumed: bool,
    tickets: Vec<Vec<u8>>,
    /// 0-RTT: a client writes as soon as its stream limits allow.
    early: bool,
    early_accepted: bool,
    read_early: bool,
    buf: Vec<u8>,
    migrate_after: Option<usize>,
    path_events: Vec<LibEvent>,
    change_cid_every: Option<usize>,
    cid_changes: usize,
    rotate_every: Option<usize>,
    rotations: usize,
    /// A client writes from this time on.
    write_at: u64,
    /// After a restart: the fresh endpoint that gets every datagram.
    restarted: Option<quic::endpoint::Endpoint>,
}

/// What both runs of a resumption test share: each side's configuration,
/// and the ticket a libquic client got.
struct Shared {
    lib_config: Arc<Config>,
    lib_tls: Arc<TlsContext>,
    quinn_client: ClientConfig,
    quinn_server: Arc<ServerConfig>,
    ticket: Option<Vec<u8>>,
}

impl LibEnd {
    fn new(opts: &Opts, shared: &Shared) -> Self {
        let (config, tls) = (shared.lib_config.clone(), shared.lib_tls.clone());
        let conn = opts.libquic_client.then(|| {
            let mut conn = LibConn::new_client(config.clone(), tls.clone()).unwrap();
            if let Some(t) = &shared.ticket {
                conn.set_session_ticket(t).unwrap();
            }
            conn.connect(quinn_addr(), 0).unwrap();
            conn
        });
        Self {
            conn,
            config,
            tls,
            retry: opts.retry && !opts.libquic_client,
            retries: 0,
            app: App {
                outgoing: pattern(opts.size, if opts.libquic_client { 1 } else { 2 }),
                update_after: opts.libquic_update_after,
                ..Default::default()
            },
            key_updates: Vec::new(),
            reader: SlowReader {
                consume_per_ms: opts.libquic_consume_per_ms,
                pause_until: opts.libquic_pause_until,
                ..Default::default()
            },
            resumed: false,
            tickets: Vec::new(),
            early: opts.zero_rtt,
            early_accepted: false,
            read_early: false,
            buf: Vec::with_capacity(2048),
            migrate_after: opts.libquic_migrate_after,
            path_events: Vec::new(),
            change_cid_every: opts.libquic_change_cid_every,
            cid_changes: 0,
            rotate_every: opts.libquic_rotate_every,
            rotations: 0,
            write_at: opts.client_writes_at,
            restarted: None,
        }
    }

    /// The server process restarts: its connection is gone, and a fresh
    /// endpoint with the same reset key answers what arrives.
    fn restart(&mut self) {
        self.conn = None;
        let params = quic::endpoint::EndpointParams {
            reset_key: Some(RESET_KEY),
            ..Default::default()
        };
        let server = (self.config.clone(), self.tls.clone());
        self.restarted = Some(quic::endpoint::Endpoint::new(Some(server), params).unwrap());
    }
}

/// libquic's configuration for a run.
fn lib_config(opts: &Opts) -> (Arc<Config>, Arc<TlsContext>) {
    let dir = certs_dir();
    let side = if opts.libquic_client {
        Side::Client
    } else {
        Side::Server
    };
    let mut c = Config::new(side);
    c.set_alpn_protocols(vec![ALPN.to_vec()]).unwrap();
    c.set_windows(8 << 20, 4 << 20).unwrap();
    c.set_key_update_interval(opts.libquic_update_interval);
    if opts.libquic_consume_per_ms.is_some() || opts.libquic_pause_until.is_some() {
        c.set_windows(4 * SLOW_MAX_WINDOW, SLOW_WINDOW).unwrap();
        c.set_max_windows(SLOW_MAX_WINDOW, 4 * SLOW_MAX_WINDOW)
            .unwrap();
    }
    if opts.libquic_consume_per_ms.is_some() {
        c.set_receive_credit(ReceiveCredit::OnConsume);
    }
    if opts.libquic_restart_after.is_some() {
        c.set_stateless_reset_key(Some(RESET_KEY));
    }
    if let Some(size) = opts.libquic_max_pmtu {
        c.set_max_pmtu(size).unwrap();
    }
    if let Some(interval) = opts.libquic_keep_alive {
        c.set_keep_alive(interval).unwrap();
    }
    if opts.libquic_preferred_address {
        c.set_preferred_address(lib_new_addr()).unwrap();
    }
    if opts.chacha20 {
        c.set_cipher_suites(vec![Suite::ChaCha20Poly1305]).unwrap();
    }
    if opts.libquic_client {
        c.set_server_name("localhost").unwrap();
        c.load_verify_locations(Some(&format!("{dir}/ca.pem")), None, None)
            .unwrap();
    } else {
        c.load_cert_chain(
            &format!("{dir}/server.pem"),
            Some(&format!("{dir}/server.key")),
            None,
        )
        .unwrap();
    }
    if opts.resume {
        c.set_session_tickets(true);
        c.set_early_data(opts.zero_rtt);
        // Fixed keys, as a fleet's: any run's server opens the ticket.
        c.set_ticket_keys(vec![quic::tls::TicketKey {
            name: [7; 16],
            aes: [8; 32],
            hmac: [9; 32],
        }])
        .unwrap();
        // Servers that share keys must share the register of used
        // tickets too, or each refuses 0-RTT in its first seconds.
        c.set_shared_register(Some(fleet_register()));
    }
    let tls = TlsContext::new(&c).unwrap();
    (Arc::new(c), tls)
}

impl LibEnd {
    /// A datagram from quinn-proto; Retries and Version Negotiation the
    /// front end answers with go into `out`.
    /// A datagram arrived at libquic's `local` address.
    fn recv(
        &mut self,
        data: &[u8],
        (local, remote): (SocketAddr, SocketAddr),
        ecn: u8,
        now: u64,
        out: &mut Vec<Datagram>,
    ) {
        let ecn = Ecn::from_bits(ecn);
        if let Some(ep) = &mut self.restarted {
            ep.recv_marked(data, Some(local), remote, ecn, now);
            return;
        }
        if self.conn.is_none() {
            let Ok(h) = header::parse(data, 8) else {
                return;
            };
            if h.packet_type != PacketType::Initial {
                return;
            }
            let (odcid, retry_scid) = if self.retry {
                // RFC 9000 §8.1.2: prove the address first, with the
                // library's own tokens.
                match quic::server::check_initial_token(&self.config, h.token, h.dcid, quinn_addr())
                {
                    InitialToken::Retry {
                        original_dcid,
                        retry_scid,
                    } => (original_dcid.to_vec(), Some(retry_scid.to_vec())),
                    _ => {
                        let mut retry = Vec::new();
                        quic::server::retry_with_token(
                            &self.config,
                            h.version,
                            h.dcid,
                            h.scid,
                            quinn_addr(),
                            &mut retry,
                        )
                        .unwrap();
                        self.retries += 1;
                        out.push((lib_addr(), quinn_addr(), retry, 0));
                        return;
                    }
                }
            } else {
                (h.dcid.to_vec(), None)
            };
            self.conn = Some(
                LibConn::new_server(
                    self.config.clone(),
                    self.tls.clone(),
                    &odcid,
                    retry_scid.as_deref(),
                )
                .unwrap(),
            );
        }
        self.conn
            .as_mut()
            .unwrap()
            .recv_marked(data, Some(local), remote, ecn, now);
    }

    /// What libquic sends, each with the local address it leaves from.
    fn send(&mut self, now: u64, out: &mut Vec<Datagram>) {
        if let Some(ep) = &mut self.restarted {
            while let Some(t) = ep.send(&mut self.buf, now) {
                let from = t.local.unwrap_or_else(lib_addr);
                out.push((from, t.remote, self.buf.clone(), t.ecn.bits()));
            }
        }
        if let Some(conn) = &mut self.conn {
            while let Some(t) = conn.send_on(&mut self.buf, now) {
                assert!(t.remote == quinn_addr() || t.remote == quinn_preferred_addr());
                let from = t.local.unwrap_or_else(lib_addr);
                out.push((from, t.remote, self.buf.clone(), t.ecn.bits()));
            }
        }
    }

    fn timer(&mut self) -> Option<u64> {
        if let Some(ep) = &mut self.restarted {
            return ep.timeout();
        }
        self.conn.as_ref().and_then(|c| c.timer())
    }

    fn handle_timer(&mut self, now: u64) {
        if let Some(ep) = &mut self.restarted {
            ep.handle_timer(now);
        }
        if let Some(c) = &mut self.conn {
            if c.timer().is_some_and(|t| t <= now) {
                c.handle_timer(now);
            }
        }
    }

    /// Events in, the application's writes out.
    fn step(&mut self, client: bool, now: u64) {
        // The reader first: a resume queues events, taken just below. Events
        // queued before a pause are still delivered; nothing after it.
        let was_paused = self.reader.paused;
        self.read_at_pace(now);
        let Some(conn) = &mut self.conn else { return };
        if client
            && self
                .migrate_after
                .is_some_and(|n| self.app.received.len() >= n)
        {
            self.migrate_after = None;
            conn.probe_path(lib_new_addr(), true, now)
                .expect("libquic client migrates");
        }
        if let Some(every) = self.change_cid_every.filter(|_| client) {
            if self.app.received.len() >= (self.cid_changes + 1) * every {
                match conn.change_connection_id() {
                    Ok(()) => self.cid_changes += 1,
                    // Wait for quinn-proto's replacements.
                    Err(
                        quic::conn::ApiError::NoConnectionId | quic::conn::ApiError::WouldBlock,
                    ) => {}
                    Err(e) => panic!("change_connection_id: {e}"),
                }
            }
        }
        if let Some(every) = self.rotate_every {
            if self.app.received.len() >= (self.rotations + 1) * every {
                match conn.rotate_connection_ids() {
                    Ok(()) => self.rotations += 1,
                    // quinn-proto has not retired the last set yet.
                    Err(quic::conn::ApiError::WouldBlock) => {}
                    Err(e) => panic!("rotate_connection_ids: {e}"),
                }
            }
        }
        while let Some(e) = conn.poll_event() {
            match e {
                LibEvent::StreamDataReceived {
                    stream_id,
                    data,
                    end_stream,
                } => {
                    assert_eq!(stream_id, 0, "one stream only");
                    if self.app.received.is_empty() && !conn.is_established() {
                        self.read_early = true;
                    }
                    assert!(!self.app.finished, "data after FIN");
                    if was_paused && self.reader.paused {
                        self.reader.received_while_paused += data.len();
                    }
                    self.app.received.extend_from_slice(&data);
                    self.app.finished |= end_stream;
                }
                LibEvent::KeyUpdated {
                    generation,
                    initiated_locally,
                } => self.key_updates.push((generation, initiated_locally)),
                e @ (LibEvent::PathValidated { .. }
                | LibEvent::PathFailed { .. }
                | LibEvent::Migrated { .. }) => self.path_events.push(e),
                LibEvent::HandshakeCompleted {
                    session_resumed,
                    early_data_accepted,
                    ..
                } => {
                    self.resumed = session_resumed;
                    self.early_accepted = early_data_accepted;
                }
                LibEvent::SessionTicket { ticket } => self.tickets.push(ticket),
                LibEvent::ConnectionTerminated {
                    error_code, reason, ..
                } => panic!(
                    "libquic: connection ended at {} ms: {error_code:#x} {} (received {}, {:?})",
                    now / MS,
                    String::from_utf8_lossy(&reason),
                    self.app.received.len(),
                    self.reader
                ),
                _ => {}
            }
        }
        let app = &mut self.app;
        // The client writes once the handshake is done; the server answers
        // once the stream appeared.
        let may_write = if client {
            (conn.is_established() || self.early) && now >= self.write_at
        } else {
            !app.received.is_empty() || app.finished
        };
        if may_write && app.written == 0 {
            match conn.stream_send(0, &app.outgoing, true) {
                Ok(()) => app.written = app.outgoing.len(),
                // Without 0-RTT the limits come with the handshake.
                Err(quic::conn::ApiError::HandshakePending) => {}
                Err(e) => panic!("libquic: stream_send: {e}"),
            }
        }
        if let Some(after) = app.update_after {
            if !app.update_done && app.received.len() >= after && conn.request_key_update().is_ok()
            {
                app.update_done = true;
            }
        }
    }
}

impl LibEnd {
    /// The slow reader's part: consume within the budget so far, pause
    /// on the first data, resume on time.
    fn read_at_pace(&mut self, now: u64) {
        let Some(conn) = &mut self.conn else { return };
        let (r, received) = (&mut self.reader, self.app.received.len());
        if let Some(rate) = r.consume_per_ms {
            let unconsumed = received - r.consumed;
            r.max_unconsumed = r.max_unconsumed.max(unconsumed as u64);
            let budget = ((now / MS) as usize * rate).saturating_sub(r.consumed);
            let n = unconsumed.min(budget);
            if n > 0 {
                conn.stream_consumed(0, n as u64).unwrap();
                r.consumed += n;
            }
        }
        if let Some(until) = r.pause_until {
            if !r.paused && !r.pause_done && received > 0 && now < until {
                conn.stream_pause_reading(0).unwrap();
                r.paused = true;
            } else if r.paused && now >= until {
                conn.stream_resume_reading(0).unwrap();
                r.paused = false;
                r.pause_done = true;
            }
        }
    }

    /// When the slow reader next wants to run: in a millisecond while it
    /// has bytes to consume, at the end of its pause.
    fn app_timer(&self, now: u64) -> Option<u64> {
        let r = &self.reader;
        if r.paused {
            return r.pause_until;
        }
        (r.consume_per_ms.is_some() && self.app.received.len() > r.consumed).then_some(now + MS)
    }
}

/// quinn-proto's end: an endpoint and its one connection.
struct QuinnEnd {
    endpoint: Endpoint,
    conn: Option<(ConnectionHandle, QConn)>,
    retry: bool,
    retries: usize,
    stream: Option<StreamId>,
    connected: bool,
    app: App,
    /// Stream data was read while the handshake was still going (0-RTT).
    read_early: bool,
    base: Instant,
    buf: Vec<u8>,
    /// A client writes from this time on.
    write_at: u64,
    /// Losing the connection is what the run tests: record why.
    expect_loss: bool,
    lost: Option<String>,
    /// quinn-proto's last datagram carried an ECN mark.
    last_ecn: bool,
}

fn quinn_configs(opts: &Opts) -> (ClientConfig, Arc<ServerConfig>) {
    let (chacha20, zero_rtt) = (opts.chacha20, opts.zero_rtt);
    // quinn-proto needs AES-128-GCM for its Initial keys; with `chacha20`
    // ChaCha20 comes first, and libquic offers nothing else.
    let mut suites = vec![rring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    if chacha20 {
        suites.insert(0, rring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256);
    }
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..rring::default_provider()
    });
    let mut transport = TransportConfig::default();
    transport
        .stream_receive_window(VarInt::from_u32(4 << 20))
        .receive_window(VarInt::from_u32(8 << 20))
        .send_window(8 << 20)
        .mtu_discovery_config(None);
    if let Some(idle) = opts.quinn_idle_timeout {
        transport.max_idle_timeout(Some(idle.try_into().unwrap()));
    }
    let transport = Arc::new(transport);
    let dir = certs_dir();
    let ca = CertificateDer::from_pem_file(format!("{dir}/ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut cc = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cc.alpn_protocols = vec![ALPN.to_vec()];
    cc.enable_early_data = zero_rtt;
    let mut client = ClientConfig::new(Arc::new(QuicClientConfig::try_from(cc).unwrap()));
    client.transport_config(transport.clone());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/server.key")).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    sc.alpn_protocols = vec![ALPN.to_vec()];
    // rustls: QUIC allows 0 or u32::MAX (0-RTT accepted).
    sc.max_early_data_size = if zero_rtt { u32::MAX } else { 0 };
    let mut server = ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(sc).unwrap()));
    server.transport_config(transport);
    (client, Arc::new(server))
}

impl QuinnEnd {
    fn new(opts: &Opts, base: Instant, shared: &Shared) -> Self {
        let (client, server) = (shared.quinn_client.clone(), shared.quinn_server.clone());
        let quinn_client = !opts.libquic_client;
        let mut config = EndpointConfig::default();
        if let Some(lifetime) = opts.quinn_cid_lifetime {
            config.cid_generator(move || {
                let mut g = quinn_proto::RandomConnectionIdGenerator::new(8);
                g.set_lifetime(lifetime);
                Box::new(g)
            });
        }
        let mut endpoint = Endpoint::new(
            Arc::new(config),
            (!quinn_client).then_some(server),
            false,
            None,
        );
        let conn = quinn_client.then(|| {
            endpoint
                .connect(base, client, lib_addr(), "localhost")
                .unwrap()
        });
        Self {
            endpoint,
            conn,
            retry: opts.retry && !quinn_client,
            retries: 0,
            stream: None,
            connected: false,
            read_early: false,
            app: App {
                outgoing: pattern(opts.size, if quinn_client { 1 } else { 2 }),
                update_after: opts.quinn_update_after,
                ..Default::default()
            },
            base,
            buf: Vec::with_capacity(2048),
            write_at: opts.client_writes_at,
            expect_loss: opts.libquic_restart_after.is_some(),
            lost: None,
            last_ecn: false,
        }
    }

    fn at(&self, now: u64) -> Instant {
        self.base + Duration::from_nanos(now)
    }

    /// A datagram from libquic's address `from` to quinn-proto's `to`.
    fn recv(
        &mut self,
        data: &[u8],
        (from, to): (SocketAddr, SocketAddr),
        ecn: u8,
        now: u64,
        out: &mut Vec<Datagram>,
    ) {
        let now = self.at(now);
        self.buf.clear();
        let local_ip = Some(to.ip());
        match self.endpoint.handle(
            now,
            from,
            local_ip,
            EcnCodepoint::from_bits(ecn),
            BytesMut::from(data),
            &mut self.buf,
        ) {
            Some(DatagramEvent::ConnectionEvent(_, ev)) => {
                if let Some((_, c)) = &mut self.conn {
                    c.handle_event(ev);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if self.retry && !incoming.remote_address_validated() {
                    let t = self.endpoint.retry(incoming, &mut self.buf).unwrap();
                    self.retries += 1;
                    out.push((t.destination, to, self.buf[..t.size].to_vec(), 0));
                } else {
                    match self.endpoint.accept(incoming, now, &mut self.buf, None) {
                        Ok(hc) => self.conn = Some(hc),
                        Err(e) => panic!("quinn-proto refused the connection: {:?}", e.cause),
                    }
                }
            }
            Some(DatagramEvent::Response(t)) => {
                out.push((t.destination, to, self.buf[..t.size].to_vec(), 0))
            }
            None => {}
        }
        self.endpoint_events();
    }

    fn endpoint_events(&mut self) {
        if let Some((h, c)) = &mut self.conn {
            while let Some(ev) = c.poll_endpoint_events() {
                if let Some(back) = self.endpoint.handle_event(*h, ev) {
                    c.handle_event(back);
                }
            }
        }
    }

    /// What quinn-proto sends, each with its destination.
    fn send(&mut self, now: u64, out: &mut Vec<Datagram>) {
        let now = self.at(now);
        if let Some((_, c)) = &mut self.conn {
            loop {
                self.buf.clear();
                let Some(t) = c.poll_transmit(now, 1, &mut self.buf) else {
                    break;
                };
                // quinn-proto names the source IP when it was given the
                // local one; the port is the same on every address.
                let from = t
                    .src_ip
                    .map_or(quinn_addr(), |ip| SocketAddr::new(ip, quinn_addr().port()));
                self.last_ecn = t.ecn.is_some();
                out.push((
                    t.destination,
                    from,
                    self.buf[..t.size].to_vec(),
                    t.ecn.map_or(0, |e| e as u8),
                ));
            }
        }
        self.endpoint_events();
    }

    fn timer(&mut self) -> Option<u64> {
        let (_, c) = self.conn.as_mut()?;
        let t = c.poll_timeout()?;
        Some(t.saturating_duration_since(self.base).as_nanos() as u64)
    }

    fn handle_timer(&mut self, now: u64) {
        let at = self.at(now);
        if let Some((_, c)) = &mut self.conn {
            if c.poll_timeout().is_some_and(|t| t <= at) {
                c.handle_timeout(at);
            }
        }
        self.endpoint_events();
    }

    fn step(&mut self, client: bool, now: u64) {
        let Some((_, c)) = &mut self.conn else { return };
        while let Some(e) = c.poll() {
            match e {
                QEvent::Connected => self.connected = true,
                QEvent::ConnectionLost { reason } if self.expect_loss => {
                    self.lost = Some(format!("{reason:?}"));
                }
                QEvent::ConnectionLost { reason } => {
                    panic!("quinn-proto: connection lost: {reason}")
                }
                QEvent::Stream(StreamEvent::Opened { dir: Dir::Bi }) => {
                    if let Some(id) = c.streams().accept(Dir::Bi) {
                        self.stream = Some(id);
                    }
                }
                _ => {}
            }
        }
        if client
            && (self.connected || c.has_0rtt())
            && self.stream.is_none()
            && now >= self.write_at
        {
            self.stream = c.streams().open(Dir::Bi);
        }
        let Some(id) = self.stream else { return };
        let handshaking = c.is_handshaking();
        // Read what arrived.
        let app = &mut self.app;
        if let Ok(mut chunks) = c.recv_stream(id).read(true) {
            loop {
                match chunks.next(usize::MAX) {
                    Ok(Some(chunk)) => {
                        self.read_early |= handshaking && app.received.is_empty();
                        app.received.extend_from_slice(&chunk.bytes);
                    }
                    Ok(None) => {
                        app.finished = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            let _ = chunks.finalize();
        }
        // Write what the send buffer takes.
        let mut s = c.send_stream(id);
        while app.written < app.outgoing.len() {
            match s.write(&app.outgoing[app.written..]) {
                Ok(n) if n > 0 => app.written += n,
                _ => break,
            }
        }
        if app.written == app.outgoing.len() && !app.outgoing.is_empty() {
            let _ = s.finish();
            app.outgoing = Vec::new(); // finished once
        }
        if let Some(after) = app.update_after {
            if !app.update_done && app.received.len() >= after {
                c.force_key_update();
                app.update_done = true;
            }
        }
    }
}

/// An in-flight datagram: (delivery time, sequence, to libquic, bytes).
/// A datagram and libquic's address on it: where libquic sent it from, or
/// where quinn-proto sent it to.
/// quinn-proto's address on it: where it was sent to, or sent from. Last,
/// the ECN bits of its IP header.
type Datagram = (SocketAddr, SocketAddr, Vec<u8>, u8);

/// (arrival, sequence, to libquic, libquic's address, bytes, ECN bits).
type InFlight = Reverse<(u64, u64, bool, (SocketAddr, SocketAddr), Vec<u8>, u8)>;

/// Runs one exchange and checks both directions arrived intact; with
/// `resume`, a second one that resumes the first one's session.
pub fn run(opts: &Opts) -> Outcome {
    let (lib_config, lib_tls) = lib_config(opts);
    let (quinn_client, mut quinn_server) = quinn_configs(opts);
    if opts.quinn_preferred_address {
        let mut sc = (*quinn_server).clone();
        let SocketAddr::V4(v4) = quinn_preferred_addr() else {
            unreachable!()
        };
        sc.preferred_address_v4(Some(v4));
        quinn_server = Arc::new(sc);
    }
    let mut shared = Shared {
        lib_config,
        lib_tls,
        quinn_client,
        quinn_server,
        ticket: None,
    };
    if opts.resume {
        let first = run_once(opts, &shared);
        assert!(!first.libquic_resumed, "the first connection resumed");
        shared.ticket = first.libquic_tickets.last().cloned();
        if opts.libquic_client {
            assert!(shared.ticket.is_some(), "no ticket from quinn-proto");
        }
    }
    run_once(opts, &shared)
}

fn run_once(opts: &Opts, shared: &Shared) -> Outcome {
    let base = Instant::now();
    let mut lib = LibEnd::new(opts, shared);
    let mut quinn = QuinnEnd::new(opts, base, shared);
    let mut queue: BinaryHeap<InFlight> = BinaryHeap::new();
    let mut rng = Rng(opts.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (delay, reorder_by) = (5 * MS, 3 * MS);
    let (mut now, mut seq) = (0u64, 0u64);
    let mut outcome = Outcome::default();
    let mut out = Vec::new();
    let limit = 600_000 * MS;
    let lib_client = opts.libquic_client;
    let expect_lib = pattern(opts.size, if lib_client { 2 } else { 1 });
    let expect_quinn = pattern(opts.size, if lib_client { 1 } else { 2 });
    let mut quinn_sent_at_pause = None;
    let mut dcids: [std::collections::HashSet<Vec<u8>>; 2] = Default::default();
    loop {
        lib.step(lib_client, now);
        quinn.step(!lib_client, now);
        // What quinn-proto sends while libquic's stream is paused.
        let quinn_sent = quinn
            .conn
            .as_ref()
            .map_or(0, |(_, c)| c.stats().udp_tx.bytes);
        if lib.reader.paused && quinn_sent_at_pause.is_none() {
            quinn_sent_at_pause = Some(quinn_sent);
        }
        if lib.reader.pause_done {
            if let Some(at) = quinn_sent_at_pause.take() {
                outcome.quinn_sent_while_paused = quinn_sent - at;
            }
        }
        if let Some(n) = opts.libquic_restart_after {
            if lib.restarted.is_none() && quinn.app.received.len() >= n {
                lib.restart();
            }
            if let Some(reason) = &quinn.lost {
                outcome.quinn_lost = Some(reason.clone());
                outcome.elapsed = now;
                outcome.libquic_resets_sent = lib
                    .restarted
                    .as_ref()
                    .map_or(0, |ep| ep.stats().stateless_resets);
                return outcome;
            }
        }
        if lib.app.finished && quinn.app.finished {
            // An update libquic asked for goes out once the last one was
            // acknowledged and three PTOs passed (RFC 9001 §6.5): if
            // quinn-proto's own random update came just before, the data
            // may be done first. PINGs keep packets flowing until then.
            let waiting = opts.libquic_update_after.is_some()
                && !lib.key_updates.iter().any(|u| u.1)
                && now < 30_000 * MS;
            if !waiting {
                break;
            }
            if queue.is_empty() {
                if let Some(c) = lib.conn.as_mut() {
                    let _ = c.send_ping(0);
                }
            }
        }
        // Everything each side has goes on the link.
        let mut sent: VecDeque<(bool, Datagram)> = VecDeque::new();
        lib.send(now, &mut out);
        sent.extend(out.drain(..).map(|d| (false, d)));
        quinn.send(now, &mut out);
        sent.extend(out.drain(..).map(|d| (true, d)));
        let handshaking = now < 50 * MS;
        for (to_lib, (addr, quinn_side, d, mut ecn)) in sent {
            if !to_lib {
                *outcome.libquic_sent_to.entry(quinn_side).or_default() += 1;
            }
            if d.first().is_some_and(|b| b & 0x80 == 0) && d.len() > 9 {
                dcids[usize::from(to_lib)].insert(d[1..9].to_vec());
            }
            // The first flights get through, so that both sides exist.
            if !handshaking && rng.chance(opts.loss) {
                outcome.dropped += 1;
                continue;
            }
            let mut at = now + delay;
            if rng.chance(opts.reorder) {
                at += reorder_by;
                outcome.reordered += 1;
            }
            // An AQM marking a share of ECT datagrams CE (RFC 3168).
            let ce_share = if to_lib {
                opts.ce_to_libquic
            } else {
                opts.ce_to_quinn
            };
            if ecn & 0b11 != 0 && !handshaking && rng.chance(ce_share) {
                ecn = 0b11;
                outcome.ce_marked += 1;
            }
            outcome.ect_marked[usize::from(to_lib)] += usize::from(ecn & 0b11 != 0);
            seq += 1;
            queue.push(Reverse((at, seq, to_lib, (addr, quinn_side), d, ecn)));
        }
        if let Some(Reverse((t, ..))) = queue.peek() {
            if *t <= now {
                let Reverse((_, _, to_lib, addr, d, ecn)) = queue.pop().unwrap();
                if to_lib {
                    lib.recv(&d, addr, ecn, now, &mut out);
                    for (a, q, r, e) in out.drain(..) {
                        seq += 1;
                        queue.push(Reverse((now + delay, seq, false, (a, q), r, e)));
                    }
                } else {
                    quinn.recv(&d, addr, ecn, now, &mut out);
                    for (a, q, r, e) in out.drain(..) {
                        seq += 1;
                        queue.push(Reverse((now + delay, seq, true, (a, q), r, e)));
                    }
                }
                continue;
            }
        }
        let next = [
            queue.peek().map(|Reverse((t, ..))| *t),
            lib.timer(),
            quinn.timer(),
            lib.app_timer(now),
            Some(opts.client_writes_at).filter(|&t| t > now),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            panic!("stalled at {} ms: nothing in flight, no timer", now / MS);
        };
        assert!(
            now <= limit,
            "no progress by {} ms: libquic got {} of {}, quinn-proto got {} of {}",
            now / MS,
            lib.app.received.len(),
            opts.size,
            quinn.app.received.len(),
            opts.size
        );
        now = now.max(next);
        lib.handle_timer(now);
        quinn.handle_timer(now);
    }
    assert!(
        lib.app.received == expect_lib,
        "libquic received other bytes"
    );
    assert!(
        quinn.app.received == expect_quinn,
        "quinn-proto received other bytes"
    );
    let conn = lib.conn.as_ref().unwrap();
    outcome.libquic_generation = conn.key_generation();
    outcome.libquic_key_updates = lib.key_updates;
    outcome.suite = conn.stats().cipher_suite;
    outcome.retries = lib.retries + quinn.retries;
    outcome.elapsed = now;
    outcome.libquic_max_unconsumed = lib.reader.max_unconsumed;
    outcome.libquic_resumed = lib.resumed;
    outcome.libquic_early_accepted = lib.early_accepted;
    outcome.server_read_early = if lib_client {
        quinn.read_early
    } else {
        lib.read_early
    };
    outcome.libquic_tickets = lib.tickets;
    outcome.libquic_received_while_paused = lib.reader.received_while_paused;
    outcome.libquic_path_events = lib.path_events;
    outcome.libquic_cid_changes = lib.cid_changes;
    outcome.libquic_rotations = lib.rotations;
    outcome.libquic_dcids_used = dcids[0].len();
    outcome.quinn_dcids_used = dcids[1].len();
    outcome.quinn_remote = quinn.conn.as_ref().map(|(_, c)| c.remote_address());
    outcome.libquic_stats = Some(conn.stats());
    if let Some((_, c)) = quinn.conn.as_ref() {
        let st = c.stats();
        outcome.quinn_congestion_events = st.path.congestion_events;
        outcome.quinn_lost_packets = st.path.lost_packets;
    }
    outcome.quinn_still_marking = quinn.last_ecn;
    outcome
}

#[cfg(test)]
mod endpoints;
#[cfg(test)]
mod goodput;
#[cfg(test)]
mod tests;

/// The register of used tickets every run's libquic server shares, as the
/// servers of a fleet would (in memory here).
fn fleet_register() -> Arc<dyn quic::shared_register::SharedRegister> {
    use quic::shared_register::{OnceKind, SharedRegister};
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};

    struct Fleet(Mutex<HashSet<(bool, Vec<u8>)>>);
    impl SharedRegister for Fleet {
        fn first_use(&self, kind: OnceKind, id: &[u8], _keep_seconds: u64) -> bool {
            let key = (kind == OnceKind::EarlyData, id.to_vec());
            self.0.lock().is_ok_and(|mut s| s.insert(key))
        }
    }
    static FLEET: OnceLock<Arc<Fleet>> = OnceLock::new();
    FLEET
        .get_or_init(|| Arc::new(Fleet(Mutex::new(HashSet::new()))))
        .clone()
}
