//! Many connections through one endpoint on each side: libquic's
//! `Endpoint` against quinn-proto's `Endpoint`, in both roles, over the
//! in-memory link (one-way delay, seeded loss). Every client asks on a
//! bidirectional stream with one byte, its index; the server answers
//! `pattern(REPLY, index)` and both ends check it; then every client
//! closes and both endpoints must let go of every connection.

use std::collections::HashMap;

use super::*;
use quic::endpoint::{
    ConnectionHandle as LibHandle, Endpoint as LibEndpoint, EndpointEvent, EndpointParams,
    RetryPolicy,
};

/// The answer's length.
const REPLY: usize = 30_000;
/// One-way delay of the link.
const DELAY: u64 = 10 * MS;

/// What a fleet run saw.
#[derive(Debug, Default)]
pub struct FleetOutcome {
    /// Clients whose answer arrived intact.
    pub answered: usize,
    /// Connections each side still holds after every client closed.
    pub libquic_left: usize,
    pub quinn_left: usize,
    /// Connections the libquic server endpoint accepted.
    pub libquic_accepted: u64,
    /// Short-header datagrams quinn-proto sent libquic, and of them those
    /// whose destination CID carries [`SERVER_ID`] (QUIC-LB runs).
    pub short_to_libquic: usize,
    pub short_with_server_id: usize,
}

/// A libquic server's QUIC-LB server ID, under config rotation 2, with a
/// 6-byte nonce: 9-byte connection IDs.
const SERVER_ID: [u8; 2] = [0x51, 0xd0];

/// A stream's application state on either stack.
#[derive(Debug, Default)]
struct Exchange {
    outgoing: Vec<u8>,
    written: usize,
    received: Vec<u8>,
    done: bool,
}

/// quinn-proto's endpoint and every connection it holds.
struct QuinnFleet {
    endpoint: Endpoint,
    conns: HashMap<ConnectionHandle, QConn>,
    streams: HashMap<ConnectionHandle, (StreamId, Exchange)>,
    index: HashMap<ConnectionHandle, u8>,
    base: Instant,
    buf: Vec<u8>,
    client: bool,
}

impl QuinnFleet {
    fn at(&self, now: u64) -> Instant {
        self.base + Duration::from_nanos(now)
    }

    fn recv(&mut self, data: &[u8], from: SocketAddr, now: u64, out: &mut Vec<Datagram>) {
        let at = self.at(now);
        self.buf.clear();
        let ev = self.endpoint.handle(
            at,
            from,
            Some(quinn_addr().ip()),
            None,
            BytesMut::from(data),
            &mut self.buf,
        );
        match ev {
            Some(DatagramEvent::ConnectionEvent(h, e)) => {
                if let Some(c) = self.conns.get_mut(&h) {
                    c.handle_event(e);
                }
                self.endpoint_events(h);
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                let (h, c) = self
                    .endpoint
                    .accept(incoming, at, &mut self.buf, None)
                    .unwrap_or_else(|e| panic!("quinn-proto refused a client: {:?}", e.cause));
                self.conns.insert(h, c);
                self.endpoint_events(h);
            }
            Some(DatagramEvent::Response(t)) => {
                out.push((t.destination, quinn_addr(), self.buf[..t.size].to_vec(), 0))
            }
            None => {}
        }
    }

    fn endpoint_events(&mut self, h: ConnectionHandle) {
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        while let Some(ev) = c.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(h, ev) {
                c.handle_event(back);
            }
        }
    }

    fn send(&mut self, now: u64, out: &mut Vec<Datagram>) {
        let at = self.at(now);
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            loop {
                self.buf.clear();
                let Some(t) = c.poll_transmit(at, 1, &mut self.buf) else {
                    break;
                };
                out.push((t.destination, quinn_addr(), self.buf[..t.size].to_vec(), 0));
            }
            self.endpoint_events(h);
        }
    }

    fn timer(&mut self) -> Option<u64> {
        let base = self.base;
        self.conns
            .values_mut()
            .filter_map(|c| c.poll_timeout())
            .map(|t| t.saturating_duration_since(base).as_nanos() as u64)
            .min()
    }

    fn handle_timers(&mut self, now: u64) {
        let at = self.at(now);
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            if c.poll_timeout().is_some_and(|t| t <= at) {
                c.handle_timeout(at);
            }
            self.endpoint_events(h);
        }
    }

    /// Events and stream work of every connection; drained ones go.
    fn step(&mut self) {
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for h in handles {
            let c = self.conns.get_mut(&h).unwrap();
            while let Some(e) = c.poll() {
                match e {
                    QEvent::Connected if self.client => {
                        let id = c.streams().open(Dir::Bi).expect("a stream");
                        let x = Exchange {
                            outgoing: vec![self.index[&h]],
                            ..Default::default()
                        };
                        self.streams.insert(h, (id, x));
                    }
                    QEvent::Stream(StreamEvent::Opened { dir: Dir::Bi }) if !self.client => {
                        if let Some(id) = c.streams().accept(Dir::Bi) {
                            self.streams.insert(h, (id, Exchange::default()));
                        }
                    }
                    _ => {}
                }
            }
            if let Some((id, x)) = self.streams.get_mut(&h) {
                exchange(c, *id, x, self.client);
            }
            if c.is_drained() {
                self.conns.remove(&h);
            }
        }
    }
}

/// Reads what arrived on quinn-proto's stream `id` and writes what is due:
/// a client its request, a server the answer once the request ended.
fn exchange(c: &mut QConn, id: StreamId, x: &mut Exchange, client: bool) {
    if let Ok(mut chunks) = c.recv_stream(id).read(true) {
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(chunk)) => x.received.extend_from_slice(&chunk.bytes),
                Ok(None) => {
                    x.done = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = chunks.finalize();
    }
    if !client && x.done && x.outgoing.is_empty() && x.written == 0 {
        x.outgoing = pattern(REPLY, x.received[0]);
    }
    let mut s = c.send_stream(id);
    while x.written < x.outgoing.len() {
        match s.write(&x.outgoing[x.written..]) {
            Ok(n) if n > 0 => x.written += n,
            _ => break,
        }
    }
    if !x.outgoing.is_empty() && x.written == x.outgoing.len() {
        let _ = s.finish();
        x.outgoing = Vec::new();
        x.written = usize::MAX; // finished once
    }
}

/// libquic's endpoint and the application on its connections.
struct LibFleet {
    endpoint: LibEndpoint,
    streams: HashMap<LibHandle, Exchange>,
    index: HashMap<LibHandle, u8>,
    done: usize,
    buf: Vec<u8>,
    client: bool,
}

impl LibFleet {
    fn step(&mut self) {
        while let Some(e) = self.endpoint.poll_event() {
            match e {
                EndpointEvent::ConnectionDone(_) => self.done += 1,
                EndpointEvent::Connection(h, LibEvent::HandshakeCompleted { .. })
                    if self.client =>
                {
                    let i = self.index[&h];
                    let c = self.endpoint.connection_mut(h).unwrap();
                    c.stream_send(0, &[i], true).unwrap();
                }
                EndpointEvent::Connection(
                    h,
                    LibEvent::StreamDataReceived {
                        stream_id,
                        data,
                        end_stream,
                    },
                ) => {
                    let x = self.streams.entry(h).or_default();
                    x.received.extend_from_slice(&data);
                    x.done |= end_stream;
                    if end_stream && !self.client {
                        let answer = pattern(REPLY, x.received[0]);
                        let c = self.endpoint.connection_mut(h).unwrap();
                        c.stream_send(stream_id, &answer, true).unwrap();
                    }
                }
                _ => {}
            }
        }
    }
}

/// `clients` connections between a libquic endpoint and a quinn-proto
/// endpoint (libquic's the clients with `libquic_client`), over a link
/// that loses `loss` of the datagrams.
pub fn run_fleet(libquic_client: bool, clients: usize, loss: f64) -> FleetOutcome {
    run_fleet_with(libquic_client, clients, loss, false)
}

/// [`run_fleet`]; with `quic_lb`, a libquic server issues QUIC-LB IDs.
pub fn run_fleet_with(
    libquic_client: bool,
    clients: usize,
    loss: f64,
    quic_lb: bool,
) -> FleetOutcome {
    let opts = Opts {
        libquic_client,
        ..Opts::default()
    };
    let (mut lib_config, lib_tls) = lib_config(&opts);
    if quic_lb {
        let mut c = (*lib_config).clone();
        let lb = quic::quic_lb::QuicLbConfig::new(2, &SERVER_ID, 6).unwrap();
        c.set_quic_lb(Some(lb));
        lib_config = Arc::new(c);
    }
    let (quinn_client, quinn_server) = quinn_configs(&opts);
    let base = Instant::now();
    let mut quinn = QuinnFleet {
        endpoint: Endpoint::new(
            Arc::new(EndpointConfig::default()),
            libquic_client.then_some(quinn_server),
            false,
            None,
        ),
        conns: HashMap::new(),
        streams: HashMap::new(),
        index: HashMap::new(),
        base,
        buf: Vec::with_capacity(2048),
        client: !libquic_client,
    };
    let server = (!libquic_client).then(|| (lib_config.clone(), lib_tls.clone()));
    let params = EndpointParams {
        retry: RetryPolicy::Never,
        ..Default::default()
    };
    let mut lib = LibFleet {
        endpoint: LibEndpoint::new(server, params).unwrap(),
        streams: HashMap::new(),
        index: HashMap::new(),
        done: 0,
        buf: Vec::with_capacity(2048),
        client: libquic_client,
    };
    for i in 0..clients {
        if libquic_client {
            let h = lib
                .endpoint
                .connect(lib_config.clone(), lib_tls.clone(), quinn_addr(), 0)
                .unwrap();
            lib.index.insert(h, i as u8);
        } else {
            let (h, c) = quinn
                .endpoint
                .connect(base, quinn_client.clone(), lib_addr(), "localhost")
                .unwrap();
            quinn.conns.insert(h, c);
            quinn.index.insert(h, i as u8);
        }
    }
    let mut link = Link {
        short_to_libquic: 0,
        short_with_server_id: 0,
        queue: BinaryHeap::new(),
        seq: 0,
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        loss,
    };
    let mut now = 0;
    let answered = |lib: &LibFleet, quinn: &QuinnFleet| {
        if libquic_client {
            lib.streams
                .iter()
                .filter(|(h, x)| x.done && x.received == pattern(REPLY, lib.index[h]))
                .count()
        } else {
            quinn
                .streams
                .iter()
                .filter(|(h, (_, x))| x.done && x.received == pattern(REPLY, quinn.index[h]))
                .count()
        }
    };
    let limit = 30_000 * MS;
    while answered(&lib, &quinn) < clients && now < limit {
        now = link.turn(&mut lib, &mut quinn, now);
    }
    let mut outcome = FleetOutcome {
        answered: answered(&lib, &quinn),
        libquic_accepted: lib.endpoint.stats().accepted,
        short_to_libquic: link.short_to_libquic,
        short_with_server_id: link.short_with_server_id,
        ..Default::default()
    };
    // Every client closes; both sides drain and let go.
    if libquic_client {
        for h in lib.index.keys() {
            if let Some(c) = lib.endpoint.connection_mut(*h) {
                c.close(true, 0, None, b"bye", now).unwrap();
            }
        }
    } else {
        let at = quinn.at(now);
        for c in quinn.conns.values_mut() {
            c.close(at, VarInt::from_u32(0), bytes::Bytes::from_static(b"bye"));
        }
    }
    // A CONNECTION_CLOSE lost on the way leaves the peer to its idle
    // timeout (30 s, quinn-proto's, the smaller of the two): wait past it.
    let end = now + 2 * limit;
    while (lib.endpoint.stats().connections > 0 || !quinn.conns.is_empty()) && now < end {
        now = link.turn(&mut lib, &mut quinn, now);
    }
    outcome.libquic_left = lib.endpoint.stats().connections as usize;
    outcome.quinn_left = quinn.conns.len();
    outcome
}

/// (arrival, sequence, to libquic, sender's address, bytes).
type Carried = Reverse<(u64, u64, bool, SocketAddr, Vec<u8>)>;

/// The link between the two endpoints.
struct Link {
    short_to_libquic: usize,
    short_with_server_id: usize,
    queue: BinaryHeap<Carried>,
    seq: u64,
    rng: Rng,
    loss: f64,
}

impl Link {
    fn carry(&mut self, now: u64, to_libquic: bool, from: SocketAddr, d: Vec<u8>) {
        if to_libquic && d[0] & 0x80 == 0 {
            self.short_to_libquic += 1;
            let dcid = &d[1..d.len().min(10)];
            if quic::quic_lb::decode_server_id(dcid, 2) == Some((2, &SERVER_ID[..])) {
                self.short_with_server_id += 1;
            }
        }
        if self.rng.chance(self.loss) {
            return;
        }
        self.seq += 1;
        self.queue
            .push(Reverse((now + DELAY, self.seq, to_libquic, from, d)));
    }

    /// Both sides act and send; then one datagram arrives or time moves
    /// to the next event. Returns the time.
    fn turn(&mut self, lib: &mut LibFleet, quinn: &mut QuinnFleet, now: u64) -> u64 {
        lib.step();
        quinn.step();
        while let Some(t) = lib.endpoint.send(&mut lib.buf, now) {
            let d = lib.buf.clone();
            self.carry(now, false, lib_addr(), d);
            assert_eq!(t.remote, quinn_addr());
        }
        let mut out = Vec::new();
        quinn.send(now, &mut out);
        for (to, from, d, _) in out.drain(..) {
            assert_eq!(to, lib_addr());
            self.carry(now, true, from, d);
        }
        if let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t <= now {
                let Reverse((_, _, to_libquic, from, d)) = self.queue.pop().unwrap();
                if to_libquic {
                    lib.endpoint.recv(&d, Some(lib_addr()), from, now);
                } else {
                    quinn.recv(&d, lib_addr(), now, &mut out);
                    for (to, from, d, _) in out.drain(..) {
                        assert_eq!(to, lib_addr());
                        self.carry(now, true, from, d);
                    }
                }
                return now;
            }
        }
        let next = [
            lib.endpoint.timeout(),
            quinn.timer(),
            self.queue.peek().map(|Reverse((t, ..))| *t),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return u64::MAX };
        let now = now.max(next);
        if lib.endpoint.timeout().is_some_and(|t| t <= now) {
            lib.endpoint.handle_timer(now);
        }
        quinn.handle_timers(now);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_libquic_client_endpoint_with_many_connections_to_quinn() {
        let o = run_fleet(true, 30, 0.0);
        assert_eq!(o.answered, 30, "{o:?}");
        assert_eq!((o.libquic_left, o.quinn_left), (0, 0), "{o:?}");
    }

    #[test]
    fn quinn_clients_through_a_libquic_server_endpoint() {
        let o = run_fleet(false, 30, 0.0);
        assert_eq!(o.answered, 30, "{o:?}");
        assert_eq!(o.libquic_accepted, 30);
        assert_eq!((o.libquic_left, o.quinn_left), (0, 0), "{o:?}");
    }

    /// quinn-proto clients of a libquic server with QUIC-LB IDs: every
    /// short-header packet they send carries the server ID (a load
    /// balancer could route each one), and every answer arrives.
    #[test]
    fn quinn_clients_address_a_quic_lb_server_by_its_server_id() {
        let o = run_fleet_with(false, 10, 0.02, true);
        assert_eq!(o.answered, 10, "{o:?}");
        assert!(o.short_to_libquic > 20, "{o:?}");
        assert_eq!(o.short_with_server_id, o.short_to_libquic, "{o:?}");
        let plain = run_fleet_with(false, 10, 0.02, false);
        assert!(
            plain.short_with_server_id < plain.short_to_libquic / 10,
            "random IDs carry it only by chance: {plain:?}"
        );
    }

    #[test]
    fn both_roles_with_loss() {
        for libquic_client in [true, false] {
            let o = run_fleet(libquic_client, 20, 0.05);
            assert_eq!(o.answered, 20, "libquic client {libquic_client}: {o:?}");
            assert_eq!((o.libquic_left, o.quinn_left), (0, 0), "{o:?}");
        }
    }
}
