//! A client and a server connection joined by a simulated link: a virtual
//! clock, a one-way delay, and a drop policy per datagram. Everything is
//! deterministic for a given policy.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::pki;
use crate::config::Config;
use crate::conn::{Connection, Event};
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

type InFlight = (u64, u64, Dir, Vec<u8>);

/// Two connections and the link between them.
pub(crate) struct Pair {
    pub(crate) client: Connection,
    pub(crate) server: Option<Connection>,
    server_config: Arc<Config>,
    server_tls: Arc<TlsContext>,
    pub(crate) now: u64,
    pub(crate) delay: u64,
    pub(crate) drop: DropFn,
    /// (delivery time, sequence, direction, datagram), earliest first.
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
    buf: Vec<u8>,
}

impl Pair {
    /// A connected pair from configurations (the client has connected; no
    /// datagram moved yet).
    pub(crate) fn new(client: Config, server: Config) -> Self {
        let ctls = TlsContext::new(&client).expect("client TLS context");
        let stls = TlsContext::new(&server).expect("server TLS context");
        let mut c = Connection::new_client(Arc::new(client), ctls).unwrap();
        c.connect(server_addr(), 0).unwrap();
        Self {
            client: c,
            server: None,
            server_config: Arc::new(server),
            server_tls: stls,
            now: 0,
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
            buf: Vec::with_capacity(65_536),
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
        let i = dir as usize;
        let n = self.counts[i];
        self.counts[i] += 1;
        self.bytes_sent[i] += datagram.len() as u64;
        if (self.drop)(dir, n, &datagram) {
            return;
        }
        self.seq += 1;
        self.queue
            .push(Reverse((self.now + self.delay, self.seq, dir, datagram)));
    }

    /// Sends everything both sides have to send now.
    fn flush(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(to) = self.client.send(&mut buf, self.now) {
            assert_eq!(to, server_addr());
            self.enqueue(Dir::ToServer, buf.clone());
        }
        if let Some(mut server) = self.server.take() {
            while let Some(to) = server.send(&mut buf, self.now) {
                assert_eq!(to, client_addr());
                self.enqueue(Dir::ToClient, buf.clone());
                if let Some(f) = &mut self.on_server_send {
                    f(self.bytes_sent[1], self.bytes_delivered[0]);
                }
            }
            self.server = Some(server);
        }
        self.buf = buf;
        self.collect_events();
    }

    fn collect_events(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        if let Some(s) = &mut self.server {
            while let Some(e) = s.poll_event() {
                self.server_events.push(e);
            }
        }
    }

    fn deliver(&mut self, dir: Dir, datagram: Vec<u8>) {
        self.bytes_delivered[dir as usize] += datagram.len() as u64;
        match dir {
            Dir::ToClient => self.client.recv(&datagram, server_addr(), self.now),
            Dir::ToServer => {
                if self.server.is_none() {
                    let Ok(h) = header::parse(&datagram, 8) else {
                        return;
                    };
                    let odcid = h.dcid.to_vec();
                    self.server = Some(
                        Connection::new_server(
                            self.server_config.clone(),
                            self.server_tls.clone(),
                            &odcid,
                            None,
                        )
                        .unwrap(),
                    );
                }
                let s = self.server.as_mut().unwrap();
                s.recv(&datagram, client_addr(), self.now);
            }
        }
    }

    /// One step: send, then deliver what is due or advance the clock to the
    /// next delivery or timer. Returns false when nothing can happen.
    pub(crate) fn step(&mut self) -> bool {
        self.flush();
        if let Some(Reverse((t, _, _, _))) = self.queue.peek() {
            if *t <= self.now {
                let Reverse((_, _, dir, d)) = self.queue.pop().unwrap();
                self.deliver(dir, d);
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
        for _ in 0..200_000 {
            self.collect_events();
            if done(self) {
                return true;
            }
            if self.now > max_time || !self.step() {
                break;
            }
        }
        self.collect_events();
        done(self)
    }

    /// Runs the handshake to completion on both sides (within 60 s of
    /// virtual time); panics if it does not complete.
    pub(crate) fn handshake(&mut self) {
        let ok = self.run_until(60_000 * MS, |p| {
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
