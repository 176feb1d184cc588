//! Pacing (RFC 9002 §7.7): packets leave at 1.25 x cwnd / smoothed_rtt,
//! with a burst allowance, instead of a whole window at once.

/// N in RFC 9002 §7.7: pace somewhat faster than cwnd / RTT.
const RATE_FACTOR_NUM: u128 = 5;
const RATE_FACTOR_DEN: u128 = 4;

/// Datagrams that may always leave back to back.
const MIN_BURST_DATAGRAMS: u64 = 10;

/// On a fast path the burst is what the window sends in this long (ns),
/// so a sender wakes up about every 2 ms instead of every 10 datagrams...
const BURST_INTERVAL: u128 = 2_000_000;

/// ...but no more than this many datagrams at once (43 KB at 1350 bytes:
/// well within a receiver's default 208 KB socket buffer on Linux).
const MAX_BURST_DATAGRAMS: u64 = 32;

/// Once held back, the sender waits until this long's worth of the rate
/// (within the bucket, and at least one datagram) has come in: a timer
/// finer than about a millisecond costs a wakeup per datagram and is not
/// kept by most event loops anyway, while a whole run can leave in one
/// GSO batch. At 100 Mbit/s that is 9 datagrams; below 11 Mbit/s, one.
const WAKEUP_INTERVAL: u128 = 1_000_000;

/// A token bucket in bytes.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    tokens: u64,
    last: Option<u64>,
}

impl Pacer {
    /// The pacing rate in bits per second for `cwnd` over `srtt` (ns).
    pub fn rate_bps(cwnd: u64, srtt: u64) -> u64 {
        let r = u128::from(cwnd) * 8 * 1_000_000_000 * RATE_FACTOR_NUM
            / (RATE_FACTOR_DEN * u128::from(srtt.max(1)));
        r.min(u128::from(u64::MAX)) as u64
    }

    /// The bucket's size: 2 ms of the window's rate, at least 10 and at
    /// most 32 datagrams, never more than the window.
    fn capacity(cwnd: u64, srtt: u64, mds: u64) -> u64 {
        let per_interval = u128::from(cwnd) * BURST_INTERVAL / u128::from(srtt.max(1));
        let burst = per_interval.clamp(
            u128::from(MIN_BURST_DATAGRAMS * mds),
            u128::from(MAX_BURST_DATAGRAMS * mds),
        ) as u64;
        cwnd.min(burst).max(2 * mds)
    }

    /// When a packet of `size` bytes may be sent (None: now).
    pub fn delay(&mut self, now: u64, size: u64, cwnd: u64, srtt: u64, mds: u64) -> Option<u64> {
        // Worked out only when used (a 128-bit division): a packet that
        // the bucket covers at the same instant needs none.
        let cap = || Self::capacity(cwnd, srtt, mds);
        let srtt = u128::from(srtt.max(1));
        // bytes per ns = 1.25 * cwnd / srtt
        let refill = |elapsed: u64| -> u64 {
            (u128::from(elapsed) * u128::from(cwnd) * RATE_FACTOR_NUM / (RATE_FACTOR_DEN * srtt))
                .min(u128::from(u64::MAX)) as u64
        };
        match self.last {
            None => {
                self.tokens = cap();
                self.last = Some(now);
            }
            Some(t) if now > t => {
                // Time only counts once it earned a whole byte, so frequent
                // calls do not lose fractions.
                let earned = refill(now - t);
                if earned > 0 {
                    self.tokens = self.tokens.saturating_add(earned).min(cap());
                    self.last = Some(now);
                }
            }
            _ => {}
        }
        if self.tokens >= size {
            return None;
        }
        let run = (u128::from(cwnd) * RATE_FACTOR_NUM * WAKEUP_INTERVAL / (RATE_FACTOR_DEN * srtt))
            .min(u128::from(cap())) as u64;
        let wanted = run.max(size);
        // Rounded up, so the refill at that time covers what is missing.
        let missing = u128::from(wanted - self.tokens);
        let den = RATE_FACTOR_NUM * u128::from(cwnd.max(1));
        let wait = (missing * RATE_FACTOR_DEN * srtt).div_ceil(den);
        let wait = wait.min(u128::from(u64::MAX)) as u64;
        // Tokens are counted up to `last`, which is ahead of `now` after a
        // release ahead of time.
        let base = self.last.unwrap_or(now);
        Some(base.saturating_add(wait).max(now.saturating_add(1)))
    }

    /// Whether a packet of `size` bytes may be released at `now`, or up to
    /// `horizon` ahead of the time the pacer would let it go: Ok(the time
    /// it is to leave, at least `now`), or Err(when it may be released).
    pub fn release(
        &mut self,
        now: u64,
        horizon: u64,
        size: u64,
        cwnd: u64,
        srtt: u64,
        mds: u64,
    ) -> Result<u64, u64> {
        match self.delay(now, size, cwnd, srtt, mds) {
            None => Ok(self.time(now)),
            Some(t) if t <= now.saturating_add(horizon) => {
                // Counted as if it were then: the refill up to `t` pays
                // for it, and `last` moves there.
                match self.delay(t, size, cwnd, srtt, mds) {
                    None => Ok(self.time(now)),
                    Some(later) => Err(later),
                }
            }
            Some(t) => Err(t.saturating_sub(horizon)),
        }
    }

    /// When what was released last leaves: `now`, or later after a
    /// release ahead of time.
    pub fn time(&self, now: u64) -> u64 {
        self.last.map_or(now, |l| l.max(now))
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
        assert_eq!(sent, MIN_BURST_DATAGRAMS, "2 ms of 1.2 MB/s is less");
        // 1.25 * 120000 B / 100 ms = 1.5 B/us: 1200 B every 0.8 ms, but
        // the sender wakes for a millisecond's worth (1500 B).
        let next = p.delay(0, mds, cwnd, srtt, mds).unwrap();
        assert!((990_000..=1_010_000).contains(&next), "{next}");
        assert!(p.delay(next, mds, cwnd, srtt, mds).is_none());
    }

    #[test]
    fn a_held_back_sender_wakes_for_a_millisecond_of_datagrams() {
        // 1.25 * 150 KB / 10 ms = 18.75 KB per ms: 15 datagrams.
        let mut p = Pacer::default();
        let (cwnd, srtt, mds) = (150_000u64, 10 * MS, 1250u64);
        while p.delay(0, mds, cwnd, srtt, mds).is_none() {
            p.on_sent(mds);
        }
        let next = p.delay(0, mds, cwnd, srtt, mds).unwrap();
        assert!((990_000..=1_010_000).contains(&next), "{next}");
        let mut run = 0;
        while p.delay(next, mds, cwnd, srtt, mds).is_none() {
            p.on_sent(mds);
            run += 1;
        }
        assert_eq!(run, 15);
    }

    #[test]
    fn a_fast_path_bursts_two_milliseconds_worth_up_to_a_limit() {
        // 150 KB per 10 ms: 2 ms is 30 KB, 25 datagrams.
        let mds = 1200u64;
        let burst = |cwnd: u64, srtt: u64| {
            let mut p = Pacer::default();
            let mut sent = 0;
            while p.delay(0, mds, cwnd, srtt, mds).is_none() {
                p.on_sent(mds);
                sent += 1;
            }
            sent
        };
        assert_eq!(burst(150_000, 10 * MS), 25);
        // 12 MB per ms would be 24 MB: capped.
        assert_eq!(burst(12_000_000, MS), MAX_BURST_DATAGRAMS);
        // Never more than the window.
        assert_eq!(burst(20 * mds, MS / 100), 20);
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
