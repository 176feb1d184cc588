//! The connection IDs and the token a handshake checks and carries
//! (RFC 9000 §7.3, §8.1.2, §17.2.5): the client's original DCID, the one
//! the Initial keys come from, the peer's first SCID, and what a Retry
//! changed.

use crate::cid::ConnectionId;

/// What the handshake remembers of connection IDs and Retry.
#[derive(Debug)]
pub(super) struct HandshakeIds {
    /// The DCID of the client's first Initial (the ODCID check).
    pub(super) original_dcid: ConnectionId,
    /// The DCID the Initial keys come from (changes with a Retry); a server
    /// accepts packets addressed to it until the client switches.
    pub(super) initial_dcid: ConnectionId,
    /// The SCID of the peer's first packet (RFC 9000 §7.3 checks).
    pub(super) peer_initial_scid: ConnectionId,
    /// Server: the SCID of the Retry it sent (from the token).
    pub(super) retry_scid: Option<ConnectionId>,
    /// Client: a Retry was accepted; its SCID.
    pub(super) retry_accepted: Option<ConnectionId>,
    /// Client: the token its Initials carry (from a Retry or NEW_TOKEN).
    pub(super) token: Vec<u8>,
    /// Client: the server's SCID was learned from its first packet.
    pub(super) peer_cid_set: bool,
}

impl HandshakeIds {
    /// A connection's IDs before any packet: the original DCID, and for a
    /// server after a Retry, that Retry's SCID.
    pub(super) fn new(original_dcid: ConnectionId, retry_scid: Option<ConnectionId>) -> Self {
        Self {
            original_dcid,
            initial_dcid: original_dcid,
            peer_initial_scid: ConnectionId::default(),
            retry_scid,
            retry_accepted: None,
            token: Vec::new(),
            peer_cid_set: false,
        }
    }
}
