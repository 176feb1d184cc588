//! Datagram packetization layer PMTU discovery (DPLPMTUD, RFC 8899; RFC
//! 9000 §14.3): how large our datagrams may be on the current path.
//!
//! Every path starts at the configured datagram size, at least 1200 bytes
//! (BASE_PLPMTU, which QUIC guarantees). Once the handshake is confirmed,
//! probes search upward toward the configured ceiling: each probe is a
//! lone PING padded to the size tried, outside congestion control, so
//! its loss is not congestion (RFC 9000 §14.4). An acknowledged probe
//! raises the size in use; a size lost MAX_PROBES times bounds the search
//! from above. The search is a bisection, first trying the ceiling; it
//! ends within SEARCH_DONE of the largest size that worked, and starts
//! again after RAISE_INTERVAL, in case the path grew.
//!
//! Black holes (RFC 8899 §4.3): when the path's MTU shrinks (a route
//! change), every full-size packet is lost, probes of the loss timer
//! included, so nothing comes back: probe timeouts follow one another
//! with no acknowledgement in between. BLACK_HOLE_PTOS of them in a row,
//! with packets above BASE_PLPMTU in flight, take the size back to
//! BASE_PLPMTU, and the search starts again below the old size. Random
//! loss does not trigger it (losses found from ACKs prove the path
//! carries the size); an outage that long costs a new search, nothing
//! more.

use crate::packet::MIN_INITIAL_DATAGRAM;

/// BASE_PLPMTU: every QUIC path carries this (RFC 9000 §14).
pub(crate) const BASE_PLPMTU: usize = MIN_INITIAL_DATAGRAM;

/// Losses of one probe size before it counts as too large (RFC 8899
/// §5.1.2 MAX_PROBES).
const MAX_PROBES: u8 = 3;

/// The search ends once the bounds are this close.
const SEARCH_DONE: usize = 20;

/// How long a completed search rests before trying to go higher (RFC 8899
/// §5.1.1 PMTU_RAISE_TIMER: 600 s).
const RAISE_INTERVAL: u64 = 600_000_000_000;

/// Probe timeouts in a row, with large packets in flight, that make a
/// black hole.
const BLACK_HOLE_PTOS: u32 = 3;

/// A probe in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    pn: u64,
    size: usize,
    /// It counts as lost then if nothing said otherwise.
    deadline: u64,
}

/// What a probe's fate or a loss changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PmtuChange {
    /// A larger size was confirmed.
    Raised(usize),
    /// A black hole: back to BASE_PLPMTU.
    BlackHole(usize),
}

/// PMTU discovery on one path.
#[derive(Debug, Clone)]
pub(crate) struct Pmtud {
    /// The size in use: confirmed by a probe, or the starting size.
    current: usize,
    /// The configured ceiling.
    ceiling: usize,
    /// The search's upper bound (inclusive): sizes above failed.
    high: usize,
    probe: Option<Probe>,
    /// The size being tried, and its losses so far.
    trying: Option<usize>,
    failures: u8,
    /// When the search may (re)start; None while it is running.
    rest_until: Option<u64>,
    /// Counters for the statistics.
    pub(crate) probes_sent: u64,
    pub(crate) probes_lost: u64,
    pub(crate) black_holes: u64,
}

impl Default for Pmtud {
    fn default() -> Self {
        Self::new(BASE_PLPMTU, BASE_PLPMTU)
    }
}

impl Pmtud {
    /// A path that starts at `start` bytes and may search up to `ceiling`
    /// (no search when the ceiling is not above the start).
    pub(crate) fn new(start: usize, ceiling: usize) -> Self {
        Self {
            current: start,
            ceiling: ceiling.max(start),
            high: ceiling.max(start),
            probe: None,
            trying: None,
            failures: 0,
            rest_until: None,
            probes_sent: 0,
            probes_lost: 0,
            black_holes: 0,
        }
    }

    /// The same discovery for a new path: the starting size again.
    pub(crate) fn restart(&mut self, start: usize) {
        let (sent, lost, holes) = (self.probes_sent, self.probes_lost, self.black_holes);
        *self = Self::new(start, self.ceiling);
        (self.probes_sent, self.probes_lost, self.black_holes) = (sent, lost, holes);
    }

    /// The largest datagram to send now.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// The size of the probe to send now, if one is due; `limit` caps it
    /// (the peer's max_udp_payload_size, the caller's buffer).
    pub(crate) fn probe_due(&self, now: u64, limit: usize) -> Option<usize> {
        if self.probe.is_some() || self.rest_until.is_some_and(|t| now < t) {
            return None;
        }
        let high = self.high.min(limit);
        if let Some(t) = self.trying.filter(|&t| t <= high) {
            return Some(t);
        }
        if high < self.current + SEARCH_DONE {
            return None;
        }
        // The ceiling first (a path that carries it is found at once),
        // then bisection.
        let size = if self.high == self.ceiling {
            high
        } else {
            self.current + (high - self.current) / 2
        };
        (size > self.current).then_some(size)
    }

    /// A probe of `size` went out as packet `pn`; it counts as lost at
    /// `deadline` unless acknowledged or declared lost before.
    pub(crate) fn on_probe_sent(&mut self, pn: u64, size: usize, deadline: u64) {
        if self.trying != Some(size) {
            self.trying = Some(size);
            self.failures = 0;
        }
        self.probe = Some(Probe { pn, size, deadline });
        self.probes_sent += 1;
    }

    /// When the outstanding probe times out, or the search resumes.
    pub(crate) fn deadline(&self) -> Option<u64> {
        match self.probe {
            Some(p) => Some(p.deadline),
            None => self.rest_until,
        }
    }

    /// The timer fired at `now`: a probe that timed out is lost; a rest
    /// that ended lets the search start again.
    pub(crate) fn on_timer(&mut self, now: u64) {
        if let Some(p) = self.probe.filter(|p| now >= p.deadline) {
            self.on_probe_lost(p.pn, now);
        }
        if self.rest_until.is_some_and(|t| now >= t) && self.probe.is_none() {
            self.rest_until = None;
            self.high = self.ceiling;
            self.trying = None;
            self.failures = 0;
        }
    }

    /// Packet `pn`, a probe of `size`, was acknowledged.
    pub(crate) fn on_probe_acked(&mut self, pn: u64, size: usize, now: u64) -> Option<PmtuChange> {
        if self.probe.is_some_and(|p| p.pn == pn) {
            self.probe = None;
        }
        if self.trying.is_some_and(|t| t <= size) {
            self.trying = None;
            self.failures = 0;
        }
        if size <= self.current {
            return None;
        }
        self.current = size;
        self.check_done(now);
        Some(PmtuChange::Raised(size))
    }

    /// Packet `pn`, a probe, was lost (declared so by loss detection, or
    /// timed out).
    pub(crate) fn on_probe_lost(&mut self, pn: u64, now: u64) {
        let Some(p) = self.probe.filter(|p| p.pn == pn) else {
            return;
        };
        self.probe = None;
        self.probes_lost += 1;
        self.failures += 1;
        if self.failures >= MAX_PROBES {
            self.failures = 0;
            self.trying = None;
            self.high = p.size - 1;
            self.check_done(now);
        }
    }

    /// Rests once the bounds meet.
    fn check_done(&mut self, now: u64) {
        if self.high < self.current + SEARCH_DONE || self.current >= self.high {
            self.rest_until = Some(now.saturating_add(RAISE_INTERVAL));
        }
    }

    /// A probe timeout fired, the `consecutive`th without an
    /// acknowledgement, with packets of at most `largest` bytes in flight.
    pub(crate) fn on_timeouts(&mut self, consecutive: u32, largest: usize) -> Option<PmtuChange> {
        if consecutive < BLACK_HOLE_PTOS || largest <= BASE_PLPMTU || self.current <= BASE_PLPMTU {
            return None;
        }
        self.black_holes += 1;
        self.high = self.current - 1;
        self.current = BASE_PLPMTU;
        self.trying = None;
        self.failures = 0;
        self.probe = None;
        self.rest_until = None;
        Some(PmtuChange::BlackHole(BASE_PLPMTU))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// Runs a search on a path that carries `mtu`: each probe is answered
    /// at once, acked or lost. Returns the size found and probes sent.
    fn search(mtu: usize, ceiling: usize) -> (usize, u64) {
        let mut d = Pmtud::new(1200, ceiling);
        let mut pn = 0;
        while let Some(size) = d.probe_due(0, usize::MAX) {
            pn += 1;
            d.on_probe_sent(pn, size, 10 * S);
            if size <= mtu {
                d.on_probe_acked(pn, size, 0);
            } else {
                d.on_probe_lost(pn, 0);
            }
            assert!(pn < 100, "the search ends");
        }
        (d.current(), d.probes_sent)
    }

    #[test]
    fn the_ceiling_is_found_with_one_probe() {
        assert_eq!(search(1500, 1452), (1452, 1));
    }

    #[test]
    fn bisection_finds_the_path_mtu_within_the_search_gap() {
        for mtu in [1280, 1300, 1400, 1451, 9000] {
            let (found, probes) = search(mtu, 65_527);
            assert!(
                found <= mtu && found + SEARCH_DONE > mtu.min(65_527),
                "{mtu}: {found}"
            );
            assert!(probes < 60, "{mtu}: {probes} probes");
        }
        // A path that carries nothing above the base stays there.
        assert_eq!(search(1200, 1452).0, 1200);
    }

    #[test]
    fn a_probe_that_times_out_is_lost_and_the_search_rests_then_resumes() {
        let mut d = Pmtud::new(1200, 1452);
        let size = d.probe_due(0, usize::MAX).unwrap();
        d.on_probe_sent(1, size, 3 * S);
        assert_eq!(d.probe_due(S, usize::MAX), None, "one probe at a time");
        assert_eq!(d.deadline(), Some(3 * S));
        d.on_timer(3 * S);
        assert_eq!(d.probes_lost, 1);
        // The ceiling is tried again (MAX_PROBES losses before giving
        // up); a peer limit below it caps the probe.
        assert_eq!(d.probe_due(3 * S, usize::MAX), Some(1452));
        assert_eq!(d.probe_due(3 * S, 1300), Some(1300));
        // A search that ended below the ceiling rests, then tries again.
        let mut d = Pmtud::new(1200, 1452);
        let mut pn = 0;
        while let Some(size) = d.probe_due(0, usize::MAX) {
            pn += 1;
            d.on_probe_sent(pn, size, 10 * S);
            if size <= 1300 {
                d.on_probe_acked(pn, size, 0);
            } else {
                d.on_probe_lost(pn, 0);
            }
        }
        assert!((1281..=1300).contains(&d.current()), "{}", d.current());
        assert_eq!(d.deadline(), Some(RAISE_INTERVAL));
        d.on_timer(RAISE_INTERVAL - 1);
        assert_eq!(d.probe_due(RAISE_INTERVAL - 1, usize::MAX), None);
        d.on_timer(RAISE_INTERVAL);
        assert_eq!(d.probe_due(RAISE_INTERVAL, usize::MAX), Some(1452));
    }

    #[test]
    fn three_probe_timeouts_in_a_row_with_large_packets_are_a_black_hole() {
        let mut d = Pmtud::new(1200, 1452);
        d.on_probe_sent(1, 1452, 10 * S);
        assert_eq!(d.on_probe_acked(1, 1452, 0), Some(PmtuChange::Raised(1452)));
        assert_eq!(d.on_timeouts(1, 1452), None);
        assert_eq!(d.on_timeouts(2, 1452), None);
        // Only small packets in flight: they are not what the path drops.
        assert_eq!(d.on_timeouts(3, 1200), None);
        assert_eq!(d.on_timeouts(3, 1452), Some(PmtuChange::BlackHole(1200)));
        assert_eq!((d.current(), d.black_holes), (1200, 1));
        // The search starts again, below the size that failed.
        let next = d.probe_due(S, usize::MAX).unwrap();
        assert!(next < 1452 && next > 1200, "{next}");
    }
}
