//! 0-RTT at the connection (RFC 9001 §4.6, RFC 9000 §7.4.1): a client
//! resuming with a ticket that allows it sends streams and datagrams in
//! 0-RTT packets before the handshake completes, within the limits the
//! ticket remembered; a server reads them when TLS accepted early data.
//!
//! When the server refuses early data, nothing sent early is lost: the
//! 0-RTT packets are taken out of flight and their frames queued again for
//! 1-RTT, provided the server's new limits still allow what was sent
//! (RFC 9000 §7.4.1 lets them shrink when 0-RTT is refused); when they do
//! not, the connection ends with a local error that says so, rather than
//! lose data silently.

use super::resumption::remembered;
use super::{Connection, Event};
use crate::crypto::DirectionalKeys;
use crate::error::{code, TransportError};
use crate::recovery::Space;
use crate::side::Side;
use crate::tls::{EarlyDataStatus, EarlyPolicy};
use crate::transport_params::TransportParameters;

/// What a connection knows of 0-RTT.
#[derive(Debug, Default)]
pub(super) struct EarlyData {
    /// Client: keys to seal 0-RTT packets, until 1-RTT keys come.
    pub(super) seal: Option<DirectionalKeys>,
    /// Server: keys to open them, until the handshake completes.
    pub(super) open: Option<DirectionalKeys>,
    /// Client: the limits early data is sent under (the ticket's).
    pub(super) remembered: Option<TransportParameters>,
    /// Client: packets numbered below this were 0-RTT.
    first_one_rtt_pn: Option<u64>,
}

impl EarlyData {
    /// True while a client sends in 0-RTT.
    pub(super) fn sending(&self) -> bool {
        self.seal.is_some()
    }
}

impl Connection {
    /// What a server with 0-RTT on lets a client send early, recorded in
    /// its tickets: the version and its own 0-RTT-relevant limits.
    pub(super) fn early_policy(&self) -> Option<EarlyPolicy> {
        let on = self.side == Side::Server
            && self.config.tls.early_data
            && self.config.tls.session_tickets;
        on.then(|| {
            let mut params = Vec::new();
            remembered(&self.local_params()).encode(&mut params);
            EarlyPolicy {
                version: self.version,
                params,
            }
        })
    }

    /// A client whose TLS offered early data starts 0-RTT: the ticket's
    /// limits stand in for the server's until its own arrive.
    pub(super) fn start_early_data(&mut self) {
        let offered = self.tls.as_ref().is_some_and(|t| t.early_data_offered());
        let Some(ticket) = &self.resume else { return };
        // 0-RTT goes in the version the ticket was issued in.
        if !offered || ticket.version != self.version {
            return;
        }
        let limits = ticket.params.clone();
        self.streams.on_peer_params(&limits);
        self.early.remembered = Some(limits);
    }

    /// The peer's limits to send under: its transport parameters, or
    /// during 0-RTT the ones its ticket remembered.
    pub(super) fn peer_limits(&self) -> Option<&TransportParameters> {
        self.peer_params.as_ref().or(self.early.remembered.as_ref())
    }

    /// A 0-RTT secret from TLS: a client seals with it, a server opens.
    pub(super) fn install_early_keys(&mut self, keys: DirectionalKeys, write: bool) {
        if write {
            self.early.seal = Some(keys);
        } else {
            self.early.open = Some(keys);
        }
    }

    /// 1-RTT write keys arrived: a client sends no more 0-RTT (RFC 9001
    /// §4.9.3 drops the keys) and remembers where 0-RTT packets ended.
    pub(super) fn end_early_sending(&mut self) {
        if self.early.seal.take().is_some() {
            self.early.first_one_rtt_pn = Some(self.spaces[Space::Application as usize].next_pn);
        }
    }

    /// At handshake completion: whether early data was accepted, acting on
    /// a refusal (client) or letting the 0-RTT keys go (server).
    pub(super) fn settle_early_data(&mut self) -> Result<bool, TransportError> {
        let status = self
            .tls
            .as_ref()
            .map_or(EarlyDataStatus::NotSent, |t| t.early_data_status());
        if self.side == Side::Server {
            self.early.open = None;
            return Ok(status == EarlyDataStatus::Accepted);
        }
        self.end_early_sending();
        let Some(remembered) = self.early.remembered.take() else {
            return Ok(false);
        };
        match status {
            EarlyDataStatus::Accepted => {
                // RFC 9000 §7.4.1: a server that accepts 0-RTT must not
                // reduce the limits the client used.
                let reduced = self
                    .peer_params
                    .as_ref()
                    .is_some_and(|now| !now.keeps_zero_rtt_limits(&remembered));
                if reduced {
                    return Err(TransportError::protocol_violation(
                        0,
                        "server accepted 0-RTT but reduced a limit it relied on",
                    ));
                }
                Ok(true)
            }
            _ => {
                self.reports.events.push(Event::EarlyDataRejected);
                self.resend_early_data()?;
                Ok(false)
            }
        }
    }

    /// Takes the 0-RTT packets sent so far out of flight, without a
    /// congestion response, and queues their frames again.
    pub(super) fn resend_early_packets(&mut self) {
        let end = self
            .early
            .first_one_rtt_pn
            .unwrap_or(self.spaces[Space::Application as usize].next_pn);
        let packets = self.recovery.remove_before(Space::Application, end);
        self.on_packets_lost(Space::Application, packets);
    }

    /// The server refused early data: everything sent early goes again in
    /// 1-RTT, under the limits the server has given now (the ones early
    /// data used no longer count: RFC 9000 §7.4.1).
    fn resend_early_data(&mut self) -> Result<(), TransportError> {
        self.resend_early_packets();
        self.streams.on_early_data_refused();
        if self.streams.exceeds_peer_limits() {
            return Err(TransportError::new(
                code::INTERNAL_ERROR,
                0,
                "0-RTT was refused and the server's limits no longer allow what was sent early",
            ));
        }
        Ok(())
    }
}
