//! What a connection does with TLS handshake messages that arrive after it
//! let its TLS library state go (see `TlsSession::retire_if_done`).
//!
//! Once the handshake is complete, TLS 1.3 over QUIC has one message left
//! that a peer may legitimately send: a server's NewSessionTicket (RFC 8446
//! §4.6.1). QUIC forbids KeyUpdate (RFC 9001 §6) and post-handshake client
//! authentication (RFC 9001 §4.4), and a client sends nothing after its
//! Finished. A connection that keeps no tickets can therefore skip tickets
//! by their length and refuse everything else, in constant memory and
//! linear work, without holding the TLS library's state (most of an idle
//! connection's memory) for the rest of its life.

use super::{alert, Level};
use crate::error::{code, TransportError};

/// NewSessionTicket's HandshakeType (RFC 8446 §4).
const NEW_SESSION_TICKET: u8 = 4;

/// Reads the handshake messages that follow a retired handshake: skips
/// tickets, refuses anything else.
#[derive(Debug, Default)]
pub(crate) struct PostHandshake {
    /// Only a server sends tickets: a server's reader takes none.
    tickets_allowed: bool,
    /// The message header (type, 24-bit length) read so far.
    header: [u8; 4],
    header_len: usize,
    /// Body bytes of the current ticket still to skip.
    skip: usize,
}

impl PostHandshake {
    /// A reader for a client (`from_server`: tickets may come) or a server.
    pub(crate) fn new(from_server: bool) -> Self {
        Self {
            tickets_allowed: from_server,
            ..Self::default()
        }
    }

    /// True between messages: a reader started here would be in step.
    pub(crate) fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.skip == 0
    }

    /// Reads in-order CRYPTO bytes of `level` received after retirement.
    pub(crate) fn feed(&mut self, level: Level, mut data: &[u8]) -> Result<(), TransportError> {
        if data.is_empty() {
            return Ok(());
        }
        if level != Level::OneRtt {
            // The peer's flight at this level ended with its Finished.
            return Err(unexpected("handshake data after the handshake completed"));
        }
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (4 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len < 4 {
                break;
            }
            self.header_len = 0;
            if self.header[0] != NEW_SESSION_TICKET || !self.tickets_allowed {
                // RFC 9001 §6: a KeyUpdate is a connection error 0x010a;
                // any other message here is just as unexpected.
                return Err(unexpected("unexpected TLS message after the handshake"));
            }
            self.skip = usize::from(self.header[1]) << 16
                | usize::from(self.header[2]) << 8
                | usize::from(self.header[3]);
        }
        Ok(())
    }
}

fn unexpected(reason: &'static str) -> TransportError {
    TransportError::new(
        code::CRYPTO_ERROR_BASE + u64::from(alert::UNEXPECTED_MESSAGE),
        0,
        reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(body: usize) -> Vec<u8> {
        let mut m = vec![NEW_SESSION_TICKET, 0, (body >> 8) as u8, body as u8];
        m.resize(4 + body, 0xab);
        m
    }

    #[test]
    fn tickets_are_skipped_whatever_the_split() {
        let mut stream = ticket(300);
        stream.extend(ticket(0));
        stream.extend(ticket(5000));
        for piece in [1, 3, 4, 7, 1000, stream.len()] {
            let mut r = PostHandshake::new(true);
            for chunk in stream.chunks(piece) {
                r.feed(Level::OneRtt, chunk).unwrap();
            }
            assert_eq!((r.header_len, r.skip), (0, 0), "piece {piece}");
        }
    }

    #[test]
    fn key_update_is_unexpected_message() {
        let mut r = PostHandshake::new(true);
        r.feed(Level::OneRtt, &ticket(10)).unwrap();
        // KeyUpdate (24), update_not_requested.
        let e = r.feed(Level::OneRtt, &[24, 0, 0, 1, 0]).unwrap_err();
        assert_eq!(e.code, code::CRYPTO_ERROR_BASE + 10);
    }

    #[test]
    fn a_server_takes_no_ticket() {
        let mut r = PostHandshake::new(false);
        assert!(r.feed(Level::OneRtt, &ticket(1)).is_err());
    }

    #[test]
    fn data_at_handshake_level_is_refused() {
        let mut r = PostHandshake::new(true);
        assert!(r.feed(Level::Handshake, &[20]).is_err());
        assert!(r.feed(Level::Handshake, &[]).is_ok());
    }
}
