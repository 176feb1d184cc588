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

use crate::conn::{ApiError, Event};
use crate::error::code;
use crate::frame::Frame;
use crate::packet::PacketType;

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

fn frame_bytes(f: Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    f.write(&mut out);
    out
}

/// Injects `frames` into the server's 1-RTT processing and returns its
/// close code, if it closed.
fn server_receives(p: &mut Pair, frames: &[Frame<'_>]) -> Option<u64> {
    let mut payload = Vec::new();
    for f in frames {
        f.write(&mut payload);
    }
    let now = p.now;
    let s = p.server.as_mut().unwrap();
    s.inject_payload(PacketType::OneRtt, &payload, now);
    s.local_error().map(|e| e.code)
}

fn stream(id: u64, offset: u64, data: &[u8], fin: bool) -> Frame<'_> {
    Frame::Stream {
        stream_id: id,
        offset,
        data,
        fin,
    }
}

#[test]
fn next_available_stream_ids() {
    let mut p = established();
    assert_eq!(p.client.next_stream_id(false), 0);
    assert_eq!(p.client.next_stream_id(true), 2);
    p.client.stream_send(0, b"x", false).unwrap();
    assert_eq!(p.client.next_stream_id(false), 4);
    let s = p.server.as_mut().unwrap();
    assert_eq!(s.next_stream_id(false), 1);
    assert_eq!(s.next_stream_id(true), 3);
}

#[test]
fn stream_frames_beyond_limits() {
    // Over the stream window (1 MiB by default).
    let big = vec![0u8; 10];
    let mut p = established();
    assert_eq!(
        server_receives(&mut p, &[stream(0, (1 << 20) - 5, &big, false)]),
        Some(code::FLOW_CONTROL_ERROR)
    );
    // Over the connection window, spread over two streams.
    let (c, mut s) = super::pair::configs();
    s.set_windows(1000, 800).unwrap();
    let mut p = Pair::new(c, s);
    p.handshake();
    let chunk = vec![0u8; 600];
    assert_eq!(
        server_receives(
            &mut p,
            &[stream(0, 0, &chunk, false), stream(4, 0, &chunk, false)]
        ),
        Some(code::FLOW_CONTROL_ERROR)
    );
    // Over MAX_STREAMS: the 129th client bidirectional stream.
    let mut p = established();
    assert_eq!(
        server_receives(&mut p, &[stream(128 * 4, 0, b"x", false)]),
        Some(code::STREAM_LIMIT_ERROR)
    );
    let mut p = established();
    assert_eq!(
        server_receives(&mut p, &[stream(127 * 4, 0, b"x", false)]),
        None
    );
}

#[test]
fn stream_frames_on_the_wrong_streams() {
    // The server's own unidirectional stream is send-only for it.
    let mut p = established();
    p.server
        .as_mut()
        .unwrap()
        .stream_send(3, b"hi", false)
        .unwrap();
    assert_eq!(
        server_receives(&mut p, &[stream(3, 0, b"x", false)]),
        Some(code::STREAM_STATE_ERROR)
    );
    // A server-initiated bidirectional stream it never opened.
    let mut p = established();
    assert_eq!(
        server_receives(&mut p, &[stream(1, 0, b"x", false)]),
        Some(code::STREAM_STATE_ERROR)
    );
    // RESET_STREAM for the server's send-only stream.
    let mut p = established();
    p.server
        .as_mut()
        .unwrap()
        .stream_send(3, b"hi", false)
        .unwrap();
    let reset = Frame::ResetStream {
        stream_id: 3,
        error_code: 1,
        final_size: 0,
    };
    assert_eq!(
        server_receives(&mut p, &[reset]),
        Some(code::STREAM_STATE_ERROR)
    );
    // STOP_SENDING and MAX_STREAM_DATA for a client uni stream (receive-only
    // for the server).
    for f in [
        Frame::StopSending {
            stream_id: 2,
            error_code: 1,
        },
        Frame::MaxStreamData {
            stream_id: 2,
            max: 100,
        },
    ] {
        let mut p = established();
        assert_eq!(
            server_receives(&mut p, &[f]),
            Some(code::STREAM_STATE_ERROR)
        );
    }
    // STREAM_DATA_BLOCKED for the server's send-only stream.
    let mut p = established();
    p.server
        .as_mut()
        .unwrap()
        .stream_send(3, b"hi", false)
        .unwrap();
    let blocked = Frame::StreamDataBlocked {
        stream_id: 3,
        limit: 0,
    };
    assert_eq!(
        server_receives(&mut p, &[blocked]),
        Some(code::STREAM_STATE_ERROR)
    );
}

#[test]
fn final_size_errors() {
    let mut p = established();
    assert_eq!(
        server_receives(
            &mut p,
            &[stream(0, 0, b"abc", true), stream(0, 3, b"d", false)]
        ),
        Some(code::FINAL_SIZE_ERROR)
    );
    let mut p = established();
    let reset = Frame::ResetStream {
        stream_id: 0,
        error_code: 1,
        final_size: 2,
    };
    assert_eq!(
        server_receives(&mut p, &[stream(0, 0, b"abcdef", false), reset]),
        Some(code::FINAL_SIZE_ERROR)
    );
    // RESET_STREAM twice with the same final size is fine.
    let mut p = established();
    let reset = Frame::ResetStream {
        stream_id: 0,
        error_code: 1,
        final_size: 6,
    };
    assert_eq!(server_receives(&mut p, &[reset.clone(), reset]), None);
    // A RESET_STREAM beyond the stream window.
    let mut p = established();
    let reset = Frame::ResetStream {
        stream_id: 0,
        error_code: 1,
        final_size: 1 << 30,
    };
    assert_eq!(
        server_receives(&mut p, &[reset]),
        Some(code::FLOW_CONTROL_ERROR)
    );
}

#[test]
fn local_stream_errors() {
    let (c, mut s) = super::pair::configs();
    s.transport.max_streams_bidi = 2;
    s.transport.max_streams_uni = 1;
    let mut p = Pair::new(c, s);
    p.handshake();
    p.client.stream_send(0, b"a", false).unwrap();
    p.client.stream_send(4, b"b", false).unwrap();
    assert_eq!(
        p.client.stream_send(8, b"c", false),
        Err(ApiError::StreamLimit)
    );
    p.client.stream_send(2, b"u", false).unwrap();
    assert_eq!(
        p.client.stream_send(6, b"u", false),
        Err(ApiError::StreamLimit)
    );
    // The server's streams: its bidi stream only once opened, never its uni.
    assert!(matches!(
        p.client.stream_send(1, b"x", false),
        Err(ApiError::InvalidStream(_))
    ));
    assert!(matches!(
        p.client.stream_send(3, b"x", false),
        Err(ApiError::InvalidStream(_))
    ));
    p.client.stream_send(0, b"", true).unwrap();
    assert_eq!(
        p.client.stream_send(0, b"more", false),
        Err(ApiError::StreamFinished)
    );
    p.client.stream_reset(4, 7).unwrap();
    assert_eq!(
        p.client.stream_send(4, b"x", false),
        Err(ApiError::StreamReset)
    );
    // Our uni stream cannot be stopped; the server's peer-opened bidi can
    // be written to once it exists.
    assert!(matches!(
        p.client.stream_stop(2, 1),
        Err(ApiError::InvalidStream(_))
    ));
}

#[test]
fn max_streams_raises_the_limit_as_streams_close() {
    let (c, mut s) = super::pair::configs();
    s.transport.max_streams_bidi = 10;
    let mut p = Pair::new(c, s);
    p.handshake();
    // 200 sequential request/response streams through a limit of 10.
    let mut next = 0u64;
    let mut done = 0;
    while done < 200 {
        while next < 200 * 4 {
            match p.client.stream_send(next, b"GET /\r\n", true) {
                Ok(()) => next += 4,
                Err(ApiError::StreamLimit) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let before = p.server_rx.finished.len();
        p.run_until(p.now + 1_000 * MS, |p| p.server_rx.finished.len() > before);
        // The server answers every finished request.
        let ids: Vec<u64> = p.server_rx.finished.iter().copied().collect();
        for id in ids {
            let _ = p.server.as_mut().unwrap().stream_send(id, b"ok", true);
        }
        p.run_until(p.now + 1_000 * MS, |p| {
            p.client_rx.finished.len() >= p.server_rx.finished.len()
        });
        done = p.client_rx.finished.len();
        assert!(p.now < 60_000 * MS, "stalled at {done}");
    }
    assert!(p.server().stream_count() <= 10);
}

#[test]
fn reset_and_stop_sending_reach_the_peer_with_their_codes() {
    let mut p = established();
    p.client.stream_send(0, b"partial", false).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    p.client.stream_reset(0, 0x42).unwrap();
    p.client.stream_stop(0, 0x43).unwrap();
    let ok = p.run_until(p.now + 2_000 * MS, |p| {
        p.server_events.contains(&Event::StreamReset {
            stream_id: 0,
            error_code: 0x42,
        }) && p.server_events.contains(&Event::StopSendingReceived {
            stream_id: 0,
            error_code: 0x43,
        })
    });
    assert!(ok, "{:?}", p.server_events);
    // STOP_SENDING made the server reset its side with the same code.
    let ok = p.run_until(p.now + 2_000 * MS, |p| {
        p.client_events.contains(&Event::StreamReset {
            stream_id: 0,
            error_code: 0x43,
        })
    });
    assert!(ok, "{:?}", p.client_events);
    // Both sides forget the stream.
    p.run_until(p.now + 2_000 * MS, |p| {
        p.client.stream_count() == 0 && p.server().stream_count() == 0
    });
    assert_eq!((p.client.stream_count(), p.server().stream_count()), (0, 0));
}

#[test]
fn fifty_concurrent_streams_share_the_connection() {
    let mut p = established();
    let bodies: Vec<Vec<u8>> = (0..50)
        .map(|i| pattern(20_000 + i * 100, i as u8))
        .collect();
    for (i, b) in bodies.iter().enumerate() {
        p.client.stream_send(i as u64 * 4, b, true).unwrap();
    }
    assert!(p.run_until(p.now + 30_000 * MS, |p| p.server_rx.finished.len() == 50));
    for (i, b) in bodies.iter().enumerate() {
        assert!(
            p.server_rx.bytes(i as u64 * 4) == &b[..],
            "stream {}",
            i * 4
        );
    }
}

#[test]
fn round_robin_interleaves_streams() {
    // Two large streams queued together progress together: after a share
    // of the data arrived, neither is starved.
    let mut p = established();
    let a = pattern(2 << 20, 1);
    let b = pattern(2 << 20, 2);
    p.client.stream_send(0, &a, true).unwrap();
    p.client.stream_send(4, &b, true).unwrap();
    p.run_until(p.now + 30_000 * MS, |p| {
        p.server_rx.bytes(0).len() + p.server_rx.bytes(4).len() > 1 << 20
    });
    let (ra, rb) = (p.server_rx.bytes(0).len(), p.server_rx.bytes(4).len());
    assert!(ra > 256 << 10 && rb > 256 << 10, "{ra} vs {rb}");
}

#[test]
fn datagrams_both_ways() {
    let (mut c, mut s) = super::pair::configs();
    c.transport.max_datagram_frame_size = Some(65_535);
    s.transport.max_datagram_frame_size = Some(65_535);
    let mut p = Pair::new(c, s);
    p.handshake();
    p.client.send_datagram(b"ping").unwrap();
    assert!(p.run_until(p.now + 1_000 * MS, |p| p.server_rx.datagrams.len() == 1));
    assert_eq!(p.server_rx.datagrams[0], b"ping");
    p.server.as_mut().unwrap().send_datagram(b"pong").unwrap();
    assert!(p.run_until(p.now + 1_000 * MS, |p| p.client_rx.datagrams.len() == 1));
    // Too large for a packet: refused when sent.
    let max = p.client.max_datagram_payload().unwrap();
    assert_eq!(
        p.client.send_datagram(&vec![0; max + 1]),
        Err(ApiError::DatagramTooLarge)
    );
    assert!(p.client.send_datagram(&vec![0; max]).is_ok());
}

#[test]
fn datagram_rules() {
    // Not offered by the peer: refused locally.
    let mut p = established();
    assert_eq!(
        p.client.send_datagram(b"x"),
        Err(ApiError::DatagramUnsupported)
    );
    // Over the size we offered: PROTOCOL_VIOLATION.
    let (mut c, mut s) = super::pair::configs();
    c.transport.max_datagram_frame_size = Some(100);
    s.transport.max_datagram_frame_size = Some(100);
    let mut p = Pair::new(c, s);
    p.handshake();
    let big = vec![1u8; 200];
    let f = Frame::Datagram {
        data: &big,
        with_len: true,
    };
    assert_eq!(
        server_receives(&mut p, &[f]),
        Some(code::PROTOCOL_VIOLATION)
    );
    let mut p2 = Pair::new(
        {
            let (mut c, _) = super::pair::configs();
            c.transport.max_datagram_frame_size = Some(100);
            c
        },
        {
            let (_, mut s) = super::pair::configs();
            s.transport.max_datagram_frame_size = Some(100);
            s
        },
    );
    p2.handshake();
    let ok = frame_bytes(Frame::Datagram {
        data: &[1u8; 90],
        with_len: false,
    });
    let now = p2.now;
    let s = p2.server.as_mut().unwrap();
    s.inject_payload(PacketType::OneRtt, &ok, now);
    assert!(s.local_error().is_none());
}

#[test]
fn two_thousand_small_streams_through_a_limit_of_one_hundred() {
    // The interop runner's multiplexing case: every request is answered,
    // and the server hands out stream credit as streams close.
    let (c, mut s) = super::pair::configs();
    s.transport.max_streams_bidi = 100;
    let mut p = Pair::new(c, s);
    p.handshake();
    let total = 2000u64;
    let mut next = 0u64;
    let mut answered = std::collections::HashSet::new();
    while p.client_rx.finished.len() < total as usize {
        while next < total {
            match p.client.stream_send(next * 4, &[7u8; 32], true) {
                Ok(()) => next += 1,
                Err(ApiError::StreamLimit) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let before = (p.server_rx.finished.len(), p.client_rx.finished.len());
        p.run_until(p.now + 5_000 * MS, |p| {
            p.server_rx.finished.len() > before.0 || p.client_rx.finished.len() > before.1
        });
        let fresh: Vec<u64> = p
            .server_rx
            .finished
            .iter()
            .copied()
            .filter(|id| !answered.contains(id))
            .collect();
        for id in fresh {
            p.server
                .as_mut()
                .unwrap()
                .stream_send(id, &[9u8; 32], true)
                .unwrap();
            answered.insert(id);
        }
        assert!(
            p.now < 120_000 * MS,
            "stalled: {} answered",
            p.client_rx.finished.len()
        );
    }
    for i in 0..total {
        assert_eq!(p.client_rx.bytes(i * 4), &[9u8; 32]);
    }
    // Memory comes back: nothing is left open.
    p.run_until(p.now + 2_000 * MS, |p| {
        p.server().stream_count() == 0 && p.client.stream_count() == 0
    });
    assert_eq!((p.client.stream_count(), p.server().stream_count()), (0, 0));
}

#[test]
fn lost_window_updates_are_sent_again() {
    // A 4 MB upload through 256 KB windows needs many MAX_DATA and
    // MAX_STREAM_DATA frames; for 300 ms every one the server sends is
    // lost. The transfer still completes, so they were sent again.
    let (c, mut s) = super::pair::configs();
    s.set_windows(256 << 10, 256 << 10).unwrap();
    s.transport.max_stream_window = 256 << 10;
    s.transport.max_connection_window = 256 << 10;
    let mut p = Pair::new(c, s);
    p.handshake();
    let start = p.now;
    let dark = (start + 20 * MS, start + 320 * MS);
    p.links[1] = super::pair::Link {
        blackout: Some(dark),
        ..Default::default()
    };
    let data = pattern(4 << 20, 5);
    p.client.stream_send(0, &data, true).unwrap();
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert!(p.server_rx.bytes(0) == &data[..]);
    assert!(p.dropped[1] > 0);
}

#[test]
fn blocked_frames_are_accepted() {
    let mut p = established();
    let frames = [
        Frame::DataBlocked(1000),
        Frame::StreamsBlocked {
            bidi: true,
            limit: 128,
        },
        Frame::StreamsBlocked {
            bidi: false,
            limit: 128,
        },
        Frame::StreamDataBlocked {
            stream_id: 0,
            limit: 100,
        },
        Frame::MaxData(1 << 30),
        Frame::MaxStreams {
            bidi: false,
            max: 1000,
        },
    ];
    assert_eq!(server_receives(&mut p, &frames), None);
}

#[test]
fn tiny_windows_still_complete() {
    // A server window of 1000 bytes: the client is blocked most of the time
    // (sending DATA_BLOCKED / STREAM_DATA_BLOCKED) and still finishes.
    let (c, mut s) = super::pair::configs();
    s.set_windows(1000, 1000).unwrap();
    s.transport.max_stream_window = 1000;
    s.transport.max_connection_window = 1000;
    let mut p = Pair::new(c, s);
    p.handshake();
    let data = pattern(100_000, 9);
    p.client.stream_send(0, &data, true).unwrap();
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert!(p.server_rx.bytes(0) == &data[..]);
    assert!(p.server().local_error().is_none());
}

#[test]
fn unread_datagrams_are_bounded() {
    let (mut c, mut s) = super::pair::configs();
    c.transport.max_datagram_frame_size = Some(1000);
    s.transport.max_datagram_frame_size = Some(1000);
    let mut p = Pair::new(c, s);
    p.handshake();
    let f = frame_bytes(Frame::Datagram {
        data: b"x",
        with_len: false,
    });
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    for _ in 0..1000 {
        server.inject_payload(PacketType::OneRtt, &f, now);
    }
    let mut n = 0;
    while let Some(e) = server.poll_event() {
        n += usize::from(matches!(e, Event::DatagramFrameReceived { .. }));
    }
    assert_eq!(n, 256);
    // Once read, new ones are delivered again.
    server.inject_payload(PacketType::OneRtt, &f, now);
    assert!(matches!(
        server.poll_event(),
        Some(Event::DatagramFrameReceived { .. })
    ));
}

#[test]
fn send_buffered_gives_backpressure() {
    // An application that keeps at most 256 KB queued, topping up in 64 KB
    // pieces when the peer has acknowledged enough, moves 4 MB intact.
    const CAP: u64 = 256 << 10;
    const PIECE: usize = 64 << 10;
    let mut p = established();
    let body = pattern(4 << 20, 9);
    assert_eq!(p.client.stream_send_buffered(0), 0, "no stream yet");
    let mut written = 0;
    let mut peak = 0;
    while !p.server_rx.finished.contains(&0) {
        while written < body.len() && p.client.stream_send_buffered(0) + PIECE as u64 <= CAP {
            let end = (written + PIECE).min(body.len());
            let before = p.client.stream_send_buffered(0);
            p.client
                .stream_send(0, &body[written..end], end == body.len())
                .unwrap();
            assert_eq!(
                p.client.stream_send_buffered(0),
                before + (end - written) as u64,
                "queued data counts at once"
            );
            written = end;
        }
        peak = peak.max(p.client.stream_send_buffered(0));
        assert!(p.step(p.now + 10_000 * MS), "the transfer stalled");
        p.collect_events();
    }
    assert_eq!(p.server_rx.bytes(0), &body[..]);
    assert!(peak <= CAP, "peak {peak}");
    p.run_until(p.now + 1_000 * MS, |p| p.client.stream_count() == 0);
    assert_eq!(p.client.stream_send_buffered(0), 0, "all acknowledged");
}

/// A Rust caller's `Bytes` are queued as they are, mixed with copied
/// small writes on the same stream; the peer gets everything in order.
#[test]
fn zero_copy_and_small_writes_mix_on_one_stream() {
    let mut p = Pair::default_pair();
    p.handshake();
    let big = bytes::Bytes::from(pattern(300_000, 1));
    let mut expected = Vec::new();
    for i in 0..200u32 {
        let small = pattern(700 + i as usize, i as u8);
        p.client.stream_send(0, &small, false).unwrap();
        expected.extend_from_slice(&small);
        if i % 50 == 0 {
            p.client.stream_send_bytes(0, big.clone(), false).unwrap();
            expected.extend_from_slice(&big);
        }
    }
    p.client.stream_send(0, b"end", true).unwrap();
    expected.extend_from_slice(b"end");
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert!(p.server_rx.bytes(0) == expected);
}

/// Before the handshake the peer's stream limits are unknown: a distinct
/// error says so. Refused by the limit later, the application hears when
/// the peer raises it (once per refusal).
#[test]
fn streams_wait_for_the_handshake_and_announce_new_credit() {
    let (c, mut s) = super::pair::configs();
    s.transport.max_streams_bidi = 1;
    let mut p = Pair::new(c, s);
    assert!(matches!(
        p.client.stream_send(0, b"early", false),
        Err(ApiError::HandshakePending)
    ));
    assert!(matches!(
        p.client.open_stream(false),
        Err(ApiError::HandshakePending)
    ));
    p.handshake();
    let first = p.client.open_stream(false).unwrap();
    assert!(matches!(
        p.client.open_stream(false),
        Err(ApiError::StreamLimit)
    ));
    // The first request completes both ways; the server's MAX_STREAMS
    // follows as the stream closes.
    p.client.stream_send(first, b"GET /\r\n", true).unwrap();
    assert!(p.run_until(p.now + 1_000 * MS, |p| p
        .server_rx
        .finished
        .contains(&first)));
    p.server
        .as_mut()
        .unwrap()
        .stream_send(first, b"ok", true)
        .unwrap();
    let available = |p: &Pair| {
        p.client_events
            .iter()
            .filter(|e| matches!(e, crate::conn::Event::StreamsAvailable { .. }))
            .count()
    };
    assert!(p.run_until(p.now + 2_000 * MS, |p| available(p) > 0));
    assert!(p.client_events.iter().any(|e| matches!(
        e,
        crate::conn::Event::StreamsAvailable {
            unidirectional: false,
            max_streams: 2
        }
    )));
    assert!(p.client.open_stream(false).is_ok());
    p.run_until(p.now + 500 * MS, |_| false);
    assert_eq!(available(&p), 1, "once per refusal");
}

/// The server's events until none is left.
fn drain_server_events(p: &mut Pair) -> Vec<Event> {
    let s = p.server.as_mut().unwrap();
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Injects each frame list as one 1-RTT packet into the server, turning
/// its stream data into events as the receive path does.
fn server_packets(p: &mut Pair, packets: &[&[Frame<'_>]]) {
    let now = p.now;
    let s = p.server.as_mut().unwrap();
    for frames in packets {
        let payload: Vec<u8> = frames.iter().flat_map(|f| frame_bytes(f.clone())).collect();
        s.inject_and_collect(PacketType::OneRtt, &payload, now);
    }
}

/// Data that arrives in several packets before the application polls is
/// one event; a reset that comes before the poll follows the data that
/// arrived before it (a waiting event takes it all, up to the reset's own
/// packet), and the stream is forgotten with every byte credited back.
#[test]
fn data_polled_late_comes_whole_then_the_reset() {
    let mut p = established();
    drain_server_events(&mut p);
    let data = pattern(3000, 9);
    let pieces: Vec<Frame<'_>> = data
        .chunks(1000)
        .enumerate()
        .map(|(i, c)| stream(2, i as u64 * 1000, c, false))
        .collect();
    // The last piece before the middle one: the data lies in two buffers.
    server_packets(&mut p, &[&pieces[..1], &pieces[2..], &pieces[1..2]]);
    let reset = Frame::ResetStream {
        stream_id: 2,
        error_code: 7,
        final_size: 3004,
    };
    server_packets(&mut p, &[&[stream(2, 3000, b"late", false), reset]]);
    let mut all = data.clone();
    all.extend_from_slice(b"late");
    assert_eq!(
        drain_server_events(&mut p),
        vec![
            Event::StreamDataReceived {
                stream_id: 2,
                data: all.into(),
                end_stream: false,
            },
            Event::StreamReset {
                stream_id: 2,
                error_code: 7,
            },
        ]
    );
    assert_eq!(
        p.server().stream_count(),
        0,
        "a reset unidirectional stream is forgotten"
    );
    // Every byte up to the final size was credited: as much again fits.
    let more = vec![1u8; 1000];
    let within = (0..4u64)
        .map(|i| stream(6, i * 1000, &more, false))
        .collect::<Vec<_>>();
    server_packets(&mut p, &[&within]);
    assert!(p.server().local_error().is_none(), "credit not given back");
}

/// Data announced before the application paused the stream is not
/// delivered while paused; resuming delivers it, with what came since, as
/// one event.
#[test]
fn pausing_holds_announced_data_until_resumed() {
    let mut p = established();
    drain_server_events(&mut p);
    let data = pattern(1500, 3);
    server_packets(&mut p, &[&[stream(2, 0, &data[..1000], false)]]);
    let s = p.server.as_mut().unwrap();
    s.stream_pause_reading(2).unwrap();
    assert_eq!(s.poll_event(), None);
    server_packets(&mut p, &[&[stream(2, 1000, &data[1000..], true)]]);
    assert_eq!(drain_server_events(&mut p), vec![]);
    p.server.as_mut().unwrap().stream_resume_reading(2).unwrap();
    assert_eq!(
        drain_server_events(&mut p),
        vec![Event::StreamDataReceived {
            stream_id: 2,
            data: data.into(),
            end_stream: true,
        }]
    );
}

/// A reset of a paused stream drops the data announced before the pause:
/// only the reset is reported.
#[test]
fn a_paused_stream_reports_only_its_reset() {
    let mut p = established();
    drain_server_events(&mut p);
    server_packets(&mut p, &[&[stream(2, 0, &[7u8; 500], false)]]);
    p.server.as_mut().unwrap().stream_pause_reading(2).unwrap();
    let reset = Frame::ResetStream {
        stream_id: 2,
        error_code: 9,
        final_size: 500,
    };
    server_packets(&mut p, &[&[reset]]);
    assert_eq!(
        drain_server_events(&mut p),
        vec![Event::StreamReset {
            stream_id: 2,
            error_code: 9,
        }]
    );
}
