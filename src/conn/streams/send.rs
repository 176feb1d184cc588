//! The sending part of a stream (RFC 9000 §3.1): data kept until
//! acknowledged, lost ranges resent first, FIN and RESET_STREAM.

use std::collections::VecDeque;

use bytes::Bytes;

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
    /// Data from `base` on, acknowledged or not, in the caller's chunks.
    chunks: VecDeque<Bytes>,
    base: u64,
    /// Bytes written by the application.
    written: u64,
    /// Offset below which every byte was sent at least once.
    sent: u64,
    acked: RangeSet,
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
}

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

    /// Appends data (and FIN).
    pub(crate) fn write(&mut self, data: Bytes, fin: bool) {
        self.written += data.len() as u64;
        if !data.is_empty() {
            self.chunks.push_back(data);
        }
        self.fin |= fin;
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

    /// True when new data waits only on the peer's stream limit.
    pub(crate) fn blocked_by_stream_limit(&self) -> bool {
        self.reset.is_none()
            && self.lost.is_empty()
            && self.sent < self.written
            && self.sent >= self.max_data
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

    /// Copies `len` bytes at `offset` (still buffered) into `out`.
    pub(crate) fn read(&self, offset: u64, len: usize, out: &mut Vec<u8>) {
        let mut pos = self.base;
        let mut want_start = offset;
        let want_end = offset + len as u64;
        for c in &self.chunks {
            let c_end = pos + c.len() as u64;
            if c_end > want_start && pos < want_end {
                let a = (want_start - pos) as usize;
                let b = (want_end.min(c_end) - pos) as usize;
                out.extend_from_slice(&c[a..b]);
                want_start = pos + b as u64;
            }
            if c_end >= want_end {
                break;
            }
            pos = c_end;
        }
    }

    /// A STREAM frame was acknowledged.
    pub(crate) fn on_acked(&mut self, offset: u64, len: u64, fin: bool) {
        if len > 0 {
            self.acked.insert(offset..offset + len);
            self.lost.remove(offset..offset + len);
        }
        self.fin_acked |= fin;
        // Release the acknowledged prefix.
        while let Some(r) = self.acked.first() {
            if r.start > self.base {
                break;
            }
            let Some(front) = self.chunks.front() else {
                break;
            };
            let front_end = self.base + front.len() as u64;
            if r.end >= front_end {
                self.chunks.pop_front();
                self.base = front_end;
            } else {
                let cut = (r.end - self.base) as usize;
                let rest = self.chunks.pop_front().map(|mut b| b.split_off(cut));
                if let Some(rest) = rest {
                    self.chunks.push_front(rest);
                }
                self.base = r.end;
                break;
            }
        }
        self.acked.remove(0..self.base);
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
            self.lost = RangeSet::new();
        }
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

    /// Bytes held for (re)transmission.
    pub(crate) fn buffered(&self) -> u64 {
        self.written - self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &mut SendStream, max: usize) -> Option<(u64, usize, bool)> {
        s.next_chunk(max, u64::MAX)
            .map(|c| (c.offset, c.len, c.fin))
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
}
