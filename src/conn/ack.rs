//! Which packets we received in one packet number space, and when to
//! acknowledge them (RFC 9000 §13.2).

use crate::frame::EcnCounts;
use crate::ranges::RangeSet;
use crate::recovery::ecn::Ecn;

/// ACK ranges we remember; older ones are forgotten (RFC 9000 §13.2.3
/// lets a receiver limit them), and packets below them are dropped as
/// possible duplicates.
pub(crate) const MAX_ACK_RANGES: usize = 32;

/// Ack-eliciting packets in a row that bring nothing new (PING, CRYPTO or
/// STREAM data we hold) and each come within a gap of the one before,
/// that we acknowledge as usual; past this run they are acknowledged
/// within max_ack_delay, paced, never at once. A peer answering every ACK
/// with such a packet (RFC 9000 §13.2.1 forbids it) then gets at most one
/// ACK per max_ack_delay, instead of an exchange at the speed of the path;
/// a sender repeating itself for a good reason (spurious retransmissions)
/// still hears back within max_ack_delay.
const REPEAT_RUN: u32 = 8;

/// Ack-eliciting packets acknowledged one by one after a gap or a
/// reordering. RFC 9000 §13.2.1 asks for an immediate ACK of the packet
/// that shows the gap; the ones after it would wait for a second packet or
/// max_ack_delay. A sender that just lost a packet has a small window, so
/// the lone packet at the end of its flight would wait 25 ms and its loss
/// would take a PTO to find. Acknowledging the next few at once lets the
/// sender's loss detection (RFC 9002 §6.1) and window work from ACKs, as
/// TCP receivers do in quick-ACK mode. A peer can only trigger this with
/// packets it sends: at most one ACK per packet received.
const QUICK_ACKS: u32 = 16;

/// Received packet numbers and the acknowledgement schedule of a space.
#[derive(Debug, Default)]
pub(crate) struct AckState {
    received: RangeSet,
    /// Packets below this are treated as duplicates.
    floor: u64,
    /// When the largest packet number was received (for ACK Delay).
    largest_time: u64,
    /// Ack-eliciting packets received since our last ACK.
    unacked_eliciting: u32,
    /// An ACK must go out with the next packet.
    immediate: bool,
    /// An ACK must go out by this time.
    deadline: Option<u64>,
    /// Something new was received since the last ACK.
    pending: bool,
    /// Ranges ending at or below this the peer has seen in an ACK of ours
    /// that it acknowledged: not reported again (RFC 9000 §13.2.4). They
    /// stay in `received` for duplicate detection.
    seen_by_peer: Option<u64>,
    /// Ack-eliciting packets still to acknowledge at once (`QUICK_ACKS`).
    quick_acks: u32,
    /// The current run of repeating packets, and when the last came.
    repeats: u32,
    last_repeat: u64,
    /// ECN marks on the packets received (RFC 9000 §13.4.1), reported
    /// in ACK_ECN frames once there is one.
    ecn: EcnCounts,
}

impl AckState {
    /// True when `pn` was seen before (or is too old to tell).
    pub(crate) fn is_duplicate(&self, pn: u64) -> bool {
        pn < self.floor || self.received.contains(pn)
    }

    /// Counts the ECN mark of a packet received, not a duplicate (RFC
    /// 9000 §13.4.1). A CE mark is acknowledged at once (§13.2.1), so the
    /// sender reacts within a round trip (if it elicits one).
    pub(crate) fn on_ecn(&mut self, ecn: Ecn, ack_eliciting: bool) {
        match ecn {
            Ecn::NotEct => {}
            Ecn::Ect0 => self.ecn.ect0 += 1,
            Ecn::Ect1 => self.ecn.ect1 += 1,
            Ecn::Ce => {
                self.ecn.ce += 1;
                self.immediate |= ack_eliciting;
            }
        }
    }

    /// The marks counted so far.
    pub(crate) fn ecn_total(&self) -> EcnCounts {
        self.ecn
    }

    /// The counts for an ACK_ECN frame; None while no packet was marked.
    pub(crate) fn ecn_counts(&self) -> Option<&EcnCounts> {
        (self.ecn != EcnCounts::default()).then_some(&self.ecn)
    }

    /// The largest packet number received.
    pub(crate) fn largest(&self) -> Option<u64> {
        self.received.max()
    }

    /// Records a packet. `immediate` asks for an ACK with the next packet
    /// (Initial and Handshake spaces, RFC 9000 §13.2.1); otherwise an ACK is
    /// due after two ack-eliciting packets or `max_ack_delay`.
    pub(crate) fn on_packet(
        &mut self,
        pn: u64,
        ack_eliciting: bool,
        now: u64,
        immediate: bool,
        max_ack_delay: u64,
    ) {
        let largest = self.received.max();
        let out_of_order = largest.is_some_and(|l| pn < l || pn > l + 1);
        self.received.insert(pn..pn + 1);
        if largest.is_none_or(|l| pn > l) {
            self.largest_time = now;
        }
        while self.received.len() > MAX_ACK_RANGES {
            if let Some(r) = self.received.pop_min() {
                self.floor = r.end;
            }
        }
        self.pending = true;
        if !ack_eliciting {
            return;
        }
        self.unacked_eliciting += 1;
        // RFC 9000 §13.2.1/§13.2.2: immediately for Initial/Handshake, for
        // reordering, and after every second ack-eliciting packet; then
        // for a few more after a gap (`QUICK_ACKS`).
        if out_of_order {
            self.quick_acks = QUICK_ACKS;
        }
        if immediate || out_of_order || self.unacked_eliciting >= 2 || self.quick_acks > 0 {
            self.immediate = true;
            self.quick_acks = self.quick_acks.saturating_sub(1);
        } else if self.deadline.is_none() {
            self.deadline = Some(now.saturating_add(max_ack_delay));
        }
    }

    /// An ack-eliciting packet that brought nothing new arrived: true when
    /// it is to be acknowledged as usual, false when it is part of a long,
    /// quick run of such packets (see `REPEAT_RUN`; record it with
    /// `on_paced_packet`). A gap of `gap` or more starts a new run.
    pub(crate) fn acknowledge_repeat(&mut self, now: u64, gap: u64) -> bool {
        if self.repeats > 0 && now.saturating_sub(self.last_repeat) >= gap {
            self.repeats = 0;
        }
        self.repeats = self.repeats.saturating_add(1);
        self.last_repeat = now;
        self.repeats <= REPEAT_RUN
    }

    /// Records a packet of a long run of repeats: acknowledged within
    /// `max_ack_delay` of the first unacknowledged one, whatever comes
    /// after it (a later one never moves the deadline, nor makes it
    /// immediate).
    pub(crate) fn on_paced_packet(&mut self, pn: u64, now: u64, max_ack_delay: u64) {
        self.on_packet(pn, false, now, false, max_ack_delay);
        if self.deadline.is_none() {
            self.deadline = Some(now.saturating_add(max_ack_delay));
        }
    }

    /// An ack-eliciting packet brought something new: a run ends.
    pub(crate) fn end_repeats(&mut self) {
        self.repeats = 0;
    }

    /// True when an ACK should be sent now.
    pub(crate) fn should_send(&self, now: u64) -> bool {
        self.pending && (self.immediate || self.deadline.is_some_and(|d| d <= now))
    }

    /// True when there is anything to acknowledge (to piggyback an ACK).
    pub(crate) fn has_pending(&self) -> bool {
        self.pending
    }

    /// The ACK timer, if armed.
    pub(crate) fn deadline(&self) -> Option<u64> {
        if self.pending && !self.immediate {
            self.deadline
        } else {
            None
        }
    }

    /// Fills `buf` with the ranges to report, highest first, as inclusive
    /// (low, high); returns how many. At most MAX_ACK_RANGES are kept, so
    /// they fit without an allocation. Ranges the peer has already seen
    /// acknowledged are left out, except the highest: an ACK frame always
    /// has one. On a lossy path that keeps ACK frames to the last round
    /// trip's few ranges instead of all 32, for both ends' CPU.
    pub(crate) fn ranges(&self, buf: &mut [(u64, u64); MAX_ACK_RANGES]) -> usize {
        let mut n = 0;
        for (slot, r) in buf.iter_mut().zip(self.received.iter().rev()) {
            let high = r.end - 1;
            if n > 0 && self.seen_by_peer.is_some_and(|seen| high <= seen) {
                break;
            }
            *slot = (r.start, high);
            n += 1;
        }
        n
    }

    /// The peer acknowledged a packet of ours carrying an ACK frame whose
    /// Largest Acknowledged was `largest` (RFC 9000 §13.2.4).
    pub(crate) fn on_ack_frame_acked(&mut self, largest: u64) {
        self.seen_by_peer = Some(self.seen_by_peer.map_or(largest, |s| s.max(largest)));
    }

    /// ACK Delay in microseconds since the largest packet arrived.
    pub(crate) fn delay_us(&self, now: u64) -> u64 {
        now.saturating_sub(self.largest_time) / 1000
    }

    /// An ACK was sent.
    pub(crate) fn on_ack_sent(&mut self) {
        self.pending = false;
        self.immediate = false;
        self.deadline = None;
        self.unacked_eliciting = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn after_a_gap_the_next_packets_are_acked_one_by_one() {
        let mut a = AckState::default();
        a.on_packet(0, true, 0, false, 25 * MS);
        assert!(
            !a.should_send(0),
            "in order: the second packet or the timer"
        );
        a.on_ack_sent();
        a.on_packet(2, true, 0, false, 25 * MS);
        assert!(a.should_send(0), "a gap at once");
        for pn in 3..3 + u64::from(QUICK_ACKS) - 1 {
            a.on_ack_sent();
            a.on_packet(pn, true, 0, false, 25 * MS);
            assert!(
                a.should_send(0),
                "packet {pn} after the gap, alone, at once"
            );
        }
        a.on_ack_sent();
        let next = 2 + u64::from(QUICK_ACKS);
        a.on_packet(next, true, 0, false, 25 * MS);
        assert!(!a.should_send(0), "then every second packet again");
        a.on_packet(next + 1, true, 0, false, 25 * MS);
        assert!(a.should_send(0));
    }

    #[test]
    fn ranges_the_peer_saw_acknowledged_are_not_reported_again() {
        let mut a = AckState::default();
        for pn in [0, 1, 3, 5, 7, 8] {
            a.on_packet(pn, true, 0, false, 25 * MS);
        }
        let mut buf = [(0, 0); MAX_ACK_RANGES];
        assert_eq!(a.ranges(&mut buf), 4);
        // Our ACK up to 4 reached the peer: 0-1 and 3 need no repeating.
        a.on_ack_frame_acked(4);
        let n = a.ranges(&mut buf);
        assert_eq!(&buf[..n], &[(7, 8), (5, 5)]);
        // An older ACK acknowledged late changes nothing.
        a.on_ack_frame_acked(1);
        assert_eq!(a.ranges(&mut buf), 2);
        // The highest range is always reported, and duplicates are still
        // known as such.
        a.on_ack_frame_acked(8);
        let n = a.ranges(&mut buf);
        assert_eq!(&buf[..n], &[(7, 8)]);
        assert!(a.is_duplicate(3) && a.is_duplicate(0));
    }

    #[test]
    fn every_second_packet_is_acked_at_once() {
        let mut a = AckState::default();
        a.on_packet(0, true, 0, false, 25 * MS);
        assert!(!a.should_send(0));
        assert_eq!(a.deadline(), Some(25 * MS));
        assert!(a.should_send(25 * MS));
        a.on_packet(1, true, MS, false, 25 * MS);
        assert!(a.should_send(MS));
        a.on_ack_sent();
        assert!(!a.should_send(100 * MS));
    }

    #[test]
    fn handshake_spaces_and_reordering_ack_immediately() {
        let mut a = AckState::default();
        a.on_packet(0, true, 0, true, 25 * MS);
        assert!(a.should_send(0));
        let mut b = AckState::default();
        b.on_packet(0, true, 0, false, 25 * MS);
        b.on_ack_sent();
        b.on_packet(5, true, 0, false, 25 * MS);
        assert!(b.should_send(0), "a gap asks for an immediate ACK");
        // Non-eliciting packets alone never trigger an ACK.
        let mut c = AckState::default();
        c.on_packet(0, false, 0, true, 25 * MS);
        assert!(!c.should_send(100 * MS));
        assert!(c.has_pending());
    }

    #[test]
    fn ranges_are_bounded_and_old_packets_become_duplicates() {
        let mut a = AckState::default();
        for i in 0..100 {
            a.on_packet(i * 2, false, 0, false, 0);
        }
        let mut buf = [(0, 0); MAX_ACK_RANGES];
        assert_eq!(a.ranges(&mut buf), MAX_ACK_RANGES);
        assert_eq!(buf[0], (198, 198));
        assert_eq!(buf[MAX_ACK_RANGES - 1], (136, 136));
        assert!(a.is_duplicate(0), "below the remembered ranges");
        assert!(a.is_duplicate(198));
        assert!(!a.is_duplicate(199));
    }

    #[test]
    fn a_quick_run_of_repeats_is_acknowledged_only_at_first() {
        let mut a = AckState::default();
        let wanted: Vec<bool> = (0..12)
            .map(|i| a.acknowledge_repeat(i * MS, 25 * MS))
            .collect();
        assert!(wanted[..REPEAT_RUN as usize].iter().all(|&w| w));
        assert!(wanted[REPEAT_RUN as usize..].iter().all(|&w| !w));
        // A pause starts a new run; so does a packet with news.
        assert!(a.acknowledge_repeat(40 * MS, 25 * MS));
        for i in 0..20 {
            a.acknowledge_repeat(41 * MS + i, 25 * MS);
        }
        a.end_repeats();
        assert!(a.acknowledge_repeat(42 * MS, 25 * MS));
    }

    #[test]
    fn paced_packets_are_acknowledged_within_the_delay_never_at_once() {
        let mut a = AckState::default();
        a.on_paced_packet(0, 0, 25 * MS);
        for pn in 1..10 {
            a.on_paced_packet(pn, pn * MS, 25 * MS);
        }
        assert!(!a.should_send(24 * MS));
        assert!(a.should_send(25 * MS));
        a.on_ack_sent();
        a.on_paced_packet(10, 26 * MS, 25 * MS);
        assert_eq!(a.deadline(), Some(51 * MS));
    }
}
