//! Congestion control behaviour against RFC 9002 and RFC 9438.

use super::cubic::{BETA, C};
use super::*;

const MDS: u64 = 1200;
const MS: u64 = 1_000_000;

#[test]
fn initial_and_minimum_windows() {
    assert_eq!(initial_window(1200), 12_000);
    assert_eq!(initial_window(1500), 14_720);
    assert_eq!(initial_window(9000), 18_000);
    assert_eq!(minimum_window(1200), 2400);
}

#[test]
fn new_reno_slow_start_doubles_per_window() {
    let mut c = Controller::new(Algorithm::NewReno, MDS);
    let w0 = c.window();
    // Acknowledging a whole window in slow start doubles it.
    for _ in 0..10 {
        c.on_acked(MDS, 0, MS, 100 * MS, false);
    }
    assert_eq!(c.window(), 2 * w0);
}

#[test]
fn new_reno_halves_once_per_recovery_period_then_grows_linearly() {
    let mut c = Controller::new(Algorithm::NewReno, MDS);
    for _ in 0..30 {
        c.on_acked(MDS, 0, MS, 100 * MS, false);
    }
    let before = c.window();
    c.on_congestion_event(10 * MS, 20 * MS);
    assert_eq!(c.window(), before / 2);
    assert_eq!(c.ssthresh(), before / 2);
    // Losses of packets sent before the period started do not reduce again.
    c.on_congestion_event(15 * MS, 25 * MS);
    assert_eq!(c.window(), before / 2);
    // Neither do acks of such packets grow it.
    c.on_acked(MDS, 19 * MS, 30 * MS, 100 * MS, false);
    assert_eq!(c.window(), before / 2);
    // Congestion avoidance: one datagram per window of acknowledged bytes.
    let w = c.window();
    let mut acked = 0;
    while acked < w {
        c.on_acked(MDS, 40 * MS, 50 * MS, 100 * MS, false);
        acked += MDS;
    }
    assert_eq!(c.window(), w + MDS);
}

#[test]
fn persistent_congestion_collapses_the_window() {
    for algo in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut c = Controller::new(algo, MDS);
        for _ in 0..50 {
            c.on_acked(MDS, 0, MS, 100 * MS, false);
        }
        c.on_persistent_congestion();
        assert_eq!(c.window(), minimum_window(MDS), "{algo:?}");
    }
}

#[test]
fn app_limited_acks_do_not_grow_the_window() {
    for algo in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut c = Controller::new(algo, MDS);
        let w = c.window();
        for _ in 0..20 {
            c.on_acked(MDS, 0, MS, 100 * MS, true);
        }
        assert_eq!(c.window(), w);
    }
}

#[test]
fn cubic_reduces_by_beta_and_computes_k() {
    let mut c = Cubic::new(MDS);
    for _ in 0..90 {
        c.on_acked(MDS, 0, MS, 100 * MS, false);
    }
    let before = c.window() as f64;
    c.on_congestion_event(10 * MS, 20 * MS);
    assert_eq!(c.window(), (before * BETA) as u64);
    assert_eq!(c.w_max, before);
    // K = cbrt(W_max * (1 - beta) / C) in segments (RFC 9438 Figure 2).
    let expected_k = (before / MDS as f64 * (1.0 - BETA) / C).cbrt();
    assert!((c.k - expected_k).abs() < 1e-3, "{} vs {expected_k}", c.k);
    // W_cubic(K) is W_max.
    assert!((c.w_cubic(c.k) - c.w_max).abs() < 1.0);
}

#[test]
fn cubic_is_concave_below_w_max_and_convex_above() {
    let mut c = Cubic::new(MDS);
    for _ in 0..200 {
        c.on_acked(MDS, 0, MS, 10 * MS, false);
    }
    c.on_congestion_event(0, MS);
    let w_max = c.w_max;
    let k = c.k;
    // Concave: growth slows approaching W_max; convex: speeds up after.
    let growth = |t0: f64, t1: f64| c.w_cubic(t1) - c.w_cubic(t0);
    assert!(growth(0.0, k / 4.0) > growth(k / 4.0, k / 2.0));
    assert!(growth(k, k + 1.0) < growth(k + 1.0, k + 2.0));
    assert!(c.w_cubic(k / 2.0) < w_max && c.w_cubic(k + 1.0) > w_max);

    // Driving acks across the epoch: the window approaches W_max, plateaus,
    // then probes beyond it. (On a 100 ms path: on a short one the
    // Reno-friendly estimate would overtake W_cubic, as RFC 9438 §4.3
    // intends.)
    let rtt = 100 * MS;
    let mut now = 2 * MS;
    let mut at_k = 0;
    let mut beyond = 0;
    while now < 2 * MS + ((k + 3.0) * 1e9) as u64 {
        c.on_acked(MDS, now, now, rtt, false);
        let t = (now - 2 * MS) as f64 / 1e9;
        if (t - k).abs() < 0.05 {
            at_k = c.window();
        }
        if t > k + 2.5 {
            beyond = c.window();
        }
        now += MS;
    }
    assert!(
        at_k as f64 > 0.95 * w_max && (at_k as f64) < 1.1 * w_max,
        "{at_k} vs {w_max}"
    );
    assert!(beyond as f64 > w_max, "{beyond} vs {w_max}");
}

#[test]
fn cubic_fast_convergence_lowers_w_max() {
    let mut c = Cubic::new(MDS);
    for _ in 0..90 {
        c.on_acked(MDS, 0, MS, 100 * MS, false);
    }
    c.on_congestion_event(0, MS);
    let first_w_max = c.w_max;
    // A second loss before regaining W_max.
    c.on_congestion_event(2 * MS, 3 * MS);
    let cwnd_at_loss = first_w_max * BETA;
    assert!((c.w_max - cwnd_at_loss * (1.0 + BETA) / 2.0).abs() < 2.0);
}

/// Under random loss a window stays a few segments, and packets do not
/// divide it evenly: 2.8 segments carry 2. The Reno-friendly estimate must
/// still grow by α segments per RTT after the reduction (a Reno flow
/// grows by one), not by α times the share of the window that was
/// acknowledged, nor wait out the recovery RTT.
#[test]
fn cubic_small_window_grows_alpha_segments_per_rtt_after_a_loss() {
    let mut c = Cubic::new(MDS);
    // Out of slow start at four segments.
    c.on_congestion_event(0, MS);
    while c.window() < 4 * MDS {
        c.on_acked(MDS, 2 * MS, 3 * MS, 10 * MS, false);
    }
    let rtt = 10 * MS;
    let loss_at = 100 * MS;
    c.on_congestion_event(loss_at - 1, loss_at);
    let reduced = c.window();
    // Each RTT, as many whole packets as the window holds, all sent after
    // the event, are acknowledged; packets sent in recovery count for
    // nothing.
    c.on_acked(MDS, loss_at - 5 * MS, loss_at + 5 * MS, rtt, false);
    assert_eq!(c.window(), reduced, "packets sent before the event");
    let mut now = loss_at;
    for _ in 0..4 {
        let sent = now;
        now += rtt;
        for _ in 0..c.window() / MDS {
            c.on_acked(MDS, sent + 1, now, rtt, false);
        }
    }
    let alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
    let expected = reduced as f64 + 4.0 * alpha * MDS as f64;
    assert!(
        c.window() as f64 >= 0.97 * expected,
        "{} after 4 RTTs from {reduced}, expected about {expected:.0}",
        c.window()
    );
    assert!(c.window() as f64 <= expected + MDS as f64, "{}", c.window());
}

/// The time-based estimate never jumps: growth per acknowledgement is at
/// most the bytes it acknowledged, and none while application-limited.
#[test]
fn cubic_growth_is_bounded_by_what_is_acknowledged() {
    let mut c = Cubic::new(MDS);
    c.on_congestion_event(0, MS);
    let before = c.window();
    // A long quiet spell, then one acknowledgement.
    c.on_acked(MDS, 2 * MS, 10_000 * MS, 10 * MS, true);
    assert_eq!(c.window(), before, "application-limited");
    c.on_acked(MDS, 2 * MS, 10_000 * MS, 10 * MS, false);
    assert!(c.window() <= before + MDS, "{} from {before}", c.window());
}
