//! A client that moves (RFC 9000 §9.2–9.5): the path in use and the new
//! paths it probes from other local addresses.
//!
//! The application opens a new socket and asks to probe the path from it
//! (`probe_path`), or to migrate there (`migrate`: probe, then switch once
//! the server answers). A probe sends PATH_CHALLENGE from the new address
//! with a connection ID of its own (§9.5), padded to 1200 bytes (§8.2.1),
//! again while no answer comes, and gives up after three PTOs (§8.2.4).
//! Until then data keeps flowing on the old path. A switch resets the
//! congestion controller and RTT estimate unless only the port changed
//! (§9.4), and a PING makes the server see the move at once.

use std::net::SocketAddr;

use super::path::{new_ip, validation_timeout, Path};
use super::{ApiError, CloseState, Connection, Event, PathAddrs, Transmit};
use crate::cid::ConnectionId;
use crate::frame::Frame;
use crate::packet::MIN_INITIAL_DATAGRAM;
use crate::recovery::Space;
use crate::side::Side;

/// Paths probed at once at most: each holds a peer CID and a timer.
pub(crate) const MAX_PROBES: usize = 4;

/// RFC 9000 §18.2: the CID in the preferred_address parameter has
/// sequence number 1.
pub(crate) const PREFERRED_ADDRESS_CID_SEQ: u64 = 1;

/// Why a probed path was given up (PATH_FAILED's reason).
const NO_ANSWER: &str = "no PATH_RESPONSE within three PTOs (RFC 9000 §8.2.4)";
const CID_RETIRED: &str = "the peer retired the connection ID of the path";

/// A path from another local address, being validated (or validated and
/// waiting for `migrate`).
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// None: the caller's one socket (a probe of the server's preferred
    /// address from where we are).
    local: Option<SocketAddr>,
    remote: SocketAddr,
    /// Sequence number of the peer CID set aside for this path; None when
    /// the peer uses zero-length CIDs (nothing to set aside).
    cid_seq: Option<u64>,
    challenge: [u8; 8],
    /// The challenge must go out (first time, or again).
    pending: bool,
    /// When it goes out again without an answer, and the wait after that.
    resend_at: u64,
    resend_interval: u64,
    /// Validation is abandoned then (§8.2.4).
    deadline: u64,
    /// Switch to the path once validated.
    migrate: bool,
    validated: bool,
}

/// The connection's paths: the one in use and those being probed.
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) active: Path,
    probes: Vec<Probe>,
}

impl Paths {
    pub(crate) fn new(active: Path) -> Self {
        Self {
            active,
            probes: Vec::new(),
        }
    }

    /// The local address a datagram arrived on, filled in with the active
    /// path's when the caller did not say; the first one a caller names
    /// becomes the active path's.
    pub(crate) fn arrived_on(&mut self, local: Option<SocketAddr>) -> Option<SocketAddr> {
        match local {
            None => self.active.local,
            Some(l) => {
                self.active.learn_local(l);
                Some(l)
            }
        }
    }

    /// The next deadline of any probe: a resend or giving up.
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.probes
            .iter()
            .filter(|p| !p.validated)
            .map(|p| {
                if p.pending {
                    p.deadline
                } else {
                    p.deadline.min(p.resend_at)
                }
            })
            .min()
    }

    fn find(&self, local: Option<SocketAddr>, remote: SocketAddr) -> Option<usize> {
        self.probes
            .iter()
            .position(|p| p.local == local && p.remote == remote)
    }
}

impl Connection {
    /// Probes the path from `local` to the server (RFC 9000 §9.1):
    /// PATH_CHALLENGE from there until it answers or three PTOs pass; a
    /// PATH_VALIDATED or PATH_FAILED event tells. With `migrate`, the
    /// connection then moves there (a MIGRATED event); `migrate` on a path
    /// already validated moves at once.
    ///
    /// Errors: `InvalidState` for a server, before the handshake is
    /// confirmed (§9), or from the local address in use;
    /// `MigrationDisabled` when the server sent disable_active_migration;
    /// `NoConnectionId` when the server gave no unused connection ID
    /// (§9.5); `WouldBlock` while `MAX_PROBES` paths are being probed.
    pub fn probe_path(
        &mut self,
        local: SocketAddr,
        migrate: bool,
        now: u64,
    ) -> Result<(), ApiError> {
        if !matches!(self.close, CloseState::Open) {
            return Err(ApiError::Closing);
        }
        if self.side != Side::Client {
            return Err(ApiError::InvalidState("only a client moves (RFC 9000 §9)"));
        }
        if !self.hs.is_confirmed() {
            return Err(ApiError::InvalidState(
                "no migration before the handshake is confirmed (RFC 9000 §9)",
            ));
        }
        // RFC 9000 §18.2: not even probing packets from another address.
        if self
            .peer_params
            .as_ref()
            .is_some_and(|p| p.disable_active_migration)
        {
            return Err(ApiError::MigrationDisabled);
        }
        if self.paths.active.local == Some(local) {
            return Err(ApiError::InvalidState("already on that local address"));
        }
        let remote = self
            .paths
            .active
            .peer
            .ok_or(ApiError::InvalidState("not connected"))?;
        if let Some(i) = self.paths.find(Some(local), remote) {
            let p = &mut self.paths.probes[i];
            p.migrate |= migrate;
            if p.validated && migrate {
                let p = self.paths.probes.remove(i);
                self.switch_to(p);
            }
            return Ok(());
        }
        if self.paths.probes.len() >= MAX_PROBES {
            return Err(ApiError::WouldBlock);
        }
        // §9.5: a fresh CID per local address, unless the peer uses none.
        let cid_seq = if self.peer_cids.current().is_empty() {
            None
        } else {
            Some(
                self.peer_cids
                    .reserve(None)
                    .ok_or(ApiError::NoConnectionId)?,
            )
        };
        self.start_probe(Some(local), remote, cid_seq, migrate, now);
        Ok(())
    }

    /// RFC 9000 §9.6.1: once the handshake is confirmed, a client probes
    /// the server's preferred address of the family in use, from where it
    /// is, with the CID the server gave for it, and moves there once it
    /// answers; if it does not, the connection stays.
    pub(super) fn probe_preferred_address(&mut self, now: u64) {
        if self.side != Side::Client || !self.config.transport.follow_preferred_address {
            return;
        }
        let (Some(pa), Some(peer)) = (
            self.peer_params
                .as_ref()
                .and_then(|p| p.preferred_address.clone()),
            self.paths.active.peer,
        ) else {
            return;
        };
        let remote = match peer {
            SocketAddr::V4(_) => SocketAddr::V4(pa.ipv4),
            SocketAddr::V6(_) => SocketAddr::V6(pa.ipv6),
        };
        // An absent address is all zeros (§18.2).
        if remote.ip().is_unspecified() || remote.port() == 0 || remote == peer {
            return;
        }
        if self.paths.probes.len() >= MAX_PROBES {
            return;
        }
        let Some(seq) = self
            .peer_cids
            .reserve(Some(PREFERRED_ADDRESS_CID_SEQ))
            .or_else(|| self.peer_cids.reserve(None))
        else {
            return;
        };
        let local = self.paths.active.local;
        self.start_probe(local, remote, Some(seq), true, now);
    }

    fn start_probe(
        &mut self,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cid_seq: Option<u64>,
        migrate: bool,
        now: u64,
    ) {
        let mut challenge = [0u8; 8];
        self.config.endpoint.random.fill(&mut challenge);
        let pto = self.recovery.pto();
        let give_up = validation_timeout(pto);
        self.paths.probes.push(Probe {
            local,
            remote,
            cid_seq,
            challenge,
            pending: true,
            resend_at: now,
            resend_interval: pto,
            deadline: now.saturating_add(give_up),
            migrate,
            validated: false,
        });
    }

    /// The CID to send with on the probed path `t`, if it is one.
    pub(super) fn probe_cid(&self, t: Transmit) -> Option<ConnectionId> {
        let p = &self.paths.probes[self.paths.find(t.local, t.remote)?];
        p.cid_seq.and_then(|s| self.peer_cids.get(s))
    }

    /// A datagram with a probe's PATH_CHALLENGE, if one is due: a 1-RTT
    /// packet from the probed address, padded to 1200 bytes (§8.2.1).
    pub(super) fn send_probe(&mut self, out: &mut Vec<u8>, now: u64) -> Option<Transmit> {
        self.spaces[Space::Application as usize].seal.as_ref()?;
        let i = self.paths.probes.iter().position(|p| p.pending)?;
        let p = &self.paths.probes[i];
        let (t, data) = (
            Transmit {
                local: p.local,
                remote: p.remote,
                ecn: super::Ecn::NotEct,
                send_at: 0,
            },
            p.challenge,
        );
        let dcid = match p.cid_seq {
            None => None,
            Some(seq) => match self.peer_cids.get(seq) {
                Some(c) => Some(c),
                None => {
                    let p = self.paths.probes.remove(i);
                    self.probe_failed(p, CID_RETIRED);
                    return None;
                }
            },
        };
        let written = self.write_lone_packet(
            out,
            dcid,
            |o| Frame::PathChallenge(data).write(o),
            MIN_INITIAL_DATAGRAM,
            None,
            now,
        );
        let p = &mut self.paths.probes[i];
        p.pending = false;
        p.resend_at = now.saturating_add(p.resend_interval);
        p.resend_interval = p.resend_interval.saturating_mul(2);
        written.then_some(t)
    }

    /// A PATH_RESPONSE answering a probe (on any path, §8.2.2) validates
    /// the probed path; true when it was one.
    pub(super) fn on_probe_response(&mut self, data: [u8; 8]) -> bool {
        let Some(i) = self
            .paths
            .probes
            .iter()
            .position(|p| !p.validated && p.challenge == data)
        else {
            return false;
        };
        let p = &mut self.paths.probes[i];
        p.validated = true;
        p.pending = false;
        self.reports.events.push(Event::PathValidated {
            path: PathAddrs::boxed(p.local, p.remote),
        });
        if p.migrate {
            let p = self.paths.probes.remove(i);
            self.switch_to(p);
        }
        true
    }

    /// The probe timer: challenges due again go out, and paths that did
    /// not answer in time fail.
    pub(super) fn on_probe_timer(&mut self, now: u64) {
        let mut i = 0;
        while i < self.paths.probes.len() {
            let p = &mut self.paths.probes[i];
            if p.validated {
                i += 1;
            } else if now >= p.deadline {
                let p = self.paths.probes.remove(i);
                self.probe_failed(p, NO_ANSWER);
            } else {
                p.pending |= now >= p.resend_at;
                i += 1;
            }
        }
    }

    fn probe_failed(&mut self, p: Probe, reason: &'static str) {
        if let Some(seq) = p.cid_seq {
            self.peer_cids.release(seq);
        }
        self.reports.events.push(Event::PathFailed {
            path: PathAddrs::boxed(p.local, p.remote),
            reason,
        });
    }

    /// Moves the connection to the validated path `p`.
    fn switch_to(&mut self, p: Probe) {
        if let Some(seq) = p.cid_seq {
            if !self.peer_cids.promote(seq) {
                return self.probe_failed(p, CID_RETIRED);
            }
        }
        let a = &mut self.paths.active;
        let (old_local, old_remote) = (a.local, a.peer);
        a.move_to_validated(p.local, p.remote);
        if new_ip(old_local, a.local) || new_ip(old_remote, a.peer) {
            self.reset_path_state();
        }
        // The server moves when a non-probing packet comes from the new
        // address (§9.3): one goes now, data or a PING.
        let s = &mut self.spaces[Space::Application as usize];
        s.probes = s.probes.max(1);
        self.reports.events.push(Event::Migrated {
            path: PathAddrs::boxed(p.local, p.remote),
        });
    }
}
