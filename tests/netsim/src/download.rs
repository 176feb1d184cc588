//! A bulk download over a [`Path`], whichever stack runs it.
//!
//! What both stacks' drivers do: the client connects (a full handshake, no
//! tickets); once the server's handshake completes, it writes the whole
//! body on one stream it opens and finishes it; the client reads every
//! byte as soon as it is readable. Neither side routes through an endpoint
//! of its own beyond what quinn-proto needs to exist (its `Endpoint`
//! demultiplexes for one connection).

use crate::{Direction, Host, Path, PathStats};

/// A download's two ends, as the path drives them.
pub trait Download {
    /// The client and the server.
    fn hosts(&mut self) -> (&mut dyn Host, &mut dyn Host);
    /// Bytes the client received so far, and whether the stream ended.
    fn received(&self) -> (usize, bool);
}

/// The path of the loss comparisons: 10 ms RTT, a 100 Mbit/s bottleneck
/// with a 256 KB queue, `loss` each way.
pub fn lossy_path(loss: f64, seed: u64) -> Path {
    Path::new(
        Direction {
            rate: 12_500_000,
            delay: 5_000_000,
            queue: 256 * 1024,
            loss,
        },
        seed,
    )
}

/// What one download measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Virtual ns from the first datagram to the last byte read.
    pub elapsed: u64,
    /// What the path did.
    pub path: PathStats,
}

impl Outcome {
    /// Goodput of `size` bytes, Mbit/s of virtual time.
    pub fn mbit_per_s(&self, size: usize) -> f64 {
        size as f64 * 8.0 / (self.elapsed.max(1) as f64 / 1e9) / 1e6
    }
}

/// Runs `d` over `path` until `size` bytes arrived; None when 10 virtual
/// minutes pass first or the stream ends short.
pub fn run(d: &mut dyn Download, path: Path, size: usize) -> Option<Outcome> {
    run_watched(d, path, size, |_, _| {})
}

/// [`run`], calling `watch(d, now)` after every step (to trace a stack's
/// state over virtual time).
pub fn run_watched<D: Download + ?Sized>(
    d: &mut D,
    mut path: Path,
    size: usize,
    mut watch: impl FnMut(&D, u64),
) -> Option<Outcome> {
    while path.now < 600_000_000_000 {
        let (c, s) = d.hosts();
        if !path.step(c, s) {
            return None;
        }
        watch(d, path.now);
        let (got, end) = d.received();
        if end {
            return (got == size).then_some(Outcome {
                elapsed: path.now,
                path: path.stats,
            });
        }
    }
    None
}
