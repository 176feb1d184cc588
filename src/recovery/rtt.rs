//! RTT estimation (RFC 9002 §5).

/// Timer granularity, kGranularity (RFC 9002 §6.1.2): 1 ms.
pub const GRANULARITY: u64 = 1_000_000;

/// The RTT estimate of a path, all values in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    latest: u64,
    smoothed: u64,
    var: u64,
    min: u64,
    has_sample: bool,
}

impl RttEstimator {
    /// Before any sample: smoothed_rtt = initial_rtt, rttvar = initial_rtt/2
    /// (RFC 9002 §5.3).
    pub fn new(initial_rtt: u64) -> Self {
        Self {
            latest: initial_rtt,
            smoothed: initial_rtt,
            var: initial_rtt / 2,
            min: initial_rtt,
            has_sample: false,
        }
    }

    /// Most recent sample.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// smoothed_rtt.
    pub fn smoothed(&self) -> u64 {
        self.smoothed
    }

    /// rttvar.
    pub fn var(&self) -> u64 {
        self.var
    }

    /// min_rtt (the initial RTT before any sample).
    pub fn min(&self) -> u64 {
        self.min
    }

    /// True once a sample was taken.
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// Adds a sample (RFC 9002 §5.3). `ack_delay` is already limited to the
    /// peer's max_ack_delay once the handshake is confirmed (and 0 before,
    /// for Initial and Handshake acknowledgements).
    pub fn update(&mut self, latest_rtt: u64, ack_delay: u64) {
        self.latest = latest_rtt;
        if !self.has_sample {
            self.has_sample = true;
            self.min = latest_rtt;
            self.smoothed = latest_rtt;
            self.var = latest_rtt / 2;
            return;
        }
        self.min = self.min.min(latest_rtt);
        // RFC 9002 §5.3: subtract the ack delay only if the result stays at
        // or above min_rtt.
        // Saturating: the ack delay comes from the peer, and before the
        // handshake is confirmed it is not yet limited to max_ack_delay.
        let adjusted = if latest_rtt >= self.min.saturating_add(ack_delay) {
            latest_rtt - ack_delay
        } else {
            latest_rtt
        };
        let diff = u128::from(self.smoothed.abs_diff(adjusted));
        self.var = to_u64((3 * u128::from(self.var) + diff) / 4);
        self.smoothed = to_u64((7 * u128::from(self.smoothed) + u128::from(adjusted)) / 8);
    }

    /// The probe timeout without max_ack_delay or backoff (RFC 9002 §6.2.1):
    /// smoothed_rtt + max(4 * rttvar, kGranularity).
    pub fn pto_base(&self) -> u64 {
        self.smoothed
            .saturating_add(self.var.saturating_mul(4).max(GRANULARITY))
    }

    /// The time-threshold loss delay (RFC 9002 §6.1.2):
    /// 9/8 * max(smoothed_rtt, latest_rtt), at least kGranularity.
    pub fn loss_delay(&self) -> u64 {
        to_u64(u128::from(self.smoothed.max(self.latest)) * 9 / 8).max(GRANULARITY)
    }
}

/// A u128 intermediate back to u64, saturating.
fn to_u64(v: u128) -> u64 {
    v.min(u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn first_sample_sets_everything() {
        let mut r = RttEstimator::new(333 * MS);
        assert_eq!(r.smoothed(), 333 * MS);
        assert!(!r.has_sample());
        r.update(100 * MS, 10 * MS);
        assert_eq!(
            (r.smoothed(), r.var(), r.min()),
            (100 * MS, 50 * MS, 100 * MS)
        );
    }

    #[test]
    fn later_samples_follow_rfc9002_formulas() {
        let mut r = RttEstimator::new(333 * MS);
        r.update(100 * MS, 0);
        r.update(140 * MS, 20 * MS);
        // adjusted = 120; var = (3*50 + 20)/4 = 42.5; smoothed = (700+120)/8 = 102.5
        assert_eq!(r.smoothed(), 102_500_000);
        assert_eq!(r.var(), 42_500_000);
        // An ack delay that would take the sample below min_rtt is ignored.
        r.update(105 * MS, 50 * MS);
        assert_eq!(r.latest(), 105 * MS);
        assert_eq!(r.min(), 100 * MS);
        assert_eq!(r.smoothed(), (7 * 102_500_000 + 105 * MS) / 8);
    }

    /// Issue 11 finding 5: a huge ACK delay before the handshake is
    /// confirmed (not yet clamped) and huge samples neither wrap nor panic.
    #[test]
    fn huge_ack_delays_and_samples_saturate() {
        let mut r = RttEstimator::new(333 * MS);
        r.update(100 * MS, 0);
        r.update(120 * MS, u64::MAX);
        assert_eq!(r.latest(), 120 * MS);
        assert!(r.smoothed() >= 100 * MS && r.smoothed() <= 120 * MS);
        r.update(u64::MAX, u64::MAX / 2);
        r.update(u64::MAX, 0);
        assert!(r.smoothed() > u64::MAX / 8);
        assert!(r.pto_base() >= r.smoothed());
        assert!(r.loss_delay() >= r.smoothed());
    }

    #[test]
    fn pto_and_loss_delay_have_a_floor() {
        let mut r = RttEstimator::new(MS / 10);
        r.update(0, 0);
        assert_eq!(r.pto_base(), GRANULARITY);
        assert_eq!(r.loss_delay(), GRANULARITY);
    }
}
