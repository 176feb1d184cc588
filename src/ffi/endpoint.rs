//! `quic_endpoint`: many connections on one socket (the core's
//! `Endpoint`), driven by the caller like a connection: feed every
//! datagram, send until DONE, poll events, run the one timer.
//!
//! Connections are named by `uint64_t` handles that are checked on every
//! use: one kept past its connection's end is refused with
//! QUIC_RESULT_NO_SUCH_CONNECTION, never dereferenced.

use super::addr::read_sockaddr;
use super::cast::{free_handle, handle_mut, into_handle, Castable};
use super::config::quic_config;
use super::conn::{quic_conn, quic_conn_params, read_params, ClientExtras, ConnHandle};
use super::event::quic_event;
use super::guard::guard;
use super::path::{each_received, quic_datagram_info, write_batch_info};
use super::result::*;
use super::sized::{check_fields, read_sized, usable_size, write_sized, Checked, Growable};
use super::token::quic_token_kind;
use crate::conn::Batch;
use crate::endpoint::{
    AddressProof, ConnectionHandle, Endpoint, EndpointEvent, EndpointParams, EndpointStats,
    RetryPolicy,
};

/// Many connections behind one socket; see `quic_endpoint_new`.
pub struct quic_endpoint {
    _private: [u8; 0],
}

pub(crate) struct EndpointHandle {
    ep: Endpoint<ConnHandle>,
    send_buf: Vec<u8>,
    /// A panic was caught inside: the endpoint is unusable.
    poisoned: bool,
}

impl Castable for quic_endpoint {
    type Rust = EndpointHandle;
}

impl super::guard::Poisonable for EndpointHandle {
    fn poisoned(&self) -> bool {
        self.poisoned
    }

    fn poison(&mut self) {
        self.poisoned = true;
    }
}

/// Runs `f` on the endpoint behind `ep`, refusing a poisoned one and
/// poisoning it if `f` panics.
fn with_endpoint(
    ep: *mut quic_endpoint,
    f: impl FnOnce(&mut EndpointHandle) -> quic_result,
) -> quic_result {
    // SAFETY: the caller passes NULL or a live endpoint used by one thread
    // at a time (quic.h).
    super::guard::with_poisonable(unsafe { handle_mut(ep) }, f)
}

/// When new clients must first prove their address with a Retry (RFC
/// 9000 §8.1.2).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_retry_policy {
    /// The default: a Retry while 100 or more handshakes are half-open
    /// (`retry_half_open_threshold` changes the number).
    Default = 0,
    /// Never.
    Never = 1,
    /// For every client without a valid token.
    Always = 2,
    /// While `retry_half_open_threshold` or more handshakes are half-open.
    AboveHalfOpen = 3,
}

/// The limits and keys of an endpoint (input). Zero in a field means its
/// default, so `{.struct_size = sizeof(quic_endpoint_params)}` gives
/// every default. Growth rule as for `quic_conn_params`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_endpoint_params {
    /// `sizeof(quic_endpoint_params)`.
    pub struct_size: usize,
    /// Length of the connection IDs of all the endpoint's connections
    /// (short headers do not carry it). 0: the server config's
    /// (`quic_config_set_connection_id_length`), or 8 for a client-only
    /// endpoint. Client configs given to `quic_endpoint_connect` must use
    /// the same length.
    pub connection_id_length: usize,
    /// Connections at most (0: 10,000). New clients past it get
    /// CONNECTION_REFUSED at once (RFC 9000 §10.2.3) and are counted
    /// (`refused_connection_limit`).
    pub max_connections: u32,
    /// Handshakes in progress at most (0: 1,000); new clients past it
    /// (when no Retry is sent instead) get CONNECTION_REFUSED and are
    /// counted.
    pub max_half_open: u32,
    /// When a Retry is sent.
    pub retry_policy: quic_retry_policy,
    /// With QUIC_RETRY_POLICY_ABOVE_HALF_OPEN or the default policy: the
    /// number of half-open handshakes from which new clients get a Retry
    /// (0: 100).
    pub retry_half_open_threshold: u32,
    /// Initials accepted per client IP address per second (0: 64;
    /// UINT32_MAX: no limit); more are dropped and counted.
    pub initials_per_address_per_second: u32,
    /// Stateless resets sent per second at most (0: 1,000).
    pub resets_per_second: u32,
    /// 32 bytes the stateless reset tokens of every connection ID are
    /// derived from (RFC 9000 §10.3.2), or NULL for a random key. Servers
    /// of a fleet that share it can reset connections another server
    /// lost (after a crash or a route change). Never sent; keep it
    /// secret: whoever knows it can end the connections.
    pub reset_key: *const u8,
}

// SAFETY: #[repr(C)], struct_size first; the least a caller may pass ends
// after `connection_id_length`.
unsafe impl Growable for quic_endpoint_params {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_endpoint_params, max_connections);
}

/// The caller's parameters as the core takes them.
///
/// Safety: `p` NULL or valid for its `struct_size` bytes; a non-NULL
/// `reset_key` valid for 32 bytes.
unsafe fn read_endpoint_params(
    p: *const quic_endpoint_params,
) -> Result<EndpointParams, quic_result> {
    let mut out = EndpointParams::default();
    if p.is_null() {
        return Ok(out);
    }
    // SAFETY: per the contract.
    let size = unsafe { usable_size(p) }?;
    let policy_at = std::mem::offset_of!(quic_endpoint_params, retry_policy);
    // SAFETY: `p` holds `size` readable bytes.
    unsafe { check_fields(p, size, &[(policy_at, Checked::Enum(4))]) }?;
    let none = quic_endpoint_params {
        struct_size: size,
        connection_id_length: 0,
        max_connections: 0,
        max_half_open: 0,
        retry_policy: quic_retry_policy::Default,
        retry_half_open_threshold: 0,
        initials_per_address_per_second: 0,
        resets_per_second: 0,
        reset_key: std::ptr::null(),
    };
    // SAFETY: `p` holds `size` readable bytes; the enum was checked, every
    // other field is an integer or a pointer.
    let p = unsafe { read_sized(p, size, none) };
    if p.connection_id_length > 20 {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    if p.connection_id_length > 0 {
        out.connection_id_length = Some(p.connection_id_length);
    }
    let or = |v: u32, default: u32| if v == 0 { default } else { v };
    out.max_connections = or(p.max_connections, out.max_connections);
    out.max_half_open = or(p.max_half_open, out.max_half_open);
    let threshold = or(p.retry_half_open_threshold, 100);
    out.retry = match p.retry_policy {
        quic_retry_policy::Default | quic_retry_policy::AboveHalfOpen => {
            RetryPolicy::AboveHalfOpen(threshold)
        }
        quic_retry_policy::Never => RetryPolicy::Never,
        quic_retry_policy::Always => RetryPolicy::Always,
    };
    out.initials_per_address_per_second = match p.initials_per_address_per_second {
        0 => out.initials_per_address_per_second,
        u32::MAX => 0,
        n => n,
    };
    out.resets_per_second = or(p.resets_per_second, out.resets_per_second);
    if !p.reset_key.is_null() {
        // SAFETY: per this function's contract, 32 readable bytes.
        let key = unsafe { super::guard::slice_in(p.reset_key, 32) }?;
        let mut k = [0u8; 32];
        k.copy_from_slice(key);
        out.reset_key = Some(k);
    }
    Ok(out)
}

/// Creates an endpoint. With `server_config` (a server's, with its
/// certificate) it accepts new connections; with NULL it only holds
/// client connections made with `quic_endpoint_connect`. `params` NULL
/// means every default. The config is frozen as by `quic_conn_new` and
/// may be freed afterwards.
///
/// The drive loop is a connection's: every received datagram goes to
/// `quic_endpoint_recv`; then `quic_endpoint_send` until DONE;
/// `quic_endpoint_poll_event` until DONE (using connections through
/// `quic_endpoint_conn`, then sending again); then wait for a datagram or
/// `quic_endpoint_timeout` and call `quic_endpoint_handle_timer`.
///
/// Caller owns `*out`; free it with `quic_endpoint_free`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (`params` out of range, a client
/// config as `server_config`, a connection ID length that differs from
/// the config's); `QUIC_RESULT_INVALID_STATE` (a server config without a
/// certificate); the config's TLS errors as for `quic_conn_new`.
///
/// Safety: `server_config` NULL or a live config; `params` NULL or valid
/// for its `struct_size` bytes (and a non-NULL `reset_key` for 32); `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_new(
    server_config: *const quic_config,
    params: *const quic_endpoint_params,
    out: *mut *mut quic_endpoint,
) -> quic_result {
    guard(|| {
        let out = try_out!(out);
        // SAFETY: per the contract.
        let params = match unsafe { read_endpoint_params(params) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let server = if server_config.is_null() {
            None
        } else {
            // SAFETY: the caller passes NULL or a live config.
            let Some(cfg) = (unsafe { super::cast::handle_ref(server_config) }) else {
                return QUIC_RESULT_NULL_PARAMETER;
            };
            if cfg.is_client() {
                return QUIC_RESULT_INVALID_ARGUMENT;
            }
            match cfg.snapshot() {
                Ok(s) => Some(s),
                Err(e) => return e,
            }
        };
        match Endpoint::new(server, params) {
            Ok(ep) => {
                *out = into_handle::<quic_endpoint>(EndpointHandle {
                    ep,
                    send_buf: Vec::with_capacity(2048),
                    poisoned: false,
                });
                QUIC_RESULT_OK
            }
            Err(e) => api_error_code(e),
        }
    })
}

/// Frees an endpoint and every connection it holds (without telling
/// their peers: close them first for that). NULL is a no-op.
///
/// Safety: `ep` NULL or a live endpoint, not used afterwards; no
/// `quic_conn` borrowed from it is used afterwards.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_free(ep: *mut quic_endpoint) {
    super::guard::guard_value((), || {
        // SAFETY: per the contract.
        unsafe { free_handle(ep) }
    })
}

/// Replaces the endpoint's server config for the connections it accepts
/// from now on: how a running server rotates its session ticket keys
/// (`quic_config_set_ticket_keys`: the new key first, the old ones after
/// until their tickets expire) and token key, or changes any setting.
/// Connections already made keep the config they were made with. A
/// client-only endpoint starts accepting. The config is frozen as by
/// `quic_conn_new`, and must have the endpoint's connection ID length.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a client config, another connection
/// ID length); `QUIC_RESULT_INVALID_STATE` (no certificate); the
/// config's TLS errors as for `quic_conn_new`; `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `config` NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_set_server_config(
    ep: *mut quic_endpoint,
    config: *const quic_config,
) -> quic_result {
    with_endpoint(ep, |h| {
        // SAFETY: the caller passes NULL or a live config.
        let Some(cfg) = (unsafe { super::cast::handle_ref(config) }) else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        if cfg.is_client() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let (config, tls) = match cfg.snapshot() {
            Ok(s) => s,
            Err(e) => return e,
        };
        match h.ep.set_server_config(config, tls) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

/// Replaces the endpoint's stateless reset key (32 secret bytes, as
/// `quic_endpoint_params.reset_key`) for the connections made from now on
/// and for the resets it sends. Connections made before keep the tokens
/// they gave their peers: once such a connection is gone, a reset for it
/// goes unrecognised and its peer waits for its idle timeout instead.
/// Rotate rarely, and give every server of a fleet the new key first.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `key` NULL or valid for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_set_reset_key(
    ep: *mut quic_endpoint,
    key: *const u8,
) -> quic_result {
    with_endpoint(ep, |h| {
        let key = try_slice!(key, 32);
        let mut k = [0u8; 32];
        k.copy_from_slice(key);
        h.ep.set_reset_key(k);
        QUIC_RESULT_OK
    })
}

/// Starts a client connection to `addr` on the endpoint, so that many
/// connections share its socket. `config` is a client config with the
/// endpoint's connection ID length; `params` NULL or with client fields
/// only (session ticket, address token), as for `quic_conn_new`. The
/// connection's handle goes to `*out_handle`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a server config, another connection
/// ID length, server fields in `params`); `QUIC_RESULT_INVALID_STATE`
/// (the endpoint is full); `QUIC_RESULT_INVALID_ADDRESS`; the config's
/// TLS errors; `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `config` NULL or a live config; `params`
/// as for `quic_conn_new`; `addr` valid for `addrlen` bytes;
/// `out_handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_connect(
    ep: *mut quic_endpoint,
    config: *const quic_config,
    params: *const quic_conn_params,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
    now_ns: u64,
    out_handle: *mut u64,
) -> quic_result {
    with_endpoint(ep, |h| {
        let out = try_out!(out_handle);
        // SAFETY: the caller passes NULL or a live config.
        let Some(cfg) = (unsafe { super::cast::handle_ref(config) }) else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        if !cfg.is_client() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        // SAFETY: per the contract.
        let params = match unsafe { read_params(params) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        // SAFETY: the buffers of `params` are valid, per the contract.
        let extras = match unsafe { ClientExtras::read(params) } {
            Ok(x) => x,
            Err(e) => return e,
        };
        // SAFETY: per the contract.
        let remote = match unsafe { read_sockaddr(addr, addrlen) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        let (config, tls) = match cfg.snapshot() {
            Ok(s) => s,
            Err(e) => return e,
        };
        let made =
            h.ep.connect_with(config, tls, remote, now_ns, |c| extras.apply(c));
        match made {
            Ok(handle) => {
                *out = handle.0;
                QUIC_RESULT_OK
            }
            Err(e) => api_error_code(e),
        }
    })
}

/// Feeds one received datagram: `info->remote` (required) is where it
/// came from, `info->local` where it arrived (length 0: the one socket).
/// A buffer the kernel coalesced (`UDP_GRO`) goes in whole, with its
/// `info->segment_size`: each segment is a datagram of its own.
/// It goes to its connection, starts a new one, or is answered without
/// one (Version Negotiation, Retry, stateless reset), within the
/// endpoint's limits; nothing else happens to a datagram that fits none.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (`info->struct_size`);
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `data` valid for `len` bytes; `info` NULL
/// or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_recv(
    ep: *mut quic_endpoint,
    data: *const u8,
    len: usize,
    info: *const quic_datagram_info,
    now_ns: u64,
) -> quic_result {
    with_endpoint(ep, |h| {
        // SAFETY: per the contract.
        unsafe {
            each_received(data, len, info, |d, local, remote, ecn| {
                h.ep.recv_marked(d, local, remote, ecn, now_ns)
            })
        }
    })
}

/// Writes the next datagram of any connection (or a stateless answer)
/// into `out`, its length into `*out_len`, and its addresses into `info`
/// (`remote`: where to send it; `local`: where from, length 0 for the one
/// socket). Connections take turns, one datagram each. Call until DONE.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (nothing now);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_BUFFER_TOO_SMALL`
/// (`out_cap` under the largest max datagram size of the endpoint's
/// configs, 1200 by default: nothing is lost);
/// `QUIC_RESULT_INVALID_ARGUMENT` (`info->struct_size`);
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `out` writable for `out_cap` bytes;
/// `out_len` NULL or writable; `info` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_send(
    ep: *mut quic_endpoint,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    info: *mut quic_datagram_info,
    now_ns: u64,
) -> quic_result {
    // A batch of one, sealed straight into the caller's buffer; reported
    // with no segment size (a lone datagram, not a GSO run).
    let write = |ep: &mut Endpoint<ConnHandle>, scratch: &mut Vec<u8>, buf: &mut [u8]| {
        let (batch, len) = ep.send_batch_into(scratch, buf, 1, now_ns)?;
        let batch = Batch {
            segment_size: 0,
            ..batch
        };
        Some((batch, len))
    };
    // SAFETY: per the contract.
    unsafe { endpoint_send_with(ep, out, out_cap, out_len, info, write) }
}

/// The body of `quic_endpoint_send` and `quic_endpoint_send_batch`:
/// `write` puts a datagram or a batch into the scratch buffer, which is
/// copied to `out`; its addresses and `segment_size` go to `info`.
///
/// Safety: as `quic_endpoint_send`.
pub(super) unsafe fn endpoint_send_with(
    ep: *mut quic_endpoint,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    info: *mut quic_datagram_info,
    write: impl FnOnce(&mut Endpoint<ConnHandle>, &mut Vec<u8>, &mut [u8]) -> Option<(Batch, usize)>,
) -> quic_result {
    with_endpoint(ep, |h| {
        let out_len = try_out!(out_len);
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(info) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: per the contract.
        let buf = match unsafe { super::guard::slice_out(out, out_cap) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        if buf.len() < h.ep.max_datagram_size() {
            return QUIC_RESULT_BUFFER_TOO_SMALL;
        }
        let mut scratch = std::mem::take(&mut h.send_buf);
        let result = match write(&mut h.ep, &mut scratch, buf) {
            Some((b, len)) => {
                *out_len = len;
                // SAFETY: `info` is writable for `size` bytes.
                unsafe { write_batch_info(info, size, b.transmit, b.segment_size as u64) };
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_DONE,
        };
        h.send_buf = scratch;
        result
    })
}

/// When `quic_endpoint_handle_timer` is next due (ns), or UINT64_MAX for
/// never (also for NULL or a poisoned endpoint).
///
/// Safety: `ep` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_timeout(ep: *mut quic_endpoint) -> u64 {
    let mut at = u64::MAX;
    with_endpoint(ep, |h| {
        at = h.ep.timeout().unwrap_or(u64::MAX);
        QUIC_RESULT_OK
    });
    at
}

/// Runs the timers of every connection due by `now_ns`. Early calls are
/// harmless.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_handle_timer(
    ep: *mut quic_endpoint,
    now_ns: u64,
) -> quic_result {
    with_endpoint(ep, |h| {
        h.ep.handle_timer(now_ns);
        QUIC_RESULT_OK
    })
}

/// What a `quic_endpoint_event` reports. Numbers are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_endpoint_event_type {
    /// A client started a connection: `connection` is its handle;
    /// `address_proof` says whether a token proved its address (and
    /// which). Set a `context` for it with `quic_endpoint_set_context`.
    NewConnection = 1,
    /// An event of `connection`, written into the `quic_event` passed
    /// along (its pointers stay valid until the next
    /// `quic_endpoint_poll_event`).
    Connection = 2,
    /// `connection` is over and freed: its handle is refused from now on
    /// (its last events came before); `context` is the last time given,
    /// for the application to free. A `quic_conn` borrowed from it stays
    /// valid until the next `quic_endpoint_poll_event`.
    ConnectionDone = 3,
}

/// One endpoint event (output). Growth rule as for `quic_event`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_endpoint_event {
    /// `sizeof(quic_endpoint_event)`, set by the caller.
    pub struct_size: usize,
    /// What happened.
    pub kind: quic_endpoint_event_type,
    /// The connection's handle (for `quic_endpoint_conn`).
    pub connection: u64,
    /// The application's pointer for the connection
    /// (`quic_endpoint_set_context`; NULL until set).
    pub context: *mut std::ffi::c_void,
    /// NEW_CONNECTION: how the client's address was proven when it
    /// started: QUIC_TOKEN_KIND_RETRY (our Retry's token),
    /// QUIC_TOKEN_KIND_NEW_TOKEN (an earlier connection's token), or
    /// QUIC_TOKEN_KIND_NONE (the handshake will; until then at most three
    /// times what it sent goes to it). Otherwise NONE.
    pub address_proof: quic_token_kind,
}

// SAFETY: #[repr(C)], struct_size first; the minimum holds `kind`.
unsafe impl Growable for quic_endpoint_event {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_endpoint_event, kind) + 4;
}

/// Takes the next event: the endpoint's own (a new connection, a
/// connection done) and those of its connections, in order, into
/// `out_event`; for QUIC_ENDPOINT_EVENT_TYPE_CONNECTION, the connection's
/// event goes into `out_conn_event` (as `quic_conn_poll_event` writes it).
/// Both structs' `struct_size` are set by the caller.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_DONE` (no event);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ARGUMENT`
/// (a `struct_size` too small); `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; both outputs NULL or writable for their
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_poll_event(
    ep: *mut quic_endpoint,
    out_event: *mut quic_endpoint_event,
    out_conn_event: *mut quic_event,
) -> quic_result {
    with_endpoint(ep, |h| {
        // SAFETY: per the contract.
        let (size, conn_size) =
            match unsafe { (usable_size(out_event), usable_size(out_conn_event)) } {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return e,
            };
        let Some(ev) = h.ep.poll_event() else {
            return QUIC_RESULT_DONE;
        };
        let mut proof = quic_token_kind::None;
        let (kind, handle, context) = match ev {
            EndpointEvent::NewConnection(c, p) => {
                proof = match p {
                    AddressProof::None => quic_token_kind::None,
                    AddressProof::Retry => quic_token_kind::Retry,
                    AddressProof::NewToken => quic_token_kind::NewToken,
                };
                (
                    quic_endpoint_event_type::NewConnection,
                    c,
                    std::ptr::null_mut(),
                )
            }
            EndpointEvent::ConnectionDone(c) => {
                let context = h.ep.freed().map_or(std::ptr::null_mut(), |f| f.context);
                (quic_endpoint_event_type::ConnectionDone, c, context)
            }
            EndpointEvent::Connection(c, e) => {
                let Some(conn) = h.ep.connection_mut(c) else {
                    return QUIC_RESULT_INTERNAL;
                };
                conn.event = Some(e);
                if let Some(e) = &conn.event {
                    // SAFETY: `out_conn_event` is writable for `conn_size`
                    // bytes.
                    unsafe { write_sized(out_conn_event, &quic_event::describe(e), conn_size) };
                }
                (quic_endpoint_event_type::Connection, c, conn.context)
            }
        };
        let v = quic_endpoint_event {
            struct_size: size,
            kind,
            connection: handle.0,
            context,
            address_proof: proof,
        };
        // SAFETY: `out_event` is writable for `size` bytes.
        unsafe { write_sized(out_event, &v, size) };
        QUIC_RESULT_OK
    })
}

/// Borrows the connection of `handle` into `*out_conn`, to use with the
/// `quic_conn_*` calls that act on one connection (streams, datagrams,
/// close, stats, ...). The endpoint drives it: `quic_conn_recv*`,
/// `quic_conn_send*`, `quic_conn_handle_timer`, `quic_conn_poll_event`
/// and `quic_conn_connect` return QUIC_RESULT_INVALID_STATE on it, and
/// `quic_conn_free` ignores it.
///
/// Borrow it again for each use: borrowing is what tells the endpoint to
/// look at the connection (data written to a stream goes out at the next
/// `quic_endpoint_send`). The pointer stays valid until the
/// `quic_endpoint_poll_event` after the one that reported its
/// QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE; the handle is checked
/// forever.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NO_SUCH_CONNECTION` (the
/// handle's connection was freed, or never existed);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `out_conn` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_conn(
    ep: *mut quic_endpoint,
    handle: u64,
    out_conn: *mut *mut quic_conn,
) -> quic_result {
    with_endpoint(ep, |h| {
        let out = try_out!(out_conn);
        match h.ep.connection_mut(ConnectionHandle(handle)) {
            Some(conn) => {
                *out = (conn as *mut ConnHandle).cast();
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_NO_SUCH_CONNECTION,
        }
    })
}

/// Sets the application's pointer for the connection of `handle`: its
/// events carry it (`quic_endpoint_event.context`), the last one being
/// QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE, after which the application
/// frees what it points to. libquic never dereferences it.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NO_SUCH_CONNECTION`;
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_set_context(
    ep: *mut quic_endpoint,
    handle: u64,
    context: *mut std::ffi::c_void,
) -> quic_result {
    with_endpoint(ep, |h| {
        match h.ep.connection_mut(ConnectionHandle(handle)) {
            Some(conn) => {
                conn.context = context;
                QUIC_RESULT_OK
            }
            None => QUIC_RESULT_NO_SUCH_CONNECTION,
        }
    })
}

/// What an endpoint did (output), for monitoring. Growth rule as for
/// `quic_event`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_endpoint_stats_info {
    /// `sizeof(quic_endpoint_stats_info)`, set by the caller.
    pub struct_size: usize,
    /// Connections held now.
    pub connections: u64,
    /// Of them, handshakes in progress.
    pub half_open: u64,
    /// Server connections started.
    pub accepted: u64,
    /// Version Negotiation packets sent.
    pub version_negotiations: u64,
    /// Retry packets sent.
    pub retries: u64,
    /// New clients refused at the connection limit.
    pub refused_connection_limit: u64,
    /// New clients refused at the half-open limit.
    pub refused_half_open_limit: u64,
    /// Initials dropped past their address's rate.
    pub refused_initial_rate: u64,
    /// Stateless resets sent.
    pub stateless_resets: u64,
    /// Stateless resets not sent, for the rate limit.
    pub resets_rate_limited: u64,
    /// Datagrams that matched no connection and got no answer.
    pub unroutable: u64,
    /// Stateless answers dropped because too many waited.
    pub stateless_dropped: u64,
}

// SAFETY: #[repr(C)], struct_size first; the minimum holds `connections`.
unsafe impl Growable for quic_endpoint_stats_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_endpoint_stats_info, connections) + 8;
}

/// Copies the endpoint's counters into `out` (its `struct_size` set by
/// the caller).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (`struct_size`); `QUIC_RESULT_PANIC`.
///
/// Safety: `ep` NULL or live; `out` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_stats(
    ep: *mut quic_endpoint,
    out: *mut quic_endpoint_stats_info,
) -> quic_result {
    with_endpoint(ep, |h| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let s: EndpointStats = h.ep.stats();
        let v = quic_endpoint_stats_info {
            struct_size: size,
            connections: s.connections,
            half_open: s.half_open,
            accepted: s.accepted,
            version_negotiations: s.version_negotiations,
            retries: s.retries,
            refused_connection_limit: s.refused_connection_limit,
            refused_half_open_limit: s.refused_half_open_limit,
            refused_initial_rate: s.refused_initial_rate,
            stateless_resets: s.stateless_resets,
            resets_rate_limited: s.resets_rate_limited,
            unroutable: s.unroutable,
            stateless_dropped: s.stateless_dropped,
        };
        // SAFETY: `out` is writable for `size` bytes.
        unsafe { write_sized(out, &v, size) };
        QUIC_RESULT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::addr::quic_sockaddr_parse;
    use crate::ffi::config::{quic_config_free, quic_config_new};
    use crate::ffi::conn::with_conn;

    /// A panic inside a call on a connection borrowed from an endpoint
    /// poisons that connection: the endpoint sends its peer one
    /// CONNECTION_CLOSE (the farewell) and then lets it go with
    /// CONNECTION_DONE, rather than leaving the peer to time out.
    #[test]
    fn a_panicking_borrowed_connection_says_farewell_through_its_endpoint() {
        let (mut cfg, mut ep) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: all-zero bytes are valid for these C structs (integers
        // and byte arrays only).
        let (mut addr, mut info): (libc::sockaddr_storage, quic_datagram_info) =
            unsafe { std::mem::zeroed() };
        info.struct_size = std::mem::size_of::<quic_datagram_info>();
        // The event structs hold enums without a zero: the library fills
        // them, the caller only sets their size.
        let mut e = std::mem::MaybeUninit::<quic_endpoint_event>::zeroed();
        let mut ce = std::mem::MaybeUninit::<quic_event>::zeroed();
        // SAFETY: struct_size is the first field of both, a usize.
        unsafe {
            e.as_mut_ptr()
                .cast::<usize>()
                .write(std::mem::size_of::<quic_endpoint_event>());
            ce.as_mut_ptr()
                .cast::<usize>()
                .write(std::mem::size_of::<quic_event>());
        }
        let (mut len, mut handle, mut conn) = (0, 0u64, std::ptr::null_mut());
        let mut buf = [0u8; 1500];
        let mut n = 0usize;
        // SAFETY: writable out-pointers, a NUL-terminated string, live
        // handles, each freed once at the end.
        unsafe {
            assert_eq!(quic_config_new(true, &mut cfg), QUIC_RESULT_OK);
            assert_eq!(
                quic_endpoint_new(std::ptr::null(), std::ptr::null(), &mut ep),
                QUIC_RESULT_OK
            );
            assert_eq!(
                quic_sockaddr_parse(c"192.0.2.7:4433".as_ptr(), &mut addr, &mut len),
                QUIC_RESULT_OK
            );
            let peer = (&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
            let rc = quic_endpoint_connect(ep, cfg, std::ptr::null(), peer, len, 0, &mut handle);
            assert_eq!(rc, QUIC_RESULT_OK);
            while quic_endpoint_send(ep, buf.as_mut_ptr(), 1500, &mut n, &mut info, 0)
                == QUIC_RESULT_OK
            {}
            assert_eq!(quic_endpoint_conn(ep, handle, &mut conn), QUIC_RESULT_OK);
        }
        assert_eq!(
            with_conn(conn, |_| panic!("a bug inside a call")),
            QUIC_RESULT_PANIC
        );
        // SAFETY: live handles, writable outputs.
        unsafe {
            let sent = quic_endpoint_send(ep, buf.as_mut_ptr(), 1500, &mut n, &mut info, 1);
            assert_eq!(sent, QUIC_RESULT_OK, "the farewell");
            assert_eq!(info.remote_len, len);
            let header = crate::packet::header::parse(&buf[..n], 8).unwrap();
            assert_eq!(header.packet_type, crate::packet::PacketType::Initial);
            let rc = quic_endpoint_send(ep, buf.as_mut_ptr(), 1500, &mut n, &mut info, 1);
            assert_eq!(rc, QUIC_RESULT_DONE, "one farewell only");
            let mut done = false;
            while quic_endpoint_poll_event(ep, e.as_mut_ptr(), ce.as_mut_ptr()) == QUIC_RESULT_OK {
                // SAFETY: the library wrote the whole event (its size).
                let got = e.assume_init_ref();
                done |= got.kind == quic_endpoint_event_type::ConnectionDone
                    && got.connection == handle;
            }
            assert!(done, "the endpoint let the connection go");
            assert_eq!(
                quic_endpoint_conn(ep, handle, &mut conn),
                QUIC_RESULT_NO_SUCH_CONNECTION
            );
            quic_endpoint_free(ep);
            quic_config_free(cfg);
        }
    }
}
