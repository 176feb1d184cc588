//! What the application can do with connection IDs (RFC 9000 §5.1.2):
//! move to another of the peer's, or replace all of ours.

use super::cid::{RotateError, RouteChange};
use super::{ApiError, CloseState, Connection, Event};
use crate::cid::ConnectionId;

impl Connection {
    /// Moves to a connection ID of the peer's not used yet and retires the
    /// one in use (aioquic's `change_connection_id`, RFC 9000 §5.1.2), so
    /// that packets before and after cannot be linked by an observer.
    /// `NoConnectionId` when the peer has given no unused one (it sends
    /// more with NEW_CONNECTION_ID, up to our active_connection_id_limit,
    /// as it retires old ones); `InvalidState` before the handshake
    /// completed; `WouldBlock` while retirements wait to be sent.
    pub fn change_connection_id(&mut self) -> Result<(), ApiError> {
        if !matches!(self.close, CloseState::Open) {
            return Err(ApiError::Closing);
        }
        if !self.hs.is_complete() {
            return Err(ApiError::InvalidState(
                "connection IDs change after the handshake",
            ));
        }
        match self.peer_cids.change() {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::NoConnectionId),
            Err(()) => Err(ApiError::WouldBlock),
        }
    }

    /// Replaces every connection ID we gave the peer (RFC 9000 §5.1.2):
    /// issues as many new ones as the peer's active_connection_id_limit
    /// allows, with a Retire Prior To that makes the peer retire all the
    /// older ones. A server does this when the IDs it issued must stop
    /// being routed here (its routing key changes, or they are getting
    /// old). The old IDs keep working until the peer retires them, each
    /// reported as `ConnectionIdRetired`; the new ones come as
    /// `ConnectionIdIssued`. `WouldBlock` until the peer has retired all
    /// that the last call replaced (§5.1.2 asks not to raise Retire Prior
    /// To before that); `InvalidState` before the handshake completed, with
    /// zero-length IDs, or once the connection has issued all the IDs it
    /// ever will.
    pub fn rotate_connection_ids(&mut self) -> Result<(), ApiError> {
        if !matches!(self.close, CloseState::Open) {
            return Err(ApiError::Closing);
        }
        if !self.hs.is_complete() {
            return Err(ApiError::InvalidState(
                "connection IDs change after the handshake",
            ));
        }
        let limit = self
            .peer_params
            .as_ref()
            .map_or(2, |p| p.active_connection_id_limit);
        match self.local_cids.rotate(&*self.config.endpoint.random, limit) {
            Ok(new) => {
                for cid in new {
                    self.reports.events.push(Event::ConnectionIdIssued { cid });
                }
                Ok(())
            }
            Err(RotateError::InProgress) => Err(ApiError::WouldBlock),
            Err(RotateError::ZeroLength) => Err(ApiError::InvalidState(
                "zero-length connection IDs cannot be replaced",
            )),
            Err(RotateError::Exhausted) => Err(ApiError::InvalidState(
                "the connection has issued all the connection IDs it may",
            )),
        }
    }

    /// An endpoint routes this connection from now on: our connection IDs
    /// to route now; later changes come from `take_route_changes`.
    pub(crate) fn start_routing(&mut self) -> Vec<ConnectionId> {
        self.local_cids.start_routing()
    }

    /// The routing changes since the last call, into `out`.
    pub(crate) fn take_route_changes(&mut self, out: &mut Vec<RouteChange>) {
        self.local_cids.take_route_changes(out);
    }
}
