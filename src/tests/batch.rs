//! GSO batches (`send_batch`): runs of equal-size datagrams for one
//! destination, each built as a lone `send_on` would build it, so that a
//! batch keeps every limit one-at-a-time sending keeps.

use std::cell::RefCell;
use std::rc::Rc;

use super::pair::{Dir, Link, Pair, Rng, MS};
use super::streams::pattern;

/// A 100 Mbit/s bottleneck with a 256 KB queue, losing `loss`.
fn link(loss: f64) -> Link {
    Link {
        bandwidth: Some(12_500_000),
        queue: 256 * 1024,
        loss,
        ..Link::default()
    }
}

/// Every datagram each side offered the link, in order: (direction,
/// length, the clock then).
type Offered = Rc<RefCell<Vec<(Dir, usize, u64)>>>;

/// A 2 MB download and 256 KB upload over a lossy link, sending in
/// batches of at most `batch` datagrams or one by one; what was offered.
fn run(batch: Option<usize>, seed: u64) -> (Pair, Offered) {
    let mut p = Pair::default_pair();
    p.rng = Rng::new(seed);
    p.delay = 5 * MS;
    p.links = [link(0.02), link(0.02)];
    p.batch_segments = batch;
    let offered: Offered = Rc::default();
    p.handshake();
    let down = pattern(2 << 20, 3);
    let up = pattern(256 << 10, 4);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &down, true)
        .unwrap();
    p.client.stream_send(0, &up, true).unwrap();
    let o = offered.clone();
    let clock = Rc::new(std::cell::Cell::new(0u64));
    let c = clock.clone();
    p.on_server_send = None;
    p.drop = Box::new(move |dir, _, d| {
        o.borrow_mut().push((dir, d.len(), c.get()));
        false
    });
    let start = p.now;
    let done = p.run_until(start + 120_000 * MS, |p| {
        clock.set(p.now);
        p.client_rx.finished.contains(&1) && p.server_rx.finished.contains(&0)
    });
    assert!(done, "the transfer finished ({batch:?})");
    assert!(p.client_rx.bytes(1) == down, "the download arrived intact");
    assert!(p.server_rx.bytes(0) == up, "the upload arrived intact");
    (p, offered)
}

/// Batching changes how datagrams are handed over, not which: over the
/// same lossy link, a transfer in batches offers the link the same
/// datagrams, of the same sizes, at the same times, as one sent by one.
/// So the congestion window, the pacer and loss recovery hold for every
/// datagram of a batch as they do for a lone one.
#[test]
fn batches_carry_the_datagrams_lone_sends_would() {
    let (single, lone) = run(None, 7);
    let (batched, batches) = run(Some(64), 7);
    assert!(
        batched.server_batches.iter().any(|(b, _)| b.segments >= 8),
        "the server sent batches of several datagrams"
    );
    assert!(single.dropped[1] > 0, "the link lost some");
    let (lone, batches) = (lone.borrow(), batches.borrow());
    assert_eq!(lone.len(), batches.len(), "as many datagrams");
    if let Some(i) = (0..lone.len()).find(|&i| lone[i] != batches[i]) {
        panic!(
            "datagram {i} differs: one by one {:?}, batched {:?}",
            lone[i], batches[i]
        );
    }
    assert_eq!(single.now, batched.now, "both finished at the same time");
}

/// Every batch is a GSO run: at most the asked number of datagrams, all
/// of one size but the last, which is not longer; runs are of full-size
/// datagrams. After each batch the bytes in flight exceed the
/// congestion window by less than one datagram (RFC 9002 §7: a sender
/// stops once the window is full).
#[test]
fn a_batch_is_a_run_of_full_datagrams_within_the_window() {
    let mut p = Pair::default_pair();
    p.rng = Rng::new(3);
    p.delay = 5 * MS;
    p.links = [link(0.01), link(0.01)];
    p.batch_segments = Some(10);
    let over = Rc::new(RefCell::new(Vec::new()));
    let o = over.clone();
    p.watch_server_sends = Some(Box::new(move |server, sent| {
        let (in_flight, cwnd) = (server.bytes_in_flight(), server.congestion_window());
        if sent && in_flight >= cwnd + server.max_send_size() as u64 {
            o.borrow_mut().push((in_flight, cwnd));
        }
    }));
    p.download(4 << 20, "batches");
    assert_eq!(*over.borrow(), vec![], "batches that overfilled the window");
    // PMTU discovery raises the size from 1200 to the ceiling, 1452.
    let max = 1452;
    let mut multi = 0;
    for (b, len) in &p.server_batches {
        assert!((1..=10).contains(&b.segments), "{b:?}");
        assert!(b.segment_size <= max, "{b:?}");
        let full = (b.segments - 1) * b.segment_size;
        assert!(
            *len > full && *len <= full + b.segment_size,
            "{b:?}: {len} bytes"
        );
        if b.segments > 1 {
            assert!(
                b.segment_size >= 1200,
                "a run is of full-size datagrams: {b:?}"
            );
            multi += 1;
        }
    }
    let hist: std::collections::BTreeMap<usize, usize> =
        p.server_batches
            .iter()
            .fold(Default::default(), |mut m, (b, _)| {
                *m.entry(b.segments).or_default() += 1;
                m
            });
    assert!(
        multi > 50,
        "only {multi} batches had several datagrams: {hist:?}"
    );
}

/// RFC 9000 §8.1: before the client's address is proven, a server's
/// batches stay within three times what it received, as its lone
/// datagrams do. A 6-intermediate chain makes the server's flight larger
/// than that; the client's datagrams after its first are lost.
#[test]
fn a_batch_keeps_the_anti_amplification_limit() {
    let mut p = super::handshake::unvalidated_big_flight();
    p.batch_segments = Some(64);
    p.run_until(20_000 * MS, |_| false);
    assert!(
        p.server_batches.iter().any(|(b, _)| b.segments > 1),
        "the flight went in batches"
    );
    assert!(
        p.bytes_sent[1] > 2 * p.bytes_delivered[0],
        "the server used its allowance"
    );
    assert!(
        p.bytes_sent[1] <= 3 * p.bytes_delivered[0],
        "sent {} for {} received",
        p.bytes_sent[1],
        p.bytes_delivered[0]
    );
}

/// A pacing horizon (`Config::set_pacing_horizon`): datagrams are handed
/// out up to the horizon before the pacer would release them, each
/// stamped with its time, and the link takes each at its time (as
/// `SO_TXTIME` would). They are never stamped further ahead than the
/// horizon, and the transfer is paced as without one: about as fast, and
/// no more drops at the bottleneck. Without a horizon every datagram
/// goes at once.
#[test]
fn a_pacing_horizon_stamps_datagrams_with_their_pacing_time() {
    let run = |horizon: u64| {
        let (c, mut s) = super::pair::configs();
        s.set_pacing_horizon(horizon).unwrap();
        let mut p = Pair::new(c, s);
        p.delay = 5 * MS;
        p.links = [link(0.0), link(0.0)];
        p.batch_segments = Some(16);
        p.download(4 << 20, "horizon");
        (p.max_lead[Dir::ToClient as usize], p.dropped[1], p.now)
    };
    let (lead0, drops0, took0) = run(0);
    let (lead, drops, took) = run(2 * MS);
    assert_eq!(lead0, 0, "without a horizon, nothing is stamped ahead");
    assert!(lead > 0 && lead <= 2 * MS, "stamped {lead} ns ahead");
    assert!(
        drops <= drops0 + 2,
        "{drops} drops with a horizon, {drops0} without"
    );
    assert!(
        took * 10 <= took0 * 11 && took0 * 10 <= took * 11,
        "{} ms with a horizon, {} ms without",
        took / MS,
        took0 / MS
    );
}
