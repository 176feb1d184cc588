//! Many connections through an endpoint on each side, libquic and
//! quinn-proto alike: one client endpoint holds `n` client connections,
//! one server endpoint accepts them. Every datagram crosses the lossless
//! in-memory link in the turn it is sent; when nothing moves, the virtual
//! clock jumps to the next timer.
//!
//! What each driver does, the same on both stacks:
//! - the `n` clients start at once (full handshakes: no tickets, no
//!   Retry, no Initial rate limit on either server);
//! - each client sends a 1 KB request with FIN on a bidirectional stream,
//!   the server answers 1 KB with FIN, and the client closes once the
//!   answer is complete;
//! - the round ends when both endpoints have let go of every connection
//!   (the closing and draining periods run on the virtual clock).
//!
//! [`LibFleet::held`] and [`QuinnFleet::held`] stop after the handshakes,
//! with the connections idle, for the memory rows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quic::config::Config;
use quic::conn::Event;
use quic::endpoint::{ConnectionHandle, Endpoint, EndpointEvent, EndpointParams, RetryPolicy};
use quic::tls::TlsContext;
use quinn_proto::{
    Connection as QConn, ConnectionHandle as QHandle, DatagramEvent, Dir, Endpoint as QEndpoint,
    EndpointConfig, Event as QEvent, StreamEvent, StreamId, VarInt,
};

use crate::util::addrs;

/// The request's and the answer's length.
pub const MESSAGE: usize = 1024;

/// libquic's client and server configurations and TLS contexts, shared by
/// every connection as an application's are.
pub struct LibConfigs {
    pub c: Arc<Config>,
    pub s: Arc<Config>,
    pub ctls: Arc<TlsContext>,
    pub stls: Arc<TlsContext>,
}

impl LibConfigs {
    /// The pinned configurations with `streams` as each kind's limit.
    pub fn with_streams(certs: &str, streams: u64) -> Self {
        let (c, s) = crate::libquic_drv::configs_with_streams(certs, streams);
        let (c, s) = (Arc::new(c), Arc::new(s));
        Self {
            ctls: TlsContext::new(&c).unwrap(),
            stls: TlsContext::new(&s).unwrap(),
            c,
            s,
        }
    }
}

/// libquic's two endpoints and what their applications track.
pub struct LibFleet {
    client: Endpoint,
    server: Endpoint,
    now: u64,
    buf: Vec<u8>,
    /// Answer bytes each client received so far.
    received: HashMap<ConnectionHandle, usize>,
    answered: usize,
    freed: usize,
}

impl LibFleet {
    /// Two endpoints and `n` clients connecting.
    fn start(cfg: &LibConfigs, n: usize) -> Self {
        let params = EndpointParams {
            retry: RetryPolicy::Never,
            initials_per_address_per_second: 0,
            max_half_open: u32::MAX,
            ..Default::default()
        };
        let mut fleet = Self {
            client: Endpoint::new(None, params.clone()).unwrap(),
            server: Endpoint::new(Some((cfg.s.clone(), cfg.stls.clone())), params).unwrap(),
            now: 0,
            buf: Vec::with_capacity(2048),
            received: HashMap::new(),
            answered: 0,
            freed: 0,
        };
        for _ in 0..n {
            let h = fleet
                .client
                .connect(cfg.c.clone(), cfg.ctls.clone(), addrs().1, 0)
                .unwrap();
            fleet.received.insert(h, 0);
        }
        fleet
    }

    /// `n` connections from start to freed; returns how many were answered.
    pub fn round(cfg: &LibConfigs, n: usize) -> usize {
        let mut f = Self::start(cfg, n);
        while f.freed < 2 * n {
            f.turn(true);
        }
        f.answered
    }

    /// One full handshake through a client endpoint and a server endpoint
    /// made for it, until both sides completed: what quinn-proto's
    /// handshake row does (`quinn_drv::Pair` routes through an endpoint on
    /// each side).
    pub fn handshake(cfg: &LibConfigs) {
        let mut f = Self::start(cfg, 1);
        while f.server.stats().connections == 0
            || f.client.stats().half_open + f.server.stats().half_open > 0
        {
            f.turn(false);
        }
    }

    /// `n` connections established and idle (their endpoints held).
    pub fn held(cfg: &LibConfigs, n: usize) -> Self {
        let mut f = Self::start(cfg, n);
        while f.client.stats().half_open + f.server.stats().half_open > 0 {
            f.turn(false);
        }
        // Settled: acks and HANDSHAKE_DONE exchanged, without time moving.
        while f.turn(false) {}
        assert_eq!(f.server.stats().connections, n as u64);
        f
    }

    /// Runs the clock until every idle connection reached its idle
    /// timeout and both endpoints let it go (the timers' work at scale).
    pub fn expire(mut self) {
        let n = self.server.stats().connections as usize;
        self.freed = 0;
        while self.freed < 2 * n {
            self.turn(true);
        }
    }

    /// Events, then every datagram each way; with `timers`, the clock
    /// moves to the next one when nothing moved. Whether anything moved.
    fn turn(&mut self, timers: bool) -> bool {
        self.client_events(timers);
        self.server_events(timers);
        let (ca, sa) = addrs();
        let mut moved = false;
        while self.client.send(&mut self.buf, self.now).is_some() {
            self.server.recv(&self.buf, Some(sa), ca, self.now);
            moved = true;
        }
        while self.server.send(&mut self.buf, self.now).is_some() {
            self.client.recv(&self.buf, Some(ca), sa, self.now);
            moved = true;
        }
        if !moved && timers {
            let next = [self.client.timeout(), self.server.timeout()]
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = next {
                self.now = self.now.max(t);
                self.client.handle_timer(self.now);
                self.server.handle_timer(self.now);
            }
        }
        moved
    }

    fn client_events(&mut self, requests: bool) {
        while let Some(e) = self.client.poll_event() {
            match e {
                EndpointEvent::Connection(h, Event::HandshakeCompleted { .. }) if requests => {
                    let c = self.client.connection_mut(h).unwrap();
                    c.stream_send(0, &[b'q'; MESSAGE], true).unwrap();
                }
                EndpointEvent::Connection(
                    h,
                    Event::StreamDataReceived {
                        data, end_stream, ..
                    },
                ) => {
                    let got = self.received.get_mut(&h).unwrap();
                    *got += data.len();
                    if end_stream {
                        assert_eq!(*got, MESSAGE, "libquic: the whole answer");
                        self.answered += 1;
                        let now = self.now;
                        let c = self.client.connection_mut(h).unwrap();
                        c.close(true, 0, None, b"", now).unwrap();
                    }
                }
                EndpointEvent::ConnectionDone(_) => self.freed += 1,
                _ => {}
            }
        }
    }

    fn server_events(&mut self, answers: bool) {
        while let Some(e) = self.server.poll_event() {
            match e {
                EndpointEvent::Connection(
                    h,
                    Event::StreamDataReceived {
                        stream_id,
                        end_stream: true,
                        ..
                    },
                ) if answers => {
                    let c = self.server.connection_mut(h).unwrap();
                    c.stream_send(stream_id, &[b'a'; MESSAGE], true).unwrap();
                }
                EndpointEvent::ConnectionDone(_) => self.freed += 1,
                _ => {}
            }
        }
    }
}

/// A quinn-proto endpoint, its connections and their one stream each.
struct QuinnEnd {
    endpoint: QEndpoint,
    conns: HashMap<QHandle, QConn>,
    /// The stream and the bytes read on it so far.
    streams: HashMap<QHandle, (StreamId, usize)>,
    client: bool,
    addr: SocketAddr,
}

impl QuinnEnd {
    fn new(server: Option<Arc<quinn_proto::ServerConfig>>, addr: SocketAddr) -> Self {
        Self {
            client: server.is_none(),
            endpoint: QEndpoint::new(Arc::new(EndpointConfig::default()), server, false, None),
            conns: HashMap::new(),
            streams: HashMap::new(),
            addr,
        }
    }

    fn recv(&mut self, now: Instant, from: SocketAddr, data: &[u8], buf: &mut Vec<u8>) {
        buf.clear();
        let h = match self
            .endpoint
            .handle(now, from, None, None, BytesMut::from(data), buf)
        {
            Some(DatagramEvent::ConnectionEvent(h, ev)) => {
                if let Some(c) = self.conns.get_mut(&h) {
                    c.handle_event(ev);
                }
                h
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                let (h, c) = self.endpoint.accept(incoming, now, buf, None).unwrap();
                self.conns.insert(h, c);
                h
            }
            Some(DatagramEvent::Response(_)) | None => return,
        };
        self.endpoint_events(h);
    }

    fn endpoint_events(&mut self, h: QHandle) {
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        while let Some(ev) = c.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(h, ev) {
                c.handle_event(back);
            }
        }
    }

    /// Every datagram of every connection, into `out`.
    fn send(&mut self, now: Instant, out: &mut Vec<Vec<u8>>, buf: &mut Vec<u8>) {
        let handles: Vec<QHandle> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            loop {
                buf.clear();
                let Some(t) = c.poll_transmit(now, 1, buf) else {
                    break;
                };
                out.push(buf[..t.size].to_vec());
            }
            self.endpoint_events(h);
        }
    }

    fn timeout(&mut self) -> Option<Instant> {
        self.conns
            .values_mut()
            .filter_map(|c| c.poll_timeout())
            .min()
    }

    fn handle_timers(&mut self, now: Instant) {
        let handles: Vec<QHandle> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
            self.endpoint_events(h);
        }
    }

    /// Events and stream work; drained connections go. Returns how many
    /// answers completed at a client.
    fn step(&mut self, now: Instant, work: bool) -> usize {
        let mut answered = 0;
        let handles: Vec<QHandle> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            while let Some(e) = c.poll() {
                match e {
                    QEvent::Connected if self.client && work => {
                        let id = c.streams().open(Dir::Bi).unwrap();
                        let mut s = c.send_stream(id);
                        assert_eq!(s.write(&[b'q'; MESSAGE]).unwrap(), MESSAGE);
                        s.finish().unwrap();
                        self.streams.insert(h, (id, 0));
                    }
                    QEvent::Stream(StreamEvent::Opened { dir: Dir::Bi }) if !self.client => {
                        let id = c.streams().accept(Dir::Bi).unwrap();
                        self.streams.insert(h, (id, 0));
                    }
                    _ => {}
                }
            }
            if let Some((id, got)) = self.streams.get_mut(&h) {
                let mut fin = false;
                if let Ok(mut chunks) = c.recv_stream(*id).read(true) {
                    loop {
                        match chunks.next(usize::MAX) {
                            Ok(Some(chunk)) => *got += chunk.bytes.len(),
                            Ok(None) => {
                                fin = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let _ = chunks.finalize();
                }
                if fin {
                    assert_eq!(*got, MESSAGE, "quinn-proto: the whole message");
                    if self.client {
                        answered += 1;
                        c.close(now, VarInt::from_u32(0), bytes::Bytes::new());
                    } else {
                        let mut s = c.send_stream(*id);
                        assert_eq!(s.write(&[b'a'; MESSAGE]).unwrap(), MESSAGE);
                        s.finish().unwrap();
                    }
                    self.streams.remove(&h);
                }
            }
            if c.is_drained() {
                self.conns.remove(&h);
            }
        }
        answered
    }
}

/// quinn-proto's two endpoints.
pub struct QuinnFleet {
    client: QuinnEnd,
    server: QuinnEnd,
    base: Instant,
    now: Duration,
    buf: Vec<u8>,
    out: Vec<Vec<u8>>,
    answered: usize,
}

impl QuinnFleet {
    fn start(cfg: &crate::quinn_drv::Configs, n: usize) -> Self {
        let (ca, sa) = addrs();
        let base = Instant::now();
        let mut f = Self {
            client: QuinnEnd::new(None, ca),
            server: QuinnEnd::new(Some(cfg.server.clone()), sa),
            base,
            now: Duration::ZERO,
            buf: Vec::with_capacity(2048),
            out: Vec::new(),
            answered: 0,
        };
        for _ in 0..n {
            let (h, c) = f
                .client
                .endpoint
                .connect(base, cfg.client.clone(), sa, "localhost")
                .unwrap();
            f.client.conns.insert(h, c);
        }
        f
    }

    /// `n` connections from start to freed; returns how many were answered.
    pub fn round(cfg: &crate::quinn_drv::Configs, n: usize) -> usize {
        let mut f = Self::start(cfg, n);
        while !(f.client.conns.is_empty() && f.server.conns.is_empty()) {
            f.turn(true);
        }
        f.answered
    }

    /// `n` connections established and idle (their endpoints held).
    pub fn held(cfg: &crate::quinn_drv::Configs, n: usize) -> Self {
        let mut f = Self::start(cfg, n);
        while f.client.conns.values().any(|c| c.is_handshaking())
            || f.server.conns.len() < n
            || f.server.conns.values().any(|c| c.is_handshaking())
        {
            f.turn(false);
        }
        while f.turn(false) {}
        f
    }

    /// Runs the clock until every idle connection reached its idle
    /// timeout and both endpoints let it go (the timers' work at scale).
    pub fn expire(mut self) {
        while !(self.client.conns.is_empty() && self.server.conns.is_empty()) {
            self.turn(true);
        }
    }

    fn turn(&mut self, timers: bool) -> bool {
        let now = self.base + self.now;
        self.answered += self.client.step(now, timers);
        self.server.step(now, timers);
        let mut moved = false;
        self.client.send(now, &mut self.out, &mut self.buf);
        for d in self.out.drain(..) {
            self.server.recv(now, self.client.addr, &d, &mut self.buf);
            moved = true;
        }
        self.server.send(now, &mut self.out, &mut self.buf);
        for d in self.out.drain(..) {
            self.client.recv(now, self.server.addr, &d, &mut self.buf);
            moved = true;
        }
        if !moved && timers {
            let next = [self.client.timeout(), self.server.timeout()]
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = next {
                self.now = self.now.max(t.saturating_duration_since(self.base));
                let now = self.base + self.now;
                self.client.handle_timers(now);
                self.server.handle_timers(now);
            }
        }
        moved
    }
}
