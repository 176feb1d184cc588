//! ECN on the sending side (RFC 9000 §13.4.2, Appendix A.4; RFC 9002
//! §7.1): whether the path carries our ECT(0) marks to the peer intact,
//! judged from the counts the peer reports in ACK_ECN frames.
//!
//! A new path starts by testing: its first packets are marked ECT(0).
//! The first ACK whose counts account for every newly acknowledged marked
//! packet validates the path, and every packet is marked from then on.
//! Validation fails, and marking stops for good on the path, when an ACK
//! of marked packets carries no counts, when counts go down or exceed
//! what was marked, when they fall short of the marked packets newly
//! acknowledged (a path that bleaches or drops marks), or when every
//! packet marked while testing is lost (a path that drops ECT packets).

use crate::frame::EcnCounts;

use super::Space;

/// An IP ECN codepoint (RFC 3168 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Ecn {
    /// Not ECN-capable transport (00).
    #[default]
    NotEct,
    /// ECT(1) (01).
    Ect1,
    /// ECT(0) (10).
    Ect0,
    /// Congestion experienced (11).
    Ce,
}

impl Ecn {
    /// The codepoint in the low two bits of a TOS / traffic class byte.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b01 => Ecn::Ect1,
            0b10 => Ecn::Ect0,
            0b11 => Ecn::Ce,
            _ => Ecn::NotEct,
        }
    }

    /// The two bits for a TOS / traffic class byte.
    pub fn bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0b00,
            Ecn::Ect1 => 0b01,
            Ecn::Ect0 => 0b10,
            Ecn::Ce => 0b11,
        }
    }
}

/// Marked packets sent while testing (RFC 9000 §A.4 suggests 10).
const TESTING_PACKETS: u64 = 10;

/// Where validation of a path stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcnState {
    /// ECN is turned off in the configuration.
    #[default]
    Disabled,
    /// The first packets are marked; no verdict yet.
    Testing,
    /// Testing is over, no verdict yet: no more marks until one comes.
    Unknown,
    /// Validated: every packet is marked.
    Capable,
    /// Validation failed: nothing is marked on this path.
    Failed,
}

/// The sending side's ECN state of one path.
#[derive(Debug, Clone)]
pub struct EcnValidation {
    state: EcnState,
    /// Packets marked per space, and of those sent while testing, how
    /// many are still unresolved.
    marked: [u64; 3],
    testing_outstanding: u64,
    testing_marked: u64,
    /// The counts the peer last reported per space.
    reported: [EcnCounts; 3],
}

/// What an ACK's counts said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcnVerdict {
    /// The CE count went up on a validated path: a congestion signal.
    pub congestion: bool,
    /// How much the peer's CE count rose with this ACK (0 once the path
    /// failed: counts are no longer read then).
    pub ce_increase: u64,
    /// This ACK made validation fail.
    pub failed: bool,
    /// This ACK validated the path.
    pub validated: bool,
}

impl EcnValidation {
    /// A new path: testing, unless ECN is off.
    pub fn new(enabled: bool) -> Self {
        Self {
            state: if enabled {
                EcnState::Testing
            } else {
                EcnState::Disabled
            },
            marked: [0; 3],
            testing_outstanding: 0,
            testing_marked: 0,
            reported: [EcnCounts::default(); 3],
        }
    }

    /// Validation for a new path: testing again, against the same running
    /// counts. The peer's counts are per packet number space, not per
    /// path (RFC 9000 §13.4.1), so what was marked and reported before
    /// stays the baseline.
    pub fn for_new_path(&self, enabled: bool) -> Self {
        Self {
            marked: self.marked,
            reported: self.reported,
            ..Self::new(enabled)
        }
    }

    /// Where validation stands.
    pub fn state(&self) -> EcnState {
        self.state
    }

    /// Whether the next packet is marked ECT(0).
    pub fn marking(&self) -> bool {
        match self.state {
            EcnState::Testing => self.testing_marked < TESTING_PACKETS,
            EcnState::Capable => true,
            _ => false,
        }
    }

    /// A packet of `space` went out, marked or not.
    pub fn on_sent(&mut self, space: Space, marked: bool) {
        if !marked {
            return;
        }
        self.marked[space as usize] += 1;
        if self.state == EcnState::Testing {
            self.testing_marked += 1;
            self.testing_outstanding += 1;
            if self.testing_marked >= TESTING_PACKETS {
                self.state = EcnState::Unknown;
            }
        }
    }

    /// Marked packets were declared lost: if they were all that testing
    /// sent, the path drops ECT packets (§A.4).
    pub fn on_lost(&mut self, marked_lost: u64) {
        if !matches!(self.state, EcnState::Testing | EcnState::Unknown) || marked_lost == 0 {
            return;
        }
        self.testing_outstanding = self.testing_outstanding.saturating_sub(marked_lost);
        if self.testing_outstanding == 0 && self.testing_marked >= TESTING_PACKETS {
            self.state = EcnState::Failed;
        }
    }

    /// An ACK frame of `space` newly acknowledged `newly_marked` packets
    /// we sent marked ECT(0) (RFC 9000 §13.4.2.1), with `counts` if it
    /// was an ACK_ECN.
    pub fn on_ack(
        &mut self,
        space: Space,
        counts: Option<&EcnCounts>,
        newly_marked: u64,
    ) -> EcnVerdict {
        let mut verdict = EcnVerdict::default();
        if matches!(self.state, EcnState::Disabled | EcnState::Failed) {
            return verdict;
        }
        let i = space as usize;
        let Some(c) = counts else {
            if newly_marked > 0 {
                self.state = EcnState::Failed;
                verdict.failed = true;
            }
            return verdict;
        };
        let before = self.reported[i];
        // Counts only grow (an ACK reordered behind a newer one carries
        // older counts: not a failure, just nothing new).
        if c.ect0 < before.ect0 || c.ect1 < before.ect1 || c.ce < before.ce {
            return verdict;
        }
        let (d_ect0, d_ce) = (c.ect0 - before.ect0, c.ce - before.ce);
        // We never mark ECT(1); more marks of either kind than we sent
        // means the path or the peer rewrites them.
        let too_many = c.ect1 > 0 || c.ect0.saturating_add(c.ce) > self.marked[i];
        let too_few = d_ect0.saturating_add(d_ce) < newly_marked;
        self.reported[i] = *c;
        verdict.ce_increase = d_ce;
        if too_many || too_few {
            self.state = EcnState::Failed;
            verdict.failed = true;
            return verdict;
        }
        if newly_marked > 0 && self.state != EcnState::Capable {
            self.state = EcnState::Capable;
            verdict.validated = true;
        }
        verdict.congestion = d_ce > 0 && self.state == EcnState::Capable;
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ect0: u64, ect1: u64, ce: u64) -> EcnCounts {
        EcnCounts { ect0, ect1, ce }
    }

    /// A path that tested `n` marked Application packets.
    fn tested(n: u64) -> EcnValidation {
        let mut v = EcnValidation::new(true);
        for _ in 0..n {
            assert!(v.marking());
            v.on_sent(Space::Application, true);
        }
        v
    }

    #[test]
    fn testing_marks_ten_packets_then_waits_for_a_verdict() {
        let mut v = tested(TESTING_PACKETS);
        assert_eq!(v.state(), EcnState::Unknown);
        assert!(!v.marking());
        let verdict = v.on_ack(Space::Application, Some(&counts(4, 0, 0)), 4);
        assert!(verdict.validated && !verdict.congestion);
        assert_eq!(v.state(), EcnState::Capable);
        assert!(v.marking());
    }

    #[test]
    fn an_ack_of_marked_packets_without_counts_fails() {
        let mut v = tested(3);
        assert!(v.on_ack(Space::Application, None, 2).failed);
        assert_eq!(v.state(), EcnState::Failed);
        assert!(!v.marking());
        // An ACK of unmarked packets without counts says nothing.
        let mut v = tested(3);
        assert!(!v.on_ack(Space::Application, None, 0).failed);
        assert_eq!(v.state(), EcnState::Testing);
    }

    #[test]
    fn counts_short_of_the_marked_packets_acknowledged_fail() {
        let mut v = tested(5);
        assert!(
            v.on_ack(Space::Application, Some(&counts(2, 0, 0)), 3)
                .failed
        );
        // CE counts as a mark that arrived.
        let mut v = tested(5);
        let verdict = v.on_ack(Space::Application, Some(&counts(2, 0, 1)), 3);
        assert!(verdict.validated);
    }

    #[test]
    fn more_marks_than_sent_or_ect1_fail() {
        let mut v = tested(2);
        assert!(
            v.on_ack(Space::Application, Some(&counts(3, 0, 0)), 2)
                .failed
        );
        let mut v = tested(2);
        assert!(
            v.on_ack(Space::Application, Some(&counts(1, 1, 0)), 2)
                .failed
        );
        // Counts of another space are judged against that space's marks.
        let mut v = tested(2);
        assert!(v.on_ack(Space::Handshake, Some(&counts(1, 0, 0)), 0).failed);
    }

    #[test]
    fn a_rising_ce_count_on_a_validated_path_is_congestion() {
        let mut v = tested(TESTING_PACKETS);
        v.on_ack(Space::Application, Some(&counts(5, 0, 0)), 5);
        for _ in 0..5 {
            v.on_sent(Space::Application, true);
        }
        let verdict = v.on_ack(Space::Application, Some(&counts(8, 0, 2)), 5);
        assert!(verdict.congestion && !verdict.failed);
        // An older ACK arriving late (lower counts) changes nothing.
        let verdict = v.on_ack(Space::Application, Some(&counts(6, 0, 1)), 0);
        assert_eq!(verdict, EcnVerdict::default());
        assert_eq!(v.state(), EcnState::Capable);
    }

    #[test]
    fn a_new_path_tests_again_against_the_running_counts() {
        let mut v = tested(TESTING_PACKETS);
        v.on_ack(Space::Application, Some(&counts(10, 0, 0)), 10);
        let mut n = v.for_new_path(true);
        assert_eq!(n.state(), EcnState::Testing);
        n.on_sent(Space::Application, true);
        n.on_sent(Space::Application, true);
        // The peer's count goes on from 10, not from 0.
        let verdict = n.on_ack(Space::Application, Some(&counts(12, 0, 0)), 2);
        assert!(verdict.validated && !verdict.failed);
    }

    /// After a failure the peer's counts are no longer read, so a peer
    /// repeating huge counts adds nothing (the stats once summed the gap
    /// on every ACK and could wrap).
    #[test]
    fn counts_after_a_failure_are_not_read() {
        let mut v = tested(2);
        let huge = counts(0, 0, 1 << 62);
        let first = v.on_ack(Space::Application, Some(&huge), 2);
        assert!(first.failed);
        for _ in 0..8 {
            let later = v.on_ack(Space::Application, Some(&huge), 0);
            assert_eq!(later.ce_increase, 0);
        }
    }

    #[test]
    fn losing_every_testing_packet_fails() {
        let mut v = tested(TESTING_PACKETS);
        v.on_lost(6);
        assert_eq!(v.state(), EcnState::Unknown);
        v.on_lost(4);
        assert_eq!(v.state(), EcnState::Failed);
    }

    #[test]
    fn disabled_marks_nothing_and_ignores_acks() {
        let mut v = EcnValidation::new(false);
        assert!(!v.marking());
        v.on_sent(Space::Application, false);
        assert_eq!(v.on_ack(Space::Application, None, 0), EcnVerdict::default());
        assert_eq!(v.state(), EcnState::Disabled);
        assert_eq!(Ecn::from_bits(0xfe), Ecn::Ect0);
        for e in [Ecn::NotEct, Ecn::Ect1, Ecn::Ect0, Ecn::Ce] {
            assert_eq!(Ecn::from_bits(e.bits()), e);
        }
    }
}
