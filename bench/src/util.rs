//! Measurement helpers: process CPU time and summaries.

use std::time::Duration;

/// Process CPU time (user + system), the figure reported everywhere: these
/// machines are shared, so wall time would measure the neighbours.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU seconds taken by `f`.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = cpu_time();
    let out = f();
    (out, (cpu_time() - start).as_secs_f64())
}

/// Median, min and max of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(samples: &[f64]) -> Summary {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    Summary {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

/// The client's and the server's addresses on the in-memory link (built,
/// not parsed, as drivers ask for them every turn).
pub fn addrs() -> (std::net::SocketAddr, std::net::SocketAddr) {
    (([10, 0, 0, 1], 1).into(), ([10, 0, 0, 2], 2).into())
}

/// Where the benchmark certificates are (tests/make-certs.sh output).
pub fn cert_dir() -> String {
    std::env::var("CERT_DIR").unwrap_or_else(|_| "build/certs".into())
}

/// The lossless in-memory link every driver uses (aioquic_bench.py does the
/// same): each turn, each sender queues every datagram it has, and the
/// link delivers at most BATCH of them per direction. Buffers are reused,
/// so the link itself allocates nothing in steady state.
#[derive(Debug, Default)]
pub struct Link {
    /// Datagrams in flight: [client to server, server to client].
    queues: [std::collections::VecDeque<Vec<u8>>; 2],
    spare: Vec<Vec<u8>>,
}

impl Link {
    /// An empty buffer to send into.
    pub fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(2048));
        b.clear();
        b
    }

    /// Queues a datagram in direction `dir` (0: to the server, 1: to the
    /// client).
    pub fn push(&mut self, dir: usize, datagram: Vec<u8>) {
        self.queues[dir].push_back(datagram);
    }

    /// The next datagram in direction `dir`.
    pub fn pop(&mut self, dir: usize) -> Option<Vec<u8>> {
        self.queues[dir].pop_front()
    }

    /// Gives a delivered datagram's buffer back.
    pub fn recycle(&mut self, datagram: Vec<u8>) {
        self.spare.push(datagram);
    }
}

/// The second link model: when non-zero, every turn of the in-memory link
/// also moves the virtual clock this many ns (1 ms in the `bulk/32-1ms`
/// rows), so a stack's pacing meets a link that is not the one it was
/// tuned on. 0: time moves only when nothing moved (the usual model).
static TICK_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the per-turn tick (0: off).
pub fn set_tick(ns: u64) {
    TICK_NS.store(ns, std::sync::atomic::Ordering::Relaxed);
}

/// The per-turn tick in ns.
pub fn tick() -> u64 {
    TICK_NS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A permutation of `0..n` for repetition `rep`: the rows of a workload
/// take their turns in a different order each repetition, so that none
/// always runs first (a warm cache, a quiet moment) or last.
pub fn order(n: usize, rep: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (rep as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}
