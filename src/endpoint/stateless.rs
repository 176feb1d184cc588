//! Datagrams an endpoint sends with no connection (RFC 9000 §6, §8.1.2,
//! §10.3): Version Negotiation, Retry and stateless resets, held in a
//! bounded queue so that a flood of packets needing an answer cannot make
//! the endpoint hold more than `MAX_QUEUED` of them.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::conn::Transmit;
use crate::crypto::random::RandomSource;

/// Stateless answers waiting to be sent at most; more are dropped (and
/// counted): the peers will retry.
pub(crate) const MAX_QUEUED: usize = 256;

/// RFC 9000 §10.3: the smallest stateless reset (5 unpredictable bytes
/// and the 16-byte token).
const MIN_RESET: usize = 21;
/// The largest stateless reset we send: a size like that of a short
/// packet, never more than what triggered it.
const MAX_RESET: usize = 64;

/// The stateless answers owed.
#[derive(Debug, Default)]
pub(crate) struct Stateless {
    queue: VecDeque<(Transmit, Vec<u8>)>,
}

impl Stateless {
    /// Queues `datagram` for `to`, from `local`; false when the queue is
    /// full (the datagram is dropped).
    pub(crate) fn push(
        &mut self,
        local: Option<SocketAddr>,
        to: SocketAddr,
        datagram: Vec<u8>,
    ) -> bool {
        if self.queue.len() >= MAX_QUEUED {
            return false;
        }
        self.queue.push_back((
            Transmit {
                local,
                remote: to,
                ecn: crate::conn::Ecn::NotEct,
                send_at: 0,
            },
            datagram,
        ));
        true
    }

    /// The oldest answer owed.
    pub(crate) fn pop(&mut self) -> Option<(Transmit, Vec<u8>)> {
        self.queue.pop_front()
    }
}

/// A stateless reset answering a short-header packet of `received` bytes
/// (RFC 9000 §10.3): smaller than it, so two endpoints cannot loop
/// (§10.3.3), random but for the fixed bit pattern of a short header, and
/// ending in `token`. None when the packet is too small to answer.
pub(crate) fn reset(received: usize, token: &[u8; 16], rng: &dyn RandomSource) -> Option<Vec<u8>> {
    let len = received.saturating_sub(1).min(MAX_RESET);
    if len < MIN_RESET {
        return None;
    }
    let mut out = vec![0u8; len];
    rng.fill(&mut out[..len - 16]);
    // §10.3: 0b01 in the first two bits, like a short header.
    out[0] = 0x40 | (out[0] & 0x3f);
    out[len - 16..].copy_from_slice(token);
    Some(out)
}

/// A limit on stateless resets per second (§10.3.3): a token bucket
/// holding at most one second's worth.
#[derive(Debug)]
pub(crate) struct ResetRate {
    per_second: u32,
    tokens: u32,
    refilled_at: u64,
}

impl ResetRate {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            tokens: per_second,
            refilled_at: 0,
        }
    }

    /// True when one more reset may go at `now` (ns).
    pub(crate) fn allow(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.refilled_at);
        let earned = (u128::from(elapsed) * u128::from(self.per_second) / 1_000_000_000) as u64;
        if earned > 0 {
            self.tokens = (u64::from(self.tokens) + earned).min(u64::from(self.per_second)) as u32;
            self.refilled_at = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random::SystemRandom;

    #[test]
    fn a_reset_is_smaller_than_what_provoked_it_and_ends_in_the_token() {
        let token = [9u8; 16];
        assert!(
            reset(21, &token, &SystemRandom).is_none(),
            "too small to answer"
        );
        let r = reset(22, &token, &SystemRandom).unwrap();
        assert_eq!(r.len(), 21);
        let r = reset(1200, &token, &SystemRandom).unwrap();
        assert_eq!(r.len(), MAX_RESET);
        assert_eq!(r[0] & 0xc0, 0x40, "looks like a short header");
        assert_eq!(r[r.len() - 16..], token);
    }

    #[test]
    fn resets_are_rate_limited() {
        let mut r = ResetRate::new(2);
        assert!(r.allow(0) && r.allow(0));
        assert!(!r.allow(0));
        assert!(r.allow(500_000_000));
        assert!(!r.allow(500_000_000));
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut s = Stateless::default();
        let to: SocketAddr = "192.0.2.1:4433".parse().unwrap();
        assert!((0..MAX_QUEUED).all(|_| s.push(None, to, vec![0])));
        assert!(!s.push(None, to, vec![0]));
    }
}
