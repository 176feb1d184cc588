//! Peer streams opened implicitly but not used yet (RFC 9000 §3.2: using
//! stream N opens every lower stream of its type). They get no state until
//! a frame names them, so naming stream 4,000,000 costs one range here,
//! not four million streams; the ranges split as streams are used, with
//! O(log n) work each.

use std::collections::BTreeMap;

/// Disjoint ranges of stream indexes, start -> end (exclusive).
#[derive(Debug, Default)]
pub(crate) struct Unborn {
    ranges: BTreeMap<u64, u64>,
}

impl Unborn {
    /// Indexes `start..end` were opened implicitly.
    pub(crate) fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // Opened in order: usually this extends the last range.
        if let Some(mut last) = self.ranges.last_entry() {
            if *last.get() == start {
                *last.get_mut() = end;
                return;
            }
        }
        self.ranges.insert(start, end);
    }

    /// Takes `index` out if it is unborn: the stream is used now.
    pub(crate) fn take(&mut self, index: u64) -> bool {
        let Some((&start, &end)) = self.ranges.range(..=index).next_back() else {
            return false;
        };
        if index >= end {
            return false;
        }
        self.ranges.remove(&start);
        if start < index {
            self.ranges.insert(start, index);
        }
        if index + 1 < end {
            self.ranges.insert(index + 1, end);
        }
        true
    }

    /// True when `index` is unborn.
    pub(crate) fn contains(&self, index: u64) -> bool {
        self.ranges
            .range(..=index)
            .next_back()
            .is_some_and(|(_, &end)| index < end)
    }

    /// Ranges held (for the hostile-peer bounds).
    #[cfg(test)]
    pub(crate) fn ranges(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_as_streams_are_used() {
        let mut u = Unborn::default();
        u.add(0, 1_000_000);
        assert_eq!(u.ranges(), 1);
        assert!(u.contains(0) && u.contains(999_999) && !u.contains(1_000_000));
        assert!(u.take(500));
        assert!(!u.take(500));
        assert!(!u.contains(500));
        assert_eq!(u.ranges(), 2);
        assert!(u.take(0) && u.take(999_999));
        assert_eq!(u.ranges(), 2);
        u.add(1_000_001, 1_000_005);
        assert!(u.contains(1_000_004) && !u.contains(1_000_000));
    }
}
