//! The sending part of a stream (RFC 9000 §3.1): data kept until
//! acknowledged, lost ranges resent first, FIN and RESET_STREAM.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::conn::deferred_data::DeferredData;
use crate::ranges::RangeSet;

/// A RESET_STREAM we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reset {
    pub(crate) code: u64,
    pub(crate) final_size: u64,
    /// The frame must go (again).
    pub(crate) pending: bool,
    pub(crate) acked: bool,
}

/// The send half of a stream.
#[derive(Debug, Default)]
pub(crate) struct SendStream {
    /// Data from `base` on, acknowledged or not, in the caller's chunks,
    /// each with its stream offset: finding the bytes of a frame is a
    /// binary search, however many small writes are buffered.
    chunks: VecDeque<(u64, Bytes)>,
    /// The chunk the last frame's bytes started in: new data is sent in
    /// order, so the next frame almost always starts there too, and no
    /// search is needed. Only a hint (checked before it is used).
    put_hint: usize,
    /// Small writes collected into one buffer (from `tail_start` to
    /// `written`): one copy each, no allocation per write, and few chunks.
    tail: BytesMut,
    tail_start: u64,
    base: u64,
    /// Bytes written by the application.
    written: u64,
    /// Offset below which every byte was sent at least once.
    sent: u64,
    acked: RangeSet,
    /// Bytes in `acked`: how much is acknowledged above `base`, so that
    /// `unacked` costs the same however the peer's ACKs fragmented it.
    acked_len: u64,
    lost: RangeSet,
    fin: bool,
    fin_sent: bool,
    fin_acked: bool,
    /// The peer's MAX_STREAM_DATA.
    pub(crate) max_data: u64,
    pub(crate) reset: Option<Reset>,
    /// The peer sent STOP_SENDING with this code.
    pub(crate) stop_code: Option<u64>,
    /// STREAM_DATA_BLOCKED was sent for this limit.
    pub(crate) blocked_at: Option<u64>,
    /// The send buffer reached the writable level and has not fallen
    /// below it since.
    pub(crate) above_level: bool,
}

/// Writes up to this size are copied into a shared buffer.
const SMALL_WRITE: usize = 16 * 1024;
/// The size of the buffers small writes share.
const TAIL_CAPACITY: usize = 64 * 1024;

/// One STREAM frame's worth of data to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) offset: u64,
    pub(crate) len: usize,
    pub(crate) fin: bool,
    /// New bytes (counted against connection flow control).
    pub(crate) new_bytes: u64,
}

impl SendStream {
    /// A send half whose peer allows `max_data` bytes.
    pub(crate) fn new(max_data: u64) -> Self {
        Self {
            max_data,
            ..Default::default()
        }
    }

    /// True once FIN was queued or the stream was reset.
    pub(crate) fn is_finished(&self) -> bool {
        self.fin || self.reset.is_some()
    }

    /// Appends the caller's buffer (and FIN): kept as is, no copy.
    pub(crate) fn write(&mut self, data: Bytes, fin: bool) {
        self.seal_tail();
        let offset = self.written;
        self.written += data.len() as u64;
        self.tail_start = self.written;
        if !data.is_empty() {
            self.chunks.push_back((offset, data));
        }
        self.fin |= fin;
    }

    /// Appends a copy of `data` (and FIN). Small writes share buffers of
    /// [`TAIL_CAPACITY`] bytes, so 1 KB writes cost what 1 MiB writes do.
    pub(crate) fn write_slice(&mut self, data: &[u8], fin: bool) {
        if data.len() > SMALL_WRITE {
            return self.write(Bytes::copy_from_slice(data), fin);
        }
        if self.tail.capacity() - self.tail.len() < data.len() {
            self.seal_tail();
            self.tail.reserve(TAIL_CAPACITY);
        }
        self.tail.extend_from_slice(data);
        self.written += data.len() as u64;
        self.fin |= fin;
    }

    /// Moves the collected small writes into `chunks` (no copy).
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let b = self.tail.split().freeze();
            self.chunks.push_back((self.tail_start, b));
        }
        self.tail_start = self.written;
    }

    /// True when something can be sent now, given `conn_credit` bytes of
    /// connection flow control for new data.
    pub(crate) fn wants_to_send(&self, conn_credit: u64) -> bool {
        if self.reset.is_some() {
            return false;
        }
        !self.lost.is_empty()
            || (self.sent < self.written && self.sent < self.max_data && conn_credit > 0)
            || (self.fin && !self.fin_sent && self.sent == self.written)
    }

    /// True when lost data waits to be sent again.
    pub(crate) fn has_lost(&self) -> bool {
        self.reset.is_none() && !self.lost.is_empty()
    }

    /// True when new data waits only on the peer's stream limit.
    pub(crate) fn blocked_by_stream_limit(&self) -> bool {
        self.reset.is_none()
            && self.lost.is_empty()
            && self.sent < self.written
            && self.sent >= self.max_data
    }

    /// Where the next chunk starts: the first lost byte, or the first
    /// never sent.
    pub(crate) fn next_offset(&self) -> u64 {
        self.lost.first().map_or(self.sent, |r| r.start)
    }

    /// The next chunk of at most `max_len` bytes (lost data first), within
    /// `conn_credit` new bytes; marks it sent.
    pub(crate) fn next_chunk(&mut self, max_len: usize, conn_credit: u64) -> Option<Chunk> {
        if self.reset.is_some() {
            return None;
        }
        if let Some(r) = self.lost.first() {
            let end = r.end.min(r.start + max_len as u64);
            self.lost.remove(r.start..end);
            let fin = self.fin && end == self.written;
            if fin {
                self.fin_sent = true;
            }
            return Some(Chunk {
                offset: r.start,
                len: (end - r.start) as usize,
                fin,
                new_bytes: 0,
            });
        }
        let limit = self
            .written
            .min(self.max_data)
            .min(self.sent.saturating_add(conn_credit));
        let end = limit.max(self.sent).min(self.sent + max_len as u64);
        let fin_now = self.fin && !self.fin_sent && end == self.written;
        if end == self.sent && !fin_now {
            return None;
        }
        let chunk = Chunk {
            offset: self.sent,
            len: (end - self.sent) as usize,
            fin: fin_now,
            new_bytes: end - self.sent,
        };
        self.sent = end;
        if fin_now {
            self.fin_sent = true;
        }
        Some(chunk)
    }

    /// Appends the `len` bytes at `offset` (still buffered) to `out` as a
    /// frame's data: long runs deferred to sealing (`deferred` takes a
    /// reference to them, not a copy), the rest copied.
    pub(crate) fn put(
        &mut self,
        offset: u64,
        len: usize,
        out: &mut Vec<u8>,
        deferred: &mut DeferredData,
    ) {
        let want_end = offset + len as u64;
        if want_end > self.tail_start && deferred.would_defer(len) {
            // Collected small writes become a chunk that can be shared;
            // the tail keeps its spare room for the next ones.
            self.seal_tail();
        }
        let first = self.chunk_index(offset);
        self.put_hint = first;
        for (start, c) in self.chunks.range(first..) {
            if *start >= want_end {
                break;
            }
            let a = offset.saturating_sub(*start) as usize;
            let b = ((want_end - start) as usize).min(c.len());
            if deferred.would_defer(b - a) {
                // The next packet most likely carries what follows.
                crate::prefetch::read(&c[b..c.len().min(b + crate::prefetch::AHEAD)]);
                deferred.put(out, c.slice(a..b));
            } else {
                out.extend_from_slice(&c[a..b]);
            }
        }
        if want_end > self.tail_start {
            let a = offset.saturating_sub(self.tail_start) as usize;
            let b = (want_end - self.tail_start) as usize;
            out.extend_from_slice(&self.tail[a..b]);
        }
    }

    /// The index of the chunk holding `offset` (`chunks.len()` when none
    /// does): the hint's chunk or the one after it, else a binary search.
    fn chunk_index(&self, offset: u64) -> usize {
        let holds = |i: usize| {
            self.chunks
                .get(i)
                .is_some_and(|(start, c)| *start <= offset && offset < start + c.len() as u64)
        };
        let hint = self.put_hint;
        if holds(hint) {
            return hint;
        }
        if holds(hint + 1) {
            return hint + 1;
        }
        self.chunks
            .partition_point(|(start, c)| start + c.len() as u64 <= offset)
    }

    /// Copies `len` bytes at `offset` (still buffered) into `out`: what
    /// [`SendStream::put`] makes a packet carry.
    #[cfg(test)]
    pub(crate) fn read(&mut self, offset: u64, len: usize, out: &mut Vec<u8>) {
        let (start, mut deferred) = (out.len(), DeferredData::default());
        self.put(offset, len, out, &mut deferred);
        deferred.fill(out);
        debug_assert!(out.len() == start + len);
    }

    /// A STREAM frame was acknowledged.
    pub(crate) fn on_acked(&mut self, offset: u64, len: u64, fin: bool) {
        let end = offset.saturating_add(len);
        self.fin_acked |= fin;
        // Bytes below `base` were released already: a second copy of them
        // (sent again by a probe while the first was in flight) can be
        // acknowledged too, and must change nothing.
        if end <= self.base {
            return;
        }
        if !self.lost.is_empty() {
            self.lost.remove(offset..end);
        }
        if offset <= self.base && self.acked.is_empty() {
            // In order, nothing acknowledged beyond a gap: the usual case
            // needs no range bookkeeping.
            self.release_to(end);
            return;
        }
        self.acked_len += self.acked.insert_counting(offset.max(self.base)..end);
        // The ranges are disjoint and apart: at most the first one joins
        // the released prefix.
        if let Some(r) = self.acked.first().filter(|r| r.start <= self.base) {
            self.release_to(r.end);
        }
        self.acked_len -= self.acked.remove_counting(0..self.base);
    }

    /// Drops the buffered bytes below `to` (acknowledged): whole chunks,
    /// the front of one, or of the small writes not yet sealed.
    fn release_to(&mut self, to: u64) {
        while self.base < to {
            let Some((start, front)) = self.chunks.front_mut() else {
                let end = to.min(self.tail_start + self.tail.len() as u64);
                if end > self.tail_start {
                    self.tail.advance((end - self.tail_start) as usize);
                    self.tail_start = end;
                    self.base = end;
                }
                return;
            };
            let front_end = self.base + front.len() as u64;
            if to >= front_end {
                self.chunks.pop_front();
                self.put_hint = self.put_hint.saturating_sub(1);
                self.base = front_end;
            } else {
                front.advance((to - self.base) as usize);
                *start = to;
                self.base = to;
            }
        }
    }

    /// A STREAM frame was lost: resend what of it is not acknowledged.
    pub(crate) fn on_lost(&mut self, offset: u64, len: u64, fin: bool) {
        if self.reset.is_some() {
            return;
        }
        for gap in self.acked.gaps_in(offset..offset + len) {
            if gap.end > self.base {
                self.lost.insert(gap.start.max(self.base)..gap.end);
            }
        }
        if fin && !self.fin_acked {
            self.fin_sent = false;
        }
    }

    /// Abandons the stream with RESET_STREAM (RFC 9000 §19.4); the final
    /// size is what was written.
    pub(crate) fn reset(&mut self, code: u64) {
        if self.reset.is_none() {
            self.reset = Some(Reset {
                code,
                final_size: self.written,
                pending: true,
                acked: false,
            });
            self.chunks.clear();
            self.tail = BytesMut::new();
            self.lost = RangeSet::new();
        }
    }

    /// After an acknowledgement: true once when the buffer fell below
    /// `level` after reaching it (the stream is then reported writable),
    /// unless it can take no more data (FIN queued, reset, or asked to
    /// stop).
    pub(crate) fn fell_below(&mut self, level: u64) -> bool {
        if !self.above_level || self.buffered() >= level {
            return false;
        }
        self.above_level = false;
        !self.is_finished() && self.stop_code.is_none()
    }

    /// True when nothing more will ever be sent and all of it was
    /// acknowledged.
    pub(crate) fn is_done(&self) -> bool {
        match self.reset {
            Some(r) => r.acked,
            None => self.fin && self.fin_acked && self.acked_all(),
        }
    }

    fn acked_all(&self) -> bool {
        self.written == 0 || self.base >= self.written
    }

    /// Offset below which every byte was sent at least once.
    pub(crate) fn sent_offset(&self) -> u64 {
        self.sent
    }

    /// Bytes held for (re)transmission.
    pub(crate) fn buffered(&self) -> u64 {
        self.written - self.base
    }

    /// Bytes written and never sent.
    pub(crate) fn unsent(&self) -> u64 {
        self.written - self.sent
    }

    /// Bytes sent and not acknowledged yet (lost ones waiting to be sent
    /// again included). Constant time: the application may ask after
    /// every write, and the peer decides how fragmented the ACKs are.
    pub(crate) fn unacked(&self) -> u64 {
        (self.sent - self.base).saturating_sub(self.acked_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &mut SendStream, max: usize) -> Option<(u64, usize, bool)> {
        s.next_chunk(max, u64::MAX)
            .map(|c| (c.offset, c.len, c.fin))
    }

    /// Frames read from anywhere in many chunks get the right bytes,
    /// whatever the last frame read (the chunk hint is only a hint): in
    /// order, backwards (resends), across chunk ends, after acks drop
    /// chunks from the front.
    #[test]
    fn frames_find_their_bytes_in_any_order() {
        let mut s = SendStream::new(u64::MAX);
        let mut all = Vec::new();
        for i in 0..12u8 {
            let piece: Vec<u8> = (0..(200 + i as usize * 37)).map(|j| j as u8 ^ i).collect();
            all.extend_from_slice(&piece);
            s.write(Bytes::from(piece), false);
        }
        let check = |s: &mut SendStream, at: usize, len: usize| {
            let mut out = Vec::new();
            s.read(at as u64, len, &mut out);
            assert_eq!(out, &all[at..at + len], "{len} bytes at {at}");
        };
        for at in (0..all.len() - 150).step_by(150) {
            check(&mut s, at, 150);
        }
        for at in (0..all.len() - 333).step_by(97).rev() {
            check(&mut s, at, 333);
        }
        check(&mut s, all.len() - 1, 1);
        check(&mut s, 0, all.len());
        s.on_acked(0, 1000, false);
        for at in (1000..all.len() - 150).step_by(211) {
            check(&mut s, at, 150);
        }
    }

    #[test]
    fn sends_in_order_within_the_peer_limit() {
        let mut s = SendStream::new(10);
        s.write(Bytes::from_static(b"hello "), false);
        s.write(Bytes::from_static(b"world"), true);
        assert_eq!(chunk(&mut s, 4), Some((0, 4, false)));
        assert_eq!(
            chunk(&mut s, 100),
            Some((4, 6, false)),
            "stopped by MAX_STREAM_DATA"
        );
        assert!(s.blocked_by_stream_limit());
        assert_eq!(chunk(&mut s, 100), None);
        s.max_data = 100;
        assert_eq!(chunk(&mut s, 100), Some((10, 1, true)));
        let mut out = Vec::new();
        s.read(3, 5, &mut out);
        assert_eq!(out, b"lo wo");
    }

    #[test]
    fn lost_data_goes_first_and_acks_release_memory() {
        let mut s = SendStream::new(1000);
        s.write(Bytes::from(vec![7u8; 100]), true);
        assert_eq!(chunk(&mut s, 50), Some((0, 50, false)));
        assert_eq!(chunk(&mut s, 50), Some((50, 50, true)));
        s.on_lost(0, 50, false);
        s.on_acked(50, 50, true);
        assert_eq!(chunk(&mut s, 100), Some((0, 50, false)));
        assert!(!s.is_done());
        s.on_acked(0, 50, false);
        assert!(s.is_done());
        assert_eq!(s.buffered(), 0);
    }

    /// In-order acknowledgements release straight from the front (part of
    /// a chunk, then the rest of it and part of the next); one beyond a
    /// gap waits until the gap is acknowledged. The bytes still held stay
    /// the right ones.
    #[test]
    fn acks_in_order_and_beyond_a_gap_release_the_right_bytes() {
        let mut s = SendStream::new(1000);
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        s.write(Bytes::copy_from_slice(&data[..300]), false);
        s.write(Bytes::copy_from_slice(&data[300..]), false);
        assert_eq!(chunk(&mut s, 1000), Some((0, 600, false)));
        s.on_acked(0, 100, false);
        assert_eq!((s.buffered(), s.unacked()), (500, 500));
        s.on_acked(500, 50, false);
        assert_eq!((s.buffered(), s.unacked()), (500, 450));
        s.on_acked(100, 250, false);
        assert_eq!((s.buffered(), s.unacked()), (250, 200));
        let mut out = Vec::new();
        s.read(350, 250, &mut out);
        assert_eq!(out, &data[350..]);
        s.on_acked(350, 150, false);
        assert_eq!((s.buffered(), s.unacked()), (50, 50));
        out.clear();
        s.read(550, 50, &mut out);
        assert_eq!(out, &data[550..]);
        s.on_acked(550, 50, false);
        assert_eq!((s.buffered(), s.unacked()), (0, 0));
    }

    /// Two copies of the same bytes (a probe resent data still in flight)
    /// are both acknowledged: the second, below what the first released,
    /// changes nothing.
    #[test]
    fn a_second_ack_of_released_bytes_is_ignored() {
        let mut s = SendStream::new(1000);
        s.write(Bytes::from(vec![1u8; 300]), false);
        s.write(Bytes::from(vec![2u8; 300]), false);
        assert_eq!(chunk(&mut s, 1000), Some((0, 600, false)));
        s.on_acked(0, 400, false);
        assert_eq!(s.buffered(), 200);
        s.on_acked(0, 350, false);
        s.on_acked(100, 350, false);
        assert_eq!(s.buffered(), 150);
        assert_eq!(s.unacked(), 150);
        s.on_acked(450, 150, false);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn a_lost_fin_is_resent_even_without_data() {
        let mut s = SendStream::new(1000);
        s.write(Bytes::from_static(b"x"), false);
        assert_eq!(chunk(&mut s, 10), Some((0, 1, false)));
        s.write(Bytes::new(), true);
        assert_eq!(chunk(&mut s, 10), Some((1, 0, true)));
        s.on_lost(1, 0, true);
        assert_eq!(chunk(&mut s, 10), Some((1, 0, true)));
    }

    #[test]
    fn connection_credit_limits_new_data_only() {
        let mut s = SendStream::new(1000);
        s.write(Bytes::from(vec![1u8; 100]), false);
        let c = s.next_chunk(100, 30).unwrap();
        assert_eq!((c.len, c.new_bytes), (30, 30));
        s.on_lost(0, 30, false);
        let c = s.next_chunk(100, 0).unwrap();
        assert_eq!(
            (c.offset, c.len, c.new_bytes),
            (0, 30, 0),
            "a resend needs no credit"
        );
    }

    #[test]
    fn reset_drops_the_data() {
        let mut s = SendStream::new(1000);
        s.write(Bytes::from(vec![1u8; 100]), false);
        chunk(&mut s, 40);
        s.reset(9);
        assert_eq!(s.reset.unwrap().final_size, 100);
        assert_eq!(chunk(&mut s, 100), None);
        assert!(!s.is_done());
        s.reset.as_mut().unwrap().acked = true;
        assert!(s.is_done());
    }

    #[test]
    fn many_small_writes_read_back_across_every_boundary() {
        let mut s = SendStream::new(u64::MAX);
        let mut all = Vec::new();
        for i in 0..3000usize {
            let piece: Vec<u8> = (0..(i % 700 + 1)).map(|j| (i * 31 + j) as u8).collect();
            if i % 500 == 7 {
                // A large write in between, kept as it is.
                let big = vec![(i % 251) as u8; 40_000];
                s.write(Bytes::from(big.clone()), false);
                all.extend_from_slice(&big);
            }
            s.write_slice(&piece, false);
            all.extend_from_slice(&piece);
        }
        let total = all.len() as u64;
        let mut out = Vec::new();
        for (offset, len) in [(0u64, 1usize), (5, 1200), (65_530, 20), (100_000, 3000)] {
            out.clear();
            s.read(offset, len, &mut out);
            assert_eq!(&out[..], &all[offset as usize..offset as usize + len]);
        }
        // Acknowledge a prefix that ends inside the small writes: the rest
        // still reads right.
        let mut acked = 0;
        while acked < total / 2 {
            let c = s.next_chunk(1200, u64::MAX).unwrap();
            s.on_acked(c.offset, c.len as u64, false);
            acked += c.len as u64;
        }
        out.clear();
        let at = acked + 17;
        s.read(at, 2000, &mut out);
        assert_eq!(&out[..], &all[at as usize..at as usize + 2000]);
        assert_eq!(s.buffered(), total - acked);
    }

    #[test]
    fn unacked_matches_the_acknowledged_ranges_under_any_ack_order() {
        let mut s = SendStream::new(u64::MAX);
        s.write_slice(&[7u8; 200_000], true);
        let mut frames = Vec::new();
        while let Some(c) = s.next_chunk(1000, u64::MAX) {
            frames.push((c.offset, c.len as u64));
        }
        // A fixed shuffle: ACKs in scattered order, some twice, leaving
        // many holes for a long while.
        let mut x = 0x9e37_79b9u64;
        for _ in 0..2 * frames.len() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (off, len) = frames[(x % frames.len() as u64) as usize];
            s.on_acked(off, len, false);
            let counted: u64 = s.acked.iter().map(|r| r.end - r.start).sum();
            assert_eq!(s.unacked(), s.sent - s.base - counted);
        }
        for (off, len) in frames {
            s.on_acked(off, len, false);
        }
        assert_eq!(s.unacked(), 0);
        assert!(s.acked.is_empty());
    }
}
