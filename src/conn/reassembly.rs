//! Out-of-order received bytes, reassembled with bounded work and memory
//! (RFC 9000 §2.2, §7.5, §21.6, §21.9): CRYPTO and STREAM data alike.
//!
//! Bytes beyond a gap are kept in pieces keyed by offset, never
//! overlapping and never touching: a frame next to a piece joins it. When
//! a frame bridges two pieces, the smaller is moved into the larger, so a
//! byte is moved O(log n) times at most, and each frame costs O(log n)
//! map operations plus the bytes it brings. A peer sending one byte at a
//! time in reverse order therefore costs linear time, and its bytes sit in
//! one buffer (a `VecDeque`, which grows at either end), not one
//! allocation per byte. The number of pieces is capped by the caller: a
//! frame that would start one piece too many is refused.

use std::collections::{BTreeMap, VecDeque};

/// The frame was not stored: it would exceed the cap on pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooFragmented;

/// Received bytes from `base` on, with gaps.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    /// Everything before `base` was taken out in order.
    base: u64,
    pieces: BTreeMap<u64, VecDeque<u8>>,
    /// Bytes held in `pieces`.
    held: usize,
}

impl Reassembly {
    /// Empty, starting at offset `base`.
    pub(crate) fn new(base: u64) -> Self {
        Self {
            base,
            ..Default::default()
        }
    }

    /// The offset of the next byte to take out.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Pieces held (the fragment count the caps apply to).
    pub(crate) fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Heap bytes the pieces' buffers occupy.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.pieces.values().map(VecDeque::capacity).sum()
    }

    /// True when nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Moves `base` forward to `to` (bytes before it were delivered by
    /// other means); nothing may be held below it.
    pub(crate) fn skip_to(&mut self, to: u64) {
        debug_assert!(self.pieces.keys().next().is_none_or(|k| *k >= to));
        self.base = self.base.max(to);
    }

    /// Stores the bytes of `data` (at `offset`) that are not before `base`
    /// and not held yet. Refuses, storing nothing, when the frame touches
    /// no piece and `max_pieces` are held already.
    pub(crate) fn insert(
        &mut self,
        offset: u64,
        data: &[u8],
        max_pieces: usize,
    ) -> Result<(), TooFragmented> {
        let end = offset.saturating_add(data.len() as u64);
        let start = offset.max(self.base);
        if start >= end {
            return Ok(());
        }
        let bytes = |from: u64, to: u64| &data[(from - offset) as usize..(to - offset) as usize];
        // A piece that ends at or after `start` and begins before it joins
        // from the left.
        let left = self
            .pieces
            .range(..start)
            .next_back()
            .filter(|(k, v)| **k + v.len() as u64 >= start)
            .map(|(k, _)| *k);
        let right_touches = self.pieces.range(start..=end).next().is_some();
        if left.is_none() && !right_touches && self.pieces.len() >= max_pieces {
            return Err(TooFragmented);
        }
        if left.is_none() && self.pieces.range(start..end).next().is_none() {
            // The common out-of-order case (data arriving just before a
            // piece, as in reverse order): prepend in place, no new buffer.
            if let Some(mut next) = self.pieces.remove(&end) {
                for b in bytes(start, end).iter().rev() {
                    next.push_front(*b);
                }
                self.held += (end - start) as usize;
                self.pieces.insert(start, next);
                return Ok(());
            }
        }
        let (cur_start, mut cur) = match left {
            Some(k) => {
                let mut buf = self.pieces.remove(&k).unwrap_or_default();
                let cur_end = k + buf.len() as u64;
                if cur_end < end {
                    buf.extend(bytes(cur_end, end));
                    self.held += (end - cur_end) as usize;
                }
                (k, buf)
            }
            None => {
                self.held += (end - start) as usize;
                (start, VecDeque::from(bytes(start, end).to_vec()))
            }
        };
        // Pieces starting inside or right after what we have now: covered
        // ones are dropped, the last may stick out and is joined.
        loop {
            let cur_end = cur_start + cur.len() as u64;
            let Some((&k, _)) = self.pieces.range(cur_start..=cur_end).next() else {
                break;
            };
            let mut next = self.pieces.remove(&k).unwrap_or_default();
            let next_end = k + next.len() as u64;
            if next_end <= cur_end {
                self.held -= next.len();
                continue;
            }
            // The overlap is counted twice in `held` until dropped here.
            let overlap = (cur_end - k) as usize;
            self.held -= overlap;
            if cur.len() >= next.len() - overlap {
                cur.extend(next.range(overlap..));
            } else {
                next.drain(..overlap);
                for b in cur.iter().rev() {
                    next.push_front(*b);
                }
                cur = next;
            }
        }
        self.pieces.insert(cur_start, cur);
        Ok(())
    }

    /// Takes out the bytes at `base`, if any arrived, moving `base` past
    /// them.
    pub(crate) fn pop_ready(&mut self) -> Option<Vec<u8>> {
        let entry = self.pieces.first_entry()?;
        if *entry.key() != self.base {
            return None;
        }
        let buf = entry.remove();
        self.base += buf.len() as u64;
        self.held -= buf.len();
        Some(Vec::from(buf))
    }

    /// Drops everything held (a reset stream).
    pub(crate) fn clear(&mut self) {
        self.pieces.clear();
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Reassembly) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = r.pop_ready() {
            out.extend(b);
        }
        out
    }

    #[test]
    fn in_order_out_of_order_and_overlaps() {
        let mut r = Reassembly::new(0);
        r.insert(5, b"fghij", 8).unwrap();
        assert!(r.pop_ready().is_none());
        r.insert(3, b"defg", 8).unwrap(); // overlaps the piece at 5
        r.insert(12, b"mn", 8).unwrap();
        assert_eq!(r.pieces(), 2);
        r.insert(0, b"abc", 8).unwrap();
        assert_eq!(drain(&mut r), b"abcdefghij");
        assert_eq!(r.base(), 10);
        r.insert(8, b"ijkl", 8).unwrap(); // partly old, bridges to 12
        assert_eq!(drain(&mut r), b"klmn");
        assert_eq!(r.held(), 0);
        assert!(r.is_empty());
    }

    #[test]
    fn a_frame_covering_several_pieces_joins_them() {
        let mut r = Reassembly::new(0);
        for i in (2..20).step_by(3) {
            r.insert(i, &[i as u8], 64).unwrap();
        }
        assert_eq!(r.pieces(), 6);
        let all: Vec<u8> = (1..21).map(|i| i as u8).collect();
        r.insert(1, &all[..20], 64).unwrap();
        assert_eq!(r.pieces(), 1);
        assert_eq!(r.held(), 20);
        r.insert(0, &[0], 64).unwrap();
        let got = drain(&mut r);
        let expected: Vec<u8> = (0..21).map(|i| i as u8).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_piece_cap_refuses_new_pieces_only() {
        let mut r = Reassembly::new(0);
        r.insert(10, b"a", 2).unwrap();
        r.insert(20, b"b", 2).unwrap();
        assert_eq!(r.insert(30, b"c", 2), Err(TooFragmented));
        // Joining an existing piece is always allowed.
        r.insert(11, b"b", 2).unwrap();
        r.insert(19, b"a", 2).unwrap();
        assert_eq!(r.pieces(), 2);
        assert_eq!(r.held(), 4);
    }

    #[test]
    fn one_byte_at_a_time_in_reverse_is_one_buffer() {
        let n = 100_000u64;
        let mut r = Reassembly::new(0);
        for i in (1..n).rev() {
            r.insert(i, &[(i % 251) as u8], 4).unwrap();
        }
        assert_eq!(r.pieces(), 1);
        assert_eq!(r.held(), (n - 1) as usize);
        assert!(r.capacity() <= 2 * n as usize, "{}", r.capacity());
        r.insert(0, &[0], 4).unwrap();
        let got = drain(&mut r);
        assert_eq!(got.len(), n as usize);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i as u64 % 251) as u8));
    }

    #[test]
    fn prepending_to_a_piece_never_hides_another() {
        let mut r = Reassembly::new(0);
        r.insert(5, b"f", 8).unwrap();
        r.insert(10, b"klmno", 8).unwrap();
        // Reaches exactly the piece at 10 and covers the one at 5.
        r.insert(3, b"defghij", 8).unwrap();
        assert_eq!(r.pieces(), 1);
        assert_eq!(r.held(), 12);
        r.insert(0, b"abc", 8).unwrap();
        assert_eq!(drain(&mut r), b"abcdefghijklmno");
    }

    #[test]
    fn before_base_is_ignored() {
        let mut r = Reassembly::new(100);
        r.insert(50, &[1; 50], 4).unwrap();
        assert!(r.is_empty());
        r.insert(90, &[2; 20], 4).unwrap();
        assert_eq!(r.pop_ready(), Some(vec![2; 10]));
        assert_eq!(r.base(), 110);
    }
}
