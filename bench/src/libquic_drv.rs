//! libquic driven through its Rust API and through its C ABI, on the same
//! in-memory link: at most BATCH datagrams cross per turn.

use std::sync::Arc;

use quic::config::Config;
use quic::conn::{Connection, Event};
use quic::crypto::Suite;
use quic::packet::header;
use quic::side::Side;
use quic::tls::TlsContext;

pub const MDS: usize = 1350;

/// The sender queues at most this much (the connection window: more could
/// not be in flight anyway), topping up in PIECE-sized writes, as an
/// application with backpressure does; quinn-proto's `write` does the same
/// by itself.
pub const QUEUE_CAP: u64 = 16 << 20;
pub const PIECE: usize = 1 << 20;

/// Copies of `c` and `s` that write a qlog trace of every connection to a
/// file: created in the system's temporary directory and unlinked at once,
/// so the writes go to disk (the page cache) and nothing piles up.
pub fn with_qlog(c: &Config, s: &Config) -> (Arc<Config>, Arc<Config>) {
    use std::io::Write;
    let sink: quic::qlog::QlogSink = Arc::new(|trace: &quic::qlog::QlogTrace<'_>| {
        let path = std::env::temp_dir().join(format!(
            "libquic-bench-{}-{}",
            std::process::id(),
            trace.file_name()
        ));
        let mut file = std::fs::File::create(&path).ok()?;
        let _ = std::fs::remove_file(&path);
        let out: quic::qlog::QlogOutput = Box::new(move |records: &[u8]| {
            file.write_all(records).expect("qlog write");
            records.len()
        });
        Some(out)
    });
    let (mut c, mut s) = (c.clone(), s.clone());
    c.set_qlog(Some(sink.clone()));
    s.set_qlog(Some(sink));
    (Arc::new(c), Arc::new(s))
}

/// The pinned configuration: AES-128-GCM, X25519, 1350-byte datagrams,
/// 8 MB stream and 16 MB connection windows, the P-256 test certificate
/// verified by the client.
pub fn configs(certs: &str) -> (Config, Config) {
    configs_with_streams(certs, 1000)
}

/// [`configs`] with `streams` as the limit of each kind of stream the peer
/// may open (the same on every stack when memory is compared).
pub fn configs_with_streams(certs: &str, streams: u64) -> (Config, Config) {
    let mut c = Config::new(Side::Client);
    let mut s = Config::new(Side::Server);
    for cfg in [&mut c, &mut s] {
        cfg.set_alpn_protocols(vec![b"bench".to_vec()]).unwrap();
        cfg.set_cipher_suites(vec![Suite::Aes128Gcm]).unwrap();
        cfg.set_groups("X25519").unwrap();
        cfg.set_max_datagram_size(MDS).unwrap();
        // Fixed size, as quinn-proto's here: no PMTU discovery.
        cfg.set_max_pmtu(MDS).unwrap();
        cfg.set_windows(16 << 20, 8 << 20).unwrap();
        cfg.set_max_windows(8 << 20, 16 << 20).unwrap();
        cfg.set_max_streams(streams, streams).unwrap();
    }
    c.set_server_name("localhost").unwrap();
    c.load_verify_locations(Some(&format!("{certs}/ca.pem")), None, None)
        .unwrap();
    s.load_cert_chain(
        &format!("{certs}/server.pem"),
        Some(&format!("{certs}/server.key")),
        None,
    )
    .unwrap();
    (c, s)
}

use crate::util::addrs;

/// A client/server pair through the Rust API.
pub struct Pair {
    client: Connection,
    server: Option<Connection>,
    sconf: Arc<Config>,
    stls: Arc<TlsContext>,
    now: u64,
    link: crate::util::Link,
}

impl Pair {
    /// A pair sharing the configurations and TLS contexts, as an
    /// application's connections do.
    pub fn new(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
    ) -> Self {
        let mut pair = Self::new_unconnected(c, s, ctls, stls);
        pair.client.connect(addrs().1, 0).unwrap();
        pair
    }

    /// Like [`Pair::new`], the client resuming the session of `ticket`.
    pub fn resuming(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
        ticket: &[u8],
    ) -> Self {
        let mut pair = Self::new_unconnected(c, s, ctls, stls);
        pair.client.set_session_ticket(ticket).unwrap();
        pair.client.connect(addrs().1, 0).unwrap();
        pair
    }

    fn new_unconnected(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
    ) -> Self {
        Self {
            client: Connection::new_client(c.clone(), ctls.clone()).unwrap(),
            server: None,
            sconf: s.clone(),
            stls: stls.clone(),
            now: 0,
            link: crate::util::Link::default(),
        }
    }

    /// A session ticket: a full handshake, then the server's ticket flight
    /// (the configurations must have tickets on).
    pub fn ticket(&mut self, batch: usize) -> Vec<u8> {
        self.handshake(batch);
        loop {
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                if let Event::SessionTicket { ticket } = e {
                    return ticket;
                }
            }
        }
    }

    /// Runs a handshake that must resume the session on both sides.
    pub fn resumed_handshake(&mut self, batch: usize) {
        let resumed = |e: &Event| match e {
            Event::HandshakeCompleted {
                session_resumed, ..
            } => Some(*session_resumed),
            _ => None,
        };
        let (mut c, mut s) = (false, false);
        while !(c && s) {
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                if let Some(r) = resumed(&e) {
                    assert!(r, "libquic: the client did not resume");
                    c = true;
                }
            }
            self.server_events(|_, e| {
                if let Some(r) = resumed(&e) {
                    assert!(r, "libquic: the server did not resume");
                    s = true;
                }
            });
        }
    }

    /// One turn: each side sends at most `batch` datagrams, the other
    /// receives them; timers fire when nothing moved.
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
        let (ca, sa) = addrs();
        let mut moved = false;
        // Both senders queue everything they have...
        loop {
            let mut b = self.link.buffer();
            if self.client.send(&mut b, self.now).is_none() {
                self.link.recycle(b);
                break;
            }
            self.link.push(0, b);
        }
        if let Some(srv) = &mut self.server {
            loop {
                let mut b = self.link.buffer();
                if srv.send(&mut b, self.now).is_none() {
                    self.link.recycle(b);
                    break;
                }
                self.link.push(1, b);
            }
        }
        // ...and the link delivers BATCH datagrams each way.
        for _ in 0..batch {
            let Some(d) = self.link.pop(0) else { break };
            moved = true;
            let (sconf, stls) = (&self.sconf, &self.stls);
            let srv = self.server.get_or_insert_with(|| {
                let h = header::parse(&d, 8).unwrap();
                Connection::new_server(sconf.clone(), stls.clone(), h.dcid, None).unwrap()
            });
            srv.recv(&d, ca, self.now);
            self.link.recycle(d);
        }
        for _ in 0..batch {
            let Some(d) = self.link.pop(1) else { break };
            moved = true;
            self.client.recv(&d, sa, self.now);
            self.link.recycle(d);
        }
        let tick = crate::util::tick();
        if tick > 0 && timers {
            self.now += tick;
        }
        if (!moved || tick > 0) && timers {
            let next = [
                self.client.timer(),
                self.server.as_ref().and_then(|s| s.timer()),
            ]
            .into_iter()
            .flatten()
            .min();
            // No delay on the link: let time pass so RTT and pacing stay
            // finite (with a tick, it passed already).
            if tick == 0 {
                self.now = next.unwrap_or(self.now).max(self.now + 10_000);
            }
            if self.client.timer().is_some_and(|t| t <= self.now) {
                self.client.handle_timer(self.now);
            }
            if let Some(srv) = &mut self.server {
                if srv.timer().is_some_and(|t| t <= self.now) {
                    srv.handle_timer(self.now);
                }
            }
        }
        moved
    }

    fn server_events(&mut self, mut f: impl FnMut(&mut Connection, Event)) {
        if let Some(srv) = &mut self.server {
            while let Some(e) = srv.poll_event() {
                f(srv, e);
            }
        }
    }

    /// Runs the handshake to completion on both sides.
    pub fn handshake(&mut self, batch: usize) {
        let (mut c, mut s) = (false, false);
        while !(c && s) {
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                c |= matches!(e, Event::HandshakeCompleted { .. });
            }
            self.server_events(|_, e| s |= matches!(e, Event::HandshakeCompleted { .. }));
        }
        for st in [self.client.stats(), self.server.as_ref().unwrap().stats()] {
            assert_eq!(st.cipher_suite, 0x1301, "libquic: pinned suite");
            assert_eq!(st.key_exchange_group, 0x001d, "libquic: pinned group");
        }
    }
}

/// A bulk transfer on one stream through the Rust API, advanced in steps.
pub struct Bulk {
    pair: Pair,
    batch: usize,
    /// Bytes per `stream_send` call.
    piece: usize,
    /// The pieces are handed over as `Bytes` (`stream_send_bytes`, no
    /// copy) instead of copied from a slice (`stream_send`).
    owned: bool,
    written: usize,
    got: usize,
    done: bool,
}

impl Bulk {
    /// A pair with its handshake done.
    pub fn start(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
        batch: usize,
    ) -> Self {
        Self::start_with_writes(c, s, ctls, stls, batch, PIECE)
    }

    /// Like [`Bulk::start`], the sender writing `piece` bytes per call (a
    /// streaming server or a C program writing a socket-sized buffer at a
    /// time).
    pub fn start_with_writes(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
        batch: usize,
        piece: usize,
    ) -> Self {
        let mut pair = Pair::new(c, s, ctls, stls);
        pair.handshake(batch);
        Self {
            pair,
            batch,
            piece,
            owned: false,
            written: 0,
            got: 0,
            done: false,
        }
    }
}

impl Bulk {
    /// Like [`Bulk::start`], the sender handing its 1 MiB pieces over
    /// without a copy (`stream_send_bytes`, a slice of the data's `Bytes`),
    /// as quinn-proto's `write_chunks` takes them.
    pub fn start_owned(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
        batch: usize,
    ) -> Self {
        Self {
            owned: true,
            ..Self::start(c, s, ctls, stls, batch)
        }
    }
}

impl crate::BulkRun for Bulk {
    fn pump(&mut self, data: &bytes::Bytes, target: usize) -> usize {
        let p = &mut self.pair;
        while !self.done && self.got < target {
            while self.written < data.len()
                && p.client.stream_send_buffered(0) + self.piece as u64 <= QUEUE_CAP
            {
                let end = (self.written + self.piece).min(data.len());
                let fin = end == data.len();
                if self.owned {
                    p.client
                        .stream_send_bytes(0, data.slice(self.written..end), fin)
                        .unwrap();
                } else {
                    p.client
                        .stream_send(0, &data[self.written..end], fin)
                        .unwrap();
                }
                self.written = end;
            }
            p.turn(self.batch);
            while p.client.poll_event().is_some() {}
            let (got, done) = (&mut self.got, &mut self.done);
            p.server_events(|_, e| {
                if let Event::StreamDataReceived {
                    data, end_stream, ..
                } = e
                {
                    *got += data.len();
                    *done |= end_stream;
                }
            });
        }
        self.got
    }
}

impl Pair {
    /// `n` request/response streams of `size` bytes each way (at most the
    /// server's stream limit open at once); returns the streams completed.
    pub fn streams(&mut self, n: u64, size: usize, batch: usize) -> u64 {
        let body = vec![7u8; size];
        let (mut next, mut finished) = (0u64, 0u64);
        while finished < n {
            while next < n && self.client.stream_send(next * 4, &body, true).is_ok() {
                next += 1;
            }
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                if let Event::StreamDataReceived {
                    end_stream: true, ..
                } = e
                {
                    finished += 1;
                }
            }
            self.server_events(|srv, e| {
                if let Event::StreamDataReceived {
                    stream_id,
                    end_stream: true,
                    ..
                } = e
                {
                    srv.stream_send(stream_id, &body, true).unwrap();
                }
            });
        }
        finished
    }
}
