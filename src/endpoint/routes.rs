//! Which connection a datagram belongs to (RFC 9000 §5.2): by destination
//! connection ID in one hash map, or, for client connections whose own
//! IDs are zero-length, by the peer's address.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::cid::ConnectionId;

/// The routing tables of an endpoint; values are connection slots.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_cid: HashMap<ConnectionId, u32>,
    by_remote: HashMap<SocketAddr, u32>,
}

impl Routes {
    /// Routes `cid` to `slot`; false when it already goes elsewhere (a
    /// collision of random IDs: the first owner keeps it).
    pub(crate) fn add(&mut self, cid: ConnectionId, slot: u32) -> bool {
        *self.by_cid.entry(cid).or_insert(slot) == slot
    }

    /// Stops routing `cid`, if it went to `slot`.
    pub(crate) fn remove(&mut self, cid: &ConnectionId, slot: u32) {
        if self.by_cid.get(cid) == Some(&slot) {
            self.by_cid.remove(cid);
        }
    }

    /// Routes datagrams from `remote` with an empty DCID to `slot`; false
    /// when another connection has that peer already.
    pub(crate) fn add_remote(&mut self, remote: SocketAddr, slot: u32) -> bool {
        *self.by_remote.entry(remote).or_insert(slot) == slot
    }

    pub(crate) fn remove_remote(&mut self, remote: &SocketAddr, slot: u32) {
        if self.by_remote.get(remote) == Some(&slot) {
            self.by_remote.remove(remote);
        }
    }

    /// The connection of a datagram with destination ID `dcid` from
    /// `remote`.
    pub(crate) fn find(&self, dcid: &[u8], remote: SocketAddr) -> Option<u32> {
        if dcid.is_empty() {
            return self.by_remote.get(&remote).copied();
        }
        self.by_cid.get(&ConnectionId::new(dcid)?).copied()
    }

    /// Connection IDs routed.
    pub(crate) fn len(&self) -> usize {
        self.by_cid.len()
    }
}
