//! The earliest deadline of many connections: an indexed binary min-heap,
//! O(log n) to set, move or clear one connection's deadline and O(1) to
//! read the earliest, with no scan over connections.

/// Not in the heap.
const ABSENT: u32 = u32::MAX;

/// Deadlines keyed by connection slot.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    /// (deadline, slot), a min-heap on the deadline.
    heap: Vec<(u64, u32)>,
    /// Where each slot sits in `heap`, or `ABSENT`.
    pos: Vec<u32>,
}

impl TimerHeap {
    /// Sets, moves or (with None) clears the deadline of `slot`.
    pub(crate) fn set(&mut self, slot: u32, deadline: Option<u64>) {
        let s = slot as usize;
        if self.pos.len() <= s {
            self.pos.resize(s + 1, ABSENT);
        }
        let at = self.pos[s];
        match (at, deadline) {
            (ABSENT, None) => {}
            (ABSENT, Some(d)) => {
                self.heap.push((d, slot));
                let i = self.heap.len() - 1;
                self.pos[s] = i as u32;
                self.up(i);
            }
            (i, Some(d)) => {
                let i = i as usize;
                let old = self.heap[i].0;
                self.heap[i].0 = d;
                if d < old {
                    self.up(i);
                } else {
                    self.down(i);
                }
            }
            (i, None) => self.remove_at(i as usize),
        }
    }

    /// The earliest deadline and its slot.
    pub(crate) fn peek(&self) -> Option<(u64, u32)> {
        self.heap.first().copied()
    }

    /// Removes and returns a slot whose deadline is `now` or earlier.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<u32> {
        let &(d, slot) = self.heap.first()?;
        if d > now {
            return None;
        }
        self.remove_at(0);
        Some(slot)
    }

    /// Number of deadlines held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    fn remove_at(&mut self, i: usize) {
        let last = self.heap.len() - 1;
        self.swap(i, last);
        if let Some((_, slot)) = self.heap.pop() {
            self.pos[slot as usize] = ABSENT;
        }
        if i < self.heap.len() {
            self.down(i);
            self.up(i);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].1 as usize] = a as u32;
        self.pos[self.heap[b].1 as usize] = b as u32;
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].0 <= self.heap[i].0 {
                break;
            }
            self.swap(parent, i);
            i = parent;
        }
    }

    fn down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < self.heap.len() && self.heap[l].0 < self.heap[least].0 {
                least = l;
            }
            if r < self.heap.len() && self.heap[r].0 < self.heap[least].0 {
                least = r;
            }
            if least == i {
                break;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_out_in_order_as_they_move_and_go() {
        let mut h = TimerHeap::default();
        let mut x = 7u64;
        let mut want = std::collections::BTreeMap::new();
        for round in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 97) as u32;
            let deadline = (x % 5 != 0).then_some(x % 10_000);
            h.set(slot, deadline);
            match deadline {
                Some(d) => want.insert(slot, d),
                None => want.remove(&slot),
            };
            assert_eq!(h.len(), want.len(), "round {round}");
            let earliest = want.values().min().copied();
            assert_eq!(h.peek().map(|p| p.0), earliest, "round {round}");
        }
        let mut last = 0;
        while let Some(slot) = h.pop_due(u64::MAX) {
            let d = want.remove(&slot).expect("a slot that was set");
            assert!(d >= last);
            last = d;
        }
        assert!(want.is_empty());
    }
}
