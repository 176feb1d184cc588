//! The idle timeout (RFC 9000 §10.1) and keep-alive (§10.1.2): when a
//! connection that hears nothing ends, and the PINGs that keep a quiet
//! but healthy one from getting there.

/// Idle state of a connection.
#[derive(Debug, Default)]
pub(super) struct Idle {
    /// The timeout in force (ours until the peer's is known, then the
    /// smaller of both); `None` for none.
    timeout: Option<u64>,
    deadline: Option<u64>,
    /// An ack-eliciting packet went out since a packet last came in.
    sent_eliciting_since_recv: bool,
    /// Keep-alive interval (ns), 0 for none.
    keep_alive: u64,
    /// When a packet last came in or an ack-eliciting one went out (or a
    /// keep-alive fell due): the keep-alive interval counts from here.
    last_activity: u64,
}

impl Idle {
    /// Our own timeout (0: none) and keep-alive interval (0: none), from
    /// `now`, before the peer's timeout is known.
    pub(super) fn start(&mut self, timeout: u64, keep_alive: u64, now: u64, pto: u64) {
        self.timeout = (timeout > 0).then_some(timeout);
        self.keep_alive = keep_alive;
        self.last_activity = now;
        self.restart(now, pto);
    }

    /// RFC 9000 §10.1: the smaller non-zero of our timeout and the peer's
    /// max_idle_timeout (ms).
    pub(super) fn negotiate(&mut self, ours: u64, peer_ms: u64, now: u64, pto: u64) {
        let peer = peer_ms.saturating_mul(1_000_000);
        self.timeout = match (ours, peer) {
            (0, 0) => None,
            (0, p) => Some(p),
            (o, 0) => Some(o),
            (o, p) => Some(o.min(p)),
        };
        self.restart(now, pto);
    }

    /// Restarts the timer; it is at least three PTOs, so probes get their
    /// chance (RFC 9000 §10.1).
    fn restart(&mut self, now: u64, pto: u64) {
        if let Some(t) = self.timeout {
            let t = t.max(pto.saturating_mul(3));
            self.deadline = Some(now.saturating_add(t));
        }
    }

    /// A packet of the peer was processed (RFC 9000 §10.1).
    pub(super) fn on_received(&mut self, now: u64, pto: u64) {
        self.restart(now, pto);
        self.sent_eliciting_since_recv = false;
        self.last_activity = self.last_activity.max(now);
    }

    /// An ack-eliciting packet went out: the first since a packet came in
    /// restarts the timer (RFC 9000 §10.1).
    pub(super) fn on_sent_eliciting(&mut self, now: u64, pto: u64) {
        if !self.sent_eliciting_since_recv {
            self.sent_eliciting_since_recv = true;
            self.restart(now, pto);
        }
        self.last_activity = self.last_activity.max(now);
    }

    /// When the connection ends for idleness, if it may.
    pub(super) fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// When a keep-alive PING is due, while `active` (the handshake is
    /// done and the connection open).
    pub(super) fn keep_alive_deadline(&self, active: bool) -> Option<u64> {
        (active && self.keep_alive > 0).then(|| self.last_activity.saturating_add(self.keep_alive))
    }

    /// True when a keep-alive PING is due by `now` (then it counts as
    /// activity, so the next falls due an interval later even if this one
    /// cannot leave at once).
    pub(super) fn take_keep_alive(&mut self, now: u64, active: bool) -> bool {
        let due = self.keep_alive_deadline(active).is_some_and(|d| now >= d);
        if due {
            self.last_activity = now;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn keep_alive_counts_from_the_last_activity_either_way() {
        let mut idle = Idle::default();
        idle.start(30_000 * MS, 5_000 * MS, 0, MS);
        assert_eq!(
            idle.keep_alive_deadline(false),
            None,
            "not before the handshake"
        );
        assert_eq!(idle.keep_alive_deadline(true), Some(5_000 * MS));
        idle.on_received(3_000 * MS, MS);
        assert_eq!(idle.keep_alive_deadline(true), Some(8_000 * MS));
        idle.on_sent_eliciting(4_000 * MS, MS);
        assert_eq!(idle.keep_alive_deadline(true), Some(9_000 * MS));
        assert!(!idle.take_keep_alive(8_999 * MS, true));
        assert!(idle.take_keep_alive(9_000 * MS, true));
        assert_eq!(idle.keep_alive_deadline(true), Some(14_000 * MS));
    }

    #[test]
    fn only_the_first_eliciting_packet_after_a_receipt_restarts_the_timer() {
        let mut idle = Idle::default();
        idle.start(10_000 * MS, 0, 0, MS);
        idle.on_received(1_000 * MS, MS);
        idle.on_sent_eliciting(2_000 * MS, MS);
        assert_eq!(idle.deadline(), Some(12_000 * MS));
        idle.on_sent_eliciting(5_000 * MS, MS);
        assert_eq!(idle.deadline(), Some(12_000 * MS), "RFC 9000 §10.1");
        assert_eq!(idle.keep_alive_deadline(true), None, "no keep-alive set");
    }
}
