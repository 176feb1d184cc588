//! The network path to the peer (RFC 9000 §8.2, §9): where datagrams go,
//! whether the peer proved it owns that address, and the validation of a
//! new address when a client moves (NAT rebinding or migration).
//!
//! A server follows a client whose non-probing packets arrive from a new
//! address (§9.3): it sends there at once, limited to three times what it
//! received there (§9.3.1), and proves the address with PATH_CHALLENGE.
//! When no PATH_RESPONSE comes in time, it goes back to the last validated
//! address (§9.3.2). Probing packets from another address are answered on
//! that address without moving (§9.1). A client stays on the server's
//! address: servers do not migrate without a preferred address.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::pmtud::{PmtuChange, Pmtud};
use super::{Connection, Event, PathAddrs};
use crate::frame::Frame;
use crate::packet::MIN_INITIAL_DATAGRAM;
use crate::side::Side;

/// PATH_RESPONSE frames owed at most; older ones are dropped.
const MAX_RESPONSES: usize = 4;

/// RFC 9002 §6.2.2: the initial RTT for a path with no sample (333 ms).
const INITIAL_PATH_RTT: u64 = 333_000_000;

/// RFC 9000 §8.2.4: path validation is abandoned after three times the
/// larger of the current PTO and a new path's (kInitialRtt, whose PTO is
/// about three times it).
pub(super) fn validation_timeout(pto: u64) -> u64 {
    pto.max(3 * INITIAL_PATH_RTT).saturating_mul(3)
}

/// RFC 9000 §9.4: a move to another IP address is a new path for
/// congestion control and RTT; a new port alone (NAT rebinding) is not.
pub(super) fn new_ip(old: Option<SocketAddr>, new: Option<SocketAddr>) -> bool {
    old.map(|a| a.ip()) != new.map(|a| a.ip())
}

/// A PATH_CHALLENGE we sent to the current address.
#[derive(Debug, Clone, Copy)]
struct Challenge {
    data: [u8; 8],
    /// Not sent yet, or its packet was lost.
    pending: bool,
    /// Validation is abandoned then (RFC 9000 §8.2.4).
    deadline: u64,
}

/// A PATH_RESPONSE owed on the path its challenge arrived on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Response {
    pub(crate) to: SocketAddr,
    /// The local address the challenge arrived on (None: unknown, the
    /// caller's one socket).
    pub(crate) local: Option<SocketAddr>,
    pub(crate) data: [u8; 8],
    /// The datagram that carried the challenge: padding the response to
    /// 1200 bytes must stay within three times it (§8.2.2).
    received: usize,
}

/// The path of a connection.
#[derive(Debug, Default)]
pub(crate) struct Path {
    /// Where our datagrams go.
    pub(crate) peer: Option<SocketAddr>,
    /// Where they leave from, when the caller says (`recv_on`); None for a
    /// caller with one socket that never tells.
    pub(crate) local: Option<SocketAddr>,
    /// The last path (local, remote) the peer proved it owns its end of.
    validated: Option<(Option<SocketAddr>, SocketAddr)>,
    challenge: Option<Challenge>,
    responses: VecDeque<Response>,
    /// Bytes received from and sent to `peer` while it is not validated.
    unvalidated_received: u64,
    unvalidated_sent: u64,
    /// Bytes received from `peer` (or before it was known): a server's
    /// credit under the anti-amplification limit until the handshake
    /// validates the address (RFC 9000 §8.1). Datagrams from elsewhere
    /// earn nothing, so an attacker cannot raise what goes to a victim.
    credit_received: u64,
    /// Bytes sent, anywhere, before the handshake validated the address.
    handshake_sent: u64,
    /// The handshake validated the peer's address (RFC 9000 §8.1): always
    /// for a client, which chose it; for a server, by a Handshake packet,
    /// a Retry token or a NEW_TOKEN token.
    handshake_validated: bool,
    /// How large our datagrams may be here (RFC 8899).
    pub(crate) pmtud: Pmtud,
}

impl Path {
    /// The path of a new connection whose peer's address is proven from
    /// the start (a client's chosen server, a server after a Retry) or not.
    pub(crate) fn new(validated: bool, pmtud: Pmtud) -> Self {
        Self {
            handshake_validated: validated,
            pmtud,
            ..Self::default()
        }
    }

    /// The handshake proved the server's peer owns its address.
    pub(crate) fn mark_handshake_validated(&mut self) {
        self.handshake_validated = true;
    }

    /// Bytes a server may still send before the handshake validated its
    /// peer's address: three times what came from it (RFC 9000 §8.1);
    /// None once validated.
    pub(crate) fn handshake_budget(&self) -> Option<u64> {
        (!self.handshake_validated).then(|| {
            self.credit_received
                .saturating_mul(3)
                .saturating_sub(self.handshake_sent)
        })
    }

    /// Bytes that may go out now under both anti-amplification limits:
    /// the handshake's (§8.1) and a new, unproven address's (§9.3.1).
    pub(crate) fn send_budget(&self) -> Option<u64> {
        match (self.handshake_budget(), self.budget()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The peer's address is known and proven (the handshake proves the
    /// address it ran on).
    pub(crate) fn set_validated(&mut self, addr: SocketAddr) {
        self.peer = Some(addr);
        self.validated = Some((self.local, addr));
    }

    /// Both ends of the path in use.
    fn here(&self) -> Option<(Option<SocketAddr>, SocketAddr)> {
        self.peer.map(|p| (self.local, p))
    }

    /// True when the path in use is `local` to `peer` (compared in place:
    /// this runs for every packet).
    fn is(&self, local: &Option<SocketAddr>, peer: &SocketAddr) -> bool {
        self.peer.as_ref() == Some(peer) && self.local == *local
    }

    /// True when the path in use is the proven one.
    fn on_validated(&self) -> bool {
        self.validated.as_ref().is_some_and(|(l, p)| self.is(l, p))
    }

    /// The caller named our address for the first time: the path in use
    /// (and the proven one, if it is this) has it.
    pub(crate) fn learn_local(&mut self, local: SocketAddr) {
        if self.local.is_some() {
            return;
        }
        self.local = Some(local);
        if let Some((None, r)) = self.validated {
            self.validated = Some((Some(local), r));
        }
    }

    /// Moves to the path from `local` to `remote`, proven (a client's
    /// validated probe).
    pub(crate) fn move_to_validated(&mut self, local: Option<SocketAddr>, remote: SocketAddr) {
        self.local = local.or(self.local);
        self.set_validated(remote);
    }

    /// Bytes we may still send to an unproven address after a migration
    /// (RFC 9000 §9.3.1); None when not limited.
    pub(crate) fn budget(&self) -> Option<u64> {
        if self.validated.is_none() || self.on_validated() {
            return None;
        }
        Some(
            self.unvalidated_received
                .saturating_mul(3)
                .saturating_sub(self.unvalidated_sent),
        )
    }

    /// A datagram of `bytes` arrived from `from`.
    pub(crate) fn on_datagram(&mut self, from: SocketAddr, bytes: usize) {
        if self.peer.is_none_or(|p| p == from) {
            self.credit_received = self.credit_received.saturating_add(bytes as u64);
        }
    }

    pub(crate) fn on_sent(&mut self, to: SocketAddr, bytes: usize) {
        if !self.handshake_validated {
            self.handshake_sent = self.handshake_sent.saturating_add(bytes as u64);
        }
        // The budget first: on a proven path (the usual case) it is None,
        // and the address needs no comparing.
        if self.budget().is_some() && Some(to) == self.peer {
            self.unvalidated_sent += bytes as u64;
        }
    }

    /// A PATH_CHALLENGE must go out on the current path.
    pub(crate) fn challenge_pending(&self) -> bool {
        self.challenge.is_some_and(|c| c.pending)
    }

    /// The PATH_CHALLENGE to send now, marked sent.
    pub(crate) fn take_challenge(&mut self) -> Option<[u8; 8]> {
        let c = self.challenge.as_mut().filter(|c| c.pending)?;
        c.pending = false;
        Some(c.data)
    }

    /// A packet with our PATH_CHALLENGE `data` was lost: send it again if
    /// that validation is still running.
    pub(crate) fn on_challenge_lost(&mut self, data: [u8; 8]) {
        if let Some(c) = self.challenge.as_mut().filter(|c| c.data == data) {
            c.pending = true;
        }
    }

    /// Whether a response goes out on this path (both its addresses).
    fn is_here(&self, r: &Response) -> bool {
        Some(r.to) == self.peer && r.local == self.local
    }

    /// A PATH_RESPONSE owed on the current path, first in line.
    pub(crate) fn take_response_here(&mut self) -> Option<[u8; 8]> {
        let i = self.responses.iter().position(|r| self.is_here(r))?;
        self.responses.remove(i).map(|r| r.data)
    }

    pub(crate) fn has_response_here(&self) -> bool {
        self.responses.iter().any(|r| self.is_here(r))
    }

    /// A PATH_RESPONSE owed on another path, with the size its datagram
    /// may be padded to.
    pub(crate) fn take_response_elsewhere(&mut self) -> Option<(Response, usize)> {
        let i = self.responses.iter().position(|r| !self.is_here(r))?;
        let r = self.responses.remove(i)?;
        let pad = MIN_INITIAL_DATAGRAM.min(r.received.saturating_mul(3));
        Some((r, pad))
    }

    /// PATH_RESPONSE frames owed.
    #[cfg(test)]
    pub(crate) fn responses_pending(&self) -> usize {
        self.responses.len()
    }

    /// The validation deadline, for the connection's timer.
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.challenge.map(|c| c.deadline)
    }
}

/// True for the frames a probing packet may hold (RFC 9000 §9.1).
pub(crate) fn is_probing(frame: &Frame<'_>) -> bool {
    matches!(
        frame,
        Frame::PathChallenge(_)
            | Frame::PathResponse(_)
            | Frame::NewConnectionId { .. }
            | Frame::Padding { .. }
    )
}

impl Connection {
    /// A PATH_CHALLENGE arrived from `from` on `local` in a datagram of
    /// `size` bytes: answer on that path.
    pub(super) fn on_path_challenge(
        &mut self,
        from: SocketAddr,
        local: Option<SocketAddr>,
        data: [u8; 8],
        size: usize,
    ) {
        let p = &mut self.paths.active;
        if p.responses.len() >= MAX_RESPONSES {
            p.responses.pop_front();
        }
        p.responses.push_back(Response {
            to: from,
            local,
            data,
            received: size,
        });
    }

    /// A PATH_RESPONSE arrived: the path it answers is validated. Others
    /// (late, or for a validation we gave up) are ignored, as RFC 9000
    /// §19.18 allows.
    pub(super) fn on_path_response(&mut self, data: [u8; 8]) {
        if self.on_probe_response(data) {
            return;
        }
        let p = &mut self.paths.active;
        if p.challenge.is_some_and(|c| c.data == data) {
            p.challenge = None;
            p.validated = p.here();
            if let Some(remote) = p.peer {
                let local = p.local;
                self.reports.events.push(Event::PathValidated {
                    path: PathAddrs::boxed(local, remote),
                });
            }
        }
    }

    /// After a 1-RTT packet from `from` was processed: bytes on an unproven
    /// path count towards its limit, and a non-probing packet with the
    /// largest packet number so far moves us there (RFC 9000 §9.3).
    pub(super) fn on_packet_from(
        &mut self,
        from: SocketAddr,
        local: Option<SocketAddr>,
        size: usize,
        non_probing: bool,
        largest: bool,
        now: u64,
    ) {
        if self.side == Side::Client || !self.hs.is_confirmed() {
            return;
        }
        // RFC 9000 §9.6.2: packets to our preferred address are a new path
        // too, with the same client address: one side changing is enough.
        if self.paths.active.is(&local, &from) {
            if self.paths.active.budget().is_some() {
                self.paths.active.unvalidated_received += size as u64;
            }
            return;
        }
        if !non_probing || !largest {
            return;
        }
        let p = &mut self.paths.active;
        let (old, old_local) = (p.peer, p.local);
        p.peer = Some(from);
        p.local = local;
        p.unvalidated_received = size as u64;
        p.unvalidated_sent = 0;
        if new_ip(old, Some(from)) || new_ip(old_local, local) {
            self.reset_path_state();
        }
        let p = &mut self.paths.active;
        if p.here() == p.validated {
            p.challenge = None;
        } else {
            let mut data = [0u8; 8];
            self.config.endpoint.random.fill(&mut data);
            p.challenge = Some(Challenge {
                data,
                pending: true,
                deadline: now.saturating_add(validation_timeout(self.recovery.pto())),
            });
        }
        self.reports.events.push(Event::PeerMigrated { addr: from });
    }

    /// A new path for congestion control, RTT and PMTU (RFC 9000 §9.4,
    /// §14.3): each starts over.
    pub(super) fn reset_path_state(&mut self) {
        let start = self.config.transport.max_datagram_size;
        self.paths.active.pmtud.restart(start);
        self.recovery.set_mds(start as u64);
        self.recovery.reset_path();
    }

    /// What PMTU discovery changed, reported to the application.
    pub(super) fn on_pmtu_change(&mut self, change: Option<PmtuChange>) {
        let (mtu, black_hole) = match change {
            None => return,
            Some(PmtuChange::Raised(mtu)) => (mtu, false),
            Some(PmtuChange::BlackHole(mtu)) => (mtu, true),
        };
        self.recovery.set_mds(self.max_datagram_size() as u64);
        self.qlog_mtu(mtu);
        self.reports
            .events
            .push(Event::PathMtuChanged { mtu, black_hole });
    }

    /// The validation deadline passed: go back to the last address the
    /// peer proved (RFC 9000 §9.3.2).
    pub(super) fn on_path_timeout(&mut self, now: u64) {
        let p = &mut self.paths.active;
        if p.challenge.is_none_or(|c| now < c.deadline) {
            return;
        }
        p.challenge = None;
        if let Some((local, remote)) = p.validated.filter(|v| p.here() != Some(*v)) {
            p.peer = Some(remote);
            p.local = local;
            self.reset_path_state();
            self.reports
                .events
                .push(Event::PeerMigrated { addr: remote });
        }
    }
}
