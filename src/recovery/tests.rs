//! Loss detection tests: thresholds, timers and probes as RFC 9002 defines.

use super::*;

const MS: u64 = 1_000_000;

fn status() -> HandshakeStatus {
    HandshakeStatus {
        confirmed: true,
        has_handshake_keys: true,
        peer_validated_address: true,
        amplification_limited: false,
    }
}

fn send(r: &mut Recovery<u64>, space: Space, pn: u64, t: u64) {
    r.on_packet_sent(
        space,
        SentPacket {
            pn,
            time_sent: t,
            size: 1000,
            ack_eliciting: true,
            in_flight: true,
            ecn: false,
            data: pn,
        },
    );
}

#[test]
fn ack_removes_packets_and_samples_rtt() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    for pn in 0..3 {
        send(&mut r, Space::Application, pn, pn * MS);
    }
    assert_eq!(r.bytes_in_flight(), 3000);
    let out = r.on_ack_received(
        Space::Application,
        [(0, 2)].into_iter(),
        0,
        52 * MS,
        status(),
    );
    assert_eq!(out.acked.len(), 3);
    assert!(out.lost.is_empty());
    assert_eq!(r.bytes_in_flight(), 0);
    assert_eq!(r.path.rtt.latest(), 50 * MS);
    assert_eq!(r.timer(), None, "nothing in flight");
}

#[test]
fn packet_threshold_declares_loss() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    for pn in 0..5 {
        send(&mut r, Space::Application, pn, 10 * MS);
    }
    // Acknowledging 3 and 4 makes 0 and 1 lost (3 packets below 4 and 3);
    // 2 is within the threshold but waits for the time threshold.
    let out = r.on_ack_received(
        Space::Application,
        [(3, 4)].into_iter(),
        0,
        11 * MS,
        status(),
    );
    let mut lost: Vec<u64> = out.lost.iter().map(|p| p.pn).collect();
    lost.sort();
    assert_eq!(lost, vec![0, 1]);
    let t = r.timer().expect("time-threshold timer armed for packet 2");
    match r.on_timeout(t, status()) {
        Some(Timeout::Lost(Space::Application, lost)) => {
            assert_eq!(lost.iter().map(|p| p.pn).collect::<Vec<_>>(), vec![2])
        }
        other => panic!("expected a loss, got {other:?}"),
    }
}

#[test]
fn pto_backs_off_and_is_reset_by_an_ack() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    send(&mut r, Space::Initial, 0, 0);
    r.set_timer(0, status());
    let first = r.timer().unwrap();
    // smoothed 100 + 4 * 50 = 300 ms, no max_ack_delay in Initial.
    assert_eq!(first, 300 * MS);
    assert!(r.on_timeout(first - 1, status()).is_none(), "not yet");
    assert!(matches!(
        r.on_timeout(first, status()),
        Some(Timeout::Probe(Space::Initial))
    ));
    assert_eq!(r.pto_count(), 1);
    assert_eq!(r.timer().unwrap(), 600 * MS, "doubled");
    send(&mut r, Space::Initial, 1, 600 * MS);
    r.on_ack_received(Space::Initial, [(1, 1)].into_iter(), 0, 650 * MS, status());
    assert_eq!(r.pto_count(), 0);
}

/// A deferred set_timer arms what an immediate one would, with the `now`
/// it was asked with; the timeout runs by it; a later set_timer wins.
#[test]
fn a_deferred_timer_is_the_timer_set_at_its_time() {
    let mut eager = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    let mut lazy = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    for r in [&mut eager, &mut lazy] {
        send(r, Space::Application, 0, 5 * MS);
    }
    eager.set_timer(5 * MS, status());
    lazy.defer_timer(5 * MS);
    let armed = eager.timer().expect("a PTO is armed");
    assert_eq!(lazy.armed_timer(status()), Some(armed));
    assert_eq!(lazy.timer(), None, "nothing set yet, only deferred");
    assert!(lazy.on_timeout(armed - 1, status()).is_none(), "not yet");
    assert!(matches!(
        lazy.on_timeout(armed, status()),
        Some(Timeout::Probe(Space::Application))
    ));
    // Deferred, then set at once: the set one holds.
    lazy.defer_timer(0);
    lazy.set_timer(armed, status());
    assert_eq!(lazy.armed_timer(status()), lazy.timer());
}

#[test]
fn application_pto_waits_for_confirmation_and_adds_max_ack_delay() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    let mut s = status();
    s.confirmed = false;
    send(&mut r, Space::Application, 0, 0);
    r.set_timer(0, s);
    // Not confirmed: the 1-RTT space does not arm the PTO (RFC 9002 A.8).
    assert_eq!(r.timer(), None);
    r.set_timer(0, status());
    assert_eq!(r.timer(), Some(325 * MS));
}

#[test]
fn anti_deadlock_probe_for_a_client_without_packets_in_flight() {
    let mut r: Recovery<u64> = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    let s = HandshakeStatus {
        confirmed: false,
        has_handshake_keys: false,
        peer_validated_address: false,
        amplification_limited: false,
    };
    r.set_timer(10 * MS, s);
    assert_eq!(r.timer(), Some(310 * MS));
    assert!(matches!(
        r.on_timeout(310 * MS, s),
        Some(Timeout::Probe(Space::Initial))
    ));
    // A server at its amplification limit arms nothing.
    let limited = HandshakeStatus {
        amplification_limited: true,
        peer_validated_address: true,
        ..s
    };
    r.set_timer(0, limited);
    assert_eq!(r.timer(), None);
}

#[test]
fn discarding_a_space_forgets_its_bytes() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    send(&mut r, Space::Initial, 0, 0);
    send(&mut r, Space::Handshake, 0, 0);
    let gone = r.discard_space(Space::Initial, 0, status());
    assert_eq!(gone.len(), 1);
    assert_eq!(r.bytes_in_flight(), 1000);
}

#[test]
fn losses_reduce_the_window_and_long_ones_collapse_it() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    send(&mut r, Space::Application, 0, 0);
    r.on_ack_received(
        Space::Application,
        [(0, 0)].into_iter(),
        0,
        100 * MS,
        status(),
    );
    let w0 = r.path.cc.window();
    // Packets 1..=5 lost over one RTT: a normal reduction.
    for pn in 1..=5 {
        send(&mut r, Space::Application, pn, 100 * MS + pn * MS);
    }
    send(&mut r, Space::Application, 6, 110 * MS);
    r.on_ack_received(
        Space::Application,
        [(6, 6)].into_iter(),
        0,
        210 * MS,
        status(),
    );
    assert_eq!(r.path.cc.window(), w0 / 2);
    // Packets spanning more than 3 PTOs, all lost: persistent congestion.
    for pn in 7..=40 {
        send(
            &mut r,
            Space::Application,
            pn,
            300 * MS + (pn - 7) * 60 * MS,
        );
    }
    send(&mut r, Space::Application, 41, 2_400 * MS);
    r.on_ack_received(
        Space::Application,
        [(41, 41)].into_iter(),
        0,
        2_500 * MS,
        status(),
    );
    // The window collapsed to the minimum; the acknowledged packet, sent
    // after the losses, then counts in slow start.
    assert_eq!(r.path.cc.window(), congestion::minimum_window(1200) + 1000);
}

#[test]
fn spurious_losses_widen_the_threshold_and_undo_the_reduction() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    for pn in 0..20 {
        send(&mut r, Space::Application, pn, 10 * MS);
    }
    let w0 = r.path.cc.window();
    // 10..=19 acknowledged first: 0..=9 look lost by the packet threshold.
    let out = r.on_ack_received(
        Space::Application,
        [(10, 19)].into_iter(),
        0,
        11 * MS,
        status(),
    );
    assert!(!out.lost.is_empty());
    assert!(r.path.cc.window() < w0);
    // Then they arrive: it was reordering.
    r.on_ack_received(
        Space::Application,
        [(0, 19)].into_iter(),
        0,
        12 * MS,
        status(),
    );
    assert!(r.spurious_losses() > 0);
    assert_eq!(r.path.cc.window(), w0, "the reduction was undone");
    assert!(r.packet_threshold() >= 10);
}

#[test]
fn spurious_losses_are_found_across_several_ack_ranges() {
    let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
    for pn in 0..20 {
        send(&mut r, Space::Application, pn, 10 * MS);
    }
    r.on_ack_received(
        Space::Application,
        [(10, 19)].into_iter(),
        0,
        11 * MS,
        status(),
    );
    // Of the packets declared lost, 5..=7 and 1 turn up in a later ACK.
    r.on_ack_received(
        Space::Application,
        [(10, 19), (5, 7), (1, 1)].into_iter(),
        0,
        12 * MS,
        status(),
    );
    assert_eq!(r.spurious_losses(), 4);
}

/// The record of lost packets that spots spurious losses keeps only what
/// the peer's ACKs still cover: an ACK never walks losses the peer no
/// longer reports (a lossy transfer spent 8% of its CPU there when every
/// ACK scanned the last 1024 losses).
#[test]
fn the_spurious_loss_record_keeps_what_acks_can_still_cover() {
    let mut r: Recovery<u64> = Recovery::new(100 * MS, congestion::Algorithm::Cubic, 1200);
    let s = Space::Application as usize;
    for pn in 0..1000 {
        r.spaces[s].lost_history.insert(pn, pn + 3);
    }
    // An ACK reporting 500..=600 and above: those were spurious, and
    // nothing below 500 can be acknowledged any more.
    r.check_spurious(Space::Application, &[(2000, 2100), (500, 600)]);
    assert_eq!(r.spurious_losses(), 101);
    assert_eq!(r.spaces[s].lost_history.len(), 1000 - 601);
    r.check_spurious(Space::Application, &[(5000, 5000)]);
    assert!(r.spaces[s].lost_history.is_empty());
    // Ranges are never taken apart backwards, whatever a caller passes.
    r.spaces[s].lost_history.insert(7000, 7003);
    r.check_spurious(Space::Application, &[(7001, 6999)]);
    assert_eq!(r.spurious_losses(), 101);
}

fn lost_packet(pn: u64) -> SentPacket<u64> {
    SentPacket {
        pn,
        time_sent: pn * MS,
        size: 1200,
        ack_eliciting: true,
        in_flight: true,
        ecn: false,
        data: pn,
    }
}

/// A reduction is undone only when every loss of its episode proves
/// spurious: with real losses and a little reordering, one reordered
/// packet must not restore the window the real losses reduced (it did,
/// and CUBIC then ignored 2% loss and overflowed the bottleneck queue; the
/// link-level check is in tests::key_update).
#[test]
fn a_reduction_is_undone_only_when_all_its_losses_were_spurious() {
    let mut r: Recovery<u64> = Recovery::new(100 * MS, congestion::Algorithm::Cubic, 1200);
    let before = r.path.cc.window();
    let app = Space::Application;
    for pn in [10, 11] {
        r.spaces[app as usize].lost_history.insert(pn, 14);
    }
    r.on_lost(app, &[lost_packet(10), lost_packet(11)], 50 * MS);
    let reduced = r.path.cc.window();
    assert!(reduced < before);
    // A loss in the same recovery period joins the episode.
    r.spaces[app as usize].lost_history.insert(12, 15);
    r.on_lost(app, &[lost_packet(12)], 51 * MS);
    assert_eq!(r.path.cc.window(), reduced, "one reduction per period");
    r.check_spurious(app, &[(10, 10)]);
    assert_eq!(
        r.path.cc.window(),
        reduced,
        "10 arrived late, 11 and 12 did not"
    );
    r.check_spurious(app, &[(11, 12)]);
    assert_eq!(r.path.cc.window(), before, "all three were only reordered");
}

/// A lost ACK-only packet (not in flight) acknowledged later says nothing
/// about the window: it never enters the record that undoes reductions.
/// (With ACK-only packets of a two-way transfer in it, their late ACKs
/// undid reductions that real losses caused.)
#[test]
fn only_packets_in_flight_can_prove_a_loss_spurious() {
    let mut r: Recovery<u64> = Recovery::new(100 * MS, congestion::Algorithm::Cubic, 1200);
    let app = Space::Application;
    send(&mut r, app, 0, 0);
    r.on_packet_sent(
        app,
        SentPacket {
            pn: 1,
            time_sent: 0,
            size: 50,
            ack_eliciting: false,
            in_flight: false,
            ecn: false,
            data: 1,
        },
    );
    for pn in 2..6 {
        send(&mut r, app, pn, MS);
    }
    let out = r.on_ack_received(app, [(5, 5)].into_iter(), 0, 2 * MS, status());
    assert_eq!(out.lost.len(), 3, "0, 1 and 2 by the packet threshold");
    let history: Vec<u64> = r.spaces[app as usize]
        .lost_history
        .keys()
        .copied()
        .collect();
    assert_eq!(history, [0, 2]);
}

/// RFC 9002 §7.6: persistent congestion only when the lost ack-eliciting
/// packets span more than three PTOs with none acknowledged in between.
#[test]
fn persistent_congestion_needs_the_whole_span_lost() {
    // One sample of 10 ms, then five packets over `span` ms, then three
    // that an ACK covers 10 ms later (with `also_acked` among the five).
    let run = |span: u64, also_acked: Option<u64>| {
        let mut r = Recovery::new(100 * MS, congestion::Algorithm::NewReno, 1200);
        send(&mut r, Space::Application, 0, 0);
        r.on_ack_received(
            Space::Application,
            [(0, 0)].into_iter(),
            0,
            10 * MS,
            status(),
        );
        for pn in 1..=5 {
            send(
                &mut r,
                Space::Application,
                pn,
                20 * MS + (pn - 1) * span * MS / 4,
            );
        }
        for pn in 6..=8 {
            send(&mut r, Space::Application, pn, 205 * MS);
        }
        let mut ranges = vec![(6, 8)];
        ranges.extend(also_acked.map(|pn| (pn, pn)));
        let out = r.on_ack_received(
            Space::Application,
            ranges.into_iter(),
            0,
            215 * MS,
            status(),
        );
        assert!(out.lost.len() >= 4, "the packet threshold found the losses");
        r.stats().persistent_congestion
    };
    // srtt 10 ms, rttvar 3.75 ms, max_ack_delay 25 ms: 3 PTOs are 150 ms.
    assert_eq!(run(140, None), 0, "a shorter span is not persistent");
    assert_eq!(run(180, None), 1, "a longer one is");
    assert_eq!(run(180, Some(3)), 0, "unless a packet within it arrived");
}
