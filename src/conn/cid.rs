//! Connection IDs of a connection (RFC 9000 §5.1): the ones we issue, and
//! the ones the peer issued to us, each bounded.

use crate::cid::ConnectionId;
use crate::crypto::random::RandomSource;
use crate::error::{code, TransportError};
use crate::frame::kind;

/// The active_connection_id_limit we advertise (aioquic's value).
pub(crate) const LOCAL_ACTIVE_CID_LIMIT: u64 = 8;

/// Connection IDs we issue over a connection's life at most: a peer that
/// keeps retiring them cannot make us mint (and report) new ones forever.
const MAX_ISSUED: u64 = 1024;

/// RETIRE_CONNECTION_ID frames the peer's Retire Prior To may make us
/// queue at most before we call it abusive (RFC 9000 §5.1.2 lets us limit
/// this). The ones we owe for our own changes are counted apart, so they
/// never count against the peer.
const MAX_PENDING_RETIRES: usize = 32;

/// A new random connection ID of `len` bytes.
pub(crate) fn random_cid(rng: &dyn RandomSource, len: usize) -> ConnectionId {
    let mut b = [0u8; 20];
    rng.fill(&mut b[..len]);
    ConnectionId::new(&b[..len]).unwrap_or_default()
}

/// A random CID of `len` bytes and its stateless reset token: one draw
/// from the generator.
fn draw_cid(rng: &dyn RandomSource, len: usize) -> (ConnectionId, [u8; 16]) {
    let mut random = [0u8; 20 + 16];
    rng.fill(&mut random[..]);
    let mut token = [0u8; 16];
    token.copy_from_slice(&random[20..]);
    let cid = ConnectionId::new(&random[..len.min(20)]).unwrap_or_default();
    (cid, token)
}

/// A change an endpoint routing this connection must apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteChange {
    /// A connection ID was issued: route it here.
    Add(ConnectionId),
    /// The peer retired it: stop routing it.
    Remove(ConnectionId),
}

/// Why our connection IDs cannot be replaced now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotateError {
    /// We use zero-length CIDs: there is nothing to replace.
    ZeroLength,
    /// The peer has not yet retired every CID the last rotation replaced.
    InProgress,
    /// The connection issued as many CIDs as it ever will (`MAX_ISSUED`).
    Exhausted,
}

/// One of our connection IDs.
#[derive(Debug, Clone)]
pub(crate) struct LocalCid {
    pub(crate) seq: u64,
    pub(crate) cid: ConnectionId,
    pub(crate) reset_token: [u8; 16],
    /// NEW_CONNECTION_ID must be (re)sent.
    pub(crate) announce: bool,
}

/// The application's CID generator (opaque to `Debug`).
#[derive(Clone)]
struct Generator(crate::config::CidGeneratorFn);

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Generator")
    }
}

/// The connection IDs we issued and that are not retired.
#[derive(Debug)]
pub(crate) struct LocalCids {
    pub(crate) active: Vec<LocalCid>,
    next_seq: u64,
    len: usize,
    /// The Retire Prior To we asked the peer for: CIDs below it stay
    /// routable until the peer retires them (RFC 9000 §5.1.2).
    retire_prior_to: u64,
    /// Reset tokens come from this key and the CID (RFC 9000 §10.3.2)
    /// rather than from the random draw.
    reset_key: Option<[u8; 32]>,
    /// The application makes the CIDs (`Config::set_cid_generator`).
    generator: Option<Generator>,
    /// Routing changes not yet taken by the endpoint that routes this
    /// connection; None when no endpoint does (nothing is recorded).
    /// Bounded: taken after every call, and CIDs are issued at most
    /// `MAX_ISSUED` times.
    route_changes: Option<Vec<RouteChange>>,
}

impl LocalCids {
    /// The CID of our first packets (sequence number 0), of the
    /// configured length, and its reset token, as `config` says to make
    /// them (random, or the generator's; token drawn or derived).
    pub(crate) fn generate(config: &crate::config::Config) -> Self {
        let (cid, token) = draw_cid(
            &*config.endpoint.random,
            config.endpoint.connection_id_length,
        );
        let mut cids = Self::new(cid, token);
        cids.reset_key = config.endpoint.reset_key;
        cids.generator = config.endpoint.cid_generator.clone().map(Generator);
        let cid = cids.made(cid);
        cids.active[0].cid = cid;
        cids.active[0].reset_token = cids.token(&cid, token);
        cids
    }

    /// The CID to issue: the generator's, or the random `drawn` one.
    fn made(&self, drawn: ConnectionId) -> ConnectionId {
        match &self.generator {
            Some(Generator(generate)) if self.len > 0 => {
                // The generator shapes random bytes (what it leaves stays
                // random).
                let mut b = [0u8; 20];
                let n = drawn.len().min(self.len);
                b[..n].copy_from_slice(&drawn[..n]);
                generate(&mut b[..self.len]);
                ConnectionId::new(&b[..self.len]).unwrap_or(drawn)
            }
            _ => drawn,
        }
    }

    /// Starts recording routing changes; the CIDs to route now.
    pub(crate) fn start_routing(&mut self) -> Vec<ConnectionId> {
        self.route_changes = Some(Vec::new());
        self.active.iter().map(|c| c.cid).collect()
    }

    /// Moves the routing changes since the last call into `out`.
    pub(crate) fn take_route_changes(&mut self, out: &mut Vec<RouteChange>) {
        if let Some(changes) = &mut self.route_changes {
            out.append(changes);
        }
    }

    fn record(&mut self, change: RouteChange) {
        if let Some(changes) = &mut self.route_changes {
            changes.push(change);
        }
    }

    /// The reset token of `cid`: derived from the key, or `drawn`.
    fn token(&self, cid: &[u8], drawn: [u8; 16]) -> [u8; 16] {
        match &self.reset_key {
            Some(key) => crate::crypto::stateless_reset_token(key, cid),
            None => drawn,
        }
    }

    /// Starts with `initial` as sequence number 0.
    pub(crate) fn new(initial: ConnectionId, token: [u8; 16]) -> Self {
        Self {
            active: vec![LocalCid {
                seq: 0,
                cid: initial,
                reset_token: token,
                announce: false,
            }],
            next_seq: 1,
            len: initial.len(),
            retire_prior_to: 0,
            reset_key: None,
            generator: None,
            route_changes: None,
        }
    }

    /// The Retire Prior To field for the NEW_CONNECTION_ID of `seq`: never
    /// above `seq` (RFC 9000 §19.15), so a late resend of an old CID still
    /// makes a valid frame, which the peer then retires at once.
    pub(crate) fn retire_prior_to_for(&self, seq: u64) -> u64 {
        self.retire_prior_to.min(seq)
    }

    /// CIDs the peer can still use: not below our Retire Prior To.
    fn usable(&self) -> usize {
        self.active
            .iter()
            .filter(|c| c.seq >= self.retire_prior_to)
            .count()
    }

    /// Replaces every CID the peer holds (RFC 9000 §5.1.2): issues `limit`
    /// new ones and asks the peer to retire all older ones with Retire
    /// Prior To. The old ones keep routing until the peer retires them.
    /// Returns the new CIDs.
    pub(crate) fn rotate(
        &mut self,
        rng: &dyn RandomSource,
        limit: u64,
    ) -> Result<Vec<ConnectionId>, RotateError> {
        if self.len == 0 {
            return Err(RotateError::ZeroLength);
        }
        // §5.1.2: no new Retire Prior To before the last one is done.
        if self.active.iter().any(|c| c.seq < self.retire_prior_to) {
            return Err(RotateError::InProgress);
        }
        if self.next_seq.saturating_add(LOCAL_ACTIVE_CID_LIMIT) > MAX_ISSUED {
            return Err(RotateError::Exhausted);
        }
        self.retire_prior_to = self.next_seq;
        Ok(self.replenish(rng, limit))
    }

    /// True when `cid` is one of ours.
    pub(crate) fn contains(&self, cid: &[u8]) -> bool {
        self.active.iter().any(|c| &*c.cid == cid)
    }

    /// Issues the CID of our preferred address (sequence number 1, RFC 9000
    /// §18.2), carried in the transport parameter rather than
    /// NEW_CONNECTION_ID; None with zero-length CIDs or when issued
    /// already.
    pub(crate) fn issue_for_preferred_address(
        &mut self,
        rng: &dyn RandomSource,
    ) -> Option<LocalCid> {
        if self.len == 0 || self.next_seq != 1 {
            return None;
        }
        let (cid, drawn) = draw_cid(rng, self.len);
        let cid = self.made(cid);
        let reset_token = self.token(&cid, drawn);
        let c = LocalCid {
            seq: 1,
            cid,
            reset_token,
            announce: false,
        };
        self.active.push(c.clone());
        self.next_seq = 2;
        self.record(RouteChange::Add(cid));
        Some(c)
    }

    /// Issues CIDs until `limit` are active; returns the new ones.
    pub(crate) fn replenish(&mut self, rng: &dyn RandomSource, limit: u64) -> Vec<ConnectionId> {
        let mut new = Vec::new();
        if self.len == 0 {
            return new; // RFC 9000 §5.1.1: zero-length CIDs are never replaced.
        }
        let limit = limit.min(LOCAL_ACTIVE_CID_LIMIT) as usize;
        // One draw from the generator for every CID and token: each call
        // has a fixed cost that dominated issuing them.
        const EACH: usize = 20 + 16;
        let mut random = [0u8; LOCAL_ACTIVE_CID_LIMIT as usize * EACH];
        let count = limit.saturating_sub(self.usable());
        rng.fill(&mut random[..count * EACH]);
        let mut draws = random[..count * EACH].chunks_exact(EACH);
        while self.next_seq < MAX_ISSUED {
            let Some(draw) = draws.next() else { break };
            let cid = self.made(ConnectionId::new(&draw[..self.len]).unwrap_or_default());
            let mut drawn = [0u8; 16];
            drawn.copy_from_slice(&draw[20..]);
            let reset_token = self.token(&cid, drawn);
            self.active.push(LocalCid {
                seq: self.next_seq,
                cid,
                reset_token,
                announce: true,
            });
            self.next_seq += 1;
            new.push(cid);
            self.record(RouteChange::Add(cid));
        }
        new
    }

    /// The peer retired `seq`, received in a packet addressed to
    /// `packet_dcid` (RFC 9000 §19.16).
    pub(crate) fn retire(
        &mut self,
        seq: u64,
        packet_dcid: &[u8],
    ) -> Result<Option<ConnectionId>, TransportError> {
        if seq >= self.next_seq {
            return Err(TransportError::protocol_violation(
                kind::RETIRE_CONNECTION_ID,
                "retiring a connection ID never issued",
            ));
        }
        let Some(i) = self.active.iter().position(|c| c.seq == seq) else {
            return Ok(None); // already retired
        };
        if &*self.active[i].cid == packet_dcid {
            return Err(TransportError::protocol_violation(
                kind::RETIRE_CONNECTION_ID,
                "retiring the connection ID in use",
            ));
        }
        let cid = self.active.remove(i).cid;
        self.record(RouteChange::Remove(cid));
        Ok(Some(cid))
    }
}

/// A connection ID the peer gave us.
#[derive(Debug, Clone)]
pub(crate) struct PeerCid {
    pub(crate) seq: u64,
    pub(crate) cid: ConnectionId,
    pub(crate) reset_token: Option<[u8; 16]>,
    /// Set aside for a path being probed (RFC 9000 §9.5).
    pub(crate) reserved: bool,
}

/// The peer's connection IDs: the one in use first.
#[derive(Debug)]
pub(crate) struct PeerCids {
    pub(crate) active: Vec<PeerCid>,
    retire_prior_to: u64,
    /// RETIRE_CONNECTION_ID owed for IDs the peer's Retire Prior To
    /// removed: at most `MAX_PENDING_RETIRES`, past which the peer is at
    /// fault.
    retire_asked: Vec<u64>,
    /// RETIRE_CONNECTION_ID owed for IDs we stopped using ourselves
    /// (changes, probes, resends of lost frames): bounded by the callers
    /// (`change` refuses past `MAX_PENDING_RETIRES`, probes are few).
    retire_ours: Vec<u64>,
}

impl PeerCids {
    /// Starts with the CID the peer used in its first packets.
    pub(crate) fn new(initial: ConnectionId) -> Self {
        Self {
            active: vec![PeerCid {
                seq: 0,
                cid: initial,
                reset_token: None,
                reserved: false,
            }],
            retire_prior_to: 0,
            retire_asked: Vec::new(),
            retire_ours: Vec::new(),
        }
    }

    /// The next sequence number owed a RETIRE_CONNECTION_ID.
    pub(crate) fn next_retire(&self) -> Option<u64> {
        self.retire_ours
            .last()
            .or(self.retire_asked.last())
            .copied()
    }

    /// The RETIRE_CONNECTION_ID of `next_retire` was sent.
    pub(crate) fn retire_sent(&mut self) {
        if self.retire_ours.pop().is_none() {
            self.retire_asked.pop();
        }
    }

    /// A RETIRE_CONNECTION_ID was lost: it is owed again. Not the peer's
    /// doing, and bounded by what was sent.
    pub(crate) fn retire_lost(&mut self, seq: u64) {
        self.retire_ours.push(seq);
    }

    /// The CID to send with.
    pub(crate) fn current(&self) -> ConnectionId {
        self.active.first().map(|c| c.cid).unwrap_or_default()
    }

    /// Replaces the initial CID (a client learning the server's, or after
    /// Retry); sequence 0 stays.
    pub(crate) fn set_initial(&mut self, cid: ConnectionId) {
        if let Some(c) = self.active.first_mut() {
            c.cid = cid;
        }
    }

    /// True when `tail` (a datagram's last 16 bytes) is the stateless reset
    /// token of the connection ID we send with (RFC 9000 §10.3.1: only IDs
    /// in use, compared without a timing signal).
    pub(crate) fn is_stateless_reset(&self, tail: &[u8]) -> bool {
        let Some(token) = self.active.first().and_then(|c| c.reset_token) else {
            return false;
        };
        if tail.len() != token.len() {
            return false;
        }
        let diff = token
            .iter()
            .zip(tail)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        // Every byte is compared; black_box keeps the compiler from
        // turning this into an early-exit comparison.
        std::hint::black_box(diff) == 0
    }

    /// The server's preferred_address parameter gave `cid` with sequence
    /// number 1 (RFC 9000 §18.2), to use like one from NEW_CONNECTION_ID.
    pub(crate) fn add_preferred(&mut self, cid: ConnectionId, reset_token: [u8; 16]) {
        if self.active.iter().all(|c| c.seq != 1) {
            self.active.push(PeerCid {
                seq: 1,
                cid,
                reset_token: Some(reset_token),
                reserved: false,
            });
            self.active[1..].sort_by_key(|c| c.seq);
        }
    }

    /// Sets the stateless reset token of sequence 0 (server's transport
    /// parameter).
    pub(crate) fn set_initial_token(&mut self, token: [u8; 16]) {
        if let Some(c) = self.active.iter_mut().find(|c| c.seq == 0) {
            c.reset_token = Some(token);
        }
    }

    /// A NEW_CONNECTION_ID frame (RFC 9000 §19.15, §5.1.2).
    pub(crate) fn on_new(
        &mut self,
        seq: u64,
        retire_prior_to: u64,
        cid: &[u8],
        reset_token: [u8; 16],
        limit: u64,
    ) -> Result<(), TransportError> {
        let cid = ConnectionId::new(cid).ok_or_else(|| {
            TransportError::frame_encoding(kind::NEW_CONNECTION_ID, "connection ID too long")
        })?;
        if let Some(existing) = self.active.iter().find(|c| c.seq == seq) {
            if existing.cid != cid {
                return Err(TransportError::protocol_violation(
                    kind::NEW_CONNECTION_ID,
                    "sequence number reused for another connection ID",
                ));
            }
            return Ok(()); // a retransmission
        }
        if seq < self.retire_prior_to {
            // Already retired by an earlier Retire Prior To: retire it too.
            self.queue_retire(seq)?;
            return Ok(());
        }
        self.active.push(PeerCid {
            seq,
            cid,
            reset_token: Some(reset_token),
            reserved: false,
        });
        if retire_prior_to > self.retire_prior_to {
            self.retire_prior_to = retire_prior_to;
            let old: Vec<u64> = self
                .active
                .iter()
                .filter(|c| c.seq < retire_prior_to)
                .map(|c| c.seq)
                .collect();
            self.active.retain(|c| c.seq >= retire_prior_to);
            for s in old {
                self.queue_retire(s)?;
            }
            self.active.sort_by_key(|c| c.seq);
            // The one in use is never one a probe set aside, if avoidable.
            if let Some(i) = self.active.iter().position(|c| !c.reserved) {
                self.active[..=i].rotate_right(1);
            }
        }
        if self.active.len() as u64 > limit {
            return Err(TransportError::new(
                code::CONNECTION_ID_LIMIT_ERROR,
                kind::NEW_CONNECTION_ID,
                "too many active connection IDs",
            ));
        }
        Ok(())
    }

    /// Moves to another connection ID of the peer's and queues the one in
    /// use for RETIRE_CONNECTION_ID (RFC 9000 §5.1.2). `Ok(false)` when
    /// the peer has given no other; `Err` while too many retirements
    /// wait to be sent.
    pub(crate) fn change(&mut self) -> Result<bool, ()> {
        let Some(i) = self.active.iter().skip(1).position(|c| !c.reserved) else {
            return Ok(false);
        };
        if self.retire_ours.len() >= MAX_PENDING_RETIRES {
            return Err(());
        }
        let old = self.active.remove(0);
        self.active[..=i].rotate_right(1);
        self.retire_ours.push(old.seq);
        Ok(true)
    }

    /// Sets an unused CID aside for a new path (RFC 9000 §9.5: a client
    /// never uses one CID from two local addresses), the one with sequence
    /// number `seq` if given; its sequence number.
    pub(crate) fn reserve(&mut self, seq: Option<u64>) -> Option<u64> {
        let c = self
            .active
            .iter_mut()
            .skip(1)
            .find(|c| !c.reserved && seq.is_none_or(|s| s == c.seq))?;
        c.reserved = true;
        Some(c.seq)
    }

    /// The CID with sequence number `seq`, unless the peer retired it
    /// (Retire Prior To).
    pub(crate) fn get(&self, seq: u64) -> Option<ConnectionId> {
        self.active.iter().find(|c| c.seq == seq).map(|c| c.cid)
    }

    /// A probed path is given up: its CID is retired (RFC 9000 §5.1.2).
    /// At most one per probe, so the queue stays bounded.
    pub(crate) fn release(&mut self, seq: u64) {
        if let Some(i) = self.active.iter().skip(1).position(|c| c.seq == seq) {
            self.active.remove(i + 1);
            self.retire_ours.push(seq);
        }
    }

    /// The connection moves to the path that set `seq` aside: that CID is
    /// the one in use, and the old one is retired. False when the peer
    /// retired `seq` meanwhile.
    pub(crate) fn promote(&mut self, seq: u64) -> bool {
        let Some(i) = self.active.iter().position(|c| c.seq == seq) else {
            return false;
        };
        if i > 0 {
            let old = self.active.remove(0);
            self.active[..i].rotate_right(1);
            self.retire_ours.push(old.seq);
        }
        self.active[0].reserved = false;
        true
    }

    fn queue_retire(&mut self, seq: u64) -> Result<(), TransportError> {
        if self.retire_asked.len() >= MAX_PENDING_RETIRES {
            return Err(TransportError::new(
                code::CONNECTION_ID_LIMIT_ERROR,
                kind::NEW_CONNECTION_ID,
                "too many connection IDs to retire",
            ));
        }
        self.retire_asked.push(seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random::SystemRandom;

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::new(&[b; 8]).unwrap()
    }

    #[test]
    fn local_cids_are_issued_up_to_the_limit_and_retired() {
        let mut l = LocalCids::new(cid(1), [0; 16]);
        let new = l.replenish(&SystemRandom, 4);
        assert_eq!(new.len(), 3);
        assert_eq!(
            l.replenish(&SystemRandom, 100).len(),
            4,
            "capped at our own limit of 8"
        );
        let in_use = l.active[0].cid;
        assert!(l.retire(0, &in_use).is_err(), "the CID in use");
        assert!(l.retire(99, &in_use).is_err(), "never issued");
        assert_eq!(l.retire(1, &in_use).unwrap(), Some(new[0]));
        assert_eq!(l.retire(1, &in_use).unwrap(), None, "twice");
        assert_eq!(
            LocalCids::new(ConnectionId::default(), [0; 16])
                .replenish(&SystemRandom, 8)
                .len(),
            0
        );
    }

    #[test]
    fn peer_cids_follow_the_limits() {
        let mut p = PeerCids::new(cid(1));
        p.on_new(1, 0, &[2; 8], [0; 16], 2).unwrap();
        p.on_new(1, 0, &[2; 8], [0; 16], 2).unwrap(); // retransmission
        assert!(
            p.on_new(1, 0, &[3; 8], [0; 16], 2).is_err(),
            "reused sequence"
        );
        let e = p.on_new(2, 0, &[4; 8], [0; 16], 2).unwrap_err();
        assert_eq!(e.code, code::CONNECTION_ID_LIMIT_ERROR);
    }

    #[test]
    fn retire_prior_to_switches_the_current_cid() {
        let mut p = PeerCids::new(cid(1));
        p.on_new(1, 1, &[2; 8], [0; 16], 8).unwrap();
        assert_eq!(p.current(), ConnectionId::new(&[2; 8]).unwrap());
        assert_eq!(p.next_retire(), Some(0));
        // A late frame below Retire Prior To is retired straight away.
        p.on_new(0, 0, &[1; 8], [0; 16], 8).unwrap();
    }

    #[test]
    fn only_retirements_the_peer_asked_for_count_against_it() {
        let mut p = PeerCids::new(cid(0));
        for seq in 1..8 {
            p.on_new(seq, 0, &[seq as u8; 8], [0; 16], 8).unwrap();
        }
        for _ in 0..3 {
            assert_eq!(p.change(), Ok(true));
        }
        // Our three retirements are owed; the peer's Retire Prior To now
        // removes its five remaining IDs, then one ID per frame.
        let mut seq = 8u64;
        let mut asked = 0;
        while asked < MAX_PENDING_RETIRES {
            let before = p.active.len();
            p.on_new(seq, seq, &[seq as u8; 8], [0; 16], 8)
                .expect("within the limit on what the peer asked");
            asked += before; // every older ID went
            seq += 1;
        }
        assert_eq!(asked, MAX_PENDING_RETIRES);
        let e = p.on_new(seq, seq, &[seq as u8; 8], [0; 16], 8).unwrap_err();
        assert_eq!(e.code, code::CONNECTION_ID_LIMIT_ERROR);
        // Ours are sent first, then the peer's.
        assert_eq!(p.next_retire(), Some(2));
        for _ in 0..3 {
            p.retire_sent();
        }
        assert_eq!(p.next_retire(), Some(seq - 2));
    }

    #[test]
    fn rotation_replaces_every_local_cid_once_at_a_time() {
        let mut l = LocalCids::new(cid(1), [0; 16]);
        l.replenish(&SystemRandom, 4);
        assert_eq!(l.retire_prior_to_for(3), 0);
        let new = l.rotate(&SystemRandom, 4).unwrap();
        assert_eq!(new.len(), 4, "a full set for the peer");
        assert_eq!(l.active.len(), 8, "the old ones route until retired");
        // Frames for the new IDs carry Retire Prior To 4; a resend of an
        // old one never claims more than its own sequence number.
        assert_eq!(l.retire_prior_to_for(5), 4);
        assert_eq!(l.retire_prior_to_for(2), 2);
        assert_eq!(l.rotate(&SystemRandom, 4), Err(RotateError::InProgress));
        let in_use = new[0];
        for seq in 0..4 {
            assert!(l.retire(seq, &in_use).unwrap().is_some());
        }
        assert!(
            l.replenish(&SystemRandom, 4).is_empty(),
            "the peer holds a full set of new ones"
        );
        assert_eq!(l.rotate(&SystemRandom, 4).unwrap().len(), 4);
        assert_eq!(
            LocalCids::new(ConnectionId::default(), [0; 16]).rotate(&SystemRandom, 4),
            Err(RotateError::ZeroLength)
        );
    }
}
