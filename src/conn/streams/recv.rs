//! The receiving part of a stream (RFC 9000 §3.2): out-of-order data
//! reassembled within the flow-control window, final size rules, reset.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::flow::RecvWindow;
use crate::conn::reassembly::Reassembly;
use crate::error::{code, TransportError};
use crate::frame::kind;

/// The receive half of a stream.
#[derive(Debug)]
pub(crate) struct RecvStream {
    /// Received data contiguous from `delivered`, in order: most data
    /// arrives in order and needs no map.
    ready: VecDeque<Bytes>,
    /// In-order bytes that arrived after everything in `ready`, gathered
    /// in one buffer: frames arriving in order cost a copy each, not an
    /// allocation each; the buffer is split off (no copy) when taken.
    pending: BytesMut,
    /// The size of the next buffer for `pending`: it starts small and
    /// doubles up to [`PENDING_CAPACITY`], so a stream that gets a few
    /// bytes holds a small buffer, and a bulk stream few large ones.
    pending_next: usize,
    /// The end of `ready` and `pending`.
    ready_end: u64,
    /// Received data beyond a gap (from `ready_end` on).
    ooo: Reassembly,
    /// Offset up to which data was delivered in events.
    delivered: u64,
    /// The largest offset seen (counts toward connection flow control).
    highest: u64,
    final_size: Option<u64>,
    fin_delivered: bool,
    pub(crate) window: RecvWindow,
    /// The peer reset the stream: (code, final size); reported once.
    pub(crate) reset: Option<(u64, u64)>,
    pub(crate) reset_reported: bool,
    /// We sent STOP_SENDING with this code; (code, frame pending).
    pub(crate) stop: Option<(u64, bool)>,
    /// The application paused reading: data stays here, undelivered and
    /// uncredited, so the peer stops at the window.
    pub(crate) paused: bool,
    /// Read mode: a StreamReadable event went out and the application has
    /// not read since.
    pub(crate) readable_announced: bool,
    /// The sequence number of this stream's data mark in the event queue,
    /// while one waits there: data arriving meanwhile joins it.
    pub(crate) data_mark: Option<u64>,
}

/// What a STREAM or RESET_STREAM frame changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Received {
    /// How much the largest offset grew: new connection-level credit used.
    pub(crate) new_highest: u64,
    /// The data was not stored: it would have started one out-of-order
    /// piece too many. The packet must not be acknowledged, so the peer
    /// sends it again (RFC 9000 §21.9).
    pub(crate) refused: bool,
    /// Out-of-order pieces held after the frame, minus before.
    pub(crate) pieces_delta: isize,
    /// Every byte was here already and the frame set no final size: the
    /// peer only repeated itself.
    pub(crate) repeat: bool,
}

/// The largest buffer in-order data is gathered in (`RecvStream::pending`),
/// and the first one.
const PENDING_CAPACITY: usize = 64 * 1024;
const PENDING_FIRST: usize = 2 * 1024;

fn final_size_error(ty: u64, reason: &'static str) -> TransportError {
    TransportError::new(code::FINAL_SIZE_ERROR, ty, reason)
}

impl RecvStream {
    /// A receive half advertising `window` bytes, growing up to
    /// `max_window`.
    pub(crate) fn new(window: u64, max_window: u64) -> Self {
        Self {
            ready: VecDeque::new(),
            pending: BytesMut::new(),
            pending_next: PENDING_FIRST,
            ready_end: 0,
            ooo: Reassembly::new(0),
            delivered: 0,
            highest: 0,
            final_size: None,
            fin_delivered: false,
            window: RecvWindow::new(window, max_window),
            reset: None,
            reset_reported: false,
            stop: None,
            paused: false,
            readable_announced: false,
            data_mark: None,
        }
    }

    fn check_end(&mut self, ty: u64, end: u64, fin: bool) -> Result<Received, TransportError> {
        if let Some(size) = self.final_size {
            // RFC 9000 §4.5: data past the final size, or a different one.
            if end > size || (fin && end != size) {
                return Err(final_size_error(
                    ty,
                    "data beyond or changing the final size",
                ));
            }
        }
        if fin && end < self.highest {
            return Err(final_size_error(
                ty,
                "final size below data already received",
            ));
        }
        // RFC 9000 §4.1: beyond the limit we advertised.
        if end > self.window.limit() {
            return Err(TransportError::new(
                code::FLOW_CONTROL_ERROR,
                ty,
                "stream data beyond MAX_STREAM_DATA",
            ));
        }
        if fin {
            self.final_size = Some(end);
        }
        let grew = end.saturating_sub(self.highest);
        self.highest = self.highest.max(end);
        Ok(Received {
            new_highest: grew,
            ..Default::default()
        })
    }

    /// A STREAM frame (RFC 9000 §19.8). At most `max_pieces` pieces of
    /// out-of-order data are held; a frame that would start another is
    /// refused (see [`Received::refused`]).
    pub(crate) fn on_data(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
        max_pieces: usize,
    ) -> Result<Received, TransportError> {
        let end = offset.saturating_add(data.len() as u64);
        let knew_final_size = self.final_size.is_some();
        let mut got = self.check_end(kind::STREAM, end, fin)?;
        if self.reset.is_some() || self.stop.is_some() || end <= self.ready_end {
            got.repeat = end <= self.ready_end && (!fin || knew_final_size);
            return Ok(got); // counted for flow control; nothing new to keep
        }
        if self.ooo.is_empty() && offset <= self.ready_end {
            // In order, the common case: straight to the ready queue.
            let new = &data[(self.ready_end - offset) as usize..];
            if self.pending.capacity() - self.pending.len() < new.len() {
                self.flush_pending();
                self.pending.reserve(self.pending_next.max(new.len()));
                self.pending_next = (self.pending_next * 2).min(PENDING_CAPACITY);
            }
            self.pending.extend_from_slice(new);
            self.ready_end = end;
            self.ooo.skip_to(end);
            return Ok(got);
        }
        let before = self.ooo.pieces() as isize;
        if self.ooo.insert(offset, data, max_pieces).is_err() {
            got.refused = true;
            return Ok(got);
        }
        // A gap filled: what waited behind it is in order now.
        while let Some(next) = self.ooo.pop_ready() {
            self.flush_pending();
            self.ready.push_back(Bytes::from(next));
        }
        self.ready_end = self.ooo.base();
        got.pieces_delta = self.ooo.pieces() as isize - before;
        Ok(got)
    }

    /// Moves the gathered in-order bytes to the ready queue (no copy).
    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            self.ready.push_back(self.pending.split().freeze());
        }
    }

    /// Out-of-order pieces held.
    pub(crate) fn pieces(&self) -> usize {
        self.ooo.pieces()
    }

    /// A RESET_STREAM frame (RFC 9000 §19.4).
    pub(crate) fn on_reset(
        &mut self,
        code: u64,
        final_size: u64,
    ) -> Result<Received, TransportError> {
        let mut got = self.check_end(kind::RESET_STREAM, final_size, true)?;
        if self.reset.is_none() && !self.fin_delivered {
            self.reset = Some((code, final_size));
            // Data already announced (a mark waits) is delivered before the
            // reset is reported; the rest is dropped now.
            if self.data_mark.is_none() {
                self.discard_ready();
            }
            got.pieces_delta = -(self.ooo.pieces() as isize);
            self.ooo.clear();
        }
        Ok(got)
    }

    /// Drops the in-order data not delivered.
    pub(crate) fn discard_ready(&mut self) {
        self.ready.clear();
        self.pending = BytesMut::new();
    }

    /// After a reset: every in-order byte not delivered yet, in one piece
    /// (copied together when it lies in several), counted as delivered.
    pub(crate) fn take_before_reset(&mut self) -> Option<Bytes> {
        self.flush_pending();
        let data = match self.ready.len() {
            0 => return None,
            1 => self.ready.pop_front()?,
            _ => {
                let mut all = BytesMut::with_capacity(self.ready.iter().map(Bytes::len).sum());
                for piece in self.ready.drain(..) {
                    all.extend_from_slice(&piece);
                }
                all.freeze()
            }
        };
        self.delivered += data.len() as u64;
        Some(data)
    }

    /// Takes the next in-order data to deliver, with whether it ends the
    /// stream. An empty chunk with `true` delivers a bare FIN.
    pub(crate) fn take_ready(&mut self) -> Option<(Bytes, bool)> {
        if self.reset.is_some() || self.fin_delivered {
            return None;
        }
        if self.ready.is_empty() {
            self.flush_pending();
        }
        if let Some(data) = self.ready.pop_front() {
            self.delivered += data.len() as u64;
            let fin = self.final_size == Some(self.delivered);
            self.fin_delivered = fin;
            return Some((data, fin));
        }
        if self.final_size == Some(self.delivered) {
            self.fin_delivered = true;
            return Some((Bytes::new(), true));
        }
        None
    }

    /// True when in-order data or the FIN waits to be read.
    pub(crate) fn has_readable(&self) -> bool {
        self.reset.is_none()
            && !self.fin_delivered
            && (self.ready_end > self.delivered || self.final_size == Some(self.delivered))
    }

    /// Copies in-order data into `buf` (read mode): the bytes copied, and
    /// whether they end the stream (then `0, true` is a bare FIN).
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> (usize, bool) {
        if self.reset.is_some() || self.fin_delivered {
            return (0, false);
        }
        let mut n = 0;
        while n < buf.len() {
            if self.ready.is_empty() {
                self.flush_pending();
            }
            let Some(front) = self.ready.front_mut() else {
                break;
            };
            let take = front.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&front[..take]);
            if take == front.len() {
                self.ready.pop_front();
            } else {
                bytes::Buf::advance(front, take);
            }
            n += take;
        }
        self.delivered += n as u64;
        let fin = self.final_size == Some(self.delivered);
        self.fin_delivered = fin;
        (n, fin)
    }

    /// Data the application was given, up to the final size.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The final size, once known.
    pub(crate) fn final_size(&self) -> Option<u64> {
        self.final_size
    }

    /// Largest offset seen.
    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }

    /// Bytes delivered in events and not yet credited back.
    pub(crate) fn unconsumed(&self) -> u64 {
        self.delivered.saturating_sub(self.window.consumed())
    }

    /// True when the application saw everything: FIN delivered, or the
    /// reset reported.
    pub(crate) fn is_done(&self) -> bool {
        self.fin_delivered || self.reset_reported
    }

    /// Bytes held: in order not yet delivered, and out of order.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.ready.iter().map(Bytes::len).sum::<usize>() + self.pending.len() + self.ooo.held()
    }

    /// Heap bytes held for received data (for the hostile-peer bounds).
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.ready.iter().map(Bytes::len).sum::<usize>()
            + self.pending.capacity()
            + self.ooo.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RecvStream {
        fn on_data_any(
            &mut self,
            offset: u64,
            data: &[u8],
            fin: bool,
        ) -> Result<Received, TransportError> {
            self.on_data(offset, data, fin, usize::MAX)
        }
    }

    #[test]
    fn reassembles_and_delivers_in_order() {
        let mut r = RecvStream::new(100, 100);
        r.on_data_any(5, b"world", true).unwrap();
        assert_eq!(r.take_ready(), None);
        r.on_data_any(0, b"hello", false).unwrap();
        // The two frames were joined into one piece.
        assert_eq!(
            r.take_ready(),
            Some((Bytes::from_static(b"helloworld"), true))
        );
        assert_eq!(r.take_ready(), None);
        assert!(r.is_done());
    }

    #[test]
    fn duplicates_and_overlaps_store_only_new_bytes() {
        let mut r = RecvStream::new(1000, 1000);
        r.on_data_any(10, &[1; 20], false).unwrap();
        for _ in 0..50 {
            r.on_data_any(5, &[1; 30], false).unwrap();
        }
        assert_eq!(r.buffered(), 30);
        r.on_data_any(0, &[1; 5], false).unwrap();
        let mut total = 0;
        while let Some((d, _)) = r.take_ready() {
            total += d.len();
        }
        assert_eq!(total, 35);
    }

    #[test]
    fn a_frame_with_nothing_new_is_a_repeat() {
        let mut r = RecvStream::new(1000, 1000);
        assert!(!r.on_data_any(0, &[1; 20], false).unwrap().repeat);
        assert!(r.on_data_any(0, &[1; 20], false).unwrap().repeat);
        assert!(r.on_data_any(5, &[1; 10], false).unwrap().repeat);
        // A FIN on data we have sets the final size: news, once.
        assert!(!r.on_data_any(10, &[1; 10], true).unwrap().repeat);
        assert!(r.on_data_any(10, &[1; 10], true).unwrap().repeat);
        // Beyond a gap, or past what we had, is never a repeat.
        let mut r = RecvStream::new(1000, 1000);
        assert!(!r.on_data_any(50, &[1; 10], false).unwrap().repeat);
        assert!(!r.on_data_any(0, &[1; 30], false).unwrap().repeat);
    }

    #[test]
    fn final_size_rules() {
        let mut r = RecvStream::new(100, 100);
        r.on_data_any(0, b"abc", true).unwrap();
        assert_eq!(
            r.on_data_any(0, b"abcd", false).unwrap_err().code,
            code::FINAL_SIZE_ERROR
        );
        assert_eq!(
            r.on_data_any(0, b"ab", true).unwrap_err().code,
            code::FINAL_SIZE_ERROR
        );
        assert!(
            r.on_data_any(0, b"abc", true).is_ok(),
            "the same final size again"
        );
        let mut r = RecvStream::new(100, 100);
        r.on_data_any(0, b"abcdef", false).unwrap();
        assert_eq!(
            r.on_data_any(0, b"abc", true).unwrap_err().code,
            code::FINAL_SIZE_ERROR
        );
        assert_eq!(r.on_reset(1, 3).unwrap_err().code, code::FINAL_SIZE_ERROR);
    }

    #[test]
    fn flow_control_limit() {
        let mut r = RecvStream::new(10, 10);
        assert_eq!(
            r.on_data_any(5, &[0; 6], false).unwrap_err().code,
            code::FLOW_CONTROL_ERROR
        );
        assert_eq!(
            r.on_reset(0, 11).unwrap_err().code,
            code::FLOW_CONTROL_ERROR
        );
        assert_eq!(r.on_data_any(0, &[0; 10], false).unwrap().new_highest, 10);
    }

    #[test]
    fn reset_discards_data() {
        let mut r = RecvStream::new(100, 100);
        r.on_data_any(3, b"xyz", false).unwrap();
        let got = r.on_reset(4, 20).unwrap();
        assert_eq!(got.new_highest, 14);
        assert_eq!(r.take_ready(), None);
        assert_eq!(r.reset, Some((4, 20)));
    }

    /// In-order frames share buffers: a window of 1-byte frames the
    /// application does not read holds about the window in memory, not an
    /// allocation per byte; a stream that got a few bytes holds a small
    /// buffer.
    #[test]
    fn in_order_frames_share_buffers() {
        let mut r = RecvStream::new(1 << 20, 1 << 20);
        r.on_data_any(0, b"abc", false).unwrap();
        assert!(r.memory() <= 4 * 1024, "{}", r.memory());
        for i in 3..(1u64 << 20) {
            r.on_data_any(i, &[i as u8], false).unwrap();
        }
        assert!(r.memory() <= 2 << 20, "{}", r.memory());
        let mut total = 0;
        let mut chunks = 0;
        while let Some((d, _)) = r.take_ready() {
            total += d.len();
            chunks += 1;
        }
        assert_eq!(total, 1 << 20);
        assert!(chunks < 100, "{chunks} chunks");
    }
}
