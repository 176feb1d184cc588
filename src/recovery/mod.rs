//! Loss detection and probe timeouts (RFC 9002 §6, Appendix A), for the
//! three packet number spaces of a connection.
//!
//! Recovery tracks packets, not frames: each sent packet carries an opaque
//! `T` (the connection's record of what it held), handed back when the
//! packet is acknowledged or declared lost, so the connection can retransmit
//! frames rather than packets.

pub mod congestion;
pub mod ecn;
pub mod pacer;
mod path_state;
pub mod rtt;
mod sent;

use sent::SentPackets;

use crate::frame::EcnCounts;
use congestion::Algorithm;
use ecn::{EcnState, EcnValidation, EcnVerdict};
pub use path_state::PathState;
use path_state::Undo;
pub use rtt::RttEstimator;

/// kPersistentCongestionThreshold (RFC 9002 §7.6.1).
pub const PERSISTENT_CONGESTION_THRESHOLD: u64 = 3;

/// kPacketThreshold (RFC 9002 §6.1.1), the starting value.
pub const PACKET_THRESHOLD: u64 = 3;

/// The most the packet threshold grows to after spurious losses.
pub const MAX_PACKET_THRESHOLD: u64 = 256;

/// Lost packet numbers remembered per space to recognise spurious losses.
const LOST_HISTORY: usize = 1024;

/// A packet number space (RFC 9000 §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets.
    Application = 2,
}

impl Space {
    /// All spaces, in the order packets are coalesced and probed.
    pub const ALL: [Space; 3] = [Space::Initial, Space::Handshake, Space::Application];
}

/// A packet in flight or awaiting acknowledgement.
#[derive(Debug, Clone)]
pub struct SentPacket<T> {
    /// Packet number.
    pub pn: u64,
    /// When it was sent (ns).
    pub time_sent: u64,
    /// Bytes it took on the wire.
    pub size: usize,
    /// Whether it contained ack-eliciting frames.
    pub ack_eliciting: bool,
    /// Whether it counts toward bytes in flight.
    pub in_flight: bool,
    /// Whether its datagram was marked ECT(0).
    pub ecn: bool,
    /// What the connection put in it.
    pub data: T,
}

#[derive(Debug)]
struct SpaceState<T> {
    sent: SentPackets<T>,
    /// Recently declared lost: packet number -> largest acknowledged then.
    /// Ordered, so an ACK finds the ones it covers by range, at a cost that
    /// does not grow with the history.
    lost_history: std::collections::BTreeMap<u64, u64>,
    largest_acked: Option<u64>,
    loss_time: Option<u64>,
    last_ack_eliciting_sent: Option<u64>,
    ack_eliciting_in_flight: usize,
}

impl<T> Default for SpaceState<T> {
    fn default() -> Self {
        Self {
            sent: SentPackets::default(),
            lost_history: std::collections::BTreeMap::new(),
            largest_acked: None,
            loss_time: None,
            last_ack_eliciting_sent: None,
            ack_eliciting_in_flight: 0,
        }
    }
}

/// What the connection's handshake state means for the timers.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeStatus {
    /// Handshake confirmed (RFC 9001 §4.1.2).
    pub confirmed: bool,
    /// We have Handshake keys to send with.
    pub has_handshake_keys: bool,
    /// RFC 9002 A.6: we are a server, or a client whose address the server
    /// has validated (a Handshake packet was acknowledged, or confirmed).
    pub peer_validated_address: bool,
    /// A server that may not send more before the client proves its address.
    pub amplification_limited: bool,
}

/// The result of processing an ACK frame.
#[derive(Debug)]
pub struct AckOutcome<T> {
    /// Packets newly acknowledged.
    pub acked: Vec<SentPacket<T>>,
    /// Packets declared lost as a result.
    pub lost: Vec<SentPacket<T>>,
}

/// What loss recovery did so far, for diagnosis (qlog, benchmarks, tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Packets found lost because three later ones were acknowledged.
    pub lost_by_packet_threshold: u64,
    /// Packets found lost because a later one was acknowledged and they
    /// were older than the time threshold.
    pub lost_by_time_threshold: u64,
    /// Congestion events that reduced the window (one per recovery period).
    pub congestion_events: u64,
    /// Persistent congestion declared (RFC 9002 §7.6).
    pub persistent_congestion: u64,
    /// Probe timeouts.
    pub probe_timeouts: u64,
    /// Window reductions caused by a rising ECN-CE count (RFC 9002 §7.1).
    pub ecn_congestion_events: u64,
    /// ECN-CE marks the peer reported on our packets.
    pub ecn_ce_reported: u64,
}

/// What expired at the loss detection timer.
#[derive(Debug)]
pub enum Timeout<T> {
    /// Packets lost by the time threshold.
    Lost(Space, Vec<SentPacket<T>>),
    /// A probe timeout: send one or two ack-eliciting packets in the space.
    Probe(Space),
}

/// Loss detection state of a connection.
#[derive(Debug)]
pub struct Recovery<T> {
    /// What a move to another network path starts over.
    pub path: PathState,
    pto_count: u32,
    spaces: [SpaceState<T>; 3],
    bytes_in_flight: u64,
    /// The peer's max_ack_delay (ns), used once the handshake is confirmed.
    pub max_ack_delay: u64,
    timer: Option<u64>,
    /// A `set_timer` put off until the timer is read: the `now` it was
    /// asked with ([`Recovery::defer_timer`]).
    timer_deferred: Option<u64>,
    mds: u64,
    /// What a new path starts with.
    initial_rtt: u64,
    algorithm: Algorithm,
    ecn_enabled: bool,
    /// How far ahead of its pacing time the datagram being built may go,
    /// and when paced data in it is to leave (None: nothing paced in it).
    release_horizon: u64,
    released_at: Option<u64>,
    /// Reordering tolerance: starts at RFC 9002's values and grows when a
    /// packet declared lost is acknowledged after all (§6.1.1, §6.1.2
    /// allow adapting them).
    packet_threshold: u64,
    /// The time threshold is (8 + time_threshold_extra) / 8 RTT.
    time_threshold_extra: u64,
    spurious_losses: u64,
    packets_lost: u64,
    /// When the newest acknowledged in-flight packet was sent: recovery
    /// periods end once it is past their start.
    newest_acked_sent: Option<u64>,
    stats: RecoveryStats,
    /// The ranges of the ACK being processed, kept to reuse its memory.
    ack_ranges: Vec<(u64, u64)>,
    /// An emptied list of acknowledged packets handed back by the
    /// connection ([`Recovery::recycle`]), reused for the next ACK.
    spare: Vec<SentPacket<T>>,
}

impl<T> Recovery<T> {
    /// Fresh state with the configured initial RTT, congestion controller
    /// and datagram size.
    pub fn new(initial_rtt: u64, algorithm: Algorithm, mds: u64) -> Self {
        Self {
            path: PathState::new(initial_rtt, algorithm, mds),
            pto_count: 0,
            spaces: Default::default(),
            bytes_in_flight: 0,
            max_ack_delay: 25_000_000,
            timer: None,
            timer_deferred: None,
            mds,
            initial_rtt,
            algorithm,
            ecn_enabled: true,
            release_horizon: 0,
            released_at: None,
            packet_threshold: PACKET_THRESHOLD,
            time_threshold_extra: 1,
            spurious_losses: 0,
            packets_lost: 0,
            newest_acked_sent: None,
            stats: RecoveryStats::default(),
            ack_ranges: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// A new path (RFC 9000 §9.4): the RTT estimate and the congestion
    /// controller start over; packets in flight stay counted.
    pub fn reset_path(&mut self) {
        let ecn = self.path.ecn.for_new_path(self.ecn_enabled);
        self.path = PathState::new(self.initial_rtt, self.algorithm, self.mds);
        self.path.ecn = ecn;
    }

    /// Datagrams are `mds` bytes from now on (PMTU discovery): pacing,
    /// the minimum window and window growth follow.
    pub fn set_mds(&mut self, mds: u64) {
        self.mds = mds;
        self.path.cc.set_mds(mds);
    }

    /// Turns ECN marking on or off, for this path and every later one.
    pub fn set_ecn(&mut self, enabled: bool) {
        self.ecn_enabled = enabled;
        self.path.ecn = EcnValidation::new(enabled);
    }

    /// Whether the next datagram is marked ECT(0).
    pub fn ecn_marking(&self) -> bool {
        self.path.ecn.marking()
    }

    /// Where ECN validation of the path stands.
    pub fn ecn_state(&self) -> EcnState {
        self.path.ecn.state()
    }

    /// The ECN part of an ACK frame of `space` (RFC 9000 §13.4.2.1): its
    /// counts, if an ACK_ECN, against the packets it newly acknowledged
    /// (`acked`, from [`Recovery::on_ack_received`]). A rising CE count
    /// on a validated path is a congestion event dated by the newest of
    /// them (RFC 9002 §7.1, B.7); it is never undone.
    pub fn on_ack_ecn(
        &mut self,
        space: Space,
        counts: Option<&EcnCounts>,
        acked: &[SentPacket<T>],
        now: u64,
    ) -> EcnVerdict {
        let newly_marked = acked.iter().filter(|p| p.ecn).count() as u64;
        let verdict = self.path.ecn.on_ack(space, counts, newly_marked);
        // Saturating: the counts are the peer's (up to 2^62 each).
        self.stats.ecn_ce_reported = self
            .stats
            .ecn_ce_reported
            .saturating_add(verdict.ce_increase);
        if !verdict.congestion {
            return verdict;
        }
        let Some(newest) = acked.iter().max_by_key(|p| p.pn).map(|p| p.time_sent) else {
            return verdict;
        };
        let window = self.path.cc.window();
        self.path.cc.on_congestion_event(newest, now);
        if self.path.cc.window() < window {
            self.stats.congestion_events += 1;
            self.stats.ecn_congestion_events += 1;
            self.path.undo = None;
        }
        verdict
    }

    /// Hands back a list from [`AckOutcome`] once the connection is done
    /// with its packets, so the next ACK needs no allocation.
    pub fn recycle(&mut self, mut list: Vec<SentPacket<T>>) {
        list.clear();
        if list.capacity() > self.spare.capacity() {
            self.spare = list;
        }
    }

    /// Packets declared lost so far.
    pub fn packets_lost(&self) -> u64 {
        self.packets_lost
    }

    /// What loss recovery did so far.
    pub fn stats(&self) -> RecoveryStats {
        self.stats
    }

    /// Packets declared lost that were acknowledged later.
    pub fn spurious_losses(&self) -> u64 {
        self.spurious_losses
    }

    /// The current packet reordering threshold.
    pub fn packet_threshold(&self) -> u64 {
        self.packet_threshold
    }

    /// Finds acknowledged packets that had been declared lost: widen the
    /// reordering tolerance, and undo the reduction they caused.
    fn check_spurious(&mut self, space: Space, ranges: &[(u64, u64)]) {
        let s = &mut self.spaces[space as usize];
        if s.lost_history.is_empty() {
            return;
        }
        // Losses below what the peer still reports will not be
        // acknowledged any more: the history keeps only what an ACK can
        // still cover, and one ordered lookup per range finds those.
        if let Some(&(lowest, _)) = ranges.last() {
            while s
                .lost_history
                .first_key_value()
                .is_some_and(|(&pn, _)| pn < lowest)
            {
                s.lost_history.pop_first();
            }
        }
        let mut found = false;
        for &(lo, hi) in ranges.iter().filter(|(lo, hi)| lo <= hi) {
            while let Some((&pn, &largest_then)) = s.lost_history.range(lo..=hi).next() {
                s.lost_history.remove(&pn);
                found = true;
                if let Some(u) = self
                    .path
                    .undo
                    .as_mut()
                    .filter(|u| u.space == space && pn >= u.first_pn)
                {
                    u.outstanding = u.outstanding.saturating_sub(1);
                }
                let distance = largest_then.saturating_sub(pn) + 1;
                self.packet_threshold = self
                    .packet_threshold
                    .max(distance)
                    .min(MAX_PACKET_THRESHOLD);
                self.spurious_losses += 1;
            }
        }
        if found {
            self.time_threshold_extra = (self.time_threshold_extra * 2).min(8);
            // Undo the reduction only when every loss of its episode was
            // spurious: one reordered packet among real losses must not
            // restore the window the real ones reduced.
            if self.path.undo.as_ref().is_some_and(|u| u.outstanding == 0) {
                if let Some(u) = self.path.undo.take() {
                    if u.prior.window() > self.path.cc.window() {
                        self.path.cc = u.prior;
                    }
                }
            }
        }
    }

    /// True when the congestion window has room for `bytes` more.
    pub fn can_send(&self, bytes: u64) -> bool {
        self.bytes_in_flight + bytes <= self.path.cc.window()
    }

    /// When the pacer lets the next full-size packet go (None: now).
    pub fn pacing_delay(&mut self, now: u64) -> Option<u64> {
        let (cwnd, srtt, mds) = (self.path.cc.window(), self.path.rtt.smoothed(), self.mds);
        self.path.pacer.delay(now, mds, cwnd, srtt, mds)
    }

    /// Whether the next full-size packet may be released now, up to
    /// `horizon` ahead of its pacing time: Ok(when it is to leave), or
    /// Err(when to ask again).
    pub fn pacing_release(&mut self, now: u64) -> Result<u64, u64> {
        let (cwnd, srtt, mds) = (self.path.cc.window(), self.path.rtt.smoothed(), self.mds);
        let horizon = self.release_horizon;
        let r = self.path.pacer.release(now, horizon, mds, cwnd, srtt, mds);
        if let Ok(t) = r {
            self.released_at = Some(t);
        }
        r
    }

    /// A datagram is being built: how far ahead of its pacing time it may
    /// be released.
    pub fn start_datagram(&mut self, horizon: u64) {
        self.release_horizon = horizon;
        self.released_at = None;
    }

    /// When the datagram just built is to leave: when its paced data may,
    /// or `now` when it carries none (ACKs, control frames).
    pub fn datagram_send_time(&self, now: u64) -> u64 {
        self.released_at.map_or(now, |t| t.max(now))
    }

    /// A datagram of `bytes` with in-flight packets left.
    pub fn on_datagram_sent(&mut self, bytes: u64) {
        self.path.pacer.on_sent(bytes);
    }

    /// RFC 9002 §7.6.1: lost ack-eliciting packets spanning more than three
    /// PTOs, with nothing acknowledged in between, mean persistent
    /// congestion.
    fn persistent_congestion(&self, lost: &[SentPacket<T>]) -> bool {
        if !self.path.rtt.has_sample() {
            return false;
        }
        let duration = self
            .path
            .rtt
            .pto_base()
            .saturating_add(self.max_ack_delay)
            .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD);
        let mut pns: Vec<(u64, u64)> = lost
            .iter()
            .filter(|p| p.ack_eliciting)
            .map(|p| (p.pn, p.time_sent))
            .collect();
        pns.sort_unstable();
        let mut run_start = 0;
        for i in 1..pns.len() {
            if pns[i].0 != pns[i - 1].0 + 1 {
                run_start = i;
            }
            if pns[i].1.saturating_sub(pns[run_start].1) >= duration {
                return true;
            }
        }
        false
    }

    /// Tells the congestion controller about lost packets of `space`.
    fn on_lost(&mut self, space: Space, lost: &[SentPacket<T>], now: u64) {
        let marked = lost.iter().filter(|p| p.ecn).count() as u64;
        self.path.ecn.on_lost(marked);
        let count = lost.iter().filter(|p| p.in_flight).count() as u64;
        self.packets_lost += count;
        let Some(newest) = lost
            .iter()
            .filter(|p| p.in_flight)
            .map(|p| p.time_sent)
            .max()
        else {
            return;
        };
        let before = self.path.cc.clone();
        self.path.cc.on_congestion_event(newest, now);
        if self.path.cc.window() < before.window() {
            self.stats.congestion_events += 1;
            let in_flight = lost.iter().filter(|p| p.in_flight);
            self.path.undo = in_flight.map(|p| p.pn).min().map(|first_pn| Undo {
                prior: before,
                space,
                first_pn,
                outstanding: count,
            });
        } else if let Some(u) = &mut self.path.undo {
            // More losses in the same recovery period: the reduction is
            // theirs too.
            u.outstanding = u.outstanding.saturating_add(count);
        }
        if self.persistent_congestion(lost) {
            self.stats.persistent_congestion += 1;
            self.path.undo = None;
            self.path.cc.on_persistent_congestion();
        }
    }

    /// Bytes of in-flight packets not yet acknowledged or lost.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// Where the congestion controller stands.
    pub fn congestion_phase(&self) -> congestion::Phase {
        self.path.cc.phase(self.newest_acked_sent)
    }

    /// True when the armed timer is a probe timeout, false when it is the
    /// time threshold of loss detection (RFC 9002 §6.1.2, §6.2).
    pub fn timer_is_probe(&self) -> bool {
        self.spaces.iter().all(|s| s.loss_time.is_none())
    }

    /// The pacing rate now, in bits per second (RFC 9002 §7.7).
    pub fn pacing_rate(&self) -> u64 {
        pacer::Pacer::rate_bps(self.path.cc.window(), self.path.rtt.smoothed())
    }

    /// Consecutive probe timeouts without an acknowledgement.
    pub fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// The loss detection timer (absolute ns), if armed, as the last
    /// `set_timer` left it (see [`Recovery::armed_timer`] for a deferred
    /// one).
    pub fn timer(&self) -> Option<u64> {
        self.timer
    }

    /// The loss detection timer (absolute ns), if armed, counting a
    /// deferred `set_timer`; `status` as it is now.
    pub fn armed_timer(&self, status: HandshakeStatus) -> Option<u64> {
        match self.timer_deferred {
            Some(now) => self.timer_at(now, status),
            None => self.timer,
        }
    }

    /// [`Recovery::set_timer`] at `now`, left until the timer is read or
    /// runs: a connection sending or receiving a run of datagrams works it
    /// out once, not once per datagram. Nothing else may change the state
    /// it depends on meanwhile without setting the timer itself.
    pub fn defer_timer(&mut self, now: u64) {
        self.timer_deferred = Some(now);
    }

    /// The oldest ack-eliciting packets in flight in `space`, at most `n`,
    /// looking at no more than 64 held packets: what a probe with nothing
    /// new to carry may send again (RFC 9002 §6.2.4).
    pub fn oldest_in_flight(&self, space: Space, n: usize) -> impl Iterator<Item = &SentPacket<T>> {
        self.spaces[space as usize]
            .sent
            .iter()
            .take(64)
            .filter(|p| p.in_flight && p.ack_eliciting)
            .take(n)
    }

    /// Largest packet number the peer acknowledged in `space`.
    pub fn largest_acked(&self, space: Space) -> Option<u64> {
        self.spaces[space as usize].largest_acked
    }

    /// True when ack-eliciting packets are in flight in any space.
    fn ack_eliciting_in_flight(&self) -> bool {
        self.spaces.iter().any(|s| s.ack_eliciting_in_flight > 0)
    }

    /// Packets sent and not yet acknowledged or lost in `space`.
    pub fn unacked(&self, space: Space) -> impl Iterator<Item = &SentPacket<T>> + '_ {
        self.spaces[space as usize].sent.iter()
    }

    /// RFC 9002 A.5, OnPacketSent.
    pub fn on_packet_sent(&mut self, space: Space, pkt: SentPacket<T>) {
        self.path.ecn.on_sent(space, pkt.ecn);
        let s = &mut self.spaces[space as usize];
        if pkt.in_flight {
            if pkt.ack_eliciting {
                s.last_ack_eliciting_sent = Some(pkt.time_sent);
                s.ack_eliciting_in_flight += 1;
            }
            self.bytes_in_flight += pkt.size as u64;
        }
        s.sent.insert(pkt);
    }

    fn forget(&mut self, space: Space, pkt: &SentPacket<T>) {
        if pkt.in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(pkt.size as u64);
            if pkt.ack_eliciting {
                let s = &mut self.spaces[space as usize];
                s.ack_eliciting_in_flight = s.ack_eliciting_in_flight.saturating_sub(1);
            }
        }
    }

    /// RFC 9002 A.7, OnAckReceived. `ranges` are inclusive (low, high),
    /// highest first, already checked against packet numbers we sent.
    /// `ack_delay` is the decoded delay in ns.
    pub fn on_ack_received(
        &mut self,
        space: Space,
        ranges: impl Iterator<Item = (u64, u64)>,
        ack_delay: u64,
        now: u64,
        status: HandshakeStatus,
    ) -> AckOutcome<T> {
        let mut ack_ranges = std::mem::take(&mut self.ack_ranges);
        ack_ranges.clear();
        ack_ranges.extend(ranges);
        self.check_spurious(space, &ack_ranges);
        let mut acked = std::mem::take(&mut self.spare);
        let largest_in_frame = ack_ranges.first().map(|&(_, hi)| hi);
        let s = &mut self.spaces[space as usize];
        for &(lo, hi) in &ack_ranges {
            s.sent.remove_range(lo, hi, &mut acked);
        }
        self.ack_ranges = ack_ranges;
        let Some(largest) = largest_in_frame else {
            return AckOutcome {
                acked,
                lost: Vec::new(),
            };
        };
        let s = &mut self.spaces[space as usize];
        s.largest_acked = Some(s.largest_acked.map_or(largest, |l| l.max(largest)));
        if acked.is_empty() {
            return AckOutcome {
                acked,
                lost: Vec::new(),
            };
        }
        let in_flight_before = self.bytes_in_flight;
        for p in &acked {
            self.forget(space, p);
        }

        // RFC 9002 §5.1: a sample when the largest acknowledged is newly
        // acknowledged and at least one of them was ack-eliciting.
        let newest = acked
            .iter()
            .max_by_key(|p| p.pn)
            .expect("acked is not empty");
        if newest.pn == largest && acked.iter().any(|p| p.ack_eliciting) {
            let latest = now.saturating_sub(newest.time_sent);
            let delay = if space == Space::Application && status.confirmed {
                ack_delay.min(self.max_ack_delay)
            } else if space == Space::Application {
                ack_delay
            } else {
                0
            };
            self.path.rtt.update(latest, delay);
        }
        // RFC 9002 A.7: losses first, then the acknowledged packets.
        let lost = self.detect_lost(space, now);
        self.on_lost(space, &lost, now);
        // RFC 9002 §7.8: a window the sender does not fill must not grow.
        let app_limited = in_flight_before < self.path.cc.window() / 2;
        let srtt = self.path.rtt.smoothed();
        for p in acked.iter().filter(|p| p.in_flight) {
            self.path
                .cc
                .on_acked(p.size as u64, p.time_sent, now, srtt, app_limited);
            self.newest_acked_sent = self.newest_acked_sent.max(Some(p.time_sent));
        }
        if status.peer_validated_address {
            self.pto_count = 0;
        }
        self.set_timer(now, status);
        AckOutcome { acked, lost }
    }

    /// RFC 9002 A.10, DetectAndRemoveLostPackets. Returns every removed
    /// packet; those not in flight carried nothing to retransmit.
    pub fn detect_lost(&mut self, space: Space, now: u64) -> Vec<SentPacket<T>> {
        let base = self.path.rtt.smoothed().max(self.path.rtt.latest());
        let loss_delay = (u128::from(base) * u128::from(8 + self.time_threshold_extra) / 8)
            .min(u128::from(u64::MAX)) as u64;
        let loss_delay = loss_delay.max(rtt::GRANULARITY);
        let threshold = self.packet_threshold;
        let lost_send_time = now.saturating_sub(loss_delay);
        let s = &mut self.spaces[space as usize];
        s.loss_time = None;
        let Some(largest_acked) = s.largest_acked else {
            return Vec::new();
        };
        let mut lost_pns = Vec::new();
        for p in s.sent.up_to(largest_acked) {
            let by_packets = largest_acked >= p.pn + threshold;
            if by_packets || p.time_sent <= lost_send_time {
                lost_pns.push((p.pn, p.in_flight));
                if p.in_flight && by_packets {
                    self.stats.lost_by_packet_threshold += 1;
                } else if p.in_flight {
                    self.stats.lost_by_time_threshold += 1;
                }
            } else {
                let t = p.time_sent.saturating_add(loss_delay);
                s.loss_time = Some(s.loss_time.map_or(t, |l| l.min(t)));
            }
        }
        let s = &mut self.spaces[space as usize];
        // Only packets that count in flight can prove a reduction spurious.
        for &(pn, _) in lost_pns.iter().filter(|(_, in_flight)| *in_flight) {
            if s.lost_history.len() >= LOST_HISTORY {
                s.lost_history.pop_first();
            }
            s.lost_history.insert(pn, largest_acked);
        }
        let lost: Vec<_> = lost_pns
            .into_iter()
            .filter_map(|(pn, _)| self.spaces[space as usize].sent.remove(pn))
            .collect();
        for p in &lost {
            self.forget(space, p);
        }
        lost
    }

    /// RFC 9002 A.8, GetPtoTimeAndSpace.
    fn pto_time_and_space(&self, now: u64, status: HandshakeStatus) -> Option<(u64, Space)> {
        let backoff = 1u64 << self.pto_count.min(30);
        let mut duration = self.path.rtt.pto_base().saturating_mul(backoff);
        if !self.ack_eliciting_in_flight() {
            // Anti-deadlock probe of a client (RFC 9002 §6.2.2.1).
            let space = if status.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            return Some((now.saturating_add(duration), space));
        }
        let mut best: Option<(u64, Space)> = None;
        for space in Space::ALL {
            let s = &self.spaces[space as usize];
            if s.ack_eliciting_in_flight == 0 {
                continue;
            }
            if space == Space::Application {
                if !status.confirmed {
                    break;
                }
                duration = duration.saturating_add(self.max_ack_delay.saturating_mul(backoff));
            }
            let Some(sent) = s.last_ack_eliciting_sent else {
                continue;
            };
            let t = sent.saturating_add(duration);
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, space));
            }
        }
        best
    }

    /// RFC 9002 A.8, SetLossDetectionTimer.
    pub fn set_timer(&mut self, now: u64, status: HandshakeStatus) {
        self.timer_deferred = None;
        self.timer = self.timer_at(now, status);
    }

    /// The deadline SetLossDetectionTimer (RFC 9002 A.8) arms at `now`.
    fn timer_at(&self, now: u64, status: HandshakeStatus) -> Option<u64> {
        if let Some(t) = self.spaces.iter().filter_map(|s| s.loss_time).min() {
            return Some(t);
        }
        if status.amplification_limited
            || (!self.ack_eliciting_in_flight() && status.peer_validated_address)
        {
            return None;
        }
        self.pto_time_and_space(now, status).map(|(t, _)| t)
    }

    /// RFC 9002 A.9, OnLossDetectionTimeout, when the timer has expired.
    pub fn on_timeout(&mut self, now: u64, status: HandshakeStatus) -> Option<Timeout<T>> {
        if let Some(at) = self.timer_deferred {
            self.set_timer(at, status);
        }
        if self.timer.is_none_or(|t| t > now) {
            return None;
        }
        let earliest_loss = Space::ALL
            .into_iter()
            .filter_map(|sp| self.spaces[sp as usize].loss_time.map(|t| (t, sp)))
            .min();
        if let Some((_, space)) = earliest_loss {
            let lost = self.detect_lost(space, now);
            self.on_lost(space, &lost, now);
            self.set_timer(now, status);
            return Some(Timeout::Lost(space, lost));
        }
        let space = self.pto_time_and_space(now, status).map(|(_, s)| s)?;
        self.pto_count += 1;
        self.stats.probe_timeouts += 1;
        self.set_timer(now, status);
        Some(Timeout::Probe(space))
    }

    /// Removes the packets of `space` numbered below `pn` without counting
    /// them as lost (no congestion response): 0-RTT packets the server
    /// refused to read (RFC 9001 §4.6.2), whose frames go again in 1-RTT.
    pub fn remove_before(&mut self, space: Space, pn: u64) -> Vec<SentPacket<T>> {
        let mut out = Vec::new();
        if pn > 0 {
            self.spaces[space as usize]
                .sent
                .remove_range(0, pn - 1, &mut out);
        }
        for p in &out {
            self.forget(space, p);
        }
        out
    }

    /// Drops all state of `space` when its keys are discarded
    /// (RFC 9002 §6.4), returning the packets that were outstanding.
    pub fn discard_space(
        &mut self,
        space: Space,
        now: u64,
        status: HandshakeStatus,
    ) -> Vec<SentPacket<T>> {
        let s = std::mem::take(&mut self.spaces[space as usize]);
        let mut s = s;
        let packets = s.sent.drain();
        for p in &packets {
            if p.in_flight {
                self.bytes_in_flight = self.bytes_in_flight.saturating_sub(p.size as u64);
            }
        }
        self.pto_count = 0;
        self.set_timer(now, status);
        packets
    }

    /// The current probe timeout including max_ack_delay (for idle and
    /// closing timers, RFC 9000 §10.1 and §10.2).
    pub fn pto(&self) -> u64 {
        self.path.rtt.pto_base().saturating_add(self.max_ack_delay)
    }
}

#[cfg(test)]
mod tests;
