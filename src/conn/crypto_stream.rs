//! CRYPTO data of one encryption level (RFC 9000 §19.6): what we send, kept
//! until acknowledged so lost ranges can be resent, and what we receive,
//! reassembled in order with a bound on out-of-order bytes (§7.5).

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
}

/// The receive side of one level's crypto stream.
#[derive(Debug, Default)]
pub(crate) struct CryptoRecv {
    /// Bytes handed to TLS so far.
    delivered: u64,
    /// Bytes from `delivered` on; only the ranges in `received` are valid.
    window: Vec<u8>,
    received: RangeSet,
}

impl CryptoRecv {
    /// Adds a CRYPTO frame's data and returns the bytes that became
    /// contiguous, in order, for TLS.
    pub(crate) fn insert(&mut self, offset: u64, data: &[u8]) -> Result<Vec<u8>, TransportError> {
        let end = offset + data.len() as u64;
        if end <= self.delivered {
            return Ok(Vec::new()); // a retransmission of what TLS already has
        }
        if end - self.delivered > MAX_CRYPTO_BUFFER {
            return Err(TransportError::new(
                code::CRYPTO_BUFFER_EXCEEDED,
                kind::CRYPTO,
                "too much out-of-order CRYPTO data",
            ));
        }
        let skip = self.delivered.saturating_sub(offset) as usize;
        let start = offset.max(self.delivered);
        let rel = (start - self.delivered) as usize;
        let bytes = &data[skip..];
        if self.window.len() < rel + bytes.len() {
            self.window.resize(rel + bytes.len(), 0);
        }
        self.window[rel..rel + bytes.len()].copy_from_slice(bytes);
        self.received.insert(start..end);
        match self.received.first() {
            Some(r) if r.start == self.delivered => {
                let n = (r.end - r.start) as usize;
                self.received.remove(r.clone());
                self.delivered = r.end;
                Ok(self.window.drain(..n).collect())
            }
            _ => Ok(Vec::new()),
        }
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
    fn receive_side_reassembles_out_of_order() {
        let mut r = CryptoRecv::default();
        assert!(r.insert(5, b"world").unwrap().is_empty());
        assert_eq!(r.insert(0, b"hello").unwrap(), b"helloworld");
        // Overlapping retransmissions deliver only what is new.
        assert_eq!(r.insert(8, b"ld!!").unwrap(), b"!!");
        assert!(r.insert(0, b"hello").unwrap().is_empty());
    }

    #[test]
    fn receive_side_is_bounded() {
        let mut r = CryptoRecv::default();
        let e = r.insert(MAX_CRYPTO_BUFFER, b"x").unwrap_err();
        assert_eq!(e.code, code::CRYPTO_BUFFER_EXCEEDED);
        assert!(r.insert(MAX_CRYPTO_BUFFER - 1, b"x").is_ok());
    }
}
