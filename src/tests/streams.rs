//! Stream transfers over the in-memory link.

use super::pair::{Pair, MS};
use crate::conn::Event;

/// The bytes received on `stream_id` in `events`, and whether it ended.
pub(crate) fn stream_bytes(events: &[Event], stream_id: u64) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut fin = false;
    for e in events {
        if let Event::StreamDataReceived {
            stream_id: id,
            data,
            end_stream,
        } = e
        {
            if *id == stream_id {
                assert!(!fin, "data after the end of stream {id}");
                out.extend_from_slice(data);
                fin |= *end_stream;
            }
        }
    }
    (out, fin)
}

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
    let ok = p.run_until(p.now + 60_000 * MS, |p| stream_bytes(&p.server_events, 0).1);
    assert!(ok, "upload did not finish");
    assert_eq!(stream_bytes(&p.server_events, 0).0, up);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(0, &down, true)
        .unwrap();
    let ok = p.run_until(p.now + 60_000 * MS, |p| stream_bytes(&p.client_events, 0).1);
    assert!(ok, "download did not finish");
    assert_eq!(stream_bytes(&p.client_events, 0).0, down);
    // Both halves done on both sides: the stream is forgotten.
    p.run_until(p.now + 1_000 * MS, |p| {
        p.client.stream_count() == 0 && p.server().stream_count() == 0
    });
    assert_eq!(p.client.stream_count(), 0);
    assert_eq!(p.server().stream_count(), 0);
}
