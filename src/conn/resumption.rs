//! Session tickets as a client application stores them (RFC 9001 §4.6,
//! RFC 9000 §7.4.1): opaque bytes that hold everything a later connection
//! needs to resume: the TLS session, the QUIC version, the server name and
//! ALPN it was for, and the server's transport parameters that 0-RTT must
//! respect.
//!
//! Layout (all lengths big-endian): `"LQST"`, format 1, version (u32),
//! server name (u16 length), ALPN (u8 length), remembered transport
//! parameters in their wire encoding (u16 length), TLS session DER (u16
//! length), then a 64-bit FNV-1a checksum of all before it, so that a
//! ticket damaged in storage is not half-used. Anything else — another
//! format, a truncated, padded or damaged blob — reads as no ticket, and
//! the connection makes a full handshake.

use super::{ApiError, Connection, Event};
use crate::codec::{u16_prefixed, Blob};
use crate::side::Side;
use crate::transport_params::TransportParameters;

const MAGIC: &[u8; 4] = b"LQST";
const FORMAT: u8 = 1;

/// A ticket's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredTicket {
    pub(crate) version: u32,
    pub(crate) server_name: String,
    pub(crate) alpn: Vec<u8>,
    /// The server's limits a 0-RTT flight must stay within (RFC 9000
    /// §7.4.1).
    pub(crate) params: TransportParameters,
    pub(crate) tls_session: Vec<u8>,
}

/// The transport parameters RFC 9000 §7.4.1 (and RFC 9221 §3 for
/// DATAGRAM) says a client remembers for 0-RTT.
pub(crate) fn remembered(tp: &TransportParameters) -> TransportParameters {
    TransportParameters {
        active_connection_id_limit: tp.active_connection_id_limit,
        initial_max_data: tp.initial_max_data,
        initial_max_stream_data_bidi_local: tp.initial_max_stream_data_bidi_local,
        initial_max_stream_data_bidi_remote: tp.initial_max_stream_data_bidi_remote,
        initial_max_stream_data_uni: tp.initial_max_stream_data_uni,
        initial_max_streams_bidi: tp.initial_max_streams_bidi,
        initial_max_streams_uni: tp.initial_max_streams_uni,
        max_datagram_frame_size: tp.max_datagram_frame_size,
        ..TransportParameters::default()
    }
}

impl StoredTicket {
    /// The bytes given to the application; None when a field does not fit
    /// the layout (a server name over 64 KB cannot come from a config).
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let mut params = Vec::new();
        self.params.encode(&mut params);
        let mut b = Blob::new(MAGIC, FORMAT);
        b.put(&self.version.to_be_bytes());
        b.put_u16_prefixed(self.server_name.as_bytes())?;
        b.put_u8_prefixed(&self.alpn)?;
        b.put_u16_prefixed(&params)?;
        b.put_u16_prefixed(&self.tls_session)?;
        Some(b.finish())
    }

    /// Reads a ticket; None for anything that is not one, whole.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Blob::fields(bytes, MAGIC, FORMAT)?;
        let version = r.u32()?;
        let server_name = std::str::from_utf8(u16_prefixed(&mut r)?).ok()?.to_owned();
        let alpn = r.u8_prefixed()?.to_vec();
        let params = TransportParameters::decode(u16_prefixed(&mut r)?, Side::Server).ok()?;
        let tls_session = u16_prefixed(&mut r)?.to_vec();
        if !r.is_empty() || tls_session.is_empty() {
            return None;
        }
        Some(Self {
            version,
            server_name,
            alpn,
            params,
            tls_session,
        })
    }
}

impl Connection {
    /// Resumes the session of an earlier connection (a client, before
    /// [`Connection::connect`]): `ticket` is the bytes of an
    /// [`Event::SessionTicket`]. A ticket that cannot be used here — not a
    /// ticket, for another server name, for an ALPN or a QUIC version this
    /// configuration does not offer — is ignored: the handshake is a full
    /// one, as it is when the server declines (an expired ticket, keys it
    /// no longer has). `session_resumed` in HandshakeCompleted says which.
    pub fn set_session_ticket(&mut self, ticket: &[u8]) -> Result<(), ApiError> {
        if self.side != Side::Client {
            return Err(ApiError::InvalidState("only a client resumes a session"));
        }
        if self.hs.is_started() {
            return Err(ApiError::InvalidState(
                "a session ticket is set before connecting",
            ));
        }
        self.resume = StoredTicket::decode(ticket).filter(|t| self.ticket_fits(t));
        Ok(())
    }

    /// True when a ticket was made for what this client is about to do.
    fn ticket_fits(&self, t: &StoredTicket) -> bool {
        let name_fits = self.config.tls.server_name.as_deref().unwrap_or("") == t.server_name;
        let alpn_fits = t.alpn.is_empty() || self.config.tls.alpn_protocols.contains(&t.alpn);
        name_fits
            && alpn_fits
            && self
                .config
                .transport
                .supported_versions
                .contains(&t.version)
    }

    /// A client waiting for tickets stops waiting this long after the
    /// handshake was confirmed: a server sends its tickets with its first
    /// 1-RTT flight, and TLS state kept for a server that sends none is
    /// memory held for nothing (see `TlsSession::retire_if_done`).
    pub(super) fn start_ticket_wait(&mut self, now: u64) {
        if self.side == Side::Client && self.config.tls.session_tickets {
            self.ticket_wait_until = Some(now.saturating_add(3 * self.recovery.pto()));
        }
    }

    /// Ends the wait for tickets once its time passed (checked lazily, as
    /// datagrams and timers come).
    pub(super) fn end_ticket_wait(&mut self, now: u64) {
        if self.ticket_wait_until.is_some_and(|t| now >= t) {
            self.ticket_wait_until = None;
            if let Some(tls) = &mut self.tls {
                tls.stop_waiting_for_tickets();
                tls.retire_if_done();
            }
        }
    }

    /// Turns the tickets TLS received into events for the application.
    pub(super) fn report_tickets(&mut self) {
        let Some(tls) = &mut self.tls else { return };
        let sessions = tls.take_tickets();
        if sessions.is_empty() {
            return;
        }
        let alpn = tls.alpn().unwrap_or_default();
        let params = self
            .peer_params
            .as_ref()
            .map(remembered)
            .unwrap_or_default();
        for tls_session in sessions {
            let ticket = StoredTicket {
                version: self.version,
                server_name: self.config.tls.server_name.clone().unwrap_or_default(),
                alpn: alpn.clone(),
                params: params.clone(),
                tls_session,
            };
            if let Some(ticket) = ticket.encode() {
                self.reports.events.push(Event::SessionTicket { ticket });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredTicket {
        let tp = TransportParameters {
            initial_max_data: 1 << 20,
            initial_max_streams_bidi: 100,
            max_datagram_frame_size: Some(1200),
            max_idle_timeout: 30_000,
            ..TransportParameters::default()
        };
        StoredTicket {
            version: 1,
            server_name: "example.com".into(),
            alpn: b"h3".to_vec(),
            params: remembered(&tp),
            tls_session: vec![0x30, 0x82, 1, 2, 3],
        }
    }

    #[test]
    fn round_trips_and_keeps_only_the_remembered_parameters() {
        let t = sample();
        let back = StoredTicket::decode(&t.encode().unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.params.initial_max_data, 1 << 20);
        assert_eq!(back.params.max_datagram_frame_size, Some(1200));
        // The idle timeout is not among what RFC 9000 §7.4.1 remembers.
        assert_eq!(back.params.max_idle_timeout, 0);
    }

    #[test]
    fn anything_but_a_whole_ticket_reads_as_none() {
        let bytes = sample().encode().unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(StoredTicket::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(StoredTicket::decode(&padded), None);
        // Any byte damaged, the checksum's own included.
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x20;
            assert_eq!(StoredTicket::decode(&damaged), None, "byte {i}");
        }
        assert_eq!(StoredTicket::decode(b""), None);
    }
}
