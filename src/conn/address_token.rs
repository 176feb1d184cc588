//! Address-validation tokens at the connection (RFC 9000 §8.1.3): a server
//! gives its client a NEW_TOKEN token once the handshake is done; a client
//! reports each as an event and presents one in a later connection's
//! Initial packets, which lets the server skip the 3x limit and a Retry.
//!
//! What the application stores is `"LQTK"`, format 1, the server name
//! (u16 length) and the token (u16 length), then a 64-bit FNV-1a checksum:
//! a token is for the server that issued it, and one damaged in storage
//! is not sent (RFC 9000 §8.1.3 asks clients not to send a token to
//! another server).

use super::{ApiError, Connection, Event};
use crate::codec::{u16_prefixed, Blob};
use crate::side::Side;

const MAGIC: &[u8; 4] = b"LQTK";
const FORMAT: u8 = 1;

/// A token as the application stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredToken {
    pub(crate) server_name: String,
    pub(crate) token: Vec<u8>,
}

impl StoredToken {
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let mut b = Blob::new(MAGIC, FORMAT);
        b.put_u16_prefixed(self.server_name.as_bytes())?;
        b.put_u16_prefixed(&self.token)?;
        Some(b.finish())
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Blob::fields(bytes, MAGIC, FORMAT)?;
        let server_name = std::str::from_utf8(u16_prefixed(&mut r)?).ok()?.to_owned();
        let token = u16_prefixed(&mut r)?.to_vec();
        (r.is_empty() && !token.is_empty()).then_some(Self { server_name, token })
    }
}

impl Connection {
    /// Presents an address-validation token from an earlier connection to
    /// the same server (a client, before [`Connection::connect`]): the
    /// bytes of an [`Event::NewToken`]. A token for another server name, or
    /// not a token, is not sent; one the server no longer accepts costs
    /// nothing either (RFC 9000 §8.1.3: the server then treats the client
    /// as one without a token).
    pub fn set_address_token(&mut self, token: &[u8]) -> Result<(), ApiError> {
        if self.side != Side::Client {
            return Err(ApiError::InvalidState("only a client presents a token"));
        }
        if self.hs.is_started() {
            return Err(ApiError::InvalidState("a token is set before connecting"));
        }
        let name = self.config.tls.server_name.as_deref().unwrap_or("");
        self.ids.token = StoredToken::decode(token)
            .filter(|t| t.server_name == name)
            .map(|t| t.token)
            .unwrap_or_default();
        Ok(())
    }

    /// A server whose client proved its address with a NEW_TOKEN token
    /// ([`crate::server::check_initial_token`]), before the first datagram:
    /// no 3x limit applies (RFC 9000 §8.1.3).
    pub fn mark_address_validated(&mut self) -> Result<(), ApiError> {
        if self.side != Side::Server {
            return Err(ApiError::InvalidState("only a server validates addresses"));
        }
        self.paths.active.mark_handshake_validated();
        Ok(())
    }

    /// A client got a NEW_TOKEN frame: an event with what to store.
    pub(super) fn on_new_token(&mut self, token: &[u8]) {
        if self.new_tokens_reported >= MAX_NEW_TOKEN_EVENTS {
            return; // a peer sending them by the thousand gets no more
        }
        self.new_tokens_reported += 1;
        let stored = StoredToken {
            server_name: self.config.tls.server_name.clone().unwrap_or_default(),
            token: token.to_vec(),
        };
        if let Some(token) = stored.encode() {
            self.reports.events.push(Event::NewToken { token });
        }
    }

    /// A server whose handshake completed mints a token for its client's
    /// address (when its configuration gives tokens a lifetime).
    pub(super) fn queue_new_token(&mut self) {
        let (Side::Server, Some(peer)) = (self.side, self.paths.active.peer) else {
            return;
        };
        if self.config.endpoint.token_lifetime == 0 {
            return;
        }
        let now = self.config.endpoint.unix_clock.unix_seconds();
        let token =
            self.config
                .endpoint
                .token_key
                .new_token(peer, now, &*self.config.endpoint.random);
        if !token.is_empty() {
            self.new_token = Some((token, true));
        }
    }
}

/// NEW_TOKEN events a connection reports at most.
const MAX_NEW_TOKEN_EVENTS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tokens_round_trip_and_damage_is_refused() {
        let t = StoredToken {
            server_name: "example.com".into(),
            token: vec![9; 40],
        };
        let bytes = t.encode().unwrap();
        assert_eq!(StoredToken::decode(&bytes), Some(t));
        for i in 0..bytes.len() {
            let mut d = bytes.clone();
            d[i] ^= 4;
            assert_eq!(StoredToken::decode(&d), None, "byte {i}");
        }
        assert_eq!(StoredToken::decode(&bytes[..bytes.len() - 1]), None);
    }
}
