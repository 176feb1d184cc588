//! Receive backpressure: the peer sends at the pace the application
//! consumes (credit on consume) or not at all while a stream is paused,
//! and what we hold stays within the windows either way.

use super::pair::{configs, Pair, MS};
use super::streams::pattern;
use crate::config::ReceiveCredit;
use crate::conn::{ApiError, Event};

const WINDOW: u64 = 64 * 1024;
const MAX_WINDOW: u64 = 256 * 1024;

/// A pair whose server advertises small windows that may grow to
/// `MAX_WINDOW`, crediting as `credit` says.
fn pair(credit: ReceiveCredit) -> Pair {
    let (c, mut s) = configs();
    s.set_windows(4 * MAX_WINDOW, WINDOW).unwrap();
    s.set_max_windows(MAX_WINDOW, 4 * MAX_WINDOW).unwrap();
    s.set_receive_credit(credit);
    let mut p = Pair::new(c, s);
    p.handshake();
    p
}

fn server(p: &mut Pair) -> &mut crate::conn::Connection {
    p.server.as_mut().unwrap()
}

#[test]
fn the_sender_stops_when_the_application_stops_consuming_and_resumes_when_it_does() {
    let mut p = pair(ReceiveCredit::OnConsume);
    let data = pattern(2 << 20, 7);
    p.client.stream_send(0, &data, true).unwrap();
    p.run_for(5_000);
    let delivered = p.server_rx.bytes(0).len() as u64;
    assert!(delivered > 0, "nothing arrived");
    assert!(
        delivered <= WINDOW,
        "{delivered} bytes delivered with nothing consumed: beyond the {WINDOW}-byte window"
    );
    assert!(
        p.client.stream_send_buffered(0) >= data.len() as u64 - WINDOW,
        "the sender did not stop"
    );
    // Nothing is delivered while the application consumes nothing.
    p.run_for(5_000);
    assert_eq!(p.server_rx.bytes(0).len() as u64, delivered);

    // Consume at the application's pace: the rest arrives, and what it
    // holds unconsumed never exceeds the largest window.
    let mut consumed = 0u64;
    for _ in 0..10_000 {
        let delivered = p.server_rx.bytes(0).len() as u64;
        assert!(
            delivered - consumed <= MAX_WINDOW,
            "{} bytes unconsumed",
            delivered - consumed
        );
        let now = delivered - consumed;
        server(&mut p).stream_consumed(0, now).unwrap();
        consumed = delivered;
        if p.server_rx.finished.contains(&0) {
            break;
        }
        p.run_for(20);
    }
    assert!(
        p.server_rx.finished.contains(&0),
        "the stream did not finish"
    );
    assert_eq!(p.server_rx.bytes(0), &data[..]);
    // Finished and consumed, and our half ended: the stream is forgotten.
    server(&mut p).stream_send(0, b"", true).unwrap();
    p.run_for(1_000);
    assert_eq!(p.server().stream_count(), 0);
}

#[test]
fn a_finished_stream_keeps_its_slot_until_consumed() {
    let (c, mut s) = configs();
    s.set_max_streams(1, 0).unwrap();
    s.set_receive_credit(ReceiveCredit::OnConsume);
    let mut p = Pair::new(c, s);
    p.handshake();
    p.client.stream_send(0, b"first", true).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| p.server_rx.finished.contains(&0));
    assert_eq!(p.server_rx.bytes(0), b"first");
    p.server
        .as_mut()
        .unwrap()
        .stream_send(0, b"", true)
        .unwrap();
    p.run_for(1_000);
    // The FIN was delivered but the bytes not consumed: no new stream.
    assert_eq!(p.client.open_stream(false), Err(ApiError::StreamLimit));
    server(&mut p).stream_consumed(0, 5).unwrap();
    let ok = p.run_until(p.now + 1_000 * MS, |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::StreamsAvailable { .. }))
    });
    assert!(ok, "the stream's slot was not given back");
    assert_eq!(p.client.open_stream(false), Ok(4));
    // The stream is gone; consuming on it again is a no-op.
    assert_eq!(server(&mut p).stream_consumed(0, 5), Ok(()));
}

#[test]
fn a_reported_reset_gives_its_unconsumed_bytes_back_to_the_connection() {
    let (c, mut s) = configs();
    s.set_windows(WINDOW, WINDOW).unwrap();
    s.set_max_windows(WINDOW, WINDOW).unwrap();
    s.set_receive_credit(ReceiveCredit::OnConsume);
    let mut p = Pair::new(c, s);
    p.handshake();
    // Fill the whole connection window on stream 0; consume a little.
    p.client
        .stream_send(0, &pattern(WINDOW as usize, 1), false)
        .unwrap();
    let ok = p.run_until(p.now + 5_000 * MS, |p| {
        p.server_rx.bytes(0).len() as u64 == WINDOW
    });
    assert!(ok, "the window's worth did not arrive");
    server(&mut p).stream_consumed(0, 1000).unwrap();
    p.client.stream_reset(0, 9).unwrap();
    let ok = p.run_until(p.now + 1_000 * MS, |p| {
        p.server_events
            .iter()
            .any(|e| matches!(e, Event::StreamReset { stream_id: 0, .. }))
    });
    assert!(ok, "the reset was not reported");
    // The rest of stream 0 is credited: another stream gets a full window.
    let next = pattern(WINDOW as usize, 2);
    p.client.stream_send(4, &next, true).unwrap();
    let ok = p.run_until(p.now + 5_000 * MS, |p| p.server_rx.finished.contains(&4));
    assert!(ok, "the connection window was not given back by the reset");
    assert_eq!(p.server_rx.bytes(4), &next[..]);
    // Consuming a reset stream's bytes afterwards changes nothing.
    assert_eq!(server(&mut p).stream_consumed(0, 10), Ok(()));
}

#[test]
fn a_paused_stream_holds_its_window_while_others_flow() {
    let mut p = pair(ReceiveCredit::OnPoll);
    let big = pattern(2 << 20, 3);
    let small = pattern(100_000, 4);
    p.client.stream_send(0, &big, true).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    server(&mut p).stream_pause_reading(0).unwrap();
    let at_pause = p.server_rx.bytes(0).len();
    p.client.stream_send(4, &small, true).unwrap();
    p.run_for(5_000);
    assert_eq!(
        p.server_rx.bytes(0).len(),
        at_pause,
        "delivered while paused"
    );
    assert!(
        p.server_rx.finished.contains(&4),
        "another stream was held up"
    );
    assert_eq!(p.server_rx.bytes(4), &small[..]);
    // Held: at most the window, plus one partly filled gathering buffer.
    let (_, held) = server(&mut p).stream_held(0).unwrap();
    assert!(
        held as u64 <= MAX_WINDOW + 64 * 1024,
        "{held} bytes held for a paused stream"
    );
    assert!(
        p.client.stream_send_buffered(0) > 0,
        "the sender did not stop"
    );

    server(&mut p).stream_resume_reading(0).unwrap();
    let ok = p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0));
    assert!(ok, "the stream did not finish after resuming");
    assert_eq!(p.server_rx.bytes(0), &big[..]);
}

#[test]
fn a_reset_is_reported_while_paused() {
    let mut p = pair(ReceiveCredit::OnPoll);
    p.client.stream_send(0, &pattern(10_000, 5), false).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    server(&mut p).stream_pause_reading(0).unwrap();
    p.client.stream_reset(0, 77).unwrap();
    let ok = p.run_until(p.now + 1_000 * MS, |p| {
        p.server_events.iter().any(|e| {
            matches!(
                e,
                Event::StreamReset {
                    stream_id: 0,
                    error_code: 77
                }
            )
        })
    });
    assert!(ok, "the reset of a paused stream was not reported");
}

#[test]
fn misuse_is_refused_with_reasons() {
    let mut p = pair(ReceiveCredit::OnPoll);
    p.client.stream_send(0, b"abc", false).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    assert!(matches!(
        server(&mut p).stream_consumed(0, 1),
        Err(ApiError::InvalidState(_))
    ));

    let mut p = pair(ReceiveCredit::OnConsume);
    p.client.stream_send(0, b"abc", false).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    let s = server(&mut p);
    assert!(matches!(
        s.stream_consumed(0, 4),
        Err(ApiError::InvalidStream(_))
    ));
    assert_eq!(s.stream_consumed(0, 3), Ok(()));
    assert!(matches!(
        s.stream_consumed(0, 1),
        Err(ApiError::InvalidStream(_))
    ));
    // Streams the peer has not opened, our own not opened, our send-only.
    for sid in [8, 1, 3] {
        assert!(
            matches!(s.stream_consumed(sid, 0), Err(ApiError::InvalidStream(_))),
            "stream {sid}"
        );
        assert!(
            matches!(s.stream_pause_reading(sid), Err(ApiError::InvalidStream(_))),
            "stream {sid}"
        );
    }
    assert!(matches!(
        s.stream_consumed(u64::MAX, 1),
        Err(ApiError::InvalidStream(_))
    ));
}

/// The client's side of the same: a download paused on a bidirectional
/// stream while the upload on it goes on.
#[test]
fn a_client_pauses_a_download_while_its_upload_goes_on() {
    let (mut c, s) = configs();
    c.set_windows(4 * MAX_WINDOW, WINDOW).unwrap();
    c.set_max_windows(MAX_WINDOW, 4 * MAX_WINDOW).unwrap();
    let mut p = Pair::new(c, s);
    p.handshake();
    let up = pattern(2 << 20, 1);
    let down = pattern(2 << 20, 2);
    p.client.stream_send(0, &up, true).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.server_rx.bytes(0).is_empty());
    server(&mut p).stream_send(0, &down, true).unwrap();
    p.run_until(p.now + 1_000 * MS, |p| !p.client_rx.bytes(0).is_empty());
    p.client.stream_pause_reading(0).unwrap();
    let at = p.client_rx.bytes(0).len();
    p.run_for(5_000);
    assert_eq!(p.client_rx.bytes(0).len(), at, "delivered while paused");
    assert!(p.server_rx.finished.contains(&0), "the upload was held up");
    assert!(
        p.server().stream_send_buffered(0) > 0,
        "the server did not stop"
    );
    p.client.stream_resume_reading(0).unwrap();
    let ok = p.run_until(p.now + 20_000 * MS, |p| p.client_rx.finished.contains(&0));
    assert!(ok, "the download did not finish after resuming");
    assert_eq!(p.client_rx.bytes(0), &down[..]);
    assert_eq!(p.server_rx.bytes(0), &up[..]);
}
