//! Whether a new connection may start (RFC 9000 §8.1, §21.1): limits on
//! connections and half-open handshakes, the Retry policy, and a cap on
//! Initials per client address, so that a flood costs bounded memory and
//! work and every refusal is counted.

use std::collections::HashMap;
use std::net::IpAddr;

/// When a server asks new clients to prove their address with a Retry
/// first (one more round trip for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Never: clients start at once (their first flights stay under the
    /// 3x amplification limit).
    Never,
    /// Every client without a valid token.
    Always,
    /// Only while at least this many handshakes are half-open: a flood of
    /// spoofed Initials then costs a Retry each, not a connection.
    AboveHalfOpen(u32),
}

/// Distinct client addresses whose Initial rate is tracked at most; past
/// it the table is cleared and starts over (a flood from many addresses
/// cannot grow it).
const MAX_TRACKED_ADDRESSES: usize = 4096;

/// The Initial budget of one address: a token bucket refilled at the
/// configured rate per second, holding at most one second's worth.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    refilled_at: u64,
}

/// Per-address Initial rate limiting.
#[derive(Debug, Default)]
pub(crate) struct InitialRate {
    per_second: u32,
    buckets: HashMap<IpAddr, Bucket>,
}

impl InitialRate {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            buckets: HashMap::new(),
        }
    }

    /// True when an Initial from `ip` at `now` (ns) is within its budget
    /// (always, with no limit set).
    pub(crate) fn allow(&mut self, ip: IpAddr, now: u64) -> bool {
        if self.per_second == 0 {
            return true;
        }
        if self.buckets.len() >= MAX_TRACKED_ADDRESSES && !self.buckets.contains_key(&ip) {
            self.buckets
                .retain(|_, b| now.saturating_sub(b.refilled_at) < 1_000_000_000);
            if self.buckets.len() >= MAX_TRACKED_ADDRESSES {
                self.buckets.clear();
            }
        }
        let rate = self.per_second;
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: rate,
            refilled_at: now,
        });
        let elapsed = now.saturating_sub(b.refilled_at);
        let earned = (u128::from(elapsed) * u128::from(rate) / 1_000_000_000) as u64;
        if earned > 0 {
            b.tokens = (u64::from(b.tokens) + earned).min(u64::from(rate)) as u32;
            b.refilled_at = now;
        }
        if b.tokens == 0 {
            return false;
        }
        b.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn each_address_gets_its_rate_and_no_more() {
        let mut r = InitialRate::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!((0..3).all(|_| r.allow(a, 0)));
        assert!(!r.allow(a, 0));
        assert!(r.allow(b, 0), "another address has its own budget");
        assert!(!r.allow(a, S / 4), "less than a token earned");
        assert!(r.allow(a, S / 2), "one earned");
        assert!(
            (0..3).all(|_| r.allow(a, 10 * S)),
            "refilled, capped at the rate"
        );
        assert!(!r.allow(a, 10 * S));
        assert!(InitialRate::new(0).allow(a, 0), "no limit");
    }

    #[test]
    fn the_table_stays_bounded_under_many_addresses() {
        let mut r = InitialRate::new(1);
        for i in 0..20_000u32 {
            r.allow(IpAddr::from(i.to_be_bytes()), 0);
        }
        assert!(r.buckets.len() <= MAX_TRACKED_ADDRESSES);
    }
}
