//! Streams through the C ABI: sending, opening, resetting and stopping
//! them, and reading at the application's pace (pausing a stream, or
//! crediting what was consumed).

use super::conn::{quic_conn, with_conn, with_conn_ref};
use super::result::*;

/// Queues `len` bytes on a stream (aioquic's `send_stream_data`); `fin`
/// ends the stream after them. A stream of ours opens implicitly on first
/// use. The data is copied.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_HANDSHAKE_PENDING` (a stream of ours before the handshake
/// brought the peer's stream limits: retry after HANDSHAKE_COMPLETED);
/// `QUIC_RESULT_STREAM_LIMIT` (the peer's MAX_STREAMS does not allow this
/// stream yet; QUIC_EVENT_TYPE_STREAMS_AVAILABLE says when it does);
/// `QUIC_RESULT_INVALID_STREAM`
/// (the peer's unidirectional stream, or a peer stream not opened);
/// `QUIC_RESULT_STREAM_FINISHED` (FIN already sent); `QUIC_RESULT_STREAM_RESET`
/// (reset, or the peer sent STOP_SENDING); `QUIC_RESULT_CLOSING`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `data` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_send(
    conn: *mut quic_conn,
    stream_id: u64,
    data: *const u8,
    len: usize,
    fin: bool,
) -> quic_result {
    with_conn(conn, |h| {
        let data = try_slice!(data, len);
        match h.conn.stream_send(stream_id, data, fin) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

/// Writes the bytes queued on a stream and not yet acknowledged by the
/// peer: what the stream's sending holds in memory. Send more once it has
/// dropped below what you are willing to buffer. 0 for a stream with no
/// send state (never used, or done and forgotten).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_bytes` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_send_buffered(
    conn: *const quic_conn,
    stream_id: u64,
    out_bytes: *mut u64,
) -> quic_result {
    with_conn_ref(conn, |h| {
        let out = try_out!(out_bytes);
        *out = h.conn.stream_send_buffered(stream_id);
        QUIC_RESULT_OK
    })
}

/// Abandons sending on a stream with RESET_STREAM and `error_code`
/// (aioquic's `reset_stream`). Resetting twice does nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a value above 2^62 - 1);
/// `QUIC_RESULT_HANDSHAKE_PENDING`; `QUIC_RESULT_STREAM_LIMIT`;
/// `QUIC_RESULT_INVALID_STREAM`;
/// `QUIC_RESULT_STREAM_FINISHED` (an old stream already forgotten);
/// `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_reset(
    conn: *mut quic_conn,
    stream_id: u64,
    error_code: u64,
) -> quic_result {
    with_conn(conn, |h| match h.conn.stream_reset(stream_id, error_code) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Asks the peer to stop sending on a stream with STOP_SENDING and
/// `error_code` (aioquic's `stop_stream`); data still arriving is dropped.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT`; `QUIC_RESULT_INVALID_STREAM` (our
/// unidirectional stream, or a stream never opened); `QUIC_RESULT_CLOSING`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_stop(
    conn: *mut quic_conn,
    stream_id: u64,
    error_code: u64,
) -> quic_result {
    with_conn(conn, |h| match h.conn.stream_stop(stream_id, error_code) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Opens our next stream, bidirectional or `unidirectional`, and writes
/// its ID: the ID is reserved, so the next call opens another (quinn's
/// `open_bi` / `open_uni`). Send on it with `quic_conn_stream_send`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_HANDSHAKE_PENDING` (the handshake has not brought the
/// peer's stream limits yet); `QUIC_RESULT_STREAM_LIMIT` (the peer's
/// MAX_STREAMS allows no more now; QUIC_EVENT_TYPE_STREAMS_AVAILABLE says
/// when it does); `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_stream_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_open_stream(
    conn: *mut quic_conn,
    unidirectional: bool,
    out_stream_id: *mut u64,
) -> quic_result {
    with_conn(conn, |h| {
        let out = try_out!(out_stream_id);
        match h.conn.open_stream(unidirectional) {
            Ok(sid) => {
                *out = sid;
                QUIC_RESULT_OK
            }
            Err(e) => api_error_code(e),
        }
    })
}

/// Writes the next unused stream ID of ours, bidirectional or
/// `unidirectional` (aioquic's `get_next_available_stream_id`). A peek:
/// nothing is reserved, and two calls give the same ID until that stream
/// is used. To take IDs for several streams up front, use
/// `quic_conn_open_stream`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_stream_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_next_stream_id(
    conn: *const quic_conn,
    unidirectional: bool,
    out_stream_id: *mut u64,
) -> quic_result {
    with_conn_ref(conn, |h| {
        let out = try_out!(out_stream_id);
        *out = h.conn.next_stream_id(unidirectional);
        QUIC_RESULT_OK
    })
}

/// Says that the application is done with `len` more bytes of a stream's
/// data (taken in QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED events), so the peer may
/// send that much more: the stream's MAX_STREAM_DATA and the connection's
/// MAX_DATA move at this pace, and windows still grow while consuming
/// keeps up. Only with `QUIC_RECEIVE_CREDIT_ON_CONSUME`
/// (`quic_config_set_receive_credit`). Consume in any steps, in stream
/// order or not; the total may not exceed what was delivered. A stream
/// whose FIN was delivered is kept until all of it is consumed (and so
/// holds its place under the peer's stream limit). After a stream's reset
/// was reported, or once it is forgotten, the call does nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STATE` (credit is given on poll);
/// `QUIC_RESULT_INVALID_STREAM` (more than delivered and not yet consumed,
/// a stream with no receive side, or not opened); `QUIC_RESULT_CLOSING`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_consumed(
    conn: *mut quic_conn,
    stream_id: u64,
    len: u64,
) -> quic_result {
    with_conn(conn, |h| match h.conn.stream_consumed(stream_id, len) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Stops delivering a stream's data: what arrives stays in the library,
/// is not credited, and the peer stops sending on the stream when its
/// window is full (the bytes held stay within that window). Other streams
/// flow on, within the connection's window. Events already queued are
/// still delivered; a reset of the stream is still reported. Pausing a
/// paused stream, or one that has ended, does nothing.
///
/// Use it to match the pace of whatever the data goes to: pause when the
/// output is backed up (e.g. `quic_conn_stream_send_buffered` on the
/// stream you echo into is high), resume when it has drained.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STREAM` (no receive side, or not opened);
/// `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_pause_reading(
    conn: *mut quic_conn,
    stream_id: u64,
) -> quic_result {
    with_conn(conn, |h| match h.conn.stream_pause_reading(stream_id) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Delivers a paused stream's data again: what waited is queued as
/// QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED events at once (poll them), and credit
/// follows as usual.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STREAM` (no receive side, or not opened);
/// `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_resume_reading(
    conn: *mut quic_conn,
    stream_id: u64,
) -> quic_result {
    with_conn(conn, |h| match h.conn.stream_resume_reading(stream_id) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}
