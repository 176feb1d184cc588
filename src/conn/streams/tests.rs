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

#[test]
fn stream_data_blocked_is_owed_once_per_limit() {
    let mut s = client_streams(1000);
    s.send(0, &[1u8; 5000], true).unwrap();
    let sid = s.next_sender().unwrap();
    let chunk = s.take_chunk(sid, 4000).unwrap();
    assert_eq!(chunk.len, 1000, "the peer's stream window");
    s.requeue(sid);
    // Blocked at 1000: STREAM_DATA_BLOCKED is owed, and nothing to send.
    assert_eq!(s.next_sender(), None);
    assert_eq!(s.stream_blocked.iter().copied().collect::<Vec<_>>(), [0]);
    // The connection writes the frame and records the limit it reported.
    s.stream_blocked.clear();
    s.send_half(0).unwrap().blocked_at = Some(1000);
    // Asking again at the same limit owes nothing more.
    s.queue(0);
    assert_eq!(s.next_sender(), None);
    assert!(s.stream_blocked.is_empty(), "once per limit");
    // A new limit, used up, owes a new frame.
    s.on_max_stream_data(0, 2000).unwrap();
    let sid = s.next_sender().unwrap();
    assert_eq!(s.take_chunk(sid, 4000).unwrap().len, 1000);
    s.requeue(sid);
    assert_eq!(s.next_sender(), None);
    assert_eq!(s.stream_blocked.iter().copied().collect::<Vec<_>>(), [0]);
}
