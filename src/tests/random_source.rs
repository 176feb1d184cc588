//! The core draws its randomness from the source in its configuration: a
//! counting source shows where the bytes of connection IDs come from, and
//! that connections still work with it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::pair::{configs, Pair};
use crate::crypto::random::RandomSource;

/// Bytes 1, 2, 3, ... (predictable: for tests only).
#[derive(Default)]
struct Counting(AtomicU8);

impl RandomSource for Counting {
    fn fill(&self, out: &mut [u8]) {
        for b in out {
            *b = self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        }
    }
}

#[test]
fn connection_ids_come_from_the_configured_source() {
    let (mut c, mut s) = configs();
    c.endpoint.random = Arc::new(Counting::default());
    s.endpoint.random = Arc::new(Counting::default());
    let mut p = Pair::new(c, s);
    // The client drew the server's initial DCID first (bytes 1..=8), then
    // its own first CID and reset token: the CID is bytes 9..=16.
    assert_eq!(&*p.client.local_cid(), &[9, 10, 11, 12, 13, 14, 15, 16]);
    p.handshake();
    assert!(p.client.is_established());
}
