//! A set of disjoint, non-adjacent half-open ranges of u64, kept sorted.
//! Used for received packet numbers (ACK ranges), acknowledged and lost
//! stream/crypto byte ranges, and reassembly bookkeeping.

use std::ops::Range;

/// Sorted disjoint ranges; adjacent ranges are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no value is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The ranges, lowest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Range<u64>> + '_ {
        self.ranges.iter()
    }

    /// The lowest range, if any.
    pub fn first(&self) -> Option<Range<u64>> {
        self.ranges.first().cloned()
    }

    /// Smallest value, if any.
    pub fn min(&self) -> Option<u64> {
        self.ranges.first().map(|r| r.start)
    }

    /// Largest value, if any.
    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.end - 1)
    }

    /// True when `v` is in the set.
    pub fn contains(&self, v: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.end <= v);
        self.ranges.get(i).is_some_and(|r| r.start <= v)
    }

    /// Adds `r`; returns true if any value was new.
    pub fn insert(&mut self, r: Range<u64>) -> bool {
        self.insert_counting(r) > 0
    }

    /// Adds `r`; returns how many values were new (in the work the merge
    /// does anyway, so a caller can keep a running total).
    pub fn insert_counting(&mut self, r: Range<u64>) -> u64 {
        if r.start >= r.end {
            return 0;
        }
        // In order, the usual case (the next packet number, the next
        // bytes): the last range grows, or one is appended.
        if let Some(last) = self.ranges.last_mut() {
            if r.start == last.end {
                last.end = r.end;
                return r.end - r.start;
            }
            if r.start > last.end {
                let new = r.end - r.start;
                self.ranges.push(r);
                return new;
            }
        }
        // First range that ends at or after r.start (touching counts).
        let lo = self.ranges.partition_point(|x| x.end < r.start);
        // First range that starts after r.end (touching counts as overlap).
        let hi = self.ranges.partition_point(|x| x.start <= r.end);
        if lo == hi {
            let new = r.end - r.start;
            self.ranges.insert(lo, r);
            return new;
        }
        let start = r.start.min(self.ranges[lo].start);
        let end = r.end.max(self.ranges[hi - 1].end);
        let covered: u64 = self.ranges[lo..hi].iter().map(|x| x.end - x.start).sum();
        // In place: usually one range just grows.
        self.ranges[lo] = start..end;
        self.ranges.drain(lo + 1..hi);
        (end - start) - covered
    }

    /// Removes every value in `r`.
    pub fn remove(&mut self, r: Range<u64>) {
        self.remove_counting(r);
    }

    /// Removes every value in `r`; returns how many were in the set.
    pub fn remove_counting(&mut self, r: Range<u64>) -> u64 {
        if r.start >= r.end {
            return 0;
        }
        let lo = self.ranges.partition_point(|x| x.end <= r.start);
        let hi = self.ranges.partition_point(|x| x.start < r.end);
        if lo >= hi {
            return 0;
        }
        let overlapped: u64 = self.ranges[lo..hi].iter().map(|x| x.end - x.start).sum();
        // What survives of the first and last overlapped ranges, written
        // in place of the overlapped ones.
        let left = self.ranges[lo].start..r.start;
        let right = r.end..self.ranges[hi - 1].end;
        let mut at = lo;
        let mut kept = 0;
        for piece in [left, right] {
            if piece.start < piece.end {
                kept += piece.end - piece.start;
                if at < hi {
                    self.ranges[at] = piece;
                } else {
                    self.ranges.insert(at, piece);
                }
                at += 1;
            }
        }
        if at < hi {
            self.ranges.drain(at..hi);
        }
        overlapped - kept
    }

    /// Removes the lowest range.
    pub fn pop_min(&mut self) -> Option<Range<u64>> {
        if self.ranges.is_empty() {
            None
        } else {
            Some(self.ranges.remove(0))
        }
    }

    /// The parts of `r` not in the set, lowest first (no allocation: this
    /// runs for every received or lost frame).
    pub fn gaps_in(&self, r: Range<u64>) -> Gaps<'_> {
        let lo = self.ranges.partition_point(|x| x.end <= r.start);
        Gaps {
            ranges: self.ranges[lo..].iter(),
            cursor: r.start,
            end: r.end,
        }
    }
}

/// Iterator of [`RangeSet::gaps_in`].
#[derive(Debug)]
pub struct Gaps<'a> {
    ranges: std::slice::Iter<'a, Range<u64>>,
    cursor: u64,
    end: u64,
}

impl Iterator for Gaps<'_> {
    type Item = Range<u64>;

    fn next(&mut self) -> Option<Range<u64>> {
        while self.cursor < self.end {
            let Some(x) = self.ranges.next().filter(|x| x.start < self.end) else {
                // No more ranges inside: the rest is one gap.
                let gap = self.cursor..self.end;
                self.cursor = self.end;
                return Some(gap);
            };
            let gap = self.cursor..x.start;
            self.cursor = self.cursor.max(x.end);
            if gap.start < gap.end {
                return Some(gap);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[Range<u64>]) -> RangeSet {
        let mut s = RangeSet::new();
        for r in v {
            s.insert(r.clone());
        }
        s
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut s = set(&[10..20, 30..40]);
        assert!(s.insert(20..25));
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), vec![10..25, 30..40]);
        assert!(s.insert(25..30));
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), vec![10..40]);
        assert!(!s.insert(12..18), "nothing new");
        assert!(s.insert(0..5));
        assert_eq!(s.len(), 2);
        assert_eq!((s.min(), s.max()), (Some(0), Some(39)));
        assert!(s.contains(4) && !s.contains(5) && s.contains(39) && !s.contains(40));
    }

    #[test]
    fn remove_splits() {
        let mut s = RangeSet::new();
        s.insert(0..100);
        s.remove(10..20);
        s.remove(50..60);
        assert_eq!(
            s.iter().cloned().collect::<Vec<_>>(),
            vec![0..10, 20..50, 60..100]
        );
        s.remove(0..1000);
        assert!(s.is_empty());
    }

    #[test]
    fn gaps() {
        let s = set(&[10..20, 30..40]);
        let gaps = |r: Range<u64>| s.gaps_in(r).collect::<Vec<_>>();
        assert_eq!(gaps(0..50), vec![0..10, 20..30, 40..50]);
        assert_eq!(gaps(12..18), Vec::<Range<u64>>::new());
        assert_eq!(gaps(15..35), vec![20..30]);
        assert_eq!(gaps(20..30), vec![20..30]);
        assert_eq!(gaps(10..40), vec![20..30]);
        assert_eq!(gaps(35..45), vec![40..45]);
        assert_eq!(gaps(5..5), Vec::<Range<u64>>::new());
        assert_eq!(
            RangeSet::new().gaps_in(3..7).collect::<Vec<_>>(),
            vec![3..7]
        );
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut s = RangeSet::new();
        let mut model = [false; 200];
        let mut x: u64 = 12345;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (x >> 33) % 200;
            let b = (a + (x >> 20) % 20).min(200);
            if x & 1 == 0 {
                s.insert(a..b);
                model[a as usize..b as usize]
                    .iter_mut()
                    .for_each(|v| *v = true);
            } else {
                s.remove(a..b);
                model[a as usize..b as usize]
                    .iter_mut()
                    .for_each(|v| *v = false);
            }
            for (i, &m) in model.iter().enumerate() {
                assert_eq!(s.contains(i as u64), m);
            }
            // The gaps of a random window are the model's unset runs.
            let (lo, hi) = ((x >> 7) % 200, ((x >> 7) % 200 + (x >> 40) % 60).min(200));
            let mut want: Vec<Range<u64>> = Vec::new();
            for i in lo..hi {
                if !model[i as usize] {
                    match want.last_mut() {
                        Some(r) if r.end == i => r.end = i + 1,
                        _ => want.push(i..i + 1),
                    }
                }
            }
            assert_eq!(s.gaps_in(lo..hi).collect::<Vec<_>>(), want);
            // Ranges stay sorted, disjoint and non-adjacent.
            let v: Vec<_> = s.iter().cloned().collect();
            for w in v.windows(2) {
                assert!(w[0].end < w[1].start);
            }
        }
    }

    #[test]
    fn counting_insert_and_remove_report_what_changed() {
        let mut s = RangeSet::new();
        assert_eq!(s.insert_counting(10..20), 10);
        assert_eq!(s.insert_counting(15..25), 5);
        assert_eq!(s.insert_counting(30..40), 10);
        assert_eq!(s.insert_counting(0..50), 25, "fills the gaps only");
        assert_eq!(s.insert_counting(0..50), 0);
        assert_eq!(s.remove_counting(5..15), 10);
        assert_eq!(s.remove_counting(0..10), 5);
        assert_eq!(s.remove_counting(40..60), 10);
        assert_eq!(s.remove_counting(100..200), 0);
        assert_eq!(s.iter().map(|r| r.end - r.start).sum::<u64>(), 25);
    }
}
