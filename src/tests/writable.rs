//! The writing side's pace: StreamWritable once per crossing of the level
//! the application set, and what `stream_send_info` tells.

use super::pair::{configs, Pair, MS};
use super::streams::pattern;
use crate::config::ReceiveMode;
use crate::conn::Event;

const LEVEL: u64 = 64 * 1024;

fn writable_events(p: &Pair, sid: u64) -> usize {
    p.client_events
        .iter()
        .filter(|e| matches!(e, Event::StreamWritable { stream_id } if *stream_id == sid))
        .count()
}

/// A client with the level set; the server reads in read mode when
/// `server_reads`, else takes events.
fn pair(server_reads: bool) -> Pair {
    let (mut c, mut s) = configs();
    c.set_writable_level(LEVEL);
    if server_reads {
        s.set_receive_mode(ReceiveMode::Read);
        s.set_windows(1 << 20, 128 * 1024).unwrap();
        s.set_max_windows(128 * 1024, 1 << 20).unwrap();
    }
    let mut p = Pair::new(c, s);
    p.handshake();
    p
}

/// One event when the buffer falls below the level after reaching it, and
/// one more for the next crossing; none for a stream that never reached
/// it, nor for one that ended.
#[test]
fn the_writable_event_comes_once_per_crossing_of_the_level() {
    let mut p = pair(false);
    p.client
        .stream_send(0, &pattern(256 * 1024, 1), false)
        .unwrap();
    p.client
        .stream_send(4, &pattern(10 * 1024, 2), false)
        .unwrap();
    p.client
        .stream_send(8, &pattern(256 * 1024, 3), true)
        .unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| writable_events(p, 0) > 0));
    assert!(
        p.client.stream_send_buffered(0) < LEVEL,
        "reported writable above the level"
    );
    p.run_for(1_000);
    assert_eq!(writable_events(&p, 0), 1);
    assert_eq!(writable_events(&p, 4), 0, "never reached the level");
    assert_eq!(writable_events(&p, 8), 0, "ended: nothing more to write");
    // Small writes that stay below: no event; the next crossing: one more.
    p.client.stream_send(0, &pattern(1024, 4), false).unwrap();
    p.run_for(1_000);
    assert_eq!(writable_events(&p, 0), 1);
    p.client
        .stream_send(0, &pattern(128 * 1024, 5), false)
        .unwrap();
    p.run_for(1_000);
    assert_eq!(writable_events(&p, 0), 2);
    assert_eq!(p.client.stream_send_buffered(0), 0);
}

/// `stream_send_info` splits the buffer into never sent and not yet
/// acknowledged, and says when the peer's flow control is the bottleneck.
#[test]
fn send_info_tells_unsent_from_unacknowledged_and_flow_blocked() {
    let mut p = pair(true);
    let total = 1u64 << 20;
    p.client
        .stream_send(0, &pattern(total as usize, 6), false)
        .unwrap();
    let info = p.client.stream_send_info(0).unwrap();
    assert_eq!((info.unsent, info.unacked), (total, 0), "nothing sent yet");
    // The server reads nothing: the sender stops at the stream window.
    p.run_for(2_000);
    let info = p.client.stream_send_info(0).unwrap();
    assert!(info.flow_blocked, "{info:?}");
    assert_eq!(info.unsent, total - 128 * 1024, "{info:?}");
    assert_eq!(info.unacked, 0, "all that was sent is acknowledged");
    assert!(info.unsent + info.unacked <= p.client.stream_send_buffered(0));
    assert!(p.client.stream_send_info(44).is_none(), "never used");
}
