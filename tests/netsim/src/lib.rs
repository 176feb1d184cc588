//! A network path in virtual time, the same for every stack it drives.
//!
//! Each direction has a bottleneck of `rate` bytes per second with a FIFO
//! queue of `queue` bytes (tail drop), then `delay` of propagation. Before
//! the queue, each datagram is lost with probability `loss`, drawn from a
//! seeded generator, so two stacks meet the same conditions (not the same
//! datagrams: what they send differs).
//!
//! The driver asks each host for everything it will send at the current
//! time, then moves the clock to the next arrival or host timer. Hosts
//! must not send unboundedly at one instant (pacing and congestion control
//! are theirs).
//!
//! [`download`] runs a bulk download over a path; [`libquic_host`] and
//! [`quinn_host`] are the two stacks' ends of one.

pub mod download;
pub mod libquic_host;
pub mod quinn_host;

/// The client's and the server's addresses on the path.
pub fn addrs() -> (std::net::SocketAddr, std::net::SocketAddr) {
    (([10, 0, 0, 1], 1).into(), ([10, 0, 0, 2], 2).into())
}

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One end of the path, as a sans-I/O QUIC stack presents itself.
pub trait Host {
    /// Writes the next datagram to send at `now` into `buf`; false when
    /// there is none now.
    fn transmit(&mut self, now: u64, buf: &mut Vec<u8>) -> bool;
    /// A datagram arrives at `now`.
    fn receive(&mut self, now: u64, datagram: &[u8]);
    /// When the host wants `on_timeout` (absolute ns), if ever.
    fn timeout(&mut self) -> Option<u64>;
    /// The timer expired.
    fn on_timeout(&mut self, now: u64);
}

/// One direction of the path.
#[derive(Debug, Clone, Copy)]
pub struct Direction {
    /// Bottleneck rate, bytes per second.
    pub rate: u64,
    /// One-way propagation delay, ns.
    pub delay: u64,
    /// Bytes the bottleneck queue holds before it drops.
    pub queue: u64,
    /// Probability that a datagram is lost before the queue.
    pub loss: f64,
}

/// What the path did.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathStats {
    /// Datagrams offered, per direction (0: client to server).
    pub sent: [u64; 2],
    /// Lost at random, per direction.
    pub lost: [u64; 2],
    /// Dropped by a full queue, per direction.
    pub overflowed: [u64; 2],
}

/// A small seeded generator (xorshift64*), so runs repeat.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }
}

/// A datagram on its way: (arrival, sequence, direction, bytes).
type InTransit = (u64, u64, usize, Vec<u8>);

/// The path between a client (direction 0 sends from it) and a server.
pub struct Path {
    /// The clock, ns.
    pub now: u64,
    dirs: [Direction; 2],
    /// When each bottleneck finishes sending what it holds.
    busy_until: [u64; 2],
    rng: Rng,
    /// Datagrams on their way, earliest arrival first.
    arrivals: BinaryHeap<Reverse<InTransit>>,
    seq: u64,
    spare: Vec<Vec<u8>>,
    /// What the path did so far.
    pub stats: PathStats,
}

impl Path {
    /// A path with the same `direction` both ways, losses drawn from `seed`.
    pub fn new(direction: Direction, seed: u64) -> Self {
        Self {
            now: 0,
            dirs: [direction; 2],
            busy_until: [0; 2],
            rng: Rng::new(seed),
            arrivals: BinaryHeap::new(),
            seq: 0,
            spare: Vec::new(),
            stats: PathStats::default(),
        }
    }

    /// Offers a datagram to direction `dir` at the current time.
    fn offer(&mut self, dir: usize, datagram: Vec<u8>) {
        let d = self.dirs[dir];
        self.stats.sent[dir] += 1;
        if self.rng.chance(d.loss) {
            self.stats.lost[dir] += 1;
            self.spare.push(datagram);
            return;
        }
        let start = self.busy_until[dir].max(self.now);
        // What waits ahead of it, in bytes.
        let backlog = (start - self.now).saturating_mul(d.rate) / 1_000_000_000;
        if backlog + datagram.len() as u64 > d.queue {
            self.stats.overflowed[dir] += 1;
            self.spare.push(datagram);
            return;
        }
        let done = start + (datagram.len() as u64).saturating_mul(1_000_000_000) / d.rate.max(1);
        self.busy_until[dir] = done;
        self.seq += 1;
        self.arrivals
            .push(Reverse((done + d.delay, self.seq, dir, datagram)));
    }

    /// Offers everything `host` sends now to direction `dir`.
    fn send_all(&mut self, dir: usize, host: &mut dyn Host) {
        loop {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            if !host.transmit(self.now, &mut buf) {
                self.spare.push(buf);
                break;
            }
            self.offer(dir, buf);
        }
    }

    /// One step: both hosts send what they have now, then the clock moves
    /// to the next event (an arrival or a timer), which is handled. False
    /// when nothing is left to happen.
    pub fn step(&mut self, client: &mut dyn Host, server: &mut dyn Host) -> bool {
        self.send_all(0, client);
        self.send_all(1, server);
        let next_arrival = self.arrivals.peek().map(|Reverse((t, ..))| *t);
        let next = [next_arrival, client.timeout(), server.timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        // A timer in the past fires now; time never goes back.
        self.now = self.now.max(next);
        while let Some(Reverse((t, ..))) = self.arrivals.peek() {
            if *t > self.now {
                break;
            }
            let Some(Reverse((_, _, dir, d))) = self.arrivals.pop() else {
                break;
            };
            if dir == 0 {
                server.receive(self.now, &d);
            } else {
                client.receive(self.now, &d);
            }
            self.spare.push(d);
        }
        if client.timeout().is_some_and(|t| t <= self.now) {
            client.on_timeout(self.now);
        }
        if server.timeout().is_some_and(|t| t <= self.now) {
            server.on_timeout(self.now);
        }
        true
    }
}
