//! `quic_conn`: one connection, driven by the caller (aioquic's
//! `QuicConnection`).
//!
//! The drive loop is described at the top of quic.h (cbindgen.toml's
//! header): send until DONE, drain the events (sending again if handling
//! them queued data), then re-arm the one timer.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::addr::{read_sockaddr, write_sockaddr};
use super::cast::{free_handle, handle_mut, handle_ref, into_handle, Castable};
use super::config::quic_config;
use super::event::quic_event;
use super::guard::{guard, guard_value};
use super::result::*;
use super::sized::{check_fields, read_sized, usable_size, write_sized, Checked, Growable};
use crate::conn::{ApiError, Batch, CloseError, Connection, Event, Transmit};

/// A QUIC connection; see `quic_conn_new`.
pub struct quic_conn {
    _private: [u8; 0],
}

pub(crate) struct ConnHandle {
    pub(super) conn: Connection,
    /// The last polled event, kept so its bytes outlive the call.
    pub(super) event: Option<Event>,
    send_buf: Vec<u8>,
    /// A panic was caught inside this connection: it is unusable.
    poisoned: bool,
    /// After the panic, a datagram carrying CONNECTION_CLOSE
    /// (INTERNAL_ERROR) for the peer, and where it goes: the next
    /// `quic_conn_send` hands it out, so the peer does not wait out its
    /// idle timeout.
    farewell: Option<(Vec<u8>, Transmit)>,
    /// An endpoint owns and drives it: the calls that feed, drain, time
    /// or free it are the endpoint's (`driven_by_caller`).
    in_endpoint: bool,
    /// The application's pointer for an endpoint's connection
    /// (`quic_endpoint_set_context`), given back in its events.
    pub(super) context: *mut std::ffi::c_void,
}

impl Castable for quic_conn {
    type Rust = ConnHandle;
}

impl ConnHandle {
    fn new(conn: Connection, in_endpoint: bool) -> Self {
        Self {
            conn,
            event: None,
            send_buf: Vec::with_capacity(2048),
            poisoned: false,
            farewell: None,
            in_endpoint,
            context: std::ptr::null_mut(),
        }
    }

    /// Refuses the calls that drive a connection (receive, send, timer,
    /// events, connect) on one an endpoint drives.
    pub(super) fn driven_by_caller(&self) -> Result<(), quic_result> {
        if self.in_endpoint {
            Err(QUIC_RESULT_INVALID_STATE)
        } else {
            Ok(())
        }
    }
}

impl crate::endpoint::Routed for ConnHandle {
    fn from_connection(conn: Connection) -> Self {
        Self::new(conn, true)
    }

    fn connection(&self) -> &Connection {
        &self.conn
    }

    fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn take_farewell(&mut self) -> Option<(Vec<u8>, Transmit)> {
        self.farewell.take()
    }
}

/// Runs `f` on a connection the caller drives itself (not one of an
/// endpoint's): the feeding, draining and timer calls.
pub(super) fn with_own_conn(
    conn: *mut quic_conn,
    f: impl FnOnce(&mut ConnHandle) -> quic_result,
) -> quic_result {
    with_conn(conn, |h| match h.driven_by_caller() {
        Ok(()) => f(h),
        Err(e) => e,
    })
}

impl super::guard::Poisonable for ConnHandle {
    fn poisoned(&self) -> bool {
        self.poisoned
    }

    fn poison(&mut self) {
        self.poisoned = true;
        self.farewell = farewell(&mut self.conn);
    }
}

/// Runs `f` on the connection behind `conn`, refusing a poisoned one and
/// poisoning it if `f` panics.
pub(super) fn with_conn(
    conn: *mut quic_conn,
    f: impl FnOnce(&mut ConnHandle) -> quic_result,
) -> quic_result {
    // SAFETY: the caller passes NULL or a live connection used by one
    // thread at a time (quic.h).
    super::guard::with_poisonable(unsafe { handle_mut(conn) }, f)
}

/// Best effort after a panic: a CONNECTION_CLOSE (INTERNAL_ERROR) datagram
/// for the peer, built inside a guard of its own (the connection may be
/// inconsistent; a second panic just means no farewell).
fn farewell(conn: &mut Connection) -> Option<(Vec<u8>, Transmit)> {
    catch_unwind(AssertUnwindSafe(|| {
        let now = conn.last_now();
        let reason = b"internal error";
        conn.close(false, crate::error::code::INTERNAL_ERROR, None, reason, now)
            .ok()?;
        let mut out = Vec::new();
        conn.send_on(&mut out, now).map(|t| (out, t))
    }))
    .ok()
    .flatten()
}

/// Like [`with_conn`] for the calls that only read the connection (they
/// take `const quic_conn *`).
pub(super) fn with_conn_ref(
    conn: *const quic_conn,
    f: impl FnOnce(&ConnHandle) -> quic_result,
) -> quic_result {
    guard(|| {
        // SAFETY: the caller passes NULL or a live connection used by one
        // thread at a time (quic.h).
        match unsafe { handle_ref(conn) } {
            None => QUIC_RESULT_NULL_PARAMETER,
            Some(h) if h.poisoned => QUIC_RESULT_PANIC,
            Some(h) => f(h),
        }
    })
}

/// What a connection needs besides its configuration (input; the caller
/// owns it and may free it after the call).
///
/// Growth rule: `struct_size` is the size of the struct as the caller was
/// compiled with (`sizeof(quic_conn_params)`); the library reads only that
/// many bytes and takes later fields as zero. Fields are only ever added at
/// the end, so a program built against an older header keeps working.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_conn_params {
    /// `sizeof(quic_conn_params)`.
    pub struct_size: usize,
    /// Server: the destination connection ID of the client's first Initial
    /// packet (from `quic_header_parse`); after a Retry, that of the very
    /// first Initial, before the Retry. Client: NULL, 0.
    ///
    /// The client sends its Initial and 0-RTT packets to this ID until it
    /// learns the server's own, so a server routes it to the connection
    /// at least until HANDSHAKE_COMPLETED and then for a few PTOs more
    /// (late, reordered copies); keeping the route until the connection is
    /// freed is simplest. No correct client starts new packets with it
    /// after the handshake completes.
    pub original_dcid: *const u8,
    /// Length of `original_dcid` (at most 20).
    pub original_dcid_len: usize,
    /// Server, after validating the client with a Retry: the source
    /// connection ID of that Retry. Otherwise NULL, 0.
    pub retry_scid: *const u8,
    /// Length of `retry_scid` (at most 20).
    pub retry_scid_len: usize,
    /// Client: the bytes of a QUIC_EVENT_TYPE_SESSION_TICKET event from an
    /// earlier connection to the same server, to resume that session
    /// (RFC 9001 §4.6); NULL, 0 for a full handshake. A ticket is bound to
    /// the server name it was issued for (`quic_config_set_server_name`),
    /// its ALPN and its QUIC version: one that cannot be used (not a
    /// ticket, for another server name, an ALPN this config does not
    /// offer or a version it does not support, expired, or refused by the
    /// server) means a full handshake, not an error; HANDSHAKE_COMPLETED's
    /// `session_resumed` says which. Server: NULL, 0.
    pub session_ticket: *const u8,
    /// Length of `session_ticket`.
    pub session_ticket_len: usize,
    /// Client: the bytes of a QUIC_EVENT_TYPE_NEW_TOKEN event from an
    /// earlier connection to the same server, sent in the Initial packets
    /// so the server trusts the address at once (RFC 9000 §8.1.3); NULL,
    /// 0 for none. A token for another server name is not sent; one the
    /// server no longer accepts costs nothing. Server: NULL, 0.
    pub address_token: *const u8,
    /// Length of `address_token`.
    pub address_token_len: usize,
    /// Server: the client proved its address with a NEW_TOKEN token
    /// (`quic_token_check` said QUIC_TOKEN_KIND_NEW_TOKEN): no 3x
    /// amplification limit. Client: false.
    pub address_validated: bool,
}

// SAFETY: #[repr(C)], struct_size first; the least a caller may pass ends
// after `original_dcid_len` (the Retry fields then default to none).
unsafe impl Growable for quic_conn_params {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_conn_params, retry_scid);
}

/// Reads the caller's `quic_conn_params` as far as its `struct_size`
/// reaches, later fields as none.
///
/// Safety: `p` must be NULL or valid for reading its `struct_size` bytes.
pub(super) unsafe fn read_params(
    p: *const quic_conn_params,
) -> Result<Option<quic_conn_params>, quic_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    let size = unsafe { usable_size(p) }?;
    let none = quic_conn_params {
        struct_size: size,
        original_dcid: std::ptr::null(),
        original_dcid_len: 0,
        retry_scid: std::ptr::null(),
        retry_scid_len: 0,
        session_ticket: std::ptr::null(),
        session_ticket_len: 0,
        address_token: std::ptr::null(),
        address_token_len: 0,
        address_validated: false,
    };
    let bool_at = std::mem::offset_of!(quic_conn_params, address_validated);
    // SAFETY: `p` holds `size` readable bytes.
    unsafe { check_fields(p, size, &[(bool_at, Checked::Bool)]) }?;
    // SAFETY: `p` holds `size` readable bytes; the bool was checked, every
    // other field is an integer or a pointer (any bytes are a value).
    Ok(Some(unsafe { read_sized(p, size, none) }))
}

/// What a client's `quic_conn_params` may carry: a session ticket and an
/// address token.
pub(super) struct ClientExtras<'a> {
    ticket: &'a [u8],
    token: &'a [u8],
}

impl<'a> ClientExtras<'a> {
    /// The client fields of `params`; server fields are refused.
    ///
    /// Safety: the buffers `params` points to are valid for their lengths
    /// for `'a`.
    pub(super) unsafe fn read(params: Option<quic_conn_params>) -> Result<Self, quic_result> {
        let Some(p) = params else {
            return Ok(Self {
                ticket: &[],
                token: &[],
            });
        };
        if !p.original_dcid.is_null() || !p.retry_scid.is_null() || p.address_validated {
            return Err(QUIC_RESULT_INVALID_ARGUMENT);
        }
        // SAFETY: per this function's contract.
        unsafe {
            Ok(Self {
                ticket: super::guard::slice_in(p.session_ticket, p.session_ticket_len)?,
                token: super::guard::slice_in(p.address_token, p.address_token_len)?,
            })
        }
    }

    /// Gives them to a new client connection.
    pub(super) fn apply(&self, conn: &mut Connection) -> Result<(), ApiError> {
        if !self.ticket.is_empty() {
            conn.set_session_ticket(self.ticket)?;
        }
        if !self.token.is_empty() {
            conn.set_address_token(self.token)?;
        }
        Ok(())
    }
}

fn new_conn(
    config: *const quic_config,
    out_conn: *mut *mut quic_conn,
    make: impl FnOnce(
        std::sync::Arc<crate::config::Config>,
        std::sync::Arc<crate::tls::TlsContext>,
    ) -> Result<Connection, ApiError>,
) -> quic_result {
    guard(|| {
        let out = try_out!(out_conn);
        // SAFETY: the caller passes NULL or a live config.
        let Some(cfg) = (unsafe { handle_ref(config) }) else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        let (config, tls) = match cfg.snapshot() {
            Ok(s) => s,
            Err(e) => return e,
        };
        match make(config, tls) {
            Ok(conn) => {
                *out = into_handle::<quic_conn>(ConnHandle::new(conn, false));
                QUIC_RESULT_OK
            }
            Err(e) => api_error_code(e),
        }
    })
}

/// Creates a connection in the role `config` was made for (aioquic's
/// `is_client`). A client passes `params` NULL (or with no server fields)
/// and starts with `quic_conn_connect`. A server passes the client's
/// original destination connection ID (and the Retry's SCID, if it sent
/// one) in `params`, then feeds the datagram with `quic_conn_recv`.
///
/// The first connection freezes `config`: it may then be shared by any
/// number of threads making connections at once, and be freed while they
/// live (each connection keeps the settings it needs).
///
/// Caller owns `*out_conn`; free it with `quic_conn_free`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER` (no config, no
/// `out_conn`, a server without `params`, a NULL CID pointer with a
/// length); `QUIC_RESULT_INVALID_ARGUMENT` (`params->struct_size` too
/// small or ending inside a field, `address_validated` neither 0 nor 1, a
/// CID over 20 bytes, server fields for a client, a session ticket or
/// address token for a server);
/// `QUIC_RESULT_INVALID_STATE` (a server config without a certificate);
/// on the first use of `config`, OpenSSL refusing its settings
/// (`QUIC_RESULT_INVALID_ARGUMENT`, `QUIC_RESULT_TLS_CERTIFICATE`,
/// `QUIC_RESULT_TLS_PRIVATE_KEY`, `QUIC_RESULT_TLS_CA`; details in
/// `quic_config_last_error`).
///
/// Safety: `config` must be NULL or a live config; `params` NULL or a
/// `quic_conn_params` whose buffers are valid for their lengths;
/// `out_conn` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_new(
    config: *const quic_config,
    params: *const quic_conn_params,
    out_conn: *mut *mut quic_conn,
) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        let params = match unsafe { read_params(params) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        // SAFETY: per the contract.
        let is_client = match unsafe { handle_ref(config) } {
            Some(h) => h.is_client(),
            None => return QUIC_RESULT_NULL_PARAMETER,
        };
        if is_client {
            // SAFETY: the buffers of `params` are valid, per the contract.
            let extras = match unsafe { ClientExtras::read(params) } {
                Ok(x) => x,
                Err(e) => return e,
            };
            return new_conn(config, out_conn, |c, t| {
                let mut conn = Connection::new_client(c, t)?;
                extras.apply(&mut conn)?;
                Ok(conn)
            });
        }
        let Some(p) = params else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        if !p.session_ticket.is_null() || !p.address_token.is_null() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let validated = p.address_validated;
        let odcid = try_slice!(p.original_dcid, p.original_dcid_len);
        let retry = try_slice!(p.retry_scid, p.retry_scid_len);
        let retry = (!p.retry_scid.is_null()).then_some(retry);
        new_conn(config, out_conn, |c, t| {
            let mut conn = Connection::new_server(c, t, odcid, retry)?;
            if validated {
                conn.mark_address_validated()?;
            }
            Ok(conn)
        })
    })
}

/// Frees a connection. NULL is a no-op, and so is a connection of an
/// endpoint (`quic_endpoint_conn`): the endpoint frees those.
///
/// Safety: `conn` must be NULL or a live connection, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_free(conn: *mut quic_conn) {
    guard_value((), || {
        // SAFETY: the caller passes NULL or a live connection.
        if unsafe { handle_ref(conn) }.is_some_and(|h| h.in_endpoint) {
            return;
        }
        // SAFETY: per the contract.
        unsafe { free_handle(conn) }
    })
}

/// Starts a client connection to `addr` at time `now_ns` (aioquic's
/// `connect`); the ClientHello is then ready for `quic_conn_send`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_INVALID_STATE` (a server,
/// or connected before); `QUIC_RESULT_TLS_SETUP`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `addr` NULL or valid for `addrlen` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_connect(
    conn: *mut quic_conn,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
    now_ns: u64,
) -> quic_result {
    with_own_conn(conn, |h| {
        // SAFETY: per the contract.
        let peer = match unsafe { read_sockaddr(addr, addrlen) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        match h.conn.connect(peer, now_ns) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

/// Feeds one received UDP datagram from `from` at `now_ns` (aioquic's
/// `receive_datagram`). Malformed, undecryptable or unexpected packets are
/// dropped silently; a peer that breaks the protocol makes the connection
/// close (a CONNECTION_TERMINATED event follows). The data is copied.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `data` valid for `len` bytes; `from` valid
/// for `fromlen` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_recv(
    conn: *mut quic_conn,
    data: *const u8,
    len: usize,
    from: *const libc::sockaddr,
    fromlen: libc::socklen_t,
    now_ns: u64,
) -> quic_result {
    with_own_conn(conn, |h| {
        let datagram = try_slice!(data, len);
        // SAFETY: per the contract.
        let from = match unsafe { read_sockaddr(from, fromlen) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        h.conn.recv(datagram, from, now_ns);
        QUIC_RESULT_OK
    })
}

/// Writes the next datagram to send into `out` and its destination into
/// `out_addr` / `out_addrlen` (aioquic's `datagrams_to_send`, one per
/// call). Call until it returns `QUIC_RESULT_DONE`.
///
/// `out_cap` must be at least the configured max datagram size (1200 by
/// default); nothing is lost when it is too small. Datagrams stay within
/// `out_cap`: PMTU discovery grows them up to `quic_config_set_max_pmtu`
/// (1452 by default) only as far as the buffer allows.
///
/// After a call on the connection returned `QUIC_RESULT_PANIC` (a bug in
/// libquic), the next `quic_conn_send` still gives one datagram, a
/// CONNECTION_CLOSE with INTERNAL_ERROR, so the peer learns at once
/// instead of after its idle timeout; then it returns `QUIC_RESULT_PANIC`
/// like every other call.
///
/// Returns: `QUIC_RESULT_OK` (a datagram was written);
/// `QUIC_RESULT_DONE` (nothing to send now); `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_BUFFER_TOO_SMALL`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out` writable for `out_cap` bytes; the
/// other outputs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_send(
    conn: *mut quic_conn,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_addr: *mut libc::sockaddr_storage,
    out_addrlen: *mut libc::socklen_t,
    now_ns: u64,
) -> quic_result {
    guard(|| {
        let out_addr = try_out!(out_addr);
        let out_addrlen = try_out!(out_addrlen);
        // SAFETY: per the contract.
        unsafe {
            send_next(conn, out, out_cap, out_len, now_ns, |t| {
                write_sockaddr(t.remote, out_addr, out_addrlen)
            })
        }
    })
}

/// The body of `quic_conn_send` and `quic_conn_send_info`: the next
/// datagram (first the farewell of a connection poisoned by a panic) into
/// `out`, its length into `out_len`, and where it goes to `dest`.
///
/// Safety: `conn` NULL or live; `out` NULL or writable for `out_cap`
/// bytes; `out_len` NULL or writable.
pub(super) unsafe fn send_next(
    conn: *mut quic_conn,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    now_ns: u64,
    dest: impl FnOnce(Transmit),
) -> quic_result {
    // A batch of one: sealed straight into the caller's buffer, not built
    // in the scratch buffer and copied.
    let write = |c: &mut Connection, scratch: &mut Vec<u8>, buf: &mut [u8]| {
        let batch = c.send_batch_into(scratch, buf, 1, now_ns)?;
        Some((batch, scratch.len()))
    };
    // SAFETY: per this function's contract.
    unsafe { send_batch_with(conn, out, out_cap, out_len, write, |b| dest(b.transmit)) }
}

/// `send_next` for any writer: `write` puts a datagram or a GSO batch of
/// the connection into `out` (building in the scratch buffer as it needs)
/// and says how long it is (the farewell of a poisoned connection goes
/// first, alone).
///
/// Safety: as `send_next`.
pub(super) unsafe fn send_batch_with(
    conn: *mut quic_conn,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    write: impl FnOnce(&mut Connection, &mut Vec<u8>, &mut [u8]) -> Option<(Batch, usize)>,
    dest: impl FnOnce(Batch),
) -> quic_result {
    // SAFETY: per this function's contract.
    let Some(h) = (unsafe { handle_mut(conn) }) else {
        return QUIC_RESULT_NULL_PARAMETER;
    };
    if let Err(e) = h.driven_by_caller() {
        return e;
    }
    let out_len = try_out!(out_len);
    // SAFETY: per this function's contract.
    let buf = match unsafe { super::guard::slice_out(out, out_cap) } {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some((datagram, to)) = h.farewell.as_ref() {
        if buf.len() < datagram.len() {
            return QUIC_RESULT_BUFFER_TOO_SMALL;
        }
        buf[..datagram.len()].copy_from_slice(datagram);
        *out_len = datagram.len();
        dest(Batch {
            transmit: *to,
            segment_size: datagram.len(),
            segments: 1,
        });
        h.farewell = None;
        return QUIC_RESULT_OK;
    }
    with_conn(conn, |h| {
        if buf.len() < h.conn.max_send_size() {
            return QUIC_RESULT_BUFFER_TOO_SMALL;
        }
        let mut scratch = std::mem::take(&mut h.send_buf);
        let result = match write(&mut h.conn, &mut scratch, buf) {
            Some((b, len)) => {
                *out_len = len;
                dest(b);
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_DONE,
        };
        h.send_buf = scratch;
        result
    })
}

/// Writes the peer's current address (where `quic_conn_send` sends) into
/// `out_addr` / `out_addrlen`. It changes when the peer moves (a
/// QUIC_EVENT_TYPE_PEER_MIGRATED event).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (no peer yet: a client
/// before `quic_conn_connect`); `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; the outputs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_peer_address(
    conn: *const quic_conn,
    out_addr: *mut libc::sockaddr_storage,
    out_addrlen: *mut libc::socklen_t,
) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        let Some(h) = (unsafe { handle_ref(conn) }) else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        if h.poisoned {
            return QUIC_RESULT_PANIC;
        }
        let out_addr = try_out!(out_addr);
        let out_addrlen = try_out!(out_addrlen);
        match h.conn.peer_addr() {
            Some(a) => {
                write_sockaddr(a, out_addr, out_addrlen);
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_DONE,
        }
    })
}

/// The time (ns, caller's clock) at which `quic_conn_handle_timer` must be
/// called next; `UINT64_MAX` when no timer is armed (or `conn` is NULL).
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_timer(conn: *const quic_conn) -> u64 {
    guard_value(u64::MAX, || {
        // SAFETY: per the contract.
        match unsafe { handle_ref(conn) } {
            Some(h) if !h.poisoned => h.conn.timer().unwrap_or(u64::MAX),
            _ => u64::MAX,
        }
    })
}

/// Handles the timer at `now_ns` (aioquic's `handle_timer`): loss
/// detection, probes, idle timeout, the end of closing. Calling it early is
/// harmless.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_handle_timer(conn: *mut quic_conn, now_ns: u64) -> quic_result {
    with_own_conn(conn, |h| {
        h.conn.handle_timer(now_ns);
        QUIC_RESULT_OK
    })
}

/// Takes the next event (aioquic's `next_event`) into `out_event`, whose
/// `struct_size` the caller sets (`sizeof(quic_event)`); no more than that
/// is written. Its pointers stay valid until the next
/// `quic_conn_poll_event` or `quic_conn_free` on this connection (see
/// `quic_event`).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (no event);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ARGUMENT`
/// (`struct_size` too small to hold `kind`); `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_event` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_poll_event(
    conn: *mut quic_conn,
    out_event: *mut quic_event,
) -> quic_result {
    with_own_conn(conn, |h| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out_event) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        h.event = h.conn.poll_event();
        match &h.event {
            Some(e) => {
                // SAFETY: `out_event` holds `size` writable bytes.
                unsafe { write_sized(out_event, &quic_event::describe(e), size) };
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_DONE,
        }
    })
}

/// Sends a PING; a PING_ACKNOWLEDGED event with `uid` follows once the peer
/// acknowledged it (aioquic's `send_ping`).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STATE` (not connected, closing, or 1024 PINGs
/// outstanding); `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_send_ping(conn: *mut quic_conn, uid: u64) -> quic_result {
    with_conn(conn, |h| match h.conn.send_ping(uid) {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// Asks for a 1-RTT key update (RFC 9001 §6; aioquic's
/// `request_key_update`). It starts with the next packet sent, once the
/// handshake is confirmed and the previous update was acknowledged; a
/// QUIC_EVENT_TYPE_KEY_UPDATED event follows when the peer answered.
/// Updates the peer starts are followed without any call.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STATE` (handshake not confirmed yet);
/// `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_request_key_update(conn: *mut quic_conn) -> quic_result {
    with_conn(conn, |h| match h.conn.request_key_update() {
        Ok(()) => QUIC_RESULT_OK,
        Err(e) => api_error_code(e),
    })
}

/// The generation of the 1-RTT keys we send with: 0 until the first key
/// update, then one more per update. 0 for NULL.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_key_generation(conn: *const quic_conn) -> u64 {
    guard_value(0, || {
        // SAFETY: per the contract.
        unsafe { handle_ref(conn) }.map_or(0, |h| h.conn.key_generation())
    })
}

/// Closes the connection (aioquic's `close`) with `error_code`: an
/// application code when `is_app`, else a transport code with the
/// `frame_type` that caused it (0 if none). `reason` (at most 1024 bytes
/// are sent) may be NULL. A CONNECTION_TERMINATED event follows at once;
/// keep driving the connection until `quic_conn_is_closed`. Closing twice
/// does nothing. Stream data not yet sent is discarded, and data in
/// flight is not resent: to be sure the peer has everything, close after
/// `quic_conn_stream_send_info` reports nothing unsent or unacknowledged
/// on the streams that matter (or after the peer's answer).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a code above 2^62 - 1);
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `reason` valid for `reason_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_close(
    conn: *mut quic_conn,
    is_app: bool,
    error_code: u64,
    frame_type: u64,
    reason: *const u8,
    reason_len: usize,
    now_ns: u64,
) -> quic_result {
    with_conn(conn, |h| {
        let reason = try_slice!(reason, reason_len);
        match h
            .conn
            .close(is_app, error_code, Some(frame_type), reason, now_ns)
        {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

/// Ends the connection at once, without telling the peer: no
/// CONNECTION_CLOSE, no closing period. For a peer known to be gone: on
/// a connected UDP socket, `recv`/`send` failing with ECONNREFUSED means
/// an ICMP "port unreachable" came back, and the three PTOs of
/// `quic_conn_close`'s closing period would only send to nobody. A
/// CONNECTION_TERMINATED event with QUIC_TERMINATION_ABANDONED and
/// `reason` (may be NULL) follows, and `quic_conn_is_closed` is true at
/// once. ICMP is not authenticated: someone who can guess the addresses
/// and ports can forge it. Acting on it before the handshake completes (a
/// client dialing a closed port) is safe; afterwards, prefer to act only
/// when nothing came from the peer for a while (a PTO, say), or let the
/// idle timeout decide. Abandoning a closing connection does nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `reason` valid for `reason_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_abandon(
    conn: *mut quic_conn,
    reason: *const u8,
    reason_len: usize,
) -> quic_result {
    with_conn(conn, |h| {
        let reason = try_slice!(reason, reason_len);
        h.conn.abandon(reason);
        QUIC_RESULT_OK
    })
}

/// True once the handshake completed and the connection is not closing.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_is_established(conn: *const quic_conn) -> bool {
    guard_value(false, || {
        // SAFETY: per the contract.
        unsafe { handle_ref(conn) }.is_some_and(|h| !h.poisoned && h.conn.is_established())
    })
}

/// True once the connection is over (after closing or draining, or the
/// idle timeout, or at once after `quic_conn_abandon`). Also true for a
/// poisoned connection.
///
/// Events can still be queued when this turns true, and the
/// CONNECTION_TERMINATED event is always the last of them: poll until
/// QUIC_RESULT_DONE, then free. Data that arrived before the end (even in
/// the packet that carried the peer's CONNECTION_CLOSE) is reported
/// before CONNECTION_TERMINATED, and in read mode can still be read.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_is_closed(conn: *const quic_conn) -> bool {
    guard_value(true, || {
        // SAFETY: per the contract.
        unsafe { handle_ref(conn) }.is_none_or(|h| h.poisoned || h.conn.is_closed())
    })
}

/// How one side closed a connection. Set `struct_size` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct quic_close_info {
    /// `sizeof(quic_close_info)`, set by the caller: the library writes no
    /// further.
    pub struct_size: usize,
    /// An application close (CONNECTION_CLOSE type 0x1d).
    pub is_app: bool,
    /// The error code.
    pub error_code: u64,
    /// The frame type of a transport error.
    pub frame_type: u64,
    /// Whether `frame_type` is set.
    pub has_frame_type: bool,
    /// Reason phrase bytes (not NUL-terminated); valid until the next call
    /// on the connection.
    pub reason: *const u8,
    /// Length of `reason`.
    pub reason_len: usize,
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after `version`.
unsafe impl Growable for quic_stats {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_stats, version) + 4;
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after `is_app`.
unsafe impl Growable for quic_close_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_close_info, is_app) + 1;
}

fn close_info(e: Option<&CloseError>, out: *mut quic_close_info) -> quic_result {
    // SAFETY: the callers' contract: NULL or writable for struct_size bytes.
    let size = match unsafe { usable_size(out) } {
        Ok(s) => s,
        Err(e) => return e,
    };
    let Some(e) = e else {
        return QUIC_RESULT_DONE;
    };
    let info = quic_close_info {
        struct_size: size,
        is_app: e.is_app,
        error_code: e.code,
        frame_type: e.frame_type.unwrap_or(0),
        has_frame_type: e.frame_type.is_some(),
        reason: if e.reason.is_empty() {
            std::ptr::null()
        } else {
            e.reason.as_ptr()
        },
        reason_len: e.reason.len(),
    };
    // SAFETY: `out` holds `size` writable bytes.
    unsafe { write_sized(out, &info, size) };
    QUIC_RESULT_OK
}

/// Reports how this endpoint closed the connection (an API close, a
/// protocol error it detected, or the idle timeout).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (it did not close);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ARGUMENT`
/// (`struct_size` too small); `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_local_error(
    conn: *const quic_conn,
    out_info: *mut quic_close_info,
) -> quic_result {
    with_conn_ref(conn, |h| close_info(h.conn.local_error(), out_info))
}

/// Reports how the peer closed the connection (its CONNECTION_CLOSE).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (it did not close);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ARGUMENT`
/// (`struct_size` too small); `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_peer_error(
    conn: *const quic_conn,
    out_info: *mut quic_close_info,
) -> quic_result {
    with_conn_ref(conn, |h| close_info(h.conn.peer_error(), out_info))
}

/// Copies this endpoint's first connection ID (sequence 0) into `out`: a
/// server routes the client's later packets by it (further ones arrive as
/// CONNECTION_ID_ISSUED events). Once the peer retired it (after
/// `quic_conn_rotate_connection_ids`), the oldest one still in use.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_BUFFER_TOO_SMALL` (20 bytes always suffice);
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_local_cid(
    conn: *const quic_conn,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> quic_result {
    with_conn_ref(conn, |h| {
        let out_len = try_out!(out_len);
        // SAFETY: per the contract.
        let buf = match unsafe { super::guard::slice_out(out, out_cap) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        let cid = h.conn.local_cid();
        if buf.len() < cid.len() {
            return QUIC_RESULT_BUFFER_TOO_SMALL;
        }
        buf[..cid.len()].copy_from_slice(&cid);
        *out_len = cid.len();
        QUIC_RESULT_OK
    })
}

/// How long to wait for the next datagram, in milliseconds, for `poll()` /
/// `epoll_wait()`: -1 when no timer is set, 0 when it is due, otherwise
/// the time to the timer rounded up (so the loop does not wake a moment
/// early and spin), at most INT32_MAX. Re-read it after handling events.
/// NULL gives -1.
///
/// Safety: `conn` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_timeout_ms(conn: *const quic_conn, now_ns: u64) -> i32 {
    guard_value(-1, || {
        // SAFETY: per the contract.
        let deadline = unsafe { quic_conn_timer(conn) };
        timeout_ms(deadline, now_ns)
    })
}

/// Milliseconds from `now_ns` to `deadline` (UINT64_MAX: none), rounded up.
fn timeout_ms(deadline: u64, now_ns: u64) -> i32 {
    if deadline == u64::MAX {
        return -1;
    }
    let ns = deadline.saturating_sub(now_ns);
    let ms = ns / 1_000_000 + u64::from(ns % 1_000_000 != 0);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// Queues an unreliable DATAGRAM frame (RFC 9221; aioquic's
/// `send_datagram_frame`). The data is copied.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_STATE` (handshake not complete);
/// `QUIC_RESULT_DATAGRAM_UNSUPPORTED` (the peer did not offer DATAGRAM);
/// `QUIC_RESULT_DATAGRAM_TOO_LARGE`; `QUIC_RESULT_WOULD_BLOCK` (256 queued);
/// `QUIC_RESULT_CLOSING`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `data` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_send_datagram(
    conn: *mut quic_conn,
    data: *const u8,
    len: usize,
) -> quic_result {
    with_conn(conn, |h| {
        let data = try_slice!(data, len);
        match h.conn.send_datagram(data) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

/// A snapshot of a connection's state, for logging. Set `struct_size`
/// before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct quic_stats {
    /// `sizeof(quic_stats)`, set by the caller: the library writes no
    /// further.
    pub struct_size: usize,
    /// The QUIC version in use.
    pub version: u32,
    /// The TLS cipher suite (0x1301..=0x1303; 0 before the handshake).
    pub cipher_suite: u16,
    /// The TLS key-exchange group (0x001d X25519, 0x0017 P-256, 0x11ec
    /// X25519MLKEM768, ...; 0 before the handshake).
    pub key_exchange_group: u16,
    /// Smoothed RTT in nanoseconds.
    pub rtt_ns: u64,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// UDP payload bytes sent.
    pub bytes_sent: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// Packets declared lost (RFC 9002 §6.1), in every packet number
    /// space; those later acknowledged still count here, and also in
    /// `spurious_losses`.
    pub packets_lost: u64,
    /// Packets declared lost and acknowledged afterwards: reordering, not
    /// loss.
    pub spurious_losses: u64,
    /// Packets declared lost because three later ones were acknowledged
    /// (RFC 9002 §6.1.1). This field and those after it were appended:
    /// a caller built against an older quic.h does not receive them.
    pub lost_by_packet_threshold: u64,
    /// Packets declared lost because a later one was acknowledged and they
    /// had waited longer than the time threshold (RFC 9002 §6.1.2).
    pub lost_by_time_threshold: u64,
    /// Probe timeouts that fired (RFC 9002 §6.2). Many, against few
    /// losses found from ACKs, mean the path loses whole flights or ACKs.
    pub probe_timeouts: u64,
    /// Reductions of the congestion window, one per recovery period
    /// (RFC 9002 §7.3.2).
    pub congestion_events: u64,
    /// Persistent congestion declared: the window fell to its minimum
    /// (RFC 9002 §7.6).
    pub persistent_congestion: u64,
    /// Whether the path carries our ECN marks (RFC 9000 §13.4.2). This
    /// field and those after it were appended.
    pub ecn_state: quic_ecn_state,
    /// Packets received marked ECT(0) (the codepoint the caller passed
    /// in `quic_datagram_info.ecn`), all spaces together.
    pub ecn_received_ect0: u64,
    /// Packets received marked ECT(1).
    pub ecn_received_ect1: u64,
    /// Packets received marked CE (congestion experienced).
    pub ecn_received_ce: u64,
    /// CE marks the peer reported on our packets.
    pub ecn_ce_reported: u64,
    /// Window reductions those caused (RFC 9002 §7.1; also counted in
    /// `congestion_events`).
    pub ecn_congestion_events: u64,
    /// The largest datagram sent now: PMTU discovery's finding, within
    /// the peer's limit (`quic_config_set_max_pmtu`).
    pub pmtu: u64,
    /// PMTU probes sent.
    pub pmtu_probes_sent: u64,
    /// PMTU probes lost: sizes the path did not carry.
    pub pmtu_probes_lost: u64,
    /// Black holes: times the path stopped carrying the size in use.
    pub pmtu_black_holes: u64,
    /// qlog records dropped because the trace's output fell behind
    /// (`quic_config_set_qlog_callback`).
    pub qlog_records_dropped: u64,
}

/// Where ECN validation of the path stands (RFC 9000 §13.4.2, §A.4).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum quic_ecn_state {
    /// Turned off (`quic_config_set_ecn`).
    #[default]
    Disabled = 0,
    /// The first packets go marked ECT(0); no verdict yet.
    Testing = 1,
    /// Testing is over; unmarked until an ACK gives the verdict.
    Unknown = 2,
    /// Validated: every packet is marked; CE marks count as congestion.
    Capable = 3,
    /// The path (or the caller's sockets, or the peer) lost or rewrote
    /// marks: nothing is marked.
    Failed = 4,
}

impl From<crate::conn::EcnState> for quic_ecn_state {
    fn from(s: crate::conn::EcnState) -> Self {
        use crate::conn::EcnState as S;
        match s {
            S::Disabled => Self::Disabled,
            S::Testing => Self::Testing,
            S::Unknown => Self::Unknown,
            S::Capable => Self::Capable,
            S::Failed => Self::Failed,
        }
    }
}

/// Fills `out_stats` with the connection's current figures, as far as its
/// `struct_size` reaches.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (`struct_size` too small);
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `out_stats` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_stats(
    conn: *const quic_conn,
    out_stats: *mut quic_stats,
) -> quic_result {
    with_conn_ref(conn, |h| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out_stats) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let s = h.conn.stats();
        let stats = quic_stats {
            struct_size: size,
            version: s.version,
            cipher_suite: s.cipher_suite,
            key_exchange_group: s.key_exchange_group,
            rtt_ns: s.rtt,
            cwnd: s.cwnd,
            bytes_in_flight: s.bytes_in_flight,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            packets_lost: s.packets_lost,
            spurious_losses: s.spurious_losses,
            lost_by_packet_threshold: s.recovery.lost_by_packet_threshold,
            lost_by_time_threshold: s.recovery.lost_by_time_threshold,
            probe_timeouts: s.recovery.probe_timeouts,
            congestion_events: s.recovery.congestion_events,
            persistent_congestion: s.recovery.persistent_congestion,
            ecn_state: s.ecn_state.into(),
            ecn_received_ect0: s.ecn_received.ect0,
            ecn_received_ect1: s.ecn_received.ect1,
            ecn_received_ce: s.ecn_received.ce,
            ecn_ce_reported: s.recovery.ecn_ce_reported,
            ecn_congestion_events: s.recovery.ecn_congestion_events,
            pmtu: s.pmtu as u64,
            pmtu_probes_sent: s.pmtu_probes_sent,
            pmtu_probes_lost: s.pmtu_probes_lost,
            pmtu_black_holes: s.pmtu_black_holes,
            qlog_records_dropped: s.qlog_records_dropped,
        };
        // SAFETY: `out_stats` holds `size` writable bytes.
        unsafe { write_sized(out_stats, &stats, size) };
        QUIC_RESULT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::addr::quic_sockaddr_parse;
    use crate::ffi::config::{quic_config_free, quic_config_new};

    /// A panic inside a call on one connection reaches the caller as
    /// QUIC_RESULT_PANIC and poisons that connection only: the next send
    /// hands out one CONNECTION_CLOSE for the peer, later calls give PANIC
    /// (it reads as closed, and frees cleanly); another connection of the
    /// same config goes on.
    #[test]
    fn a_panic_poisons_only_its_connection() {
        let (mut cfg, mut a, mut b) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = 0;
        // SAFETY: writable out-pointers, a NUL-terminated string, live
        // handles, each freed once at the end.
        unsafe {
            assert_eq!(quic_config_new(true, &mut cfg), QUIC_RESULT_OK);
            assert_eq!(quic_conn_new(cfg, std::ptr::null(), &mut a), QUIC_RESULT_OK);
            assert_eq!(quic_conn_new(cfg, std::ptr::null(), &mut b), QUIC_RESULT_OK);
            assert_eq!(
                quic_sockaddr_parse(c"127.0.0.1:4433".as_ptr(), &mut addr, &mut len),
                QUIC_RESULT_OK
            );
        }
        let peer = (&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
        // SAFETY: a live handle and a parsed address.
        let connected = unsafe { quic_conn_connect(a, peer, len, 0) };
        assert_eq!(connected, QUIC_RESULT_OK);
        // The same path every connection call takes, with a body that panics.
        assert_eq!(
            with_conn(a, |_| panic!("a bug inside a call")),
            QUIC_RESULT_PANIC
        );
        let mut buf = [0u8; 1500];
        let (mut n, mut to, mut to_len) = (0usize, addr, 0);
        let mut send = |cap: usize| {
            // SAFETY: a live handle and writable outputs of `cap` and more.
            unsafe { quic_conn_send(a, buf.as_mut_ptr(), cap, &mut n, &mut to, &mut to_len, 1) }
        };
        // The farewell: one datagram (a CONNECTION_CLOSE), kept for a
        // buffer large enough, then nothing.
        assert_eq!(send(10), QUIC_RESULT_BUFFER_TOO_SMALL);
        assert_eq!(send(1500), QUIC_RESULT_OK);
        assert_eq!(send(1500), QUIC_RESULT_PANIC);
        assert!(n >= 1200, "a client's Initial datagram, padded");
        // SAFETY: live handles and a parsed address.
        unsafe {
            assert_eq!(quic_conn_connect(a, peer, len, 0), QUIC_RESULT_PANIC);
            assert_eq!(quic_conn_send_ping(a, 1), QUIC_RESULT_PANIC);
            assert!(quic_conn_is_closed(a));
            assert_eq!(quic_conn_connect(b, peer, len, 0), QUIC_RESULT_OK);
            assert!(!quic_conn_is_closed(b));
            quic_conn_free(a);
            quic_conn_free(b);
            quic_config_free(cfg);
        }
    }

    #[test]
    fn poll_timeouts_round_up_and_saturate() {
        assert_eq!(timeout_ms(u64::MAX, 5), -1);
        assert_eq!(timeout_ms(100, 200), 0, "due");
        assert_eq!(timeout_ms(1_000_000, 0), 1);
        assert_eq!(timeout_ms(1_000_001, 0), 2, "never early");
        assert_eq!(timeout_ms(1, 0), 1);
        assert_eq!(timeout_ms(u64::MAX - 1, 0), i32::MAX);
    }
}
