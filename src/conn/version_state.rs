//! What version negotiation remembers (RFC 9368 compatible negotiation,
//! RFC 9369 QUIC v2, RFC 9000 §6 Version Negotiation packets).

use crate::crypto::DirectionalKeys;

/// Version negotiation state of a connection.
#[derive(Debug)]
pub(super) struct VersionState {
    /// The version of the client's first flight (RFC 9368 §2).
    pub(super) original: u32,
    /// Client: the version the server chose is known (RFC 9369 §4.1).
    pub(super) learned: bool,
    /// Client: this attempt follows a Version Negotiation packet.
    pub(super) reacted: bool,
    /// Server after compatible negotiation: Initial receive keys of the
    /// original version, until a Handshake packet arrives (RFC 9369 §4.1).
    pub(super) initial_open_original: Option<DirectionalKeys>,
}

impl VersionState {
    /// Before any packet: the first flight goes in `original`.
    pub(super) fn new(original: u32) -> Self {
        Self {
            original,
            learned: false,
            reacted: false,
            initial_open_original: None,
        }
    }
}
