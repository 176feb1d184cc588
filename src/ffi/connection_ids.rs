//! Connection IDs over the C API (RFC 9000 §5.1.2): move to another of
//! the peer's, or replace all of ours.

use super::conn::{quic_conn, with_conn};
use super::result::*;

/// Moves the connection to a connection ID of the peer's not used yet
/// and retires the one in use (aioquic's `change_connection_id`, RFC 9000
/// §5.1.2): packets before and after cannot be linked by an observer on
/// the path. The peer sends new IDs as old ones are retired.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_NO_CONNECTION_ID` (none unused yet: retry after more
/// traffic); `QUIC_RESULT_INVALID_STATE` (before the handshake
/// completed); `QUIC_RESULT_WOULD_BLOCK` (retirements wait to be sent:
/// send first); `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_change_connection_id(conn: *mut quic_conn) -> quic_result {
    with_conn(conn, |h| match h.conn.change_connection_id() {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Replaces every connection ID this endpoint gave the peer (RFC 9000
/// §5.1.2): new ones are issued, as many as the peer's
/// active_connection_id_limit allows, and the peer is asked (Retire Prior
/// To) to retire all the older ones. A server does this when its IDs must
/// stop being routed to this connection: its routing key changes, or they
/// have been in use for long. A CONNECTION_ID_ISSUED event comes for each
/// new ID (route it here); the old IDs keep working until the peer retires
/// each, reported as CONNECTION_ID_RETIRED (stop routing it).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_WOULD_BLOCK` (the peer has not yet retired every ID the
/// last call replaced: RFC 9000 §5.1.2 asks to wait);
/// `QUIC_RESULT_INVALID_STATE` (before the handshake completed, with
/// zero-length connection IDs, or after 1024 IDs issued over the
/// connection's life); `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_rotate_connection_ids(conn: *mut quic_conn) -> quic_result {
    with_conn(conn, |h| match h.conn.rotate_connection_ids() {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}
