//! qlog events for state the connection notices at the end of a round
//! (a datagram received, timers handled): recovery metrics, the congestion
//! phase, the loss detection timer, streams opened and closed, the path
//! and the peer's connection ID. Each is logged when it changed since the
//! last one, through the trace's value slots ([`QlogWriter::changed`]).

use std::net::SocketAddr;

use super::qlog_events::endpoint_info;
use super::Connection;
use crate::qlog::QlogWriter;
use crate::recovery::Recovery;
use crate::side::Side;

/// The slots of the values logged when they change.
const MIN_RTT: usize = 0;
const SMOOTHED_RTT: usize = 1;
const LATEST_RTT: usize = 2;
const RTT_VARIANCE: usize = 3;
const PTO_COUNT: usize = 4;
const CWND: usize = 5;
const IN_FLIGHT: usize = 6;
const SSTHRESH: usize = 7;
const PACING_RATE: usize = 8;
const CONGESTION_PHASE: usize = 9;
const LOSS_TIMER: usize = 10;
const PEER_CID: usize = 11;
const TUPLE: usize = 12;

impl Connection {
    /// Logs what changed since the last round.
    #[inline]
    pub(super) fn qlog_changes(&mut self) {
        if self.qlog_on() {
            self.qlog_changes_now();
        }
    }

    #[cold]
    fn qlog_changes_now(&mut self) {
        let now = self.last_now;
        let timer = self.recovery.armed_timer(self.status());
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        congestion(q, &self.recovery, now);
        loss_timer(q, &self.recovery, timer, now);
        let mut changes = Vec::new();
        self.streams.take_state_changes(&mut changes);
        streams(q, &changes, self.side, now);
        let (local, peer) = (self.paths.active.local, self.paths.active.peer);
        tuple(q, local, peer, now);
        // connection_id_updated (§4.4): the CID we send to changed.
        let dcid = self.peer_cids.current();
        if q.changed(PEER_CID, fingerprint(&dcid)) && q.last_was_set(PEER_CID) {
            q.event(now, "connection_id_updated", |d| {
                d.str("initiator", "remote").hex("new", &dcid);
            });
        }
        metrics(q, &self.recovery, now);
    }
}

/// recovery_metrics_updated (§7.2) with the metrics that changed.
fn metrics<T>(q: &mut QlogWriter, r: &Recovery<T>, now: u64) {
    let rtt = &r.path.rtt;
    // u64::MAX: not known yet (no RTT sample, no ssthresh).
    let sampled = |v: u64| if rtt.has_sample() { v } else { u64::MAX };
    let values: [(usize, u64); 9] = [
        (MIN_RTT, sampled(rtt.min())),
        (SMOOTHED_RTT, rtt.smoothed()),
        (LATEST_RTT, sampled(rtt.latest())),
        (RTT_VARIANCE, rtt.var()),
        (PTO_COUNT, u64::from(r.pto_count())),
        (CWND, r.path.cc.window()),
        (IN_FLIGHT, r.bytes_in_flight()),
        (SSTHRESH, r.path.cc.ssthresh()),
        (PACING_RATE, r.pacing_rate()),
    ];
    let mut changed = [false; 9];
    for (slot, v) in values {
        changed[slot] = v != u64::MAX && q.changed(slot, v);
    }
    if !changed.contains(&true) {
        return;
    }
    q.event(now, "recovery_metrics_updated", |d| {
        for (slot, v) in values.into_iter().filter(|(slot, _)| changed[*slot]) {
            match slot {
                MIN_RTT => d.ms("min_rtt", v),
                SMOOTHED_RTT => d.ms("smoothed_rtt", v),
                LATEST_RTT => d.ms("latest_rtt", v),
                RTT_VARIANCE => d.ms("rtt_variance", v),
                PTO_COUNT => d.u64("pto_count", v),
                CWND => d.u64("congestion_window", v),
                IN_FLIGHT => d.u64("bytes_in_flight", v),
                SSTHRESH => d.u64("ssthresh", v),
                _ => d.u64("pacing_rate", v),
            };
        }
    });
}

/// congestion_state_updated (§7.3).
fn congestion<T>(q: &mut QlogWriter, r: &Recovery<T>, now: u64) {
    let code = r.congestion_phase() as u64;
    let old = q.last(CONGESTION_PHASE);
    if q.changed(CONGESTION_PHASE, code) {
        q.event(now, "congestion_state_updated", |d| {
            if let Some(old) = old {
                d.str("old", phase_name(old));
            }
            d.str("new", phase_name(code));
        });
    }
}

/// timer_updated (§5.21) for the loss detection timer: set with its
/// delta, or cancelled.
fn loss_timer<T>(q: &mut QlogWriter, r: &Recovery<T>, timer: Option<u64>, now: u64) {
    if !q.changed(LOSS_TIMER, timer.unwrap_or(u64::MAX - 1)) {
        return;
    }
    let kind = if r.timer_is_probe() { "pto" } else { "ack" };
    q.event(now, "timer_updated", |d| {
        d.str("timer_type", kind);
        match timer {
            Some(t) => d
                .str("event_type", "set")
                .ms("delta", t.saturating_sub(now)),
            None => d.str("event_type", "cancelled"),
        };
    });
}

/// stream_state_updated (§5.13): streams opened (true) and closed, each
/// half that exists.
fn streams(q: &mut QlogWriter, changes: &[(u64, bool)], side: Side, now: u64) {
    for &(sid, opened) in changes {
        let bidi = sid & 0x2 == 0;
        let local = (sid & 0x1 == 1) == (side == Side::Server);
        for (half, has) in [("sending", bidi || local), ("receiving", bidi || !local)] {
            if !has {
                continue;
            }
            q.event(now, "stream_state_updated", |d| {
                d.u64("stream_id", sid)
                    .str(
                        "stream_type",
                        if bidi {
                            "bidirectional"
                        } else {
                            "unidirectional"
                        },
                    )
                    .str("new", if opened { "open" } else { "closed" })
                    .str("stream_side", half);
            });
        }
    }
}

/// tuple_assigned and migration_state_updated (§4.7, §5.20): the
/// connection moved to another pair of addresses (the handshake's is tuple
/// "", logged with connection_started).
fn tuple(q: &mut QlogWriter, local: Option<SocketAddr>, peer: Option<SocketAddr>, now: u64) {
    let tuple = fingerprint(format!("{local:?}{peer:?}").as_bytes());
    if !(q.changed(TUPLE, tuple) && q.last_was_set(TUPLE)) {
        return;
    }
    let id = format!("{tuple:016x}");
    q.event(now, "tuple_assigned", |d| {
        d.str("tuple_id", &id);
        endpoint_info(d, "tuple_remote", peer, None);
        endpoint_info(d, "tuple_local", local, None);
    });
    q.event(now, "migration_state_updated", |d| {
        d.str("new", "migration_complete").str("tuple_id", &id);
    });
}

/// qlog's name of a congestion phase ([`crate::recovery::congestion::Phase`]
/// as a number).
fn phase_name(code: u64) -> &'static str {
    use crate::recovery::congestion::Phase;
    match code {
        c if c == Phase::SlowStart as u64 => "slow_start",
        c if c == Phase::Recovery as u64 => "recovery",
        _ => "congestion_avoidance",
    }
}

/// Bytes as one number, to notice when they change (FNV-1a).
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    }) ^ bytes.len() as u64
}
