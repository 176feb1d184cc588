//! CRYPTO data of one encryption level (RFC 9000 §19.6): what we send, kept
//! until acknowledged so lost ranges can be resent, and what we receive,
//! reassembled in order with a bound on out-of-order bytes (§7.5).

use super::reassembly::Reassembly;
use crate::error::{code, TransportError};
use crate::frame::kind;
use crate::ranges::RangeSet;

/// Out-of-order CRYPTO bytes we hold at most. RFC 9000 §7.5 asks for at
/// least 4096; a 9-certificate chain fits in this with room to spare.
pub(crate) const MAX_CRYPTO_BUFFER: u64 = 256 * 1024;

/// The send side of one level's crypto stream.
#[derive(Debug, Default)]
pub(crate) struct CryptoSend {
    data: Vec<u8>,
    /// Offset up to which data was sent at least once.
    sent: u64,
    /// Sent ranges to send again.
    lost: RangeSet,
    acked: RangeSet,
}

impl CryptoSend {
    /// Queues handshake bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// True when something is waiting to be sent.
    pub(crate) fn has_data(&self) -> bool {
        !self.lost.is_empty() || self.sent < self.data.len() as u64
    }

    /// The next chunk to send, at most `max_len` bytes: lost ranges first,
    /// then new data. Marks it sent.
    pub(crate) fn next_chunk(&mut self, max_len: usize) -> Option<(u64, &[u8])> {
        if max_len == 0 {
            return None;
        }
        let (offset, end) = if let Some(r) = self.lost.first() {
            let end = r.end.min(r.start + max_len as u64);
            self.lost.remove(r.start..end);
            (r.start, end)
        } else if self.sent < self.data.len() as u64 {
            let end = (self.data.len() as u64).min(self.sent + max_len as u64);
            let start = self.sent;
            self.sent = end;
            (start, end)
        } else {
            return None;
        };
        Some((offset, &self.data[offset as usize..end as usize]))
    }

    /// A sent range was acknowledged.
    pub(crate) fn on_acked(&mut self, offset: u64, len: u64) {
        self.acked.insert(offset..offset + len);
        self.lost.remove(offset..offset + len);
    }

    /// A sent range was lost: queue what of it is not acknowledged.
    pub(crate) fn on_lost(&mut self, offset: u64, len: u64) {
        for gap in self.acked.gaps_in(offset..offset + len) {
            self.lost.insert(gap);
        }
    }

    /// Queues every sent, unacknowledged byte again (a probe timeout).
    pub(crate) fn requeue_unacked(&mut self) {
        self.on_lost(0, self.sent);
    }

    /// Queues every sent byte again, acknowledged or not: for a peer that
    /// acknowledged data it cannot have kept (see `on_probe_timeout`).
    pub(crate) fn requeue_all(&mut self) {
        if self.sent > 0 {
            self.lost.insert(0..self.sent);
        }
    }
}

/// Out-of-order CRYPTO pieces one level holds at most. A flight is a
/// few dozen frames; a peer slicing it into single bytes gets its frames
/// refused (the packet is not acknowledged) past this.
pub(crate) const MAX_CRYPTO_PIECES: usize = 128;

/// The receive side of one level's crypto stream.
#[derive(Debug, Default)]
pub(crate) struct CryptoRecv {
    data: Reassembly,
}

/// What became of a CRYPTO frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CryptoIn {
    /// Stored; these bytes are now contiguous and go to TLS (maybe none).
    Ready(Vec<u8>),
    /// Refused: one out-of-order piece too many. The packet must not be
    /// acknowledged, so the peer sends it again.
    Refused,
    /// Every byte of it was handed to TLS already: the peer is repeating
    /// itself (RFC 9002 §6.2.3 reads that as our flight gone missing).
    Duplicate,
}

impl CryptoRecv {
    /// Adds a CRYPTO frame's data (RFC 9000 §19.6, §7.5).
    pub(crate) fn insert(&mut self, offset: u64, data: &[u8]) -> Result<CryptoIn, TransportError> {
        let end = offset.saturating_add(data.len() as u64);
        if end <= self.data.base() {
            return Ok(if data.is_empty() {
                CryptoIn::Ready(Vec::new())
            } else {
                CryptoIn::Duplicate
            });
        }
        if end - self.data.base() > MAX_CRYPTO_BUFFER {
            return Err(TransportError::new(
                code::CRYPTO_BUFFER_EXCEEDED,
                kind::CRYPTO,
                "too much out-of-order CRYPTO data",
            ));
        }
        if self.data.insert(offset, data, MAX_CRYPTO_PIECES).is_err() {
            return Ok(CryptoIn::Refused);
        }
        let mut ready = Vec::new();
        while let Some(bytes) = self.data.pop_ready() {
            if ready.is_empty() {
                ready = bytes;
            } else {
                ready.extend_from_slice(&bytes);
            }
        }
        Ok(CryptoIn::Ready(ready))
    }

    /// True once any CRYPTO byte arrived, in order or not.
    pub(crate) fn received_any(&self) -> bool {
        self.data.base() > 0 || !self.data.is_empty()
    }

    /// Out-of-order pieces held.
    #[cfg(test)]
    pub(crate) fn pieces(&self) -> usize {
        self.data.pieces()
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.data.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_side_resends_lost_ranges_first() {
        let mut s = CryptoSend::default();
        s.write(&[1; 100]);
        assert_eq!(s.next_chunk(60).map(|(o, d)| (o, d.len())), Some((0, 60)));
        assert_eq!(s.next_chunk(60).map(|(o, d)| (o, d.len())), Some((60, 40)));
        assert!(!s.has_data());
        s.on_acked(60, 40);
        s.on_lost(0, 60);
        s.on_lost(60, 40); // acknowledged already: nothing to resend
        assert_eq!(s.next_chunk(1000).map(|(o, d)| (o, d.len())), Some((0, 60)));
        assert!(s.next_chunk(1000).is_none());
    }

    #[test]
    fn requeue_after_probe_timeout() {
        let mut s = CryptoSend::default();
        s.write(&[2; 50]);
        s.next_chunk(50);
        s.on_acked(0, 10);
        s.requeue_unacked();
        assert_eq!(
            s.next_chunk(1000).map(|(o, d)| (o, d.len())),
            Some((10, 40))
        );
    }

    #[test]
    fn requeue_all_resends_acknowledged_bytes_too() {
        let mut s = CryptoSend::default();
        s.write(&[3; 50]);
        s.next_chunk(50);
        s.on_acked(0, 50);
        s.requeue_unacked();
        assert!(!s.has_data());
        s.requeue_all();
        assert_eq!(s.next_chunk(1000).map(|(o, d)| (o, d.len())), Some((0, 50)));
        // Nothing sent yet: nothing to queue again.
        let mut fresh = CryptoSend::default();
        fresh.requeue_all();
        assert!(!fresh.has_data());
    }

    #[test]
    fn receive_side_reports_any_byte() {
        let mut r = CryptoRecv::default();
        assert!(!r.received_any());
        r.insert(7, b"late").unwrap();
        assert!(r.received_any());
        let mut r = CryptoRecv::default();
        r.insert(0, b"first").unwrap();
        assert!(r.received_any());
    }

    #[test]
    fn receive_side_reassembles_out_of_order() {
        let ready = |v: &[u8]| CryptoIn::Ready(v.to_vec());
        let mut r = CryptoRecv::default();
        assert_eq!(r.insert(5, b"world").unwrap(), ready(b""));
        assert_eq!(r.insert(0, b"hello").unwrap(), ready(b"helloworld"));
        // Overlapping retransmissions deliver only what is new; a frame
        // with nothing new is a duplicate.
        assert_eq!(r.insert(8, b"ld!!").unwrap(), ready(b"!!"));
        assert_eq!(r.insert(0, b"hello").unwrap(), CryptoIn::Duplicate);
        assert_eq!(r.insert(12, b"").unwrap(), ready(b""));
    }

    #[test]
    fn receive_side_is_bounded() {
        let mut r = CryptoRecv::default();
        let e = r.insert(MAX_CRYPTO_BUFFER, b"x").unwrap_err();
        assert_eq!(e.code, code::CRYPTO_BUFFER_EXCEEDED);
        assert!(r.insert(MAX_CRYPTO_BUFFER - 1, b"x").is_ok());
    }

    #[test]
    fn receive_side_caps_its_pieces() {
        let mut r = CryptoRecv::default();
        for i in 0..MAX_CRYPTO_PIECES as u64 {
            assert_eq!(r.insert(2 * i + 1, b"x").unwrap(), CryptoIn::Ready(vec![]));
        }
        assert_eq!(r.insert(1000, b"y").unwrap(), CryptoIn::Refused);
        assert_eq!(r.pieces(), MAX_CRYPTO_PIECES);
    }
}
