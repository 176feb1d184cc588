//! ECN (RFC 9000 §13.4, RFC 9002 §7.1) over the simulated link: marks
//! that arrive validate the path, a path that bleaches, drops or
//! rewrites them turns ECN off without hurting the transfer, and CE marks
//! from an AQM shrink the window instead of losses.

use super::pair::{configs, Link, LinkEcn, Pair, Rng, MS};
use crate::conn::EcnState;

/// A 100 Mbit/s bottleneck with a 256 KB queue and `ecn` behaviour.
fn link(ecn: LinkEcn) -> Link {
    Link {
        bandwidth: Some(12_500_000),
        queue: 256 * 1024,
        ecn,
        ..Link::default()
    }
}

/// A 2 MB download over links doing `ecn` each way; the pair after it.
fn download(ecn: LinkEcn, seed: u64) -> Pair {
    let mut p = Pair::default_pair();
    p.rng = Rng::new(seed);
    p.delay = 10 * MS;
    p.links = [link(ecn), link(ecn)];
    p.download(2 << 20, &format!("{ecn:?}"));
    p
}

#[test]
fn a_path_that_carries_marks_is_validated() {
    let p = download(LinkEcn::Pass, 1);
    for (who, c) in [("client", &p.client), ("server", p.server())] {
        let st = c.stats();
        assert_eq!(st.ecn_state, EcnState::Capable, "{who}");
        assert!(st.ecn_received.ect0 > 100, "{who}: {:?}", st.ecn_received);
        assert_eq!(st.ecn_received.ce, 0, "{who}");
    }
    // The server marked every datagram of the download.
    assert!(p.ecn_marked[1] as f64 > 0.95 * p.counts[1] as f64);
}

/// Each broken path ends in Failed on both sides, with the transfer
/// intact, and once failed nothing more is marked.
#[test]
fn a_path_that_loses_or_rewrites_marks_turns_ecn_off() {
    for ecn in [LinkEcn::Bleach, LinkEcn::DropMarked, LinkEcn::RewriteToEct1] {
        let p = download(ecn, 2);
        for (who, c) in [("client", &p.client), ("server", p.server())] {
            assert_eq!(c.stats().ecn_state, EcnState::Failed, "{ecn:?}: {who}");
        }
        // At most the testing packets (10 per side, plus a datagram of
        // each coalesced flight) were marked.
        for dir in 0..2 {
            assert!(
                p.ecn_marked[dir] <= 12,
                "{ecn:?}: {} datagrams marked in direction {dir}",
                p.ecn_marked[dir]
            );
        }
    }
}

/// An AQM that marks CE above 30 KB of queue: the sender backs off on
/// the marks (RFC 9002 §7.1), so the 256 KB queue overflows only in the
/// overshoot of slow start (the first marks take a round trip to come
/// back), where without ECN the same link drops many times as much.
#[test]
fn ce_marks_shrink_the_window_before_the_queue_drops() {
    let marked = download(LinkEcn::MarkAbove(30 * 1024), 3);
    let s = marked.server().stats();
    assert!(marked.ce_marked[1] > 0, "the AQM marked");
    assert!(s.recovery.ecn_ce_reported > 0, "{:?}", s.recovery);
    assert!(s.recovery.ecn_congestion_events > 0, "{:?}", s.recovery);
    let marked_drops = marked.dropped[1];
    assert_eq!(
        marked.client.stats().ecn_received.ce as usize,
        marked.ce_marked[1]
    );

    // The same link without ECN: the sender only learns from drops.
    let (c, mut sc) = configs();
    sc.set_ecn(false);
    let mut p = Pair::new(c, sc);
    p.rng = Rng::new(3);
    p.delay = 10 * MS;
    p.links = [
        link(LinkEcn::MarkAbove(30 * 1024)),
        link(LinkEcn::MarkAbove(30 * 1024)),
    ];
    p.download(2 << 20, "ECN off");
    assert_eq!(p.server().stats().ecn_state, EcnState::Disabled);
    assert_eq!(p.ecn_marked[1], 0, "ECN off: nothing marked");
    assert!(
        marked_drops * 5 < p.dropped[1],
        "{marked_drops} drops with ECN, {} without",
        p.dropped[1]
    );
}
