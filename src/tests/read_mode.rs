//! Read mode (`ReceiveMode::Read`): stream data stays in the library until
//! the application reads it, a StreamReadable event says when there is
//! some, and what a stream holds never exceeds its window.

use super::pair::{configs, Pair};
use super::streams::pattern;
use crate::config::ReceiveMode;
use crate::conn::{ApiError, Connection, Event};

const WINDOW: u64 = 64 * 1024;
const MAX_WINDOW: u64 = 256 * 1024;

/// A pair whose server (`server_reads`) or client reads in read mode, with
/// stream windows of `WINDOW` growing to `MAX_WINDOW`.
fn pair(server_reads: bool) -> Pair {
    let (mut c, mut s) = configs();
    for cfg in [&mut c, &mut s] {
        cfg.set_windows(4 * MAX_WINDOW, WINDOW).unwrap();
        cfg.set_max_windows(MAX_WINDOW, 4 * MAX_WINDOW).unwrap();
    }
    if server_reads {
        s.set_receive_mode(ReceiveMode::Read);
    } else {
        c.set_receive_mode(ReceiveMode::Read);
    }
    let mut p = Pair::new(c, s);
    p.handshake();
    p
}

fn server(p: &mut Pair) -> &mut Connection {
    p.server.as_mut().unwrap()
}

/// StreamReadable events for `sid` recorded so far.
fn readable_events(events: &[Event], sid: u64) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::StreamReadable { stream_id } if *stream_id == sid))
        .count()
}

/// Reads `sid` until nothing is left: the bytes, and whether the FIN came.
fn read_all(conn: &mut Connection, sid: u64, step: usize) -> (Vec<u8>, bool) {
    let (mut out, mut buf) = (Vec::new(), vec![0; step]);
    loop {
        match conn.stream_read(sid, &mut buf) {
            Ok(Some((n, fin))) => {
                out.extend_from_slice(&buf[..n]);
                if fin {
                    return (out, true);
                }
            }
            Ok(None) => return (out, false),
            Err(e) => panic!("stream_read: {e:?}"),
        }
    }
}

/// The peer sends 100 MB as fast as the path allows; the application
/// reads 256 KB every 10 ms. The data arrives intact, no data event is
/// queued, and the stream never holds more than its largest window.
#[test]
fn a_slow_reader_holds_at_most_one_window_while_the_peer_sends_100_mb() {
    const TOTAL: usize = 100 << 20;
    let mut p = pair(true);
    let chunk = pattern(1 << 20, 3);
    let mut sent = 0;
    let (mut got, mut fin, mut peak, mut reads) = (0usize, false, 0usize, 0usize);
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..100_000 {
        // Keep the sender's buffer topped up, 1 MB at a time.
        while sent < TOTAL && p.client.stream_send_buffered(0) < 4 << 20 {
            let last = sent + chunk.len() == TOTAL;
            p.client.stream_send(0, &chunk, last).unwrap();
            sent += chunk.len();
        }
        p.run_for(10);
        peak = peak.max(server(&mut p).stream_recv_buffered(0));
        if let Ok(Some((n, end))) = server(&mut p).stream_read(0, &mut buf) {
            reads += 1;
            let at = got % chunk.len();
            assert!(
                buf[..n]
                    .iter()
                    .zip(chunk.iter().cycle().skip(at))
                    .all(|(a, b)| a == b),
                "corrupt data at offset {got}"
            );
            got += n;
            fin = end;
        }
        if fin {
            break;
        }
    }
    assert!(fin && got == TOTAL, "read {got} of {TOTAL} bytes");
    assert!(
        peak as u64 <= MAX_WINDOW,
        "the stream held {peak} bytes, above its {MAX_WINDOW}-byte largest window"
    );
    assert!(
        peak as u64 > WINDOW / 2,
        "the reader was never the bottleneck"
    );
    assert!(
        !p.server_events
            .iter()
            .any(|e| matches!(e, Event::StreamDataReceived { .. })),
        "data events in read mode"
    );
    assert!(p.server_rx.bytes(0).is_empty());
    let events = readable_events(&p.server_events, 0);
    assert!(
        (1..=reads + 1).contains(&events),
        "{events} readable events for {reads} reads"
    );
}

/// One StreamReadable event until the stream is read, however much more
/// arrives; the next after a read, when new data comes.
#[test]
fn the_readable_event_comes_once_until_the_stream_is_read() {
    let mut p = pair(true);
    for i in 0..5u8 {
        p.client.stream_send(0, &[i; 100], false).unwrap();
        p.run_for(50);
    }
    assert_eq!(readable_events(&p.server_events, 0), 1);
    let (data, fin) = read_all(server(&mut p), 0, 64);
    assert_eq!(data.len(), 500);
    assert!(!fin);
    assert_eq!(
        server(&mut p).stream_read(0, &mut [0; 8]).unwrap(),
        None,
        "nothing left"
    );
    p.run_for(50);
    assert_eq!(readable_events(&p.server_events, 0), 1, "no data, no event");
    p.client.stream_send(0, b"end", true).unwrap();
    p.run_for(50);
    assert_eq!(readable_events(&p.server_events, 0), 2);
    assert_eq!(read_all(server(&mut p), 0, 64), (b"end".to_vec(), true));
    assert!(matches!(
        server(&mut p).stream_read(0, &mut [0; 8]),
        Err(ApiError::StreamFinished)
    ));
}

/// What arrived before the peer closed can still be read afterwards.
#[test]
fn data_that_arrived_before_the_close_can_be_read_after_it() {
    let mut p = pair(false);
    let body = pattern(30_000, 9);
    server(&mut p).stream_send(1, &body, true).unwrap();
    p.run_for(100);
    let now = p.now;
    server(&mut p).close(true, 0, None, b"bye", now).unwrap();
    p.run_for(100);
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::ConnectionTerminated { .. })));
    assert_eq!(read_all(&mut p.client, 1, 4096), (body, true));
}

/// A reset stream reads as reset; a connection receiving in events refuses
/// reads.
#[test]
fn reading_a_reset_stream_and_reading_in_events_mode_are_errors() {
    let mut p = pair(true);
    p.client.stream_send(0, b"partial", false).unwrap();
    p.run_for(50);
    p.client.stream_reset(0, 77).unwrap();
    p.run_for(50);
    assert!(matches!(
        server(&mut p).stream_read(0, &mut [0; 8]),
        Err(ApiError::StreamReset) | Err(ApiError::StreamFinished)
    ));
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::StreamReset {
            stream_id: 0,
            error_code: 77
        }
    )));
    let mut q = Pair::default_pair();
    q.handshake();
    assert!(matches!(
        q.client.stream_read(0, &mut [0; 8]),
        Err(ApiError::InvalidState(_))
    ));
}
