//! A server endpoint with many clients in memory: routing, admission
//! limits, Retry, Version Negotiation, stateless resets, timers for all,
//! and handles that die with their connection.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use super::pair::{configs, MS};
use crate::config::Config;
use crate::conn::{Connection, Event, Termination};
use crate::endpoint::{ConnectionHandle, Endpoint, EndpointEvent, EndpointParams, RetryPolicy};
use crate::packet::PacketType;
use crate::tls::TlsContext;

/// A server configuration and its TLS context, as an endpoint takes them.
fn server_side(config: Config) -> (Arc<Config>, Arc<TlsContext>) {
    let tls = TlsContext::new(&config).unwrap();
    (Arc::new(config), tls)
}

fn server_addr() -> SocketAddr {
    "10.9.0.1:443".parse().unwrap()
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        std::net::IpAddr::from([10, 8, (i / 250) as u8, (i % 250) as u8 + 1]),
        40_000 + (i % 1000) as u16,
    )
}

/// The bytes the server answers client `i` with.
fn answer(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|n| (n as u64 * 31 + i) as u8).collect()
}

/// (arrival, sequence, to the server, client index, datagram).
type InFlight = (u64, u64, bool, usize, Vec<u8>);

/// A server endpoint and standalone client connections over a link with a
/// one-way delay; the server application answers every finished request
/// on stream 0 with `reply_len` bytes derived from the request's first
/// byte.
struct Net {
    server: Endpoint,
    clients: Vec<Connection>,
    /// What each client received on stream 0, and whether it ended.
    received: Vec<(Vec<u8>, bool)>,
    /// How each client's connection ended, and its error code.
    terminated: Vec<Option<(Termination, u64)>>,
    now: u64,
    delay: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<InFlight>>,
    reply_len: usize,
    requests: HashMap<ConnectionHandle, Vec<u8>>,
    new_connections: Vec<ConnectionHandle>,
    done: Vec<ConnectionHandle>,
    buf: Vec<u8>,
    client_config: Arc<Config>,
    client_tls: Arc<TlsContext>,
    by_addr: HashMap<SocketAddr, usize>,
    /// Clients that were sent a Retry.
    retried: std::collections::BTreeSet<usize>,
    /// The destination CID of every datagram a client sent, and whether
    /// its packet had a long header.
    to_server_dcids: Vec<(bool, Vec<u8>)>,
    /// The length of the server's connection IDs.
    server_cid_len: usize,
    /// Each client's last session ticket, and whether it resumed.
    tickets: Vec<Option<Vec<u8>>>,
    resumed: Vec<bool>,
}

impl Net {
    fn new(params: EndpointParams) -> Self {
        let (c, s) = configs();
        Self::with_configs(c, s, params)
    }

    fn with_configs(c: Config, s: Config, params: EndpointParams) -> Self {
        let server_cid_len = s.endpoint.connection_id_length;
        let server = Endpoint::new(Some(server_side(s)), params).unwrap();
        let client_tls = TlsContext::new(&c).unwrap();
        Self {
            server,
            clients: Vec::new(),
            received: Vec::new(),
            terminated: Vec::new(),
            now: 0,
            delay: 5 * MS,
            seq: 0,
            queue: BinaryHeap::new(),
            reply_len: 10_000,
            requests: HashMap::new(),
            new_connections: Vec::new(),
            done: Vec::new(),
            buf: Vec::with_capacity(2048),
            client_config: Arc::new(c),
            client_tls,
            by_addr: HashMap::new(),
            retried: Default::default(),
            to_server_dcids: Vec::new(),
            server_cid_len,
            tickets: Vec::new(),
            resumed: Vec::new(),
        }
    }

    fn add_client(&mut self) -> usize {
        self.add_client_resuming(None)
    }

    /// A client, resuming with `ticket` when given.
    fn add_client_resuming(&mut self, ticket: Option<&[u8]>) -> usize {
        let mut c =
            Connection::new_client(self.client_config.clone(), self.client_tls.clone()).unwrap();
        if let Some(t) = ticket {
            c.set_session_ticket(t).unwrap();
        }
        c.connect(server_addr(), self.now).unwrap();
        self.tickets.push(None);
        self.resumed.push(false);
        self.clients.push(c);
        self.received.push((Vec::new(), false));
        self.terminated.push(None);
        let i = self.clients.len() - 1;
        self.by_addr.insert(client_addr(i), i);
        i
    }

    fn enqueue(&mut self, to_server: bool, client: usize, d: Vec<u8>) {
        self.seq += 1;
        self.queue.push(Reverse((
            self.now + self.delay,
            self.seq,
            to_server,
            client,
            d,
        )));
    }

    /// Everything ready goes on the link; events are handled.
    fn flush(&mut self) {
        for i in 0..self.clients.len() {
            while let Some(t) = self.clients[i].send_on(&mut self.buf, self.now) {
                assert_eq!(t.remote, server_addr());
                if let Ok(h) = crate::server::parse_header(&self.buf, self.server_cid_len) {
                    self.to_server_dcids.push((h.is_long(), h.dcid.to_vec()));
                }
                let d = self.buf.clone();
                self.enqueue(true, i, d);
            }
            while let Some(e) = self.clients[i].poll_event() {
                match e {
                    Event::StreamDataReceived {
                        stream_id: 0,
                        data,
                        end_stream,
                    } => {
                        self.received[i].0.extend_from_slice(&data);
                        self.received[i].1 |= end_stream;
                    }
                    Event::ConnectionTerminated {
                        cause, error_code, ..
                    } => self.terminated[i] = Some((cause, error_code)),
                    Event::HandshakeCompleted {
                        session_resumed, ..
                    } => self.resumed[i] = session_resumed,
                    Event::SessionTicket { ticket } => self.tickets[i] = Some(ticket),
                    _ => {}
                }
            }
        }
        self.server_events();
        while let Some(t) = self.server.send(&mut self.buf, self.now) {
            let i = self.by_addr[&t.remote];
            if crate::server::parse_header(&self.buf, 8)
                .is_ok_and(|h| h.packet_type == PacketType::Retry)
            {
                self.retried.insert(i);
            }
            let d = self.buf.clone();
            self.enqueue(false, i, d);
        }
    }

    fn server_events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            match e {
                EndpointEvent::NewConnection(h, _) => self.new_connections.push(h),
                EndpointEvent::ConnectionDone(h) => self.done.push(h),
                EndpointEvent::Connection(
                    h,
                    Event::StreamDataReceived {
                        stream_id,
                        data,
                        end_stream,
                    },
                ) => {
                    let req = self.requests.entry(h).or_default();
                    req.extend_from_slice(&data);
                    if end_stream {
                        let body = answer(u64::from(req[0]), self.reply_len);
                        let conn = self.server.connection_mut(h).expect("a live handle");
                        conn.stream_send(stream_id, &body, true).unwrap();
                    }
                }
                EndpointEvent::Connection(..) => {}
            }
        }
    }

    /// Runs until `done` or `limit` (ns of virtual time).
    fn run_until(&mut self, limit: u64, mut done: impl FnMut(&Net) -> bool) -> bool {
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            if let Some(Reverse((t, ..))) = self.queue.peek() {
                if *t <= self.now {
                    let Reverse((_, _, to_server, i, d)) = self.queue.pop().unwrap();
                    if to_server {
                        self.server
                            .recv(&d, Some(server_addr()), client_addr(i), self.now);
                    } else {
                        self.clients[i].recv(&d, server_addr(), self.now);
                    }
                    continue;
                }
            }
            let next = self
                .clients
                .iter()
                .filter_map(|c| c.timer())
                .chain(self.server.timeout())
                .chain(self.queue.peek().map(|Reverse((t, ..))| *t))
                .min();
            let Some(next) = next else {
                return done(self);
            };
            if next > limit {
                return done(self);
            }
            self.now = self.now.max(next);
            for c in &mut self.clients {
                if c.timer().is_some_and(|t| t <= self.now) {
                    c.handle_timer(self.now);
                }
            }
            if self.server.timeout().is_some_and(|t| t <= self.now) {
                self.server.handle_timer(self.now);
            }
        }
    }

    /// Runs until every client's handshake completed (within 2 s).
    fn establish_all(&mut self) {
        let limit = self.now + 2_000 * MS;
        assert!(self.run_until(limit, |net| net.clients.iter().all(|c| c.is_established())));
    }

    /// A new client (resuming with `ticket`, if any) connects; its
    /// first session ticket.
    fn ticket_from(&mut self, ticket: Option<&[u8]>) -> Vec<u8> {
        let i = self.add_client_resuming(ticket);
        let limit = self.now + 2_000 * MS;
        assert!(self.run_until(limit, |net| net.tickets[i].is_some()));
        self.tickets[i].clone().unwrap()
    }

    fn request(&mut self, i: usize) {
        let req = [i as u8, b' ', b'G', b'E', b'T'];
        self.clients[i].stream_send(0, &req, true).unwrap();
    }
}

#[test]
fn two_hundred_clients_download_through_one_endpoint_and_all_routes_go() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::Never,
        ..Default::default()
    });
    let n = 200;
    for _ in 0..n {
        net.add_client();
    }
    net.establish_all();
    for i in 0..n {
        net.request(i);
    }
    assert!(net.run_until(10_000 * MS, |net| net.received.iter().all(|r| r.1)));
    for (i, (data, _)) in net.received.iter().enumerate() {
        assert!(
            *data == answer(u64::from(i as u8), net.reply_len),
            "client {i}"
        );
    }
    let s = net.server.stats();
    assert_eq!((s.accepted, s.connections), (n as u64, n as u64));
    assert_eq!(s.half_open, 0);
    assert_eq!(net.new_connections.len(), n);
    // Every client closes; the server's connections drain and are freed,
    // and nothing stays routed.
    let now = net.now;
    for c in &mut net.clients {
        c.close(true, 0, None, b"bye", now).unwrap();
    }
    assert!(net.run_until(net.now + 10_000 * MS, |net| net.done.len() == n));
    assert_eq!(net.server.stats().connections, 0);
    assert_eq!(net.server.routed_connection_ids(), 0);
    assert_eq!(net.server.timeout(), None, "no timer left");
    for h in &net.new_connections {
        assert!(net.server.connection_mut(*h).is_none(), "a freed handle");
    }
}

#[test]
fn retry_always_validates_every_client_first() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::Always,
        ..Default::default()
    });
    for _ in 0..3 {
        net.add_client();
    }
    net.establish_all();
    let s = net.server.stats();
    assert_eq!(s.accepted, 3);
    assert_eq!(net.retried.len(), 3);
    // One Retry per Initial datagram of a first flight (a ClientHello
    // with a post-quantum key share takes two).
    assert!((3..=6).contains(&s.retries), "{s:?}");
}

#[test]
fn retry_starts_above_the_half_open_threshold() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::AboveHalfOpen(2),
        ..Default::default()
    });
    for _ in 0..5 {
        net.add_client();
    }
    net.establish_all();
    let s = net.server.stats();
    assert_eq!(s.accepted, 5);
    // The first two went straight in; the other three were retried.
    assert_eq!(net.retried, [2, 3, 4].into(), "{s:?}");
}

#[test]
fn past_the_half_open_limit_new_clients_are_refused_and_counted() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::Never,
        max_half_open: 2,
        ..Default::default()
    });
    // The server's handshakes stay half-open: its answers are lost.
    net.delay = 5 * MS;
    for _ in 0..5 {
        net.add_client();
    }
    net.flush();
    // Deliver only the first flights to the server.
    while let Some(Reverse((_, _, to_server, i, d))) = net.queue.pop() {
        if to_server {
            net.server.recv(&d, None, client_addr(i), net.now);
        }
    }
    let s = net.server.stats();
    assert_eq!((s.accepted, s.half_open), (2, 2));
    // Three clients, each refused for every datagram of its first flight.
    assert!(s.refused_half_open_limit >= 3, "{s:?}");
    // Each of them is told so, in a datagram far smaller than its own.
    let mut told = std::collections::BTreeSet::new();
    while let Some(t) = net.server.send(&mut net.buf, net.now) {
        let i = net.by_addr[&t.remote];
        if i >= 2 {
            assert!(net.buf.len() < 200, "{} bytes", net.buf.len());
            told.insert(i);
        }
    }
    assert_eq!(told, [2, 3, 4].into());
}

#[test]
fn the_connection_limit_holds() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::Never,
        max_connections: 3,
        ..Default::default()
    });
    for _ in 0..5 {
        net.add_client();
    }
    net.run_until(1_000 * MS, |_| false);
    let s = net.server.stats();
    assert_eq!(s.connections, 3);
    assert!(s.refused_connection_limit >= 2);
    assert_eq!(net.clients.iter().filter(|c| c.is_established()).count(), 3);
    // RFC 9000 §10.2.3: the others learned at once, from the server.
    let refused: Vec<_> = net.terminated.iter().flatten().collect();
    assert_eq!(refused.len(), 2, "{:?}", net.terminated);
    for (cause, code) in refused {
        assert_eq!(*code, crate::error::code::CONNECTION_REFUSED);
        assert_eq!(*cause, Termination::PeerTransport);
    }
}

#[test]
fn one_address_gets_its_initial_rate_and_no_more() {
    let (_, s) = configs();
    let mut ep: Endpoint = Endpoint::new(
        Some(server_side(s)),
        EndpointParams {
            retry: RetryPolicy::Never,
            initials_per_address_per_second: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let (c, _) = configs();
    let c = Arc::new(c);
    let tls = TlsContext::new(&c).unwrap();
    let mut buf = Vec::new();
    for _ in 0..4 {
        let mut client = Connection::new_client(c.clone(), tls.clone()).unwrap();
        client.connect(server_addr(), 0).unwrap();
        let _ = client.send_on(&mut buf, 0).unwrap();
        ep.recv(&buf, None, client_addr(0), 0);
    }
    let s = ep.stats();
    assert_eq!((s.accepted, s.refused_initial_rate), (2, 2));
}

/// A long-header datagram of an unknown version, padded to `len`.
fn unknown_version(len: usize) -> Vec<u8> {
    let mut d = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
    d.extend_from_slice(&[1; 8]);
    d.push(8);
    d.extend_from_slice(&[2; 8]);
    d.resize(len, 0);
    d
}

#[test]
fn unknown_versions_get_version_negotiation_only_from_full_size_datagrams() {
    let (_, s) = configs();
    let mut ep: Endpoint = Endpoint::new(Some(server_side(s)), EndpointParams::default()).unwrap();
    let from = client_addr(1);
    ep.recv(&unknown_version(1199), None, from, 0);
    let mut out = Vec::new();
    assert!(ep.send(&mut out, 0).is_none(), "RFC 9000 §14.1: too small");
    ep.recv(&unknown_version(1200), None, from, 0);
    let t = ep.send(&mut out, 0).expect("Version Negotiation");
    assert_eq!(t.remote, from);
    let h = crate::server::parse_header(&out, 8).unwrap();
    assert_eq!(h.packet_type, PacketType::VersionNegotiation);
    assert_eq!((h.dcid, h.scid), (&[2u8; 8][..], &[1u8; 8][..]));
    let versions: Vec<u32> = h
        .supported_versions
        .chunks(4)
        .map(|v| u32::from_be_bytes(v.try_into().unwrap()))
        .collect();
    assert!(versions.contains(&crate::version::V1));
    assert!(out.len() < 1200, "smaller than what provoked it");
    let s = ep.stats();
    assert_eq!(
        (s.version_negotiations, s.unroutable, s.accepted),
        (1, 1, 0)
    );
}

/// A server endpoint that lost its state (a restart) resets the client's
/// connection when it shares the reset key with the old one: the client
/// recognises the token its connection was given and ends at once. With
/// another key, the reset is not recognised.
#[test]
fn a_restarted_endpoint_with_the_same_key_resets_its_old_connections() {
    for same_key in [true, false] {
        let key = [42u8; 32];
        let mut net = Net::new(EndpointParams {
            retry: RetryPolicy::Never,
            reset_key: Some(key),
            ..Default::default()
        });
        net.add_client();
        assert!(net.run_until(1_000 * MS, |net| net.clients[0].is_handshake_confirmed()));
        let (_, s) = configs();
        let restarted_key = if same_key { key } else { [7; 32] };
        net.server = Endpoint::new(
            Some(server_side(s)),
            EndpointParams {
                reset_key: Some(restarted_key),
                ..Default::default()
            },
        )
        .unwrap();
        net.request(0);
        net.run_until(net.now + 2_000 * MS, |net| net.terminated[0].is_some());
        assert!(net.server.stats().stateless_resets >= 1);
        if same_key {
            assert_eq!(
                net.terminated[0].map(|t| t.0),
                Some(Termination::StatelessReset)
            );
        } else {
            assert_eq!(net.terminated[0], None, "a token it was never given");
        }
    }
}

#[test]
fn resets_stay_within_their_rate_and_below_what_provoked_them() {
    let (_, s) = configs();
    let mut ep: Endpoint = Endpoint::new(
        Some(server_side(s)),
        EndpointParams {
            resets_per_second: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let mut short = vec![0x40u8; 30];
    short[1..9].copy_from_slice(&[9; 8]);
    for _ in 0..10 {
        ep.recv(&short, None, client_addr(3), 0);
    }
    let mut out = Vec::new();
    let mut sent = 0;
    while ep.send(&mut out, 0).is_some() {
        assert!(out.len() < short.len());
        sent += 1;
    }
    assert_eq!(sent, 5);
    assert_eq!(ep.stats().resets_rate_limited, 5);
    // Too small to answer with a smaller reset.
    ep.recv(&short[..21], None, client_addr(3), 2_000 * MS);
    assert!(ep.send(&mut out, 2_000 * MS).is_none());
}

/// Three clients through a server endpoint that sends Retry; each moves
/// to a spare connection ID of the server's and downloads.
fn three_clients_move_to_spare_ids(c: Config, s: Config) -> Net {
    let mut net = Net::with_configs(
        c,
        s,
        EndpointParams {
            retry: RetryPolicy::Always,
            ..Default::default()
        },
    );
    for _ in 0..3 {
        net.add_client();
    }
    net.establish_all();
    // The server's spare IDs arrive with the end of the handshake.
    net.run_until(net.now + 200 * MS, |_| false);
    for i in 0..3 {
        net.clients[i].change_connection_id().unwrap();
        net.request(i);
    }
    assert!(net.run_until(net.now + 2_000 * MS, |net| net.received.iter().all(|r| r.1)));
    net
}

/// `Config::set_cid_generator`: every connection ID the server issues,
/// and the SCID of its Retry, come from the application's generator (here
/// a fleet's server ID 0xAB in the first byte), so a load balancer can
/// route by it: every packet the clients send after their first Initial
/// carries it.
#[test]
fn a_cid_generator_makes_every_server_id_and_the_retry_scid() {
    use crate::crypto::random::{RandomSource, SystemRandom};
    let (c, mut s) = configs();
    s.set_cid_generator(Some(Arc::new(|out: &mut [u8]| {
        out[0] = 0xab;
        SystemRandom.fill(&mut out[1..]);
    })));
    let net = three_clients_move_to_spare_ids(c, s);
    let short: Vec<_> = net.to_server_dcids.iter().filter(|d| !d.0).collect();
    assert!(short.len() > 10);
    assert!(
        short.iter().all(|d| d.1[0] == 0xab),
        "every ID the server issued"
    );
    let initials_to_retry_scid = net
        .to_server_dcids
        .iter()
        .filter(|d| d.0 && d.1[0] == 0xab)
        .count();
    assert!(initials_to_retry_scid >= 3, "the Retry's SCID");
}

/// `Config::set_quic_lb`: the connection IDs a server endpoint issues
/// (and its Retry SCID) are QUIC-LB plaintext IDs of its server ID, of
/// the length the configuration implies, so a load balancer reads the
/// server ID from everything the clients send after their first Initial,
/// also from the spare IDs they move to.
#[test]
fn quic_lb_ids_carry_the_server_id_in_every_packet_after_the_first_initial() {
    use crate::quic_lb::{decode_server_id, QuicLbConfig};
    let (mut c, mut s) = configs();
    let sid = [0x5e, 0x1f];
    s.set_quic_lb(Some(QuicLbConfig::new(3, &sid, 6).unwrap()));
    // The QUIC-LB configuration fixed the length: another is refused.
    assert!(s.set_connection_id_length(8).is_err());
    s.set_connection_id_length(9).unwrap();
    c.set_connection_id_length(8).unwrap();
    let net = three_clients_move_to_spare_ids(c, s);
    let short: Vec<_> = net.to_server_dcids.iter().filter(|d| !d.0).collect();
    assert!(short.len() > 10);
    for (_, dcid) in &short {
        assert_eq!(dcid.len(), 9, "1 + server ID + nonce");
        assert_eq!(dcid[0], (3 << 5) | 8, "config rotation and length");
        assert_eq!(decode_server_id(dcid, 2), Some((3, &sid[..])));
    }
    let distinct: std::collections::HashSet<_> = short.iter().map(|d| &d.1).collect();
    assert!(
        distinct.len() >= 6,
        "each client on its first ID and a spare"
    );
    let to_retry_scid = net
        .to_server_dcids
        .iter()
        .filter(|d| d.0 && decode_server_id(&d.1, 2) == Some((3, &sid[..])))
        .count();
    assert!(to_retry_scid >= 3, "the Retry's SCID");
}

/// `Endpoint::set_server_config` rotates the ticket keys of a running
/// server: a ticket sealed under the old key resumes while the new
/// configuration still lists it after the new one, and not once it is
/// dropped; a ticket under the new key resumes, and every resumed client
/// gets a fresh ticket (tickets are for one use).
#[test]
fn a_running_endpoint_rotates_its_ticket_keys() {
    use crate::tls::TicketKey;
    let key = |n: u8| TicketKey {
        name: [n; 16],
        aes: [n + 1; 32],
        hmac: [n + 2; 32],
    };
    let with_keys = |keys: Vec<TicketKey>| {
        let (_, mut s) = configs();
        s.set_session_tickets(true);
        s.set_ticket_keys(keys).unwrap();
        server_side(s)
    };
    let (mut c, _) = configs();
    c.set_session_tickets(true);
    let (_, s) = configs();
    let mut net = Net::with_configs(
        c,
        s,
        EndpointParams {
            retry: RetryPolicy::Never,
            ..Default::default()
        },
    );
    let (config, tls) = with_keys(vec![key(10)]);
    net.server.set_server_config(config, tls).unwrap();
    let old_ticket = net.ticket_from(None);
    let (config, tls) = with_keys(vec![key(20), key(10)]);
    net.server.set_server_config(config, tls).unwrap();
    let new_ticket = net.ticket_from(Some(&old_ticket));
    assert_eq!(net.resumed.last(), Some(&true), "the old key still opens");
    let (config, tls) = with_keys(vec![key(20)]);
    net.server.set_server_config(config, tls).unwrap();
    net.ticket_from(Some(&old_ticket));
    assert_eq!(net.resumed.last(), Some(&false), "the old key is gone");
    net.ticket_from(Some(&new_ticket));
    assert_eq!(net.resumed.last(), Some(&true), "sealed under the new key");
    let (client_config, _) = configs();
    assert!(
        net.server
            .set_server_config(Arc::new(client_config), net.client_tls.clone())
            .is_err(),
        "a client's configuration"
    );
}

/// `Endpoint::set_reset_key`: connections made after the rotation give
/// their peers tokens of the new key, so a server restarted with it resets
/// them; a connection made before keeps its old tokens and is not reset.
#[test]
fn a_rotated_reset_key_covers_the_connections_made_after_it() {
    let mut net = Net::new(EndpointParams {
        retry: RetryPolicy::Never,
        reset_key: Some([1; 32]),
        ..Default::default()
    });
    net.add_client();
    assert!(net.run_until(1_000 * MS, |net| net.clients[0].is_handshake_confirmed()));
    net.server.set_reset_key([2; 32]);
    net.add_client();
    assert!(net.run_until(net.now + 1_000 * MS, |net| net.clients[1]
        .is_handshake_confirmed()));
    let (_, s) = configs();
    net.server = Endpoint::new(
        Some(server_side(s)),
        EndpointParams {
            reset_key: Some([2; 32]),
            ..Default::default()
        },
    )
    .unwrap();
    net.request(0);
    net.request(1);
    net.run_until(net.now + 2_000 * MS, |net| net.terminated[1].is_some());
    assert_eq!(
        net.terminated[1].map(|t| t.0),
        Some(Termination::StatelessReset)
    );
    assert_eq!(net.terminated[0], None, "made under the old key");
}
