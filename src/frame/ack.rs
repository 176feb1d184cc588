//! ACK frames (RFC 9000 §19.3): parsed lazily, ranges validated once.

use crate::codec::Reader;

/// ECN counts of an ACK_ECN frame (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcnCounts {
    /// ECT(0) count.
    pub ect0: u64,
    /// ECT(1) count.
    pub ect1: u64,
    /// ECN-CE count.
    pub ce: u64,
}

/// An ACK frame. The additional ranges stay encoded in the packet and are
/// decoded on iteration; parsing already checked that none goes below zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckFrame<'a> {
    /// Largest acknowledged packet number.
    pub largest: u64,
    /// Encoded ACK delay (scale with the peer's ack_delay_exponent).
    pub delay: u64,
    /// Packets below `largest` acknowledged in the first range.
    pub first_range: u64,
    /// Number of (gap, range) pairs after the first range.
    pub range_count: u64,
    /// The encoded (gap, range) pairs.
    pub(crate) ranges_raw: &'a [u8],
    /// ECN counts, for type 0x03.
    pub ecn: Option<EcnCounts>,
}

impl<'a> AckFrame<'a> {
    /// The acknowledged ranges, highest first, as inclusive (low, high).
    pub fn ranges(&self) -> AckRanges<'a> {
        AckRanges {
            next: Some((self.largest - self.first_range, self.largest)),
            reader: Reader::new(self.ranges_raw),
            left: self.range_count,
        }
    }

    /// The smallest acknowledged packet number.
    pub fn smallest(&self) -> u64 {
        self.ranges().last().map_or(self.largest, |(lo, _)| lo)
    }
}

/// Iterator over the ranges of an [`AckFrame`].
#[derive(Debug, Clone)]
pub struct AckRanges<'a> {
    next: Option<(u64, u64)>,
    reader: Reader<'a>,
    left: u64,
}

impl Iterator for AckRanges<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let current = self.next.take()?;
        if self.left > 0 {
            self.left -= 1;
            self.next = next_range(&mut self.reader, current.0);
        }
        Some(current)
    }
}

/// Decodes one (gap, range) pair below a range starting at `prev_low`:
/// `None` when truncated or below zero.
fn next_range(r: &mut Reader<'_>, prev_low: u64) -> Option<(u64, u64)> {
    let gap = r.varint()?;
    let len = r.varint()?;
    range_below(prev_low, gap, len)
}

/// The range described by `gap` and `len` below a range whose smallest
/// packet is `prev_low` (RFC 9000 §19.3.1): its largest is
/// `prev_low - gap - 2`. `None` when it would go below zero.
pub(crate) fn range_below(prev_low: u64, gap: u64, len: u64) -> Option<(u64, u64)> {
    let high = prev_low.checked_sub(gap)?.checked_sub(2)?;
    let low = high.checked_sub(len)?;
    Some((low, high))
}
