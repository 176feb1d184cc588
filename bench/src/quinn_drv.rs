//! quinn-proto driven by hand on the same in-memory link as libquic: the
//! reference sans-I/O Rust stack.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    congestion, ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Endpoint,
    EndpointConfig, Event, ServerConfig, StreamEvent, StreamId, TransportConfig, VarInt,
};
use rustls::crypto::ring as rring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ring's X25519 counting its key exchanges, so every handshake can check
/// that the pinned group is the one used (rustls reports no group through
/// quinn-proto).
#[derive(Debug)]
struct CountedX25519;

static X25519_EXCHANGES: AtomicUsize = AtomicUsize::new(0);

impl rustls::crypto::SupportedKxGroup for CountedX25519 {
    fn start(&self) -> Result<Box<dyn rustls::crypto::ActiveKeyExchange>, rustls::Error> {
        X25519_EXCHANGES.fetch_add(1, Ordering::Relaxed);
        rring::kx_group::X25519.start()
    }

    fn name(&self) -> rustls::NamedGroup {
        rring::kx_group::X25519.name()
    }
}

/// Client and server configurations pinned like libquic's.
pub struct Configs {
    pub client: ClientConfig,
    pub server: Arc<ServerConfig>,
}

pub fn configs(certs: &str) -> Configs {
    configs_with_streams(certs, 1000)
}

/// [`configs`] with `streams` as the limit of each kind of stream the peer
/// may open (the same on every stack when memory is compared).
pub fn configs_with_streams(certs: &str, streams: u32) -> Configs {
    configs_with(certs, streams, crate::lossy::Cc::Cubic)
}

/// [`configs_with_streams`] with `cc` as the congestion controller
/// (quinn-proto's default is CUBIC).
pub fn configs_with(certs: &str, streams: u32, cc: crate::lossy::Cc) -> Configs {
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![rring::cipher_suite::TLS13_AES_128_GCM_SHA256],
        kx_groups: vec![&CountedX25519],
        ..rring::default_provider()
    });
    let mut transport = TransportConfig::default();
    transport
        .stream_receive_window(VarInt::from_u32(8 << 20))
        .receive_window(VarInt::from_u32(16 << 20))
        .send_window(16 << 20)
        .initial_mtu(1350)
        .min_mtu(1350)
        .mtu_discovery_config(None)
        .max_concurrent_bidi_streams(VarInt::from_u32(streams))
        .max_concurrent_uni_streams(VarInt::from_u32(streams));
    match cc {
        crate::lossy::Cc::Cubic => {
            transport.congestion_controller_factory(Arc::new(congestion::CubicConfig::default()))
        }
        crate::lossy::Cc::NewReno => {
            transport.congestion_controller_factory(Arc::new(congestion::NewRenoConfig::default()))
        }
    };
    let transport = Arc::new(transport);

    let ca = CertificateDer::from_pem_file(format!("{certs}/ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut cc = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cc.alpn_protocols = vec![b"bench".to_vec()];
    // Full handshakes, as libquic and the OpenSSL ceiling do: no session
    // cache, no tickets (issue 12: these made quinn-proto's handshakes
    // resumptions after the first).
    cc.resumption = rustls::client::Resumption::disabled();
    let mut client = ClientConfig::new(Arc::new(QuicClientConfig::try_from(cc).unwrap()));
    client.transport_config(transport.clone());

    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{certs}/server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{certs}/server.key")).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    sc.alpn_protocols = vec![b"bench".to_vec()];
    sc.max_early_data_size = 0;
    sc.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    sc.send_tls13_tickets = 0;
    let mut server = ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(sc).unwrap()));
    server.transport_config(transport);
    Configs {
        client,
        server: Arc::new(server),
    }
}

use crate::util::addrs;

struct Side {
    endpoint: Endpoint,
    conn: Option<(ConnectionHandle, Connection)>,
}

impl Side {
    /// Delivers one datagram from `from`.
    fn receive(&mut self, now: Instant, from: SocketAddr, data: &[u8], resp: &mut Vec<u8>) {
        match self
            .endpoint
            .handle(now, from, None, None, BytesMut::from(data), resp)
        {
            Some(DatagramEvent::ConnectionEvent(_, ev)) => {
                if let Some((_, c)) = &mut self.conn {
                    c.handle_event(ev);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                let (h, c) = self.endpoint.accept(incoming, now, resp, None).unwrap();
                self.conn = Some((h, c));
            }
            Some(DatagramEvent::Response(_)) | None => {}
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
}

/// A client/server pair of quinn-proto connections.
pub struct Pair {
    client: Side,
    server: Side,
    base: Instant,
    now: Duration,
    link: crate::util::Link,
    resp: Vec<u8>,
    /// X25519 exchanges counted before this pair's client started.
    exchanges: usize,
}

impl Pair {
    pub fn new(cfg: &Configs) -> Self {
        let base = Instant::now();
        let exchanges = X25519_EXCHANGES.load(Ordering::Relaxed);
        let mut cep = Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None);
        let sep = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(cfg.server.clone()),
            false,
            None,
        );
        let (h, c) = cep
            .connect(base, cfg.client.clone(), addrs().1, "localhost")
            .unwrap();
        Self {
            client: Side {
                endpoint: cep,
                conn: Some((h, c)),
            },
            server: Side {
                endpoint: sep,
                conn: None,
            },
            base,
            now: Duration::ZERO,
            link: crate::util::Link::default(),
            resp: Vec::new(),
            exchanges,
        }
    }

    fn turn(&mut self, batch: usize) -> bool {
        self.step(batch, true)
    }

    /// Exchanges datagrams until neither side has anything to send (acks,
    /// HANDSHAKE_DONE), without moving the clock, then lets the link's
    /// spare buffers go: what is left is the connections' own state.
    pub fn settle(&mut self) {
        while self.step(usize::MAX, false) {}
        self.link = crate::util::Link::default();
    }

    /// One turn; when nothing moved and `timers`, the clock moves to the
    /// next timer.
    fn step(&mut self, batch: usize, timers: bool) -> bool {
        let now = self.base + self.now;
        let (ca, sa) = addrs();
        let mut moved = false;
        // Both senders queue everything they have...
        for (dir, src) in [(0, &mut self.client), (1, &mut self.server)] {
            let Some((_, c)) = &mut src.conn else {
                continue;
            };
            loop {
                let mut b = self.link.buffer();
                let Some(t) = c.poll_transmit(now, 1, &mut b) else {
                    self.link.recycle(b);
                    break;
                };
                b.truncate(t.size);
                self.link.push(dir, b);
            }
            src.endpoint_events();
        }
        // ...and the link delivers BATCH datagrams each way.
        for (dir, from_addr) in [(0, ca), (1, sa)] {
            for _ in 0..batch {
                let Some(d) = self.link.pop(dir) else { break };
                moved = true;
                let dst = if dir == 0 {
                    &mut self.server
                } else {
                    &mut self.client
                };
                dst.receive(now, from_addr, &d, &mut self.resp);
                self.link.recycle(d);
            }
        }
        let tick = crate::util::tick();
        if tick > 0 && timers {
            self.now += Duration::from_nanos(tick);
        }
        if (!moved || tick > 0) && timers {
            let mut next: Option<Instant> = None;
            for s in [&mut self.client, &mut self.server] {
                if let Some(t) = s.conn.as_mut().and_then(|(_, c)| c.poll_timeout()) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if tick == 0 {
                let at = next.map_or(self.now, |t| t.saturating_duration_since(self.base));
                self.now = at.max(self.now + Duration::from_micros(10));
            }
            let now = self.base + self.now;
            for s in [&mut self.client, &mut self.server] {
                if let Some((_, c)) = &mut s.conn {
                    if c.poll_timeout().is_some_and(|t| t <= now) {
                        c.handle_timeout(now);
                    }
                }
                s.endpoint_events();
            }
        }
        moved
    }

    fn conn(&mut self, client: bool) -> &mut Connection {
        let side = if client {
            &mut self.client
        } else {
            &mut self.server
        };
        &mut side.conn.as_mut().expect("connection exists").1
    }

    pub fn handshake(&mut self, batch: usize) {
        let (mut c, mut s) = (false, false);
        while !(c && s) {
            self.turn(batch);
            while let Some(e) = self.conn(true).poll() {
                c |= matches!(e, Event::Connected);
            }
            if self.server.conn.is_some() {
                while let Some(e) = self.conn(false).poll() {
                    s |= matches!(e, Event::Connected);
                }
            }
        }
        // The only suite offered is AES-128-GCM; both ends used X25519.
        assert_eq!(
            X25519_EXCHANGES.load(Ordering::Relaxed) - self.exchanges,
            2,
            "quinn-proto: pinned group"
        );
    }
}

/// A bulk transfer on one stream, advanced in steps.
pub struct Bulk {
    pair: Pair,
    batch: usize,
    id: StreamId,
    incoming: Option<StreamId>,
    written: usize,
    /// Writes hand `Bytes` over (`write_chunks`, no copy) instead of
    /// copying from a slice (`write`).
    owned: bool,
    finished: bool,
    got: usize,
    done: bool,
}

impl Bulk {
    /// A pair with its handshake done and the stream opened.
    pub fn start(cfg: &Configs, batch: usize) -> Self {
        let mut pair = Pair::new(cfg);
        pair.handshake(batch);
        let id = pair.conn(true).streams().open(Dir::Bi).unwrap();
        Self {
            pair,
            batch,
            id,
            incoming: None,
            written: 0,
            owned: false,
            finished: false,
            got: 0,
            done: false,
        }
    }
}

impl Bulk {
    /// Like [`Bulk::start`], writing with `write_chunks`: slices of the
    /// data's `Bytes`, taken without a copy.
    pub fn start_owned(cfg: &Configs, batch: usize) -> Self {
        Self {
            owned: true,
            ..Self::start(cfg, batch)
        }
    }
}

impl crate::BulkRun for Bulk {
    fn pump(&mut self, data: &bytes::Bytes, target: usize) -> usize {
        let p = &mut self.pair;
        while !self.done && self.got < target {
            if !self.finished {
                // quinn-proto's write takes what its send buffer allows.
                let c = p.conn(true);
                while self.written < data.len() {
                    let wrote = if self.owned {
                        let mut rest = [data.slice(self.written..)];
                        c.send_stream(self.id)
                            .write_chunks(&mut rest)
                            .map(|w| w.bytes)
                    } else {
                        c.send_stream(self.id).write(&data[self.written..])
                    };
                    match wrote {
                        Ok(n) if n > 0 => self.written += n,
                        _ => break,
                    }
                }
                if self.written == data.len() {
                    c.send_stream(self.id).finish().unwrap();
                    self.finished = true;
                }
            }
            p.turn(self.batch);
            while p.conn(true).poll().is_some() {}
            if p.server.conn.is_none() {
                continue;
            }
            let s = p.conn(false);
            while let Some(e) = s.poll() {
                if let Event::Stream(StreamEvent::Opened { dir: Dir::Bi }) = e {
                    self.incoming = s.streams().accept(Dir::Bi);
                }
            }
            if let Some(sid) = self.incoming {
                let (n, end) = read_all(s, sid);
                self.got += n;
                self.done |= end;
            }
        }
        self.got
    }
}

impl Pair {
    /// `n` request/response streams of `size` bytes each way; returns the
    /// streams completed. Each side reads only the streams quinn-proto
    /// reports readable (and those just accepted), as libquic's driver only
    /// handles the streams its events name.
    pub fn streams(&mut self, n: u64, size: usize, batch: usize) -> u64 {
        let body = vec![7u8; size];
        let (mut opened, mut finished) = (0u64, 0u64);
        let mut readable: Vec<StreamId> = Vec::new();
        while finished < n {
            // Open as many requests as the server allows.
            while opened < n {
                let c = self.conn(true);
                let Some(id) = c.streams().open(Dir::Bi) else {
                    break;
                };
                let mut s = c.send_stream(id);
                assert_eq!(s.write(&body).unwrap(), body.len(), "1 KB fits the window");
                s.finish().unwrap();
                opened += 1;
            }
            self.turn(batch);
            let c = self.conn(true);
            readable.clear();
            while let Some(e) = c.poll() {
                if let Event::Stream(StreamEvent::Readable { id }) = e {
                    readable.push(id);
                }
            }
            for &id in &readable {
                if read_all(c, id).1 {
                    finished += 1;
                }
            }
            if self.server.conn.is_none() {
                continue;
            }
            let s = self.conn(false);
            readable.clear();
            while let Some(e) = s.poll() {
                if let Event::Stream(StreamEvent::Readable { id }) = e {
                    readable.push(id);
                }
            }
            while let Some(id) = s.streams().accept(Dir::Bi) {
                readable.push(id);
            }
            for &id in &readable {
                if read_all(s, id).1 {
                    let mut st = s.send_stream(id);
                    st.write(&body).unwrap();
                    st.finish().unwrap();
                }
            }
        }
        finished
    }
}

/// Reads what is readable on `sid`: (bytes, stream finished).
fn read_all(conn: &mut Connection, sid: StreamId) -> (usize, bool) {
    let mut rs = conn.recv_stream(sid);
    let Ok(mut chunks) = rs.read(true) else {
        return (0, false);
    };
    let mut got = 0;
    let mut end = false;
    loop {
        match chunks.next(usize::MAX) {
            Ok(Some(chunk)) => got += chunk.bytes.len(),
            Ok(None) => {
                end = true;
                break;
            }
            Err(_) => break,
        }
    }
    let _ = chunks.finalize();
    (got, end)
}
