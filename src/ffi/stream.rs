//! Streams through the C ABI: sending, opening, resetting and stopping
//! them (reading is in `reading`).

use std::ffi::c_void;

use super::config::{quic_config, with_config};
use super::conn::{quic_conn, with_conn, with_conn_ref};
use super::result::*;
use super::sized::{usable_size, write_sized, Growable};

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

/// Gives a caller's buffer back when libquic holds no reference to it any
/// more (`quic_conn_stream_send_owned`): `data` and `len` are what was
/// passed there.
pub type quic_release_fn =
    Option<unsafe extern "C" fn(release_ctx: *mut c_void, data: *const u8, len: usize)>;

/// The caller's buffer as a `Bytes` owner: released through the caller's
/// function when the last slice of it is dropped.
struct CallerBuffer {
    data: *const u8,
    len: usize,
    release: quic_release_fn,
    ctx: *mut c_void,
}

// SAFETY: `quic_conn_stream_send_owned`'s contract makes the caller keep
// the buffer readable and unchanged until `release` runs, and makes
// `release` callable with `ctx` from any thread that uses the connection,
// which is where the last reference may drop.
unsafe impl Send for CallerBuffer {}

impl AsRef<[u8]> for CallerBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: non-NULL (checked before a CallerBuffer with len > 0 is
        // made) and readable for `len` bytes until released, per the
        // contract above.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for CallerBuffer {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: the caller's function, called once with what it gave.
            unsafe { release(self.ctx, self.data, self.len) };
        }
    }
}

/// Queues `len` bytes on a stream like `quic_conn_stream_send`, without
/// copying them: libquic reads `data` in place until the peer has
/// acknowledged every byte (or the stream or connection is gone), then
/// calls `release(release_ctx, data, len)`. Until then the buffer must
/// stay readable and unchanged. For large buffers (a file mapped in
/// memory, a response already built), this saves copying each byte into
/// the stream's buffer.
///
/// `release` is called exactly once whatever this returns: before it
/// returns when the call fails, otherwise later, from inside a call on
/// this connection (or on the endpoint that holds it) or when the
/// connection is freed, on the thread making that call; so it must not
/// call into this connection or its endpoint. A NULL `release` is for
/// data that outlives the connection (static data).
///
/// Returns: as `quic_conn_stream_send`.
///
/// Safety: `conn` must be NULL or live; `data` valid for `len` bytes
/// until released; `release` safe to call with `release_ctx` from any
/// thread that uses the connection.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_send_owned(
    conn: *mut quic_conn,
    stream_id: u64,
    data: *const u8,
    len: usize,
    fin: bool,
    release: quic_release_fn,
    release_ctx: *mut c_void,
) -> quic_result {
    // Owned from the start, so that every way out releases it.
    let buffer = CallerBuffer {
        data,
        len,
        release,
        ctx: release_ctx,
    };
    with_conn(conn, move |h| {
        if buffer.data.is_null() && buffer.len > 0 {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        let data = bytes::Bytes::from_owner(buffer);
        match h.conn.stream_send_bytes(stream_id, data, fin) {
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
/// In 0-RTT (a client that connected with a ticket allowing early data,
/// `quic_config_set_early_data`) it works at once, within the stream
/// limits the ticket remembered; what is sent on such a stream goes
/// again in 1-RTT if the server refuses the early data
/// (QUIC_EVENT_TYPE_EARLY_DATA_REJECTED).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_HANDSHAKE_PENDING` (the peer's stream limits are not known
/// yet: before `quic_conn_connect`, or, without a ticket that allows
/// early data, before HANDSHAKE_COMPLETED; try again after that event); `QUIC_RESULT_STREAM_LIMIT` (the peer's
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

/// Sets the send-buffer level of every stream of the connections made
/// from `config`: when a stream's bytes written and not yet acknowledged
/// reach `level` and later fall below it, a QUIC_EVENT_TYPE_STREAM_WRITABLE
/// event says so, once per crossing. An application that stops writing to
/// a stream at the level (a slow reader at the other end, or its own
/// budget) resumes on that event instead of polling
/// `quic_conn_stream_send_buffered`. 0, the default, reports nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_writable_level(
    config: *mut quic_config,
    level: u64,
) -> quic_result {
    with_config(config, "quic_config_set_writable_level", |h| {
        h.apply(|c| {
            c.set_writable_level(level);
            Ok(())
        })
    })
}

/// How a stream's sending stands, as `quic_conn_stream_send_info` fills it.
/// Set `struct_size` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct quic_stream_send_info {
    /// `sizeof(quic_stream_send_info)`, set by the caller: the library
    /// writes no further.
    pub struct_size: usize,
    /// Bytes written and never sent yet.
    pub unsent: u64,
    /// Bytes sent and not acknowledged yet (lost ones waiting to be sent
    /// again included). `unsent + unacked` is at most what
    /// `quic_conn_stream_send_buffered` reports (which also counts
    /// acknowledged bytes held behind an unacknowledged one).
    pub unacked: u64,
    /// New data waits for the peer's flow control (MAX_STREAM_DATA or
    /// MAX_DATA): the reader at the other end is the bottleneck, not the
    /// path.
    pub flow_blocked: bool,
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after `unsent`.
unsafe impl Growable for quic_stream_send_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_stream_send_info, unsent) + 8;
}

/// Fills `out_info` with how a stream's sending stands, as far as its
/// `struct_size` reaches.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (the stream has no send
/// state: never used, or done and forgotten; `out_info` untouched);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ARGUMENT`
/// (`struct_size` too small); `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_info` NULL or writable for
/// its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stream_send_info(
    conn: *const quic_conn,
    stream_id: u64,
    out_info: *mut quic_stream_send_info,
) -> quic_result {
    with_conn_ref(conn, |h| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out_info) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let Some(s) = h.conn.stream_send_info(stream_id) else {
            return QUIC_RESULT_DONE;
        };
        let info = quic_stream_send_info {
            struct_size: size,
            unsent: s.unsent,
            unacked: s.unacked,
            flow_blocked: s.flow_blocked,
        };
        // SAFETY: `out_info` holds `size` writable bytes.
        unsafe { write_sized(out_info, &info, size) };
        QUIC_RESULT_OK
    })
}
