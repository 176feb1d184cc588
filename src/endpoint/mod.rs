//! Many connections behind one socket, sans-I/O like a connection: the
//! endpoint routes each datagram to its connection by destination
//! connection ID (RFC 9000 §5.2), starts server connections for new
//! Initials, answers unknown versions (§6), asks for address validation by
//! policy (§8.1.2), resets what it cannot route (§10.3), hands out the
//! datagrams of all its connections fairly, and drives all their timers
//! from one heap.
//!
//! The application calls [`Endpoint::recv`] for every datagram,
//! [`Endpoint::send`] until it returns None, [`Endpoint::handle_timer`]
//! at [`Endpoint::timeout`], and polls [`Endpoint::poll_event`]. It uses a
//! connection through [`Endpoint::connection_mut`] with the handle an
//! event gave; a handle outlives its connection only as a refused one.
//! After `ConnectionDone` the endpoint has freed the connection.

mod admission;
mod handles;
mod routes;
mod stateless;
mod timer_heap;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

pub use admission::RetryPolicy;
pub use handles::ConnectionHandle;

use crate::cid::ConnectionId;
use crate::config::Config;
use crate::conn::cid::RouteChange;
use crate::conn::{ApiError, Batch, Connection, Ecn, Event, Transmit};
use crate::crypto::random::{RandomSource, SystemRandom};
use crate::packet::header::Header;
use crate::packet::{PacketType, MIN_INITIAL_DATAGRAM};
use crate::server::{self, InitialToken};
use crate::side::Side;
use crate::tls::TlsContext;
use admission::InitialRate;
use handles::Slab;
use routes::Routes;
use stateless::{ResetRate, Stateless};
use timer_heap::TimerHeap;

/// What an endpoint allows and how it protects itself.
#[derive(Debug, Clone)]
pub struct EndpointParams {
    /// Length of the connection IDs of every connection of the endpoint,
    /// which short headers do not carry (None: the server
    /// configuration's, or 8).
    pub connection_id_length: Option<usize>,
    /// Connections at most; new clients past it are refused
    /// (CONNECTION_REFUSED) and counted.
    pub max_connections: u32,
    /// Handshakes in progress at most, past which new clients without a
    /// validated address are refused (CONNECTION_REFUSED) and counted.
    pub max_half_open: u32,
    /// When new clients must prove their address with a Retry.
    pub retry: RetryPolicy,
    /// Initials accepted per client IP address per second (0: no limit);
    /// more are dropped and counted.
    pub initials_per_address_per_second: u32,
    /// Stateless resets sent per second at most (RFC 9000 §10.3.3).
    pub resets_per_second: u32,
    /// The key stateless reset tokens are derived from (RFC 9000
    /// §10.3.2); servers of a fleet share it. None: a random key, so
    /// resets work only while this endpoint lives.
    pub reset_key: Option<[u8; 32]>,
}

impl Default for EndpointParams {
    fn default() -> Self {
        Self {
            connection_id_length: None,
            max_connections: 10_000,
            max_half_open: 1_000,
            retry: RetryPolicy::AboveHalfOpen(100),
            initials_per_address_per_second: 64,
            resets_per_second: 1_000,
            reset_key: None,
        }
    }
}

/// What an endpoint did, for monitoring; refusals are counted, never
/// queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Connections held now.
    pub connections: u64,
    /// Of them, handshakes in progress.
    pub half_open: u64,
    /// Server connections started.
    pub accepted: u64,
    /// Version Negotiation packets sent.
    pub version_negotiations: u64,
    /// Retry packets sent.
    pub retries: u64,
    /// New clients refused at the connection limit.
    pub refused_connection_limit: u64,
    /// New clients refused at the half-open limit.
    pub refused_half_open_limit: u64,
    /// Initials dropped past their address's rate.
    pub refused_initial_rate: u64,
    /// Stateless resets sent.
    pub stateless_resets: u64,
    /// Stateless resets not sent, for the rate limit.
    pub resets_rate_limited: u64,
    /// Datagrams that matched no connection and got no answer.
    pub unroutable: u64,
    /// Stateless answers dropped because too many waited.
    pub stateless_dropped: u64,
}

/// How a new client's address was proven when its connection started
/// (RFC 9000 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressProof {
    /// Not yet: the handshake proves it, and until then the server sends
    /// at most three times what it received.
    None,
    /// By the token of our Retry.
    Retry,
    /// By a NEW_TOKEN token of an earlier connection.
    NewToken,
}

/// What happened, in order: a connection's events come after its
/// `NewConnection` and before its `ConnectionDone`.
#[derive(Debug)]
pub enum EndpointEvent {
    /// A client started a connection with this server.
    NewConnection(ConnectionHandle, AddressProof),
    /// An event of one connection.
    Connection(ConnectionHandle, Event),
    /// The connection is over and freed: its handle is refused from now
    /// on.
    ConnectionDone(ConnectionHandle),
}

/// How an endpoint holds each connection: the connection itself, or a
/// wrapper around it (the C API keeps its own per-connection state). Each
/// is boxed, so its address stays put while it lives.
pub trait Routed {
    /// Wraps a new connection.
    fn from_connection(conn: Connection) -> Self;
    /// The connection inside.
    fn connection(&self) -> &Connection;
    /// The connection inside, to use.
    fn connection_mut(&mut self) -> &mut Connection;
    /// True when it must not be used any more (the C API caught a panic
    /// in it): the endpoint then drops it as if it had closed.
    fn is_poisoned(&self) -> bool {
        false
    }
    /// After a poisoning: the one datagram (a CONNECTION_CLOSE) that tells
    /// the peer, for the endpoint to send.
    fn take_farewell(&mut self) -> Option<(Vec<u8>, Transmit)> {
        None
    }
}

impl Routed for Connection {
    fn from_connection(conn: Connection) -> Self {
        conn
    }

    fn connection(&self) -> &Connection {
        self
    }

    fn connection_mut(&mut self) -> &mut Connection {
        self
    }
}

/// One connection and what the endpoint keeps about it.
struct Entry<T> {
    conn: Box<T>,
    /// Connection IDs routed to it.
    cids: Vec<ConnectionId>,
    /// Its peer, when it is routed by address (zero-length IDs).
    remote_route: Option<SocketAddr>,
    /// The handshake is in progress (counted in `Endpoint::half_open`).
    half_open: bool,
    /// In the send queue.
    queued: bool,
    /// Its events are listed in `Endpoint::pending`.
    listed: bool,
    /// Used by the application since the endpoint last looked.
    dirty: bool,
    /// Closed: no longer routed, freed once `ConnectionDone` is polled.
    done: bool,
}

/// What `poll_event` gives next.
#[derive(Debug, Clone, Copy)]
enum Pending {
    New(ConnectionHandle, AddressProof),
    Events(ConnectionHandle),
    Done(ConnectionHandle),
}

/// Connections sharing one socket, each held as a `T`.
pub struct Endpoint<T: Routed = Connection> {
    server: Option<(Arc<Config>, Arc<TlsContext>)>,
    /// A client configuration as given, and as used (with the reset key).
    client_config: Option<(Arc<Config>, Arc<Config>)>,
    params: EndpointParams,
    cid_len: usize,
    reset_key: [u8; 32],
    rng: Arc<dyn RandomSource>,
    conns: Slab<Entry<T>>,
    routes: Routes,
    timers: TimerHeap,
    send_queue: VecDeque<ConnectionHandle>,
    dirty: Vec<u32>,
    pending: VecDeque<Pending>,
    stateless: Stateless,
    initial_rate: InitialRate,
    reset_rate: ResetRate,
    half_open: u32,
    stats: EndpointStats,
    changes: Vec<RouteChange>,
    due: Vec<u32>,
    /// The largest datagram any of its configurations sends.
    max_datagram_size: usize,
    /// The last connection freed, kept until the next `poll_event` so
    /// that a borrow of it taken before its `ConnectionDone` stays valid
    /// until then.
    retired: Option<Box<T>>,
}

impl<T: Routed> std::fmt::Debug for Endpoint<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &self.conns.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A server configuration as an endpoint uses it: checked, with the
/// endpoint's reset key.
fn server_side(
    config: &Config,
    tls: Arc<TlsContext>,
    cid_len: usize,
    reset_key: [u8; 32],
) -> Result<(Arc<Config>, Arc<TlsContext>), ApiError> {
    if config.side != Side::Server {
        return Err(ApiError::InvalidArgument("configuration is not a server's"));
    }
    if config.endpoint.connection_id_length != cid_len {
        return Err(ApiError::InvalidArgument(
            "the configuration's connection ID length differs from the endpoint's",
        ));
    }
    let mut derived = config.clone();
    derived.endpoint.reset_key = Some(reset_key);
    Ok((Arc::new(derived), tls))
}

impl<T: Routed> Endpoint<T> {
    /// An endpoint; with `server` (a server configuration and its TLS
    /// context) it accepts new connections, without it it only makes
    /// client ones.
    pub fn new(
        server: Option<(Arc<Config>, Arc<TlsContext>)>,
        params: EndpointParams,
    ) -> Result<Self, ApiError> {
        let rng: Arc<dyn RandomSource> = server.as_ref().map_or_else(
            || Arc::new(SystemRandom) as _,
            |(c, _)| c.endpoint.random.clone(),
        );
        let reset_key = params.reset_key.unwrap_or_else(|| {
            let mut k = [0u8; 32];
            rng.fill(&mut k);
            k
        });
        let cid_len = params
            .connection_id_length
            .or(server
                .as_ref()
                .map(|(c, _)| c.endpoint.connection_id_length))
            .unwrap_or(8);
        if cid_len > 20 {
            return Err(ApiError::InvalidArgument(
                "connection IDs are at most 20 bytes",
            ));
        }
        let server = match server {
            Some((config, tls)) => Some(server_side(&config, tls, cid_len, reset_key)?),
            None => None,
        };
        let max_datagram_size = server
            .as_ref()
            .map_or(0, |(c, _)| c.transport.max_datagram_size);
        Ok(Self {
            server,
            client_config: None,
            cid_len,
            reset_key,
            rng,
            conns: Slab::default(),
            routes: Routes::default(),
            timers: TimerHeap::default(),
            send_queue: VecDeque::new(),
            dirty: Vec::new(),
            pending: VecDeque::new(),
            stateless: Stateless::default(),
            initial_rate: InitialRate::new(params.initials_per_address_per_second),
            reset_rate: ResetRate::new(params.resets_per_second),
            half_open: 0,
            stats: EndpointStats::default(),
            changes: Vec::new(),
            due: Vec::new(),
            retired: None,
            max_datagram_size,
            params,
        })
    }

    /// Replaces the server configuration and its TLS context for the
    /// connections accepted from now on: how a server rotates its ticket
    /// and token keys (the new configuration lists the new key first and
    /// the old ones after, until their tickets expire) or changes any
    /// setting without a restart. Connections already made keep theirs.
    /// A client-only endpoint starts accepting. The connection ID length
    /// stays the endpoint's.
    pub fn set_server_config(
        &mut self,
        config: Arc<Config>,
        tls: Arc<TlsContext>,
    ) -> Result<(), ApiError> {
        let server = server_side(&config, tls, self.cid_len, self.reset_key)?;
        self.max_datagram_size = self
            .max_datagram_size
            .max(server.0.transport.max_datagram_size);
        self.server = Some(server);
        Ok(())
    }

    /// Replaces the stateless reset key (RFC 9000 §10.3.2) for the
    /// connections made from now on, and for the resets the endpoint
    /// sends. Connections made before keep the tokens they gave their
    /// peers, so a reset for one of them after it is gone carries a
    /// token its peer does not know: that peer is not reset but waits for
    /// its idle timeout. Rotate rarely, giving every server of a fleet
    /// the new key first.
    pub fn set_reset_key(&mut self, key: [u8; 32]) {
        self.reset_key = key;
        if let Some((config, tls)) = self.server.take() {
            let mut derived = (*config).clone();
            derived.endpoint.reset_key = Some(key);
            self.server = Some((Arc::new(derived), tls));
        }
        self.client_config = None;
    }

    /// Starts a client connection to `remote` on this endpoint. `config`
    /// must use the endpoint's connection ID length; `tls` is its TLS
    /// context.
    pub fn connect(
        &mut self,
        config: Arc<Config>,
        tls: Arc<TlsContext>,
        remote: SocketAddr,
        now: u64,
    ) -> Result<ConnectionHandle, ApiError> {
        self.connect_with(config, tls, remote, now, |_| Ok(()))
    }

    /// [`Endpoint::connect`], with `prepare` run on the connection before
    /// it connects (a session ticket, an address token).
    pub fn connect_with(
        &mut self,
        config: Arc<Config>,
        tls: Arc<TlsContext>,
        remote: SocketAddr,
        now: u64,
        prepare: impl FnOnce(&mut Connection) -> Result<(), ApiError>,
    ) -> Result<ConnectionHandle, ApiError> {
        if config.endpoint.connection_id_length != self.cid_len {
            return Err(ApiError::InvalidArgument(
                "the configuration's connection ID length differs from the endpoint's",
            ));
        }
        if self.conns.len() >= self.params.max_connections as usize {
            return Err(ApiError::InvalidState(
                "the endpoint holds its maximum of connections",
            ));
        }
        if self.cid_len == 0 && self.routes.find(&[], remote).is_some() {
            return Err(ApiError::InvalidState(
                "with zero-length connection IDs, one connection per peer address",
            ));
        }
        self.max_datagram_size = self
            .max_datagram_size
            .max(config.transport.max_datagram_size);
        let config = self.client_config(config);
        let mut conn = Connection::new_client(config, tls)?;
        prepare(&mut conn)?;
        conn.connect(remote, now)?;
        let (slot, handle) = self.insert(conn, None, remote, false);
        self.sync(slot, true);
        Ok(handle)
    }

    /// `config` with the endpoint's reset key, made once per
    /// configuration in a row.
    fn client_config(&mut self, config: Arc<Config>) -> Arc<Config> {
        if let Some((given, used)) = &self.client_config {
            if Arc::ptr_eq(given, &config) {
                return used.clone();
            }
        }
        let mut derived = (*config).clone();
        derived.endpoint.reset_key = Some(self.reset_key);
        let used = Arc::new(derived);
        self.client_config = Some((config, used.clone()));
        used
    }

    /// A datagram arrived from `remote` on `local` (None: the caller's one
    /// socket).
    pub fn recv(
        &mut self,
        datagram: &[u8],
        local: Option<SocketAddr>,
        remote: SocketAddr,
        now: u64,
    ) {
        self.recv_marked(datagram, local, remote, Ecn::NotEct, now);
    }

    /// [`Endpoint::recv`] with the datagram's ECN codepoint (see
    /// [`Connection::recv_marked`]).
    pub fn recv_marked(
        &mut self,
        datagram: &[u8],
        local: Option<SocketAddr>,
        remote: SocketAddr,
        ecn: Ecn,
        now: u64,
    ) {
        self.flush();
        let Ok(h) = server::parse_header(datagram, self.cid_len) else {
            self.stats.unroutable += 1;
            return;
        };
        if let Some(slot) = self.routes.find(h.dcid, remote) {
            if let Some(e) = self.conns.get_mut(slot) {
                e.conn
                    .connection_mut()
                    .recv_marked(datagram, local, remote, ecn, now);
                self.sync(slot, true);
            }
            return;
        }
        if h.is_long() {
            self.accept(datagram, &h, local, remote, ecn, now);
        } else {
            self.reset_unknown(datagram.len(), h.dcid, local, remote, now);
        }
    }

    /// A long-header datagram no connection claims: a new client, an
    /// unknown version, or nothing.
    fn accept(
        &mut self,
        datagram: &[u8],
        h: &Header<'_>,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        ecn: Ecn,
        now: u64,
    ) {
        let Some((config, tls)) = self.server.clone() else {
            self.stats.unroutable += 1;
            return;
        };
        // RFC 9000 §14.1: a server drops Initial datagrams under 1200
        // bytes; §6.1: Version Negotiation only answers datagrams that
        // size too, so that it never amplifies.
        if datagram.len() < MIN_INITIAL_DATAGRAM {
            self.stats.unroutable += 1;
            return;
        }
        let known = h.packet_type != PacketType::UnknownVersion
            && config.transport.supported_versions.contains(&h.version);
        if !known {
            if h.packet_type == PacketType::VersionNegotiation {
                self.stats.unroutable += 1;
                return;
            }
            let mut vn = Vec::new();
            if server::version_negotiation(
                &mut vn,
                h.dcid,
                h.scid,
                &config.transport.supported_versions,
            )
            .is_ok()
            {
                self.stats.version_negotiations += 1;
                self.queue_stateless(local, remote, vn);
            }
            return;
        }
        if h.packet_type != PacketType::Initial {
            self.stats.unroutable += 1;
            return;
        }
        if !self.initial_rate.allow(remote.ip(), now) {
            self.stats.refused_initial_rate += 1;
            return;
        }
        if self.conns.len() >= self.params.max_connections as usize {
            self.stats.refused_connection_limit += 1;
            self.refuse(h, local, remote);
            return;
        }
        let token = server::check_initial_token(&config, h.token, h.dcid, remote);
        let validated = matches!(token, InitialToken::Retry { .. } | InitialToken::NewToken);
        let retry = !validated
            && match self.params.retry {
                RetryPolicy::Never => false,
                RetryPolicy::Always => true,
                RetryPolicy::AboveHalfOpen(n) => self.half_open >= n,
            };
        if retry {
            let mut out = Vec::new();
            if server::retry_with_token(&config, h.version, h.dcid, h.scid, remote, &mut out)
                .is_ok()
            {
                self.stats.retries += 1;
                self.queue_stateless(local, remote, out);
            }
            return;
        }
        if self.half_open >= self.params.max_half_open {
            self.stats.refused_half_open_limit += 1;
            self.refuse(h, local, remote);
            return;
        }
        let made = match &token {
            InitialToken::Retry {
                original_dcid,
                retry_scid,
            } => Connection::new_server(config, tls, original_dcid, Some(retry_scid)),
            _ => Connection::new_server(config, tls, h.dcid, None),
        };
        let Ok(mut conn) = made else {
            self.stats.unroutable += 1;
            return;
        };
        if token == InitialToken::NewToken {
            let _ = conn.mark_address_validated();
        }
        let proof = match token {
            InitialToken::Retry { .. } => AddressProof::Retry,
            InitialToken::NewToken => AddressProof::NewToken,
            InitialToken::None | InitialToken::Invalid => AddressProof::None,
        };
        let dcid = ConnectionId::new(h.dcid);
        let (slot, handle) = self.insert(conn, dcid, remote, true);
        self.stats.accepted += 1;
        self.pending.push_back(Pending::New(handle, proof));
        if let Some(e) = self.conns.get_mut(slot) {
            e.conn
                .connection_mut()
                .recv_marked(datagram, local, remote, ecn, now);
        }
        self.sync(slot, true);
    }

    /// Tells a client over a limit at once (RFC 9000 §10.2.3): an Initial
    /// with CONNECTION_CLOSE (CONNECTION_REFUSED), made without a
    /// connection and far smaller than the Initial that asked, so it
    /// amplifies nothing; the client ends instead of timing out.
    fn refuse(&mut self, h: &Header<'_>, local: Option<SocketAddr>, remote: SocketAddr) {
        let mut out = Vec::new();
        if server::connection_refused(
            &mut out,
            h.version,
            h.dcid,
            h.scid,
            self.cid_len,
            &*self.rng,
        )
        .is_ok()
        {
            self.queue_stateless(local, remote, out);
        }
    }

    /// Stores a new connection and routes its connection IDs (and
    /// `first_dcid`, the client's choice, which its Initials keep using).
    fn insert(
        &mut self,
        mut conn: Connection,
        first_dcid: Option<ConnectionId>,
        remote: SocketAddr,
        half_open: bool,
    ) -> (u32, ConnectionHandle) {
        let cids = conn.start_routing();
        let handle = self.conns.insert(Entry {
            conn: Box::new(T::from_connection(conn)),
            cids: Vec::new(),
            remote_route: None,
            half_open,
            queued: false,
            listed: false,
            dirty: false,
            done: false,
        });
        let slot = handle.index();
        self.half_open += u32::from(half_open);
        let remote_route =
            (self.cid_len == 0 && self.routes.add_remote(remote, slot)).then_some(remote);
        let mut routed = Vec::with_capacity(cids.len() + 1);
        for cid in cids.into_iter().chain(first_dcid) {
            if !cid.is_empty() && self.routes.add(cid, slot) {
                routed.push(cid);
            }
        }
        if let Some(e) = self.conns.get_mut(slot) {
            e.cids = routed;
            e.remote_route = remote_route;
        }
        (slot, handle)
    }

    /// A short-header packet for a connection we do not have: a
    /// stateless reset (RFC 9000 §10.3), if the rate allows.
    fn reset_unknown(
        &mut self,
        len: usize,
        dcid: &[u8],
        local: Option<SocketAddr>,
        remote: SocketAddr,
        now: u64,
    ) {
        if dcid.is_empty() {
            // No connection ID, no token to derive.
            self.stats.unroutable += 1;
            return;
        }
        let token = crate::crypto::stateless_reset_token(&self.reset_key, dcid);
        let Some(reset) = stateless::reset(len, &token, &*self.rng) else {
            self.stats.unroutable += 1;
            return;
        };
        if !self.reset_rate.allow(now) {
            self.stats.resets_rate_limited += 1;
            return;
        }
        self.stats.stateless_resets += 1;
        self.queue_stateless(local, remote, reset);
    }

    fn queue_stateless(&mut self, local: Option<SocketAddr>, remote: SocketAddr, d: Vec<u8>) {
        if !self.stateless.push(local, remote, d) {
            self.stats.stateless_dropped += 1;
        }
    }

    /// The next datagram to send, into `out`, and where it goes; None when
    /// nothing is ready now. Connections take turns, one datagram each.
    pub fn send(&mut self, out: &mut Vec<u8>, now: u64) -> Option<Transmit> {
        self.send_within(out, usize::MAX, now)
    }

    /// [`Endpoint::send`] into a buffer of `cap` bytes: the datagram stays
    /// within it (see [`Connection::send_within`]).
    pub fn send_within(&mut self, out: &mut Vec<u8>, cap: usize, now: u64) -> Option<Transmit> {
        self.send_with(out, |c, out| {
            c.send_within(out, cap, now).map(|transmit| Batch {
                transmit,
                segment_size: out.len(),
                segments: 1,
            })
        })
        .map(|b| b.transmit)
    }

    /// The next GSO batch to send (see [`Connection::send_batch`]), into
    /// `out`: a stateless answer alone, or a run of one connection's
    /// datagrams. Connections take turns, one batch each.
    pub fn send_batch(
        &mut self,
        out: &mut Vec<u8>,
        max_len: usize,
        max_segments: usize,
        now: u64,
    ) -> Option<Batch> {
        self.send_with(out, |c, out| c.send_batch(out, max_len, max_segments, now))
    }

    /// [`Endpoint::send_batch`] into the caller's buffer `dst` (see
    /// [`Connection::send_batch_into`]), with `scratch` to build in;
    /// returns the batch and its length in `dst`.
    pub fn send_batch_into(
        &mut self,
        scratch: &mut Vec<u8>,
        dst: &mut [u8],
        max_segments: usize,
        now: u64,
    ) -> Option<(Batch, usize)> {
        self.flush();
        if let Some((t, d)) = self.stateless.pop() {
            dst.get_mut(..d.len())?.copy_from_slice(&d);
            let batch = Batch {
                transmit: t,
                segment_size: d.len(),
                segments: 1,
            };
            return Some((batch, d.len()));
        }
        let b = self.send_with(scratch, |c, out| {
            c.send_batch_into(out, dst, max_segments, now)
        })?;
        Some((b, scratch.len()))
    }

    /// A turn of the send round: `write` has the connection at the front
    /// of the queue write what it has into `out`.
    fn send_with(
        &mut self,
        out: &mut Vec<u8>,
        mut write: impl FnMut(&mut Connection, &mut Vec<u8>) -> Option<Batch>,
    ) -> Option<Batch> {
        self.flush();
        if let Some((t, d)) = self.stateless.pop() {
            out.clear();
            out.extend_from_slice(&d);
            return Some(Batch {
                transmit: t,
                segment_size: d.len(),
                segments: 1,
            });
        }
        for _ in 0..self.send_queue.len() {
            let h = self.send_queue.pop_front()?;
            // A freed connection's turn is dropped, and never passes to
            // the connection that reuses its slot.
            let Some(slot) = self.conns.check(h) else {
                continue;
            };
            let Some(e) = self.conns.get_mut(slot) else {
                continue;
            };
            if e.done || !e.queued {
                continue;
            }
            match write(e.conn.connection_mut(), out) {
                Some(batch) => {
                    self.timers.set(slot, e.conn.connection().timer());
                    self.send_queue.push_back(h);
                    return Some(batch);
                }
                None => {
                    e.queued = false;
                    self.sync(slot, false);
                }
            }
        }
        None
    }

    /// When [`Endpoint::handle_timer`] is next due (ns), if ever.
    pub fn timeout(&mut self) -> Option<u64> {
        self.flush();
        self.timers.peek().map(|(t, _)| t)
    }

    /// Runs the timers due by `now` of every connection.
    pub fn handle_timer(&mut self, now: u64) {
        self.flush();
        let mut due = std::mem::take(&mut self.due);
        while let Some(slot) = self.timers.pop_due(now) {
            due.push(slot);
        }
        for &slot in &due {
            if let Some(e) = self.conns.get_mut(slot) {
                if !e.done {
                    e.conn.connection_mut().handle_timer(now);
                    self.sync(slot, true);
                }
            }
        }
        due.clear();
        self.due = due;
    }

    /// The next event of the endpoint or of one of its connections.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.retired = None;
        self.flush();
        loop {
            match *self.pending.front()? {
                Pending::New(h, proof) => {
                    self.pending.pop_front();
                    return Some(EndpointEvent::NewConnection(h, proof));
                }
                Pending::Events(h) => {
                    let Some(slot) = self.conns.check(h) else {
                        self.pending.pop_front();
                        continue;
                    };
                    let e = self.conns.get_mut(slot)?;
                    match e.conn.connection_mut().poll_event() {
                        Some(ev) => {
                            // Taking data may give the peer credit: the
                            // connection may have something to send.
                            self.mark_dirty(slot);
                            return Some(EndpointEvent::Connection(h, ev));
                        }
                        None => {
                            e.listed = false;
                            self.pending.pop_front();
                        }
                    }
                }
                Pending::Done(h) => {
                    self.pending.pop_front();
                    if let Some(slot) = self.conns.check(h) {
                        self.retired = self.conns.remove(slot).map(|e| e.conn);
                    }
                    return Some(EndpointEvent::ConnectionDone(h));
                }
            }
        }
    }

    /// The connection freed by the last `ConnectionDone` that `poll_event`
    /// gave, until the next call of it: its last state, for the
    /// application to read (statistics, its own data in a wrapper).
    pub fn freed(&self) -> Option<&T> {
        self.retired.as_deref()
    }

    /// The connection of `h`, while it lives.
    pub fn connection(&self, h: ConnectionHandle) -> Option<&T> {
        let slot = self.conns.check(h)?;
        self.conns.get(slot).map(|e| &*e.conn)
    }

    /// The connection of `h`, to use (streams, close, ...); the endpoint
    /// takes what that changed into account at its next call. Until its
    /// `ConnectionDone` is polled, and then until the next `poll_event`.
    pub fn connection_mut(&mut self, h: ConnectionHandle) -> Option<&mut T> {
        let slot = self.conns.check(h)?;
        self.mark_dirty(slot);
        self.conns.get_mut(slot).map(|e| &mut *e.conn)
    }

    /// The largest datagram `send` may hand out: a buffer this size holds
    /// any.
    pub fn max_datagram_size(&self) -> usize {
        self.max_datagram_size.max(1200)
    }

    /// What the endpoint did so far.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            connections: self.conns.len() as u64,
            half_open: u64::from(self.half_open),
            ..self.stats
        }
    }

    /// Connection IDs routed now (for tests and monitoring).
    pub fn routed_connection_ids(&self) -> usize {
        self.routes.len()
    }

    fn mark_dirty(&mut self, slot: u32) {
        if let Some(e) = self.conns.get_mut(slot) {
            if !e.dirty {
                e.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Takes into account what the application did with connections.
    fn flush(&mut self) {
        while let Some(slot) = self.dirty.pop() {
            self.sync(slot, true);
        }
    }

    /// After a call into connection `slot`: routes, half-open count,
    /// events, timer, and (with `may_send`) a turn in the send queue; a
    /// closed connection leaves the routes and waits for its
    /// `ConnectionDone`.
    fn sync(&mut self, slot: u32, may_send: bool) {
        let Some(handle) = self.conns.handle(slot) else {
            return;
        };
        let Some(e) = self.conns.get_mut(slot) else {
            return;
        };
        e.dirty = false;
        if e.done {
            return;
        }
        e.conn
            .connection_mut()
            .take_route_changes(&mut self.changes);
        for change in self.changes.drain(..) {
            match change {
                RouteChange::Add(cid) => {
                    if self.routes.add(cid, slot) {
                        e.cids.push(cid);
                    }
                }
                RouteChange::Remove(cid) => {
                    self.routes.remove(&cid, slot);
                    e.cids.retain(|c| *c != cid);
                }
            }
        }
        let poisoned = e.conn.is_poisoned();
        let conn = e.conn.connection();
        let closed = conn.is_closed() || poisoned;
        if e.half_open && (conn.is_established() || closed) {
            e.half_open = false;
            self.half_open -= 1;
        }
        if conn.has_events() && !e.listed {
            e.listed = true;
            self.pending.push_back(Pending::Events(handle));
        }
        if closed {
            e.done = true;
            // RFC 9000 §10.2: a connection that cannot go on still tells
            // its peer, rather than leaving it to time out.
            if poisoned {
                if let Some((d, t)) = e.conn.take_farewell() {
                    if !self.stateless.push(t.local, t.remote, d) {
                        self.stats.stateless_dropped += 1;
                    }
                }
            }
            for cid in e.cids.drain(..) {
                self.routes.remove(&cid, slot);
            }
            if let Some(r) = e.remote_route.take() {
                self.routes.remove_remote(&r, slot);
            }
            self.timers.set(slot, None);
            self.pending.push_back(Pending::Done(handle));
            return;
        }
        self.timers.set(slot, e.conn.connection().timer());
        if may_send && !e.queued {
            e.queued = true;
            self.send_queue.push_back(handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::pair::configs;

    /// A connection the test can poison, as the C API does after a panic.
    struct Poisonable(Connection, bool);

    impl Routed for Poisonable {
        fn from_connection(conn: Connection) -> Self {
            Self(conn, false)
        }
        fn connection(&self) -> &Connection {
            &self.0
        }
        fn connection_mut(&mut self) -> &mut Connection {
            &mut self.0
        }
        fn is_poisoned(&self) -> bool {
            self.1
        }
    }

    impl<T: Routed> Endpoint<T> {
        /// How many turns in the send queue would go to `h`.
        fn send_turns(&self, h: ConnectionHandle) -> usize {
            self.send_queue
                .iter()
                .filter(|q| self.conns.check(**q) == self.conns.check(h))
                .count()
        }
    }

    #[test]
    fn a_freed_connections_turn_never_passes_to_the_next_in_its_slot() {
        let (c, _) = configs();
        let tls = TlsContext::new(&c).unwrap();
        let c = Arc::new(c);
        let server: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let mut ep = Endpoint::<Poisonable>::new(None, EndpointParams::default()).unwrap();
        let a = ep.connect(c.clone(), tls.clone(), server, 0).unwrap();
        // Freed before it ever got its turn to send.
        ep.connection_mut(a).unwrap().1 = true;
        assert!(matches!(ep.poll_event(), Some(EndpointEvent::ConnectionDone(h)) if h == a));
        let b = ep.connect(c, tls, server, 0).unwrap();
        assert_eq!(a.index(), b.index(), "the slot is reused");
        assert_eq!(ep.send_turns(b), 1, "one turn per round, like every other");
        let mut out = Vec::new();
        assert!(ep.send(&mut out, 0).is_some(), "b's Initial");
    }
}
