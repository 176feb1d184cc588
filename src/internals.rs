//! Pieces of the receive path exposed to the benchmark in `bench/` (cargo
//! feature `internals`), so that it can measure what a peer's choice of
//! frames costs: one-byte STREAM frames in reverse order against the same
//! bytes in order. Not an API: no stability promise, not in the C ABI.

use crate::conn::{RecvStream, MAX_OOO_PIECES_PER_STREAM};

/// The receive half of one stream, as the connection drives it.
#[derive(Debug)]
pub struct StreamReceiver(RecvStream);

impl StreamReceiver {
    /// A stream receiving up to `window` bytes.
    pub fn new(window: u64) -> Self {
        Self(RecvStream::new(window, window))
    }

    /// The data of a STREAM frame at `offset`; false when it was refused
    /// (too many out-of-order pieces) or broke a rule.
    pub fn on_data(&mut self, offset: u64, data: &[u8]) -> bool {
        self.0
            .on_data(offset, data, false, MAX_OOO_PIECES_PER_STREAM)
            .is_ok_and(|r| !r.refused)
    }

    /// Takes every byte that is now in order; returns how many.
    pub fn take_ready(&mut self) -> usize {
        let mut n = 0;
        while let Some((data, _)) = self.0.take_ready() {
            n += data.len();
        }
        n
    }
}
