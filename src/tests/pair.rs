//! A client and a server connection joined by a simulated link: a virtual
//! clock, a one-way delay, and a drop policy per datagram. Everything is
//! deterministic for a given policy.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use super::pki;
use crate::config::Config;
use crate::conn::{Batch, Connection, Ecn, Event};
use crate::packet::header;
use crate::side::Side;
use crate::tls::TlsContext;

pub(crate) const MS: u64 = 1_000_000;

/// Direction of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    ToServer,
    ToClient,
}

/// Decides whether the n-th datagram (counting from 0 per direction) is
/// lost.
pub(crate) type DropFn = Box<dyn FnMut(Dir, usize, &[u8]) -> bool>;
/// See `Pair::watch_server_sends`.
pub(crate) type SendWatch = Box<dyn FnMut(&Connection, bool)>;

/// A seeded xorshift generator: every run of a seed is the same.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// What one direction of the link does to datagrams.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// Bytes per second; None = unlimited.
    pub(crate) bandwidth: Option<u64>,
    /// Bytes the bottleneck queue holds before it drops (tail drop).
    pub(crate) queue: u64,
    /// Probability that a loss episode starts at a datagram, and how many
    /// datagrams in a row it takes.
    pub(crate) loss: f64,
    pub(crate) loss_burst: u32,
    /// Losses only happen before this time (e.g. the handshake), if set.
    pub(crate) loss_until: Option<u64>,
    /// Probability that a datagram is held back (reordered) by `reorder_by`.
    pub(crate) reorder: f64,
    pub(crate) reorder_by: u64,
    /// Probability that a datagram arrives twice.
    pub(crate) duplicate: f64,
    /// Probability that a datagram has one bit flipped.
    pub(crate) corrupt: f64,
    /// Datagrams larger than this are dropped.
    pub(crate) mtu: usize,
    /// Everything is dropped in [start, end).
    pub(crate) blackout: Option<(u64, u64)>,
    /// What the link does to ECN marks.
    pub(crate) ecn: LinkEcn,
}

/// What a link does to the ECN field of the datagrams it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LinkEcn {
    /// Carries it as sent.
    #[default]
    Pass,
    /// Clears it (a middlebox that bleaches the TOS byte).
    Bleach,
    /// Drops every datagram marked ECT.
    DropMarked,
    /// Rewrites ECT(0) to ECT(1).
    RewriteToEct1,
    /// An AQM: marks ECT datagrams CE while the bottleneck queue holds
    /// more than this many bytes (instead of dropping them).
    MarkAbove(u64),
}

impl Default for Link {
    fn default() -> Self {
        Self {
            bandwidth: None,
            queue: 1 << 20,
            loss: 0.0,
            loss_burst: 1,
            loss_until: None,
            reorder: 0.0,
            reorder_by: 0,
            duplicate: 0.0,
            corrupt: 0.0,
            mtu: 65_535,
            blackout: None,
            ecn: LinkEcn::Pass,
        }
    }
}

/// Per-direction link state.
#[derive(Debug, Default, Clone)]
struct LinkState {
    busy_until: u64,
    burst_left: u32,
}

/// Everything a side received, gathered from its events.
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub(crate) streams: HashMap<u64, Vec<u8>>,
    pub(crate) finished: HashSet<u64>,
    pub(crate) datagrams: Vec<Vec<u8>>,
}

impl Received {
    pub(crate) fn bytes(&self, stream_id: u64) -> &[u8] {
        self.streams.get(&stream_id).map_or(&[], |v| v.as_slice())
    }
}

pub(crate) fn client_addr() -> SocketAddr {
    "10.0.0.1:4321".parse().unwrap()
}

pub(crate) fn server_addr() -> SocketAddr {
    "10.0.0.2:4433".parse().unwrap()
}

/// Default client and server configurations: ALPN "hq-interop", the test
/// CA trusted, server name "localhost".
pub(crate) fn configs() -> (Config, Config) {
    let pki = pki::localhost();
    let mut c = Config::new(Side::Client);
    c.set_alpn_protocols(vec![b"hq-interop".to_vec()]).unwrap();
    c.set_server_name("localhost").unwrap();
    c.load_verify_locations(None, None, Some(&pki.ca_pem))
        .unwrap();
    let mut s = Config::new(Side::Server);
    s.set_alpn_protocols(vec![b"hq-interop".to_vec()]).unwrap();
    s.load_cert_chain_pem(&pki.chain_pem, &pki.key_pem, None)
        .unwrap();
    (c, s)
}

/// (delivery time, sequence, direction, the client's address, datagram):
/// the client's address is the source seen by the server (None: wherever
/// the NAT maps the client's first socket then, `client_seen_as`) or the
/// client socket a datagram goes to.
/// The server's address is the one the client sent to, or the one the
/// server sent from (None: `server_addr()`).
type InFlight = (
    u64,
    u64,
    Dir,
    Option<SocketAddr>,
    Option<SocketAddr>,
    Ecn,
    Vec<u8>,
);

/// The next datagram (`batch` None) or GSO batch of `conn`, into `buf`.
fn send_next(
    conn: &mut Connection,
    buf: &mut Vec<u8>,
    batch: Option<usize>,
    now: u64,
) -> Option<Batch> {
    match batch {
        Some(n) => conn.send_batch(buf, 65_507, n, now),
        None => conn.send_on(buf, now).map(|transmit| Batch {
            transmit,
            segment_size: buf.len(),
            segments: 1,
        }),
    }
}

/// Two connections and the link between them.
pub(crate) struct Pair {
    pub(crate) client: Connection,
    pub(crate) server: Option<Connection>,
    server_config: Arc<Config>,
    server_tls: Arc<TlsContext>,
    pub(crate) now: u64,
    pub(crate) delay: u64,
    pub(crate) drop: DropFn,
    /// Earliest first.
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// Datagrams offered to the link per direction.
    pub(crate) counts: [usize; 2],
    /// Bytes per direction: offered by the sender, delivered to receiver.
    pub(crate) bytes_sent: [u64; 2],
    pub(crate) bytes_delivered: [u64; 2],
    /// Every client and server event, in order.
    pub(crate) client_events: Vec<Event>,
    pub(crate) server_events: Vec<Event>,
    /// Called after every server send with (bytes it sent so far, bytes it
    /// received so far).
    pub(crate) on_server_send: Option<Box<dyn FnMut(u64, u64)>>,
    /// Called with the server before each of its send attempts, and
    /// whether it sent a datagram since the previous call (only sends
    /// happen between two calls marked true).
    pub(crate) watch_server_sends: Option<SendWatch>,
    buf: Vec<u8>,
    /// Link behaviour per direction (to server, to client).
    pub(crate) links: [Link; 2],
    link_state: [LinkState; 2],
    pub(crate) rng: Rng,
    /// Stream data and datagrams each side received.
    pub(crate) client_rx: Received,
    pub(crate) server_rx: Received,
    /// Datagrams the link dropped (loss, queue, MTU, blackout).
    pub(crate) dropped: [usize; 2],
    /// Datagrams the link corrupted, duplicated or reordered.
    pub(crate) damaged: [usize; 3],
    /// A server front end that answers every Initial without a token with
    /// a Retry, as quiche's and quinn's servers do, and how it picks the
    /// Retry's SCID. Retries sent so far.
    pub(crate) retry_every_initial: Option<RetryScid>,
    pub(crate) retries_sent: usize,
    /// With the Retry front end: the second token-bearing Initial datagram
    /// makes a connection of its own that replaces the first, as a server
    /// whose accept races with its routing does (@matrixai/quic 2.0.9 on
    /// quiche 0.18). The hook runs first (to rewind the server's random
    /// source, so both connections get the same CIDs); taken when used.
    pub(crate) accept_twice: Option<Box<dyn FnMut()>>,
    /// The client's address as the server sees it (a NAT may change it);
    /// the server's datagrams to any other address are lost.
    pub(crate) client_seen_as: SocketAddr,
    /// The client's other sockets (a client migrating or probing): no NAT
    /// in front, the server sees these addresses as they are.
    pub(crate) client_sockets: Vec<SocketAddr>,
    /// Of those, the ones nothing reaches (a firewall lets out only).
    pub(crate) client_sockets_unreachable: Vec<SocketAddr>,
    /// The server's preferred address, where it receives too.
    pub(crate) server_preferred: Option<SocketAddr>,
    /// Server addresses the client's datagrams never reach.
    pub(crate) server_unreachable: Vec<SocketAddr>,
    /// Datagrams the client sent to each server address.
    pub(crate) client_sent_to: HashMap<SocketAddr, u64>,
    /// Bytes the server sent to, and received from, each client address.
    pub(crate) server_sent_to: HashMap<SocketAddr, u64>,
    pub(crate) server_received_from: HashMap<SocketAddr, u64>,
    /// What the token of the Initial that made the server proved.
    pub(crate) initial_token: Option<crate::server::InitialToken>,
    /// Both sides send GSO batches of at most this many datagrams
    /// (`send_batch`), split on the link; None: one datagram per call.
    pub(crate) batch_segments: Option<usize>,
    /// The server's batches, with their length in bytes.
    pub(crate) server_batches: Vec<(Batch, usize)>,
    /// When the datagram being enqueued is to leave (0: now).
    send_at: u64,
    /// The largest lead of a datagram's send time over the time it was
    /// handed out, per direction.
    pub(crate) max_lead: [u64; 2],
    /// Datagrams offered to the link per direction with an ECT mark, and
    /// delivered with CE.
    pub(crate) ecn_marked: [usize; 2],
    pub(crate) ce_marked: [usize; 2],
}

/// How a Retry-sending front end picks the SCID of each Retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryScid {
    /// A fresh one per Retry (quinn).
    Random,
    /// Derived from the client's DCID, the same for every Retry (quiche).
    FromDcid,
    /// The library's own: `server::retry_with_token`, checked with
    /// `server::check_initial_token`.
    Library,
}

impl Pair {
    /// A connected pair from configurations (the client has connected; no
    /// datagram moved yet).
    pub(crate) fn new(client: Config, server: Config) -> Self {
        Self::new_at(client, server, 0)
    }

    /// Like [`Pair::new`], with the clock starting at `start`.
    pub(crate) fn new_at(client: Config, server: Config, start: u64) -> Self {
        let stls = TlsContext::new(&server).expect("server TLS context");
        Self::sharing(client, Arc::new(server), stls, start, |_| {})
    }

    /// A pair whose server uses an existing configuration and TLS context
    /// (as a server's many connections do), its client prepared by
    /// `prepare` before it connects.
    pub(crate) fn sharing(
        client: Config,
        server_config: Arc<Config>,
        server_tls: Arc<TlsContext>,
        start: u64,
        prepare: impl FnOnce(&mut Connection),
    ) -> Self {
        let ctls = TlsContext::new(&client).expect("client TLS context");
        let mut c = Connection::new_client(Arc::new(client), ctls).unwrap();
        prepare(&mut c);
        c.connect(server_addr(), start).unwrap();
        Self {
            client: c,
            server: None,
            server_config,
            server_tls,
            now: start,
            delay: 10 * MS,
            drop: Box::new(|_, _, _| false),
            queue: BinaryHeap::new(),
            seq: 0,
            counts: [0; 2],
            bytes_sent: [0; 2],
            bytes_delivered: [0; 2],
            client_events: Vec::new(),
            server_events: Vec::new(),
            on_server_send: None,
            watch_server_sends: None,
            buf: Vec::with_capacity(65_536),
            links: [Link::default(), Link::default()],
            link_state: Default::default(),
            rng: Rng::new(1),
            client_rx: Received::default(),
            server_rx: Received::default(),
            dropped: [0; 2],
            damaged: [0; 3],
            retry_every_initial: None,
            retries_sent: 0,
            accept_twice: None,
            client_seen_as: client_addr(),
            client_sockets: Vec::new(),
            client_sockets_unreachable: Vec::new(),
            server_preferred: None,
            server_unreachable: Vec::new(),
            client_sent_to: HashMap::new(),
            server_sent_to: HashMap::new(),
            server_received_from: HashMap::new(),
            initial_token: None,
            batch_segments: None,
            server_batches: Vec::new(),
            ecn_marked: [0; 2],
            send_at: 0,
            max_lead: [0; 2],
            ce_marked: [0; 2],
        }
    }

    /// The default pair.
    pub(crate) fn default_pair() -> Self {
        let (c, s) = configs();
        Self::new(c, s)
    }

    pub(crate) fn server(&self) -> &Connection {
        self.server.as_ref().expect("server connection exists")
    }

    fn enqueue(&mut self, dir: Dir, datagram: Vec<u8>) {
        self.enqueue_via(dir, None, None, datagram);
    }

    /// Like `enqueue`, with the client's and the server's address (see
    /// `InFlight`).
    fn enqueue_via(
        &mut self,
        dir: Dir,
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
        datagram: Vec<u8>,
    ) {
        self.enqueue_marked(dir, client, server, Ecn::NotEct, datagram);
    }

    /// The send time of the next datagrams enqueued (0: now).
    fn enqueue_at(&mut self, send_at: u64) {
        self.send_at = send_at;
    }

    /// Like `enqueue_via`, sent with the ECN codepoint `ecn`.
    fn enqueue_marked(
        &mut self,
        dir: Dir,
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
        mut ecn: Ecn,
        datagram: Vec<u8>,
    ) {
        let i = dir as usize;
        self.max_lead[i] = self.max_lead[i].max(self.send_at.saturating_sub(self.now));
        let ect = matches!(ecn, Ecn::Ect0 | Ecn::Ect1);
        self.ecn_marked[i] += usize::from(ect);
        match self.links[i].ecn {
            LinkEcn::Bleach => ecn = Ecn::NotEct,
            LinkEcn::DropMarked if ect => {
                self.counts[i] += 1;
                self.dropped[i] += 1;
                return;
            }
            LinkEcn::RewriteToEct1 if ecn == Ecn::Ect0 => ecn = Ecn::Ect1,
            _ => {}
        }
        let n = self.counts[i];
        self.counts[i] += 1;
        self.bytes_sent[i] += datagram.len() as u64;
        if (self.drop)(dir, n, &datagram) || self.link_drops(dir, datagram.len()) {
            self.dropped[i] += 1;
            return;
        }
        let link = self.links[i].clone();
        // The bottleneck: queued behind earlier datagrams, then transmitted;
        // a datagram stamped for later (a pacing horizon) enters then.
        let enter = self.now.max(self.send_at);
        let mut at = enter;
        if let Some(bw) = link.bandwidth {
            let st = &mut self.link_state[i];
            let backlog = st.busy_until.saturating_sub(enter) as u128 * bw as u128 / 1_000_000_000;
            if backlog as u64 + datagram.len() as u64 > link.queue {
                self.dropped[i] += 1;
                return;
            }
            if let LinkEcn::MarkAbove(limit) = link.ecn {
                if ect && backlog as u64 > limit {
                    ecn = Ecn::Ce;
                    self.ce_marked[i] += 1;
                }
            }
            let tx = datagram.len() as u64 * 1_000_000_000 / bw;
            st.busy_until = st.busy_until.max(enter) + tx;
            at = st.busy_until;
        }
        at += self.delay;
        if self.rng.chance(link.reorder) {
            at += link.reorder_by;
            self.damaged[2] += 1;
        }
        let mut datagram = datagram;
        if self.rng.chance(link.corrupt) && !datagram.is_empty() {
            let bit = self.rng.next() as usize % (datagram.len() * 8);
            datagram[bit / 8] ^= 1 << (bit % 8);
            self.damaged[0] += 1;
        }
        if self.rng.chance(link.duplicate) {
            self.damaged[1] += 1;
            self.seq += 1;
            self.queue.push(Reverse((
                at + self.rng.next() % (1 + self.delay / 4),
                self.seq,
                dir,
                client,
                server,
                ecn,
                datagram.clone(),
            )));
        }
        self.seq += 1;
        self.queue
            .push(Reverse((at, self.seq, dir, client, server, ecn, datagram)));
    }

    /// Random, burst and blackout losses, and the MTU.
    fn link_drops(&mut self, dir: Dir, len: usize) -> bool {
        let i = dir as usize;
        let link = &self.links[i];
        if len > link.mtu
            || link
                .blackout
                .is_some_and(|(a, b)| (a..b).contains(&self.now))
        {
            return true;
        }
        if link.loss_until.is_some_and(|t| self.now >= t) {
            return false;
        }
        let (loss, burst) = (link.loss, link.loss_burst);
        let st = &mut self.link_state[i];
        if st.burst_left > 0 {
            st.burst_left -= 1;
            return true;
        }
        if self.rng.chance(loss) {
            self.link_state[i].burst_left = burst.saturating_sub(1);
            return true;
        }
        false
    }

    /// Sends everything both sides have to send now.
    fn flush(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        let batch = self.batch_segments;
        while let Some(b) = send_next(&mut self.client, &mut buf, batch, self.now) {
            let t = b.transmit;
            assert!(
                t.remote == server_addr() || Some(t.remote) == self.server_preferred,
                "the client sends to {}",
                t.remote
            );
            *self.client_sent_to.entry(t.remote).or_default() += b.segments as u64;
            if self.server_unreachable.contains(&t.remote) {
                continue;
            }
            let from = t.local.filter(|l| *l != client_addr());
            assert!(
                from.is_none_or(|l| self.client_sockets.contains(&l)),
                "the client sends from {from:?}, where it has no socket"
            );
            for d in buf.chunks(b.segment_size) {
                self.enqueue_at(t.send_at);
                self.enqueue_marked(Dir::ToServer, from, Some(t.remote), t.ecn, d.to_vec());
            }
            self.enqueue_at(0);
        }
        if let Some(mut server) = self.server.take() {
            let mut sent = false;
            loop {
                if let Some(watch) = &mut self.watch_server_sends {
                    watch(&server, sent);
                }
                // The server's batches are sealed into a buffer of their
                // own (`send_batch_into`, what the C API does), the
                // client's in place (`send_batch`): both paths run.
                let next = match batch {
                    Some(n) => {
                        let mut dst = vec![0u8; 65_507];
                        server
                            .send_batch_into(&mut buf, &mut dst, n, self.now)
                            .inspect(|_| {
                                let len = buf.len();
                                buf.clear();
                                buf.extend_from_slice(&dst[..len]);
                            })
                    }
                    None => send_next(&mut server, &mut buf, None, self.now),
                };
                let Some(b) = next else {
                    break;
                };
                if batch.is_some() {
                    self.server_batches.push((b, buf.len()));
                }
                let to = b.transmit.remote;
                sent = true;
                for d in buf.chunks(b.segment_size) {
                    *self.server_sent_to.entry(to).or_default() += d.len() as u64;
                    let socket = if to == self.client_seen_as {
                        client_addr()
                    } else if self.client_sockets.contains(&to)
                        && !self.client_sockets_unreachable.contains(&to)
                    {
                        to
                    } else {
                        continue; // nobody there any more
                    };
                    let t = b.transmit;
                    self.enqueue_at(t.send_at);
                    self.enqueue_marked(Dir::ToClient, Some(socket), t.local, t.ecn, d.to_vec());
                    self.enqueue_at(0);
                    if let Some(f) = &mut self.on_server_send {
                        f(self.bytes_sent[1], self.bytes_delivered[0]);
                    }
                }
            }
            self.server = Some(server);
        }
        self.buf = buf;
        self.collect_events();
    }

    pub(crate) fn collect_events(&mut self) {
        while let Some(e) = self.client.poll_event() {
            record(e, &mut self.client_events, &mut self.client_rx);
        }
        if let Some(s) = &mut self.server {
            while let Some(e) = s.poll_event() {
                record(e, &mut self.server_events, &mut self.server_rx);
            }
        }
    }

    fn deliver(
        &mut self,
        dir: Dir,
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
        ecn: Ecn,
        datagram: Vec<u8>,
    ) {
        self.bytes_delivered[dir as usize] += datagram.len() as u64;
        let server = server.unwrap_or_else(server_addr);
        match dir {
            Dir::ToClient => {
                let local = client.unwrap_or_else(client_addr);
                self.client
                    .recv_marked(&datagram, Some(local), server, ecn, self.now)
            }
            Dir::ToServer => {
                if self.retry_every_initial.is_some() && self.retry_front(&datagram) {
                    return;
                }
                if self.server.is_none() {
                    let Ok(h) = header::parse(&datagram, 8) else {
                        return;
                    };
                    // A server front end answers versions it does not
                    // deploy with Version Negotiation (RFC 9000 §6.1).
                    if h.is_long()
                        && !self
                            .server_config
                            .transport
                            .supported_versions
                            .contains(&h.version)
                    {
                        let mut vn = Vec::new();
                        let versions = self.server_config.transport.supported_versions.clone();
                        crate::server::version_negotiation(&mut vn, h.dcid, h.scid, &versions)
                            .unwrap();
                        self.enqueue(Dir::ToClient, vn);
                        return;
                    }
                    let odcid = h.dcid.to_vec();
                    let proof = crate::server::check_initial_token(
                        &self.server_config,
                        h.token,
                        h.dcid,
                        self.client_seen_as,
                    );
                    let mut server = Connection::new_server(
                        self.server_config.clone(),
                        self.server_tls.clone(),
                        &odcid,
                        None,
                    )
                    .unwrap();
                    if proof == crate::server::InitialToken::NewToken {
                        server.mark_address_validated().unwrap();
                    }
                    self.initial_token = Some(proof);
                    self.server = Some(server);
                }
                let s = self.server.as_mut().unwrap();
                let from = client.unwrap_or(self.client_seen_as);
                *self.server_received_from.entry(from).or_default() += datagram.len() as u64;
                s.recv_marked(&datagram, Some(server), from, ecn, self.now);
            }
        }
    }

    /// The Retry front end: answers an Initial without a token with a Retry
    /// whose token carries the original DCID, and creates the server for a
    /// token-bearing one. Returns true when the datagram was consumed.
    fn retry_front(&mut self, datagram: &[u8]) -> bool {
        let Ok(h) = header::parse(datagram, 8) else {
            return false;
        };
        if h.packet_type != crate::packet::PacketType::Initial {
            return false;
        }
        if self.retry_every_initial == Some(RetryScid::Library) {
            return self.library_retry_front(datagram);
        }
        if h.token.is_empty() {
            let scid: Vec<u8> = match self.retry_every_initial {
                Some(RetryScid::Random) => (0..20).map(|_| self.rng.next() as u8).collect(),
                _ => h.dcid.iter().map(|b| b ^ 0xa5).chain([7; 12]).collect(),
            };
            let mut token = b"retry:".to_vec();
            token.extend_from_slice(h.dcid);
            let mut out = Vec::new();
            crate::server::retry_packet(&mut out, h.version, h.dcid, h.scid, &scid, &token)
                .unwrap();
            self.retries_sent += 1;
            self.enqueue(Dir::ToClient, out);
            return true;
        }
        if self.server.is_some() {
            match self.accept_twice.take() {
                Some(mut rewind) => rewind(),
                None => return false,
            }
        }
        {
            let odcid = h.token.strip_prefix(b"retry:").expect("our token").to_vec();
            let retry_scid = h.dcid.to_vec();
            self.server = Some(
                Connection::new_server(
                    self.server_config.clone(),
                    self.server_tls.clone(),
                    &odcid,
                    Some(&retry_scid),
                )
                .unwrap(),
            );
        }
        false
    }

    /// The Retry front end with the library's tokens: a Retry for an
    /// Initial without a valid Retry token, the connection for one with.
    fn library_retry_front(&mut self, datagram: &[u8]) -> bool {
        let Ok(h) = header::parse(datagram, 8) else {
            return false;
        };
        if h.packet_type != crate::packet::PacketType::Initial || self.server.is_some() {
            return false;
        }
        let proof = crate::server::check_initial_token(
            &self.server_config,
            h.token,
            h.dcid,
            self.client_seen_as,
        );
        self.initial_token = Some(proof.clone());
        match proof {
            crate::server::InitialToken::Retry {
                original_dcid,
                retry_scid,
            } => {
                self.server = Some(
                    Connection::new_server(
                        self.server_config.clone(),
                        self.server_tls.clone(),
                        &original_dcid,
                        Some(&retry_scid),
                    )
                    .unwrap(),
                );
                false
            }
            _ => {
                let mut out = Vec::new();
                crate::server::retry_with_token(
                    &self.server_config,
                    h.version,
                    h.dcid,
                    h.scid,
                    self.client_seen_as,
                    &mut out,
                )
                .unwrap();
                self.retries_sent += 1;
                self.enqueue(Dir::ToClient, out);
                true
            }
        }
    }

    /// One step: send, then deliver what is due or advance the clock to the
    /// next delivery or timer, but not past `limit`. Returns false when
    /// nothing can happen before `limit`.
    pub(crate) fn step(&mut self, limit: u64) -> bool {
        self.flush();
        if let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t <= self.now {
                let Reverse((_, _, dir, client, server, ecn, d)) = self.queue.pop().unwrap();
                self.deliver(dir, client, server, ecn, d);
                return true;
            }
        }
        let next_delivery = self.queue.peek().map(|Reverse((t, ..))| *t);
        let timers = [
            self.client.timer(),
            self.server.as_ref().and_then(|s| s.timer()),
        ];
        let Some(next) = timers.into_iter().flatten().chain(next_delivery).min() else {
            return false;
        };
        if next > limit {
            self.now = self.now.max(limit);
            return false;
        }
        self.now = self.now.max(next);
        if self.client.timer().is_some_and(|t| t <= self.now) {
            self.client.handle_timer(self.now);
        }
        if let Some(s) = &mut self.server {
            if s.timer().is_some_and(|t| t <= self.now) {
                s.handle_timer(self.now);
            }
        }
        true
    }

    /// Steps until `done` holds, at most `max_steps` steps or until the
    /// clock passes `max_time`. Returns whether `done` held.
    pub(crate) fn run_until(&mut self, max_time: u64, mut done: impl FnMut(&Pair) -> bool) -> bool {
        for _ in 0..20_000_000 {
            self.collect_events();
            if done(self) {
                return true;
            }
            if self.now > max_time || !self.step(max_time) {
                break;
            }
        }
        self.collect_events();
        done(self)
    }

    /// Runs for `ms` of virtual time (or until nothing more can happen).
    pub(crate) fn run_for(&mut self, ms: u64) {
        let end = self.now.saturating_add(ms.saturating_mul(MS));
        self.run_until(end, |p| p.now >= end);
    }

    /// Runs the handshake, then a download of `size` bytes on the
    /// server's stream 1 (within 300 s of virtual time), and checks that
    /// it arrived intact (`what` names the case in the message).
    pub(crate) fn download(&mut self, size: usize, what: &str) {
        self.handshake();
        let body = super::streams::pattern(size, 5);
        self.server
            .as_mut()
            .unwrap()
            .stream_send(1, &body, true)
            .unwrap();
        let start = self.now;
        assert!(
            self.run_until(start + 300_000 * MS, |p| p.client_rx.finished.contains(&1)),
            "{what}: the download finished"
        );
        assert!(
            self.client_rx.bytes(1) == body,
            "{what}: the body arrived intact"
        );
    }

    /// Runs the handshake to completion on both sides (within 60 s of
    /// virtual time); panics if it does not complete.
    pub(crate) fn handshake(&mut self) {
        let ok = self.run_until(self.now.saturating_add(60_000 * MS), |p| {
            p.client.is_established()
                && p.server.as_ref().is_some_and(|s| s.is_established())
                && p.client_confirmed()
        });
        assert!(
            ok,
            "handshake did not complete: client {:?} server {:?}",
            self.client_events, self.server_events
        );
    }

    /// The client received HANDSHAKE_DONE (its Handshake keys are gone).
    pub(crate) fn client_confirmed(&self) -> bool {
        self.client.is_handshake_confirmed()
    }

    /// Runs until both connections are closed.
    pub(crate) fn run_to_close(&mut self) -> bool {
        self.run_until(600_000 * MS, |p| {
            p.client.is_closed() && p.server.as_ref().is_none_or(|s| s.is_closed())
        })
    }
}

/// Keeps an event; stream data and datagrams go to `rx` instead.
/// The path events among `events` (validated, failed, migrated, the
/// peer migrated), in order.
pub(crate) fn path_events(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::PathValidated { .. }
                    | Event::PathFailed { .. }
                    | Event::Migrated { .. }
                    | Event::PeerMigrated { .. }
            )
        })
        .cloned()
        .collect()
}

fn record(e: Event, events: &mut Vec<Event>, rx: &mut Received) {
    match e {
        Event::StreamDataReceived {
            stream_id,
            data,
            end_stream,
        } => {
            assert!(
                !rx.finished.contains(&stream_id),
                "data after the end of stream {stream_id}"
            );
            rx.streams
                .entry(stream_id)
                .or_default()
                .extend_from_slice(&data);
            if end_stream {
                rx.finished.insert(stream_id);
            }
        }
        Event::DatagramFrameReceived { data } => rx.datagrams.push(data.to_vec()),
        other => events.push(other),
    }
}
