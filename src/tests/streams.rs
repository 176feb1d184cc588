//! Stream transfers over the in-memory link.

use super::pair::{Pair, MS};

/// Deterministic test data.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

#[test]
fn one_megabyte_each_way_on_one_stream() {
    let mut p = Pair::default_pair();
    p.handshake();
    let up = pattern(1 << 20, 1);
    let down = pattern(1 << 20, 2);
    let sid = p.client.next_stream_id(false);
    assert_eq!(sid, 0);
    p.client.stream_send(sid, &up, true).unwrap();
    let ok = p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0));
    assert!(ok, "upload did not finish");
    assert_eq!(p.server_rx.bytes(0), &up[..]);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(0, &down, true)
        .unwrap();
    let ok = p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&0));
    assert!(ok, "download did not finish");
    assert_eq!(p.client_rx.bytes(0), &down[..]);
    // Both halves done on both sides: the stream is forgotten.
    p.run_until(p.now + 1_000 * MS, |p| {
        p.client.stream_count() == 0 && p.server().stream_count() == 0
    });
    assert_eq!(p.client.stream_count(), 0);
    assert_eq!(p.server().stream_count(), 0);
}
