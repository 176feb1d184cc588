//! Pacing (RFC 9002 §7.7): packets leave at 1.25 x cwnd / smoothed_rtt,
//! with a burst allowance, instead of a whole window at once.

/// N in RFC 9002 §7.7: pace somewhat faster than cwnd / RTT.
const RATE_FACTOR_NUM: u128 = 5;
const RATE_FACTOR_DEN: u128 = 4;

/// Datagrams that may leave back to back.
const BURST_DATAGRAMS: u64 = 10;

/// A token bucket in bytes.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    tokens: u64,
    last: Option<u64>,
}

impl Pacer {
    fn capacity(cwnd: u64, mds: u64) -> u64 {
        cwnd.min(BURST_DATAGRAMS * mds).max(2 * mds)
    }

    /// When a packet of `size` bytes may be sent (None: now).
    pub fn delay(&mut self, now: u64, size: u64, cwnd: u64, srtt: u64, mds: u64) -> Option<u64> {
        let cap = Self::capacity(cwnd, mds);
        let srtt = u128::from(srtt.max(1));
        // bytes per ns = 1.25 * cwnd / srtt
        let refill = |elapsed: u64| -> u64 {
            (u128::from(elapsed) * u128::from(cwnd) * RATE_FACTOR_NUM / (RATE_FACTOR_DEN * srtt))
                .min(u128::from(u64::MAX)) as u64
        };
        match self.last {
            None => {
                self.tokens = cap;
                self.last = Some(now);
            }
            Some(t) if now > t => {
                // Time only counts once it earned a whole byte, so frequent
                // calls do not lose fractions.
                let earned = refill(now - t);
                if earned > 0 {
                    self.tokens = self.tokens.saturating_add(earned).min(cap);
                    self.last = Some(now);
                }
            }
            _ => {}
        }
        if self.tokens >= size {
            return None;
        }
        // Rounded up, so the refill at that time covers what is missing.
        let missing = u128::from(size - self.tokens);
        let den = RATE_FACTOR_NUM * u128::from(cwnd.max(1));
        let wait = (missing * RATE_FACTOR_DEN * srtt).div_ceil(den);
        let since_last = now - self.last.unwrap_or(now);
        Some(now + (wait as u64).saturating_sub(since_last).max(1))
    }

    /// A packet of `size` bytes was sent.
    pub fn on_sent(&mut self, size: u64) {
        self.tokens = self.tokens.saturating_sub(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn bursts_then_paces_at_the_rate() {
        let mut p = Pacer::default();
        let (cwnd, srtt, mds) = (120_000u64, 100 * MS, 1200u64);
        let mut sent = 0;
        while p.delay(0, mds, cwnd, srtt, mds).is_none() {
            p.on_sent(mds);
            sent += 1;
        }
        assert_eq!(sent, BURST_DATAGRAMS);
        // 1.25 * 120000 B / 100 ms = 1.5 B/us: 1200 B every 0.8 ms.
        let next = p.delay(0, mds, cwnd, srtt, mds).unwrap();
        assert!((790_000..=810_000).contains(&next), "{next}");
        assert!(p.delay(next, mds, cwnd, srtt, mds).is_none());
    }

    #[test]
    fn sending_at_the_pace_spreads_a_window_over_an_rtt() {
        let mut p = Pacer::default();
        let (cwnd, srtt, mds) = (60_000u64, 50 * MS, 1200u64);
        let mut now = 0;
        let mut bytes = 0;
        while bytes < 2 * cwnd {
            match p.delay(now, mds, cwnd, srtt, mds) {
                None => {
                    p.on_sent(mds);
                    bytes += mds;
                }
                Some(t) => now = t,
            }
        }
        // Two windows take about 2 RTT / 1.25, minus the initial burst.
        assert!(now > 60 * MS && now < 85 * MS, "{} ms", now / MS);
    }
}
