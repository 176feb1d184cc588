//! Streams scheduling without a connection around it.

use super::*;

fn client_streams(peer_stream_window: u64) -> Streams {
    let windows = Windows {
        stream: 1 << 20,
        connection: 1 << 20,
        max_stream: 1 << 20,
        max_connection: 1 << 20,
    };
    let mut s = Streams::new(Side::Client, windows, [100, 100]);
    let tp = TransportParameters {
        initial_max_data: 1 << 30,
        initial_max_stream_data_bidi_remote: peer_stream_window,
        initial_max_streams_bidi: 10,
        ..TransportParameters::default()
    };
    s.on_peer_params(&tp);
    s
}

/// The next chunk `write_next_chunk` writes: (stream, length), the frame
/// checked to carry that many data bytes.
fn next(s: &mut Streams, max: usize) -> Option<Option<(u64, usize)>> {
    let mut out = Vec::new();
    let mut deferred = DeferredData::default();
    match s.write_next_chunk(|_, _| max, &mut out, &mut deferred) {
        NextChunk::Wrote(sid, chunk) => {
            deferred.fill(&mut out);
            assert!(out.len() > chunk.len && out.ends_with(&vec![1u8; chunk.len]));
            Some(Some((sid, chunk.len)))
        }
        NextChunk::DidNotFit => Some(None),
        NextChunk::Idle => None,
    }
}

#[test]
fn stream_data_blocked_is_owed_once_per_limit() {
    let mut s = client_streams(1000);
    s.send(0, &[1u8; 5000], true).unwrap();
    assert_eq!(
        next(&mut s, 4000),
        Some(Some((0, 1000))),
        "the peer's stream window"
    );
    // Blocked at 1000: STREAM_DATA_BLOCKED is owed, and nothing to send.
    assert_eq!(next(&mut s, 4000), None);
    assert_eq!(s.stream_blocked.iter().copied().collect::<Vec<_>>(), [0]);
    // The connection writes the frame and records the limit it reported.
    s.stream_blocked.clear();
    s.send_half(0).unwrap().blocked_at = Some(1000);
    // Asking again at the same limit owes nothing more.
    s.queue(0);
    assert_eq!(next(&mut s, 4000), None);
    assert!(s.stream_blocked.is_empty(), "once per limit");
    // A new limit, used up, owes a new frame.
    s.on_max_stream_data(0, 2000).unwrap();
    assert_eq!(next(&mut s, 4000), Some(Some((0, 1000))));
    assert_eq!(next(&mut s, 4000), None);
    assert_eq!(s.stream_blocked.iter().copied().collect::<Vec<_>>(), [0]);
}

#[test]
fn streams_take_turns_one_chunk_each() {
    let mut s = client_streams(1 << 20);
    for sid in [0u64, 4, 8] {
        s.send(sid, &[1u8; 3000], true).unwrap();
    }
    let order: Vec<u64> = (0..6)
        .map(|_| next(&mut s, 1000).unwrap().unwrap().0)
        .collect();
    assert_eq!(order, [0, 4, 8, 0, 4, 8]);
    // A chunk that does not fit is skipped without losing the stream's turn.
    assert_eq!(next(&mut s, 0), Some(None));
    assert_eq!(next(&mut s, 1000).unwrap().unwrap().0, 4);
}
