//! Reading streams through the C ABI, at the application's pace: data in
//! events (credited when taken, or when the application says it consumed
//! it; a stream can be paused), or kept in the library until the
//! application reads it.

use super::config::{quic_config, with_config};
use super::conn::{quic_conn, with_conn};
use super::result::*;

/// How the application receives stream data (`quic_config_set_receive_mode`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_receive_mode {
    /// In QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED events, as it arrives (the
    /// default, as in aioquic): no copy, the event points at the received
    /// bytes. What the application holds is its own business; pause a
    /// stream or credit on consume to make the peer wait.
    Events = 0,
    /// Kept in the library until `quic_conn_stream_read` copies it into
    /// the application's buffer; QUIC_EVENT_TYPE_STREAM_READABLE says when
    /// a stream has some. Credit goes back to the peer as bytes are read,
    /// so what a stream holds never exceeds its window (at most
    /// `quic_config_set_max_windows`'s per-stream value), however fast the
    /// peer sends and however slowly the application reads.
    Read = 1,
}

/// Chooses how the application receives stream data, for every stream of
/// the connections made from `config`: `QUIC_RECEIVE_MODE_EVENTS` (0, the
/// default) or `QUIC_RECEIVE_MODE_READ` (1). Events suit an application
/// that handles data as it comes (aioquic's model, and no copy). Read
/// suits one that moves data to a slower place (a proxy, a file, a slow
/// client) or serves many streams and must bound its memory: the
/// library then holds at most one window per stream, and the peer waits.
/// In read mode `quic_config_set_receive_credit` does not apply, and
/// pausing a stream holds back its READABLE events.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (another value).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_receive_mode(
    config: *mut quic_config,
    mode: u32,
) -> quic_result {
    use crate::config::ReceiveMode;
    with_config(config, "quic_config_set_receive_mode", |h| {
        let mode = match mode {
            x if x == quic_receive_mode::Events as u32 => ReceiveMode::Events,
            x if x == quic_receive_mode::Read as u32 => ReceiveMode::Read,
            _ => {
                h.set_error(&format!(
                    "quic_config_set_receive_mode: {mode} is not a quic_receive_mode (0 or 1)"
                ));
                return QUIC_RESULT_INVALID_ARGUMENT;
            }
        };
        h.apply(|c| {
            c.set_receive_mode(mode);
            Ok(())
        })
    })
}

/// Copies up to `cap` bytes of a stream's next in-order data into `buf`
/// (`QUIC_RECEIVE_MODE_READ` only) and gives them back to the peer as
/// flow-control credit. On `QUIC_RESULT_OK`, `*out_len` bytes were copied
/// and `*out_fin` says whether the stream ends with them (a bare FIN reads
/// as 0 bytes with `*out_fin` true). `QUIC_RESULT_DONE`: nothing to read
/// yet; a QUIC_EVENT_TYPE_STREAM_READABLE event comes when there is. Read
/// until DONE after each READABLE event: the next one comes only when new
/// data arrives after a read. Data that arrived before the connection
/// closed can still be read.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE`;
/// `QUIC_RESULT_NULL_PARAMETER` (`buf` NULL with `cap` > 0, or an out
/// pointer NULL); `QUIC_RESULT_INVALID_STATE` (the connection receives
/// in events); `QUIC_RESULT_INVALID_STREAM` (no receive side, or not
/// opened); `QUIC_RESULT_STREAM_FINISHED` (the stream is over: read to
/// its end, or reset by the peer, which the QUIC_EVENT_TYPE_STREAM_RESET
/// event reports with its code; a reset drops what was not read);
/// `QUIC_RESULT_STREAM_RESET` (reset, before that event was queued);
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `buf` NULL or writable for `cap`
/// bytes; `out_len` and `out_fin` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_read(
    conn: *mut quic_conn,
    stream_id: u64,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_fin: *mut bool,
) -> quic_result {
    with_conn(conn, |h| {
        let len = try_out!(out_len);
        let fin = try_out!(out_fin);
        let buf: &mut [u8] = if cap == 0 {
            &mut []
        } else if buf.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        } else {
            // SAFETY: `buf` is non-null and writable for `cap` bytes per
            // the contract.
            unsafe { std::slice::from_raw_parts_mut(buf, cap) }
        };
        match h.conn.stream_read(stream_id, buf) {
            Ok(Some((n, end))) => {
                (*len, *fin) = (n, end);
                QUIC_RESULT_OK
            }
            Ok(None) => {
                (*len, *fin) = (0, false);
                QUIC_RESULT_DONE
            }
            Err(e) => api_error_code(e),
        }
    })
}

/// When data received on a stream is credited back to the peer (the
/// MAX_STREAM_DATA and MAX_DATA it may send up to).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_receive_credit {
    /// As soon as the application takes the QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED
    /// event (aioquic's way; the default). Right for an application that
    /// is done with the bytes when it handles the event.
    OnPoll = 0,
    /// Only when the application says so with `quic_conn_stream_consumed`:
    /// the peer sends at the pace the application works at, and the bytes
    /// it holds unconsumed never exceed the stream's window (see
    /// `quic_config_set_max_windows`). For a proxy writing to a slower
    /// socket, or anything that keeps event data to work on later.
    OnConsume = 1,
}

/// Chooses when received stream data is credited back to the peer:
/// `QUIC_RECEIVE_CREDIT_ON_POLL` (0, the default) or
/// `QUIC_RECEIVE_CREDIT_ON_CONSUME` (1). Either way a stream can be paused
/// with `quic_conn_stream_pause_reading`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (another value).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_receive_credit(
    config: *mut quic_config,
    credit: u32,
) -> quic_result {
    use crate::config::ReceiveCredit;
    with_config(config, "quic_config_set_receive_credit", |h| {
        let credit = match credit {
            x if x == quic_receive_credit::OnPoll as u32 => ReceiveCredit::OnPoll,
            x if x == quic_receive_credit::OnConsume as u32 => ReceiveCredit::OnConsume,
            _ => {
                h.set_error(&format!(
                    "quic_config_set_receive_credit: {credit} is not a quic_receive_credit (0 or 1)"
                ));
                return QUIC_RESULT_INVALID_ARGUMENT;
            }
        };
        h.apply(|c| {
            c.set_receive_credit(credit);
            Ok(())
        })
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
