//! `quic_config`: connection settings (aioquic's `QuicConfiguration`).
//!
//! A configuration is set up from one thread, then frozen by the first
//! connection made from it: from then on it is immutable, and any number
//! of threads may make connections from it at once (`quic_conn_new` takes
//! it `const`). Connections share its settings and TLS context instead of
//! copying them. The handle is reference-counted (`quic_config_ref`), and
//! connections keep what they need, so it may be freed while they live.

use std::ffi::{c_char, c_void, CStr, CString};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use super::cast::{handle_ref, Castable};
use super::guard::{guard, guard_value};
use super::result::*;
use crate::config::{Config, ConfigError, VerifyMode};
use crate::side::Side;
use crate::tls::TlsContext;

/// Connection settings; see `quic_config_new`.
pub struct quic_config {
    _private: [u8; 0],
}

/// What a `quic_config` handle points to (through an `Arc`).
pub(crate) struct ConfigHandle {
    state: Mutex<ConfigState>,
}

pub(crate) struct ConfigState {
    config: Config,
    /// Set by the first connection: the settings and TLS context every
    /// connection shares. Setters are refused from then on.
    frozen: Option<(Arc<Config>, Arc<TlsContext>)>,
    last_error: CString,
}

impl Castable for quic_config {
    type Rust = ConfigHandle;
}

impl ConfigHandle {
    fn lock(&self) -> MutexGuard<'_, ConfigState> {
        // A panic inside a setter leaves the state as consistent as the
        // setter left it; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared settings and TLS context, freezing the configuration on
    /// first use. A failure leaves it unfrozen, its reason in
    /// `last_error`.
    pub(crate) fn snapshot(&self) -> Result<(Arc<Config>, Arc<TlsContext>), quic_result> {
        let mut st = self.lock();
        if let Some((c, t)) = &st.frozen {
            return Ok((c.clone(), t.clone()));
        }
        match TlsContext::new(&st.config) {
            Ok(tls) => {
                let frozen = (Arc::new(st.config.clone()), tls);
                st.frozen = Some(frozen.clone());
                Ok(frozen)
            }
            Err(e) => Err(st.fail(e)),
        }
    }
}

impl ConfigHandle {
    /// True for a client's configuration.
    pub(crate) fn is_client(&self) -> bool {
        self.lock().config.side == Side::Client
    }
}

impl ConfigState {
    pub(super) fn fail(&mut self, e: ConfigError) -> quic_result {
        self.set_error(&e.to_string());
        config_error_code(&e)
    }

    pub(super) fn set_error(&mut self, message: &str) {
        self.last_error = CString::new(message.replace('\0', " ")).unwrap_or_default();
    }

    /// Applies a setter to the settings.
    pub(super) fn apply(
        &mut self,
        f: impl FnOnce(&mut Config) -> Result<(), ConfigError>,
    ) -> quic_result {
        match f(&mut self.config) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => self.fail(e),
        }
    }
}

/// Runs setter `name` on the config behind `cfg`: refused once the config
/// is frozen; on any failure, `quic_config_last_error` says why.
pub(super) fn with_config(
    cfg: *mut quic_config,
    name: &str,
    f: impl FnOnce(&mut ConfigState) -> quic_result,
) -> quic_result {
    guard(|| {
        // SAFETY: the caller passes NULL or a live config.
        let Some(h) = (unsafe { handle_ref(cfg.cast_const()) }) else {
            return QUIC_RESULT_NULL_PARAMETER;
        };
        let mut st = h.lock();
        if st.frozen.is_some() {
            // The message is not rewritten: threads sharing a frozen
            // config may hold pointers to it.
            return QUIC_RESULT_ALREADY_USED;
        }
        st.last_error = CString::default();
        let rc = f(&mut st);
        if rc < 0 && st.last_error.is_empty() {
            // SAFETY: quic_result_str returns a static NUL-terminated string.
            let what = unsafe { CStr::from_ptr(quic_result_str(rc)) };
            let message = format!("{name}: {}", what.to_string_lossy());
            st.set_error(&message);
        }
        rc
    })
}

/// A NUL-terminated string argument, or an error code.
///
/// Safety: `s` must be NULL or NUL-terminated.
pub(super) unsafe fn c_str<'a>(s: *const c_char) -> Result<Option<&'a str>, quic_result> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map(Some)
        .map_err(|_| QUIC_RESULT_INVALID_ARGUMENT)
}

/// Creates a configuration with aioquic's defaults for a client
/// (`is_client`) or a server: ALPN none, 8-byte connection IDs, 60 s idle
/// timeout, 1 MiB windows, 1200-byte datagrams, all three TLS 1.3 AEAD
/// suites, versions 1 and 2, peer verification on for clients.
///
/// Caller owns `*out_config`; free it with `quic_config_free`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`.
///
/// Safety: `out_config` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_config_new(
    is_client: bool,
    out_config: *mut *mut quic_config,
) -> quic_result {
    guard(|| {
        let out = try_out!(out_config);
        let side = if is_client {
            Side::Client
        } else {
            Side::Server
        };
        let handle = Arc::new(ConfigHandle {
            state: Mutex::new(ConfigState {
                config: Config::new(side),
                frozen: None,
                last_error: CString::default(),
            }),
        });
        *out = Arc::into_raw(handle).cast_mut().cast();
        QUIC_RESULT_OK
    })
}

/// Releases a reference to a configuration (the one `quic_config_new`
/// gave, or one from `quic_config_ref`); the last one frees it. NULL is a
/// no-op. Connections made from it are unaffected.
///
/// Safety: `config` must be NULL or a live config reference, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn quic_config_free(config: *mut quic_config) {
    guard_value((), || {
        if !config.is_null() {
            // SAFETY: per the contract `config` came from Arc::into_raw in
            // quic_config_new, and this reference is released once.
            drop(unsafe { Arc::from_raw(config.cast_const().cast::<ConfigHandle>()) });
        }
    })
}

/// Takes another reference to `config`, for another owner (a thread, a
/// binding's object); each reference is released with `quic_config_free`.
/// Returns `config` (NULL for NULL).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_ref(config: *const quic_config) -> *mut quic_config {
    guard_value(std::ptr::null_mut(), || {
        if !config.is_null() {
            // SAFETY: per the contract `config` is a live Arc from
            // quic_config_new; the count goes up by one.
            unsafe { Arc::increment_strong_count(config.cast::<ConfigHandle>()) };
        }
        config.cast_mut()
    })
}

/// Freezes `config` now, as the first connection would: builds its TLS
/// context, so setup errors (a certificate and key that do not match, an
/// unreadable CA store) surface here, on one thread, before the config is
/// shared. Freezing a frozen config does nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`; OpenSSL refusing
/// the settings: `QUIC_RESULT_INVALID_ARGUMENT`,
/// `QUIC_RESULT_TLS_CERTIFICATE`, `QUIC_RESULT_TLS_PRIVATE_KEY`,
/// `QUIC_RESULT_TLS_CA` (details in `quic_config_last_error`).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_freeze(config: *const quic_config) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        match unsafe { handle_ref(config) } {
            Some(h) => h.snapshot().map_or_else(|e| e, |_| QUIC_RESULT_OK),
            None => QUIC_RESULT_NULL_PARAMETER,
        }
    })
}

/// True once a connection was made from `config`: its settings are then
/// fixed (setters return `QUIC_RESULT_ALREADY_USED`) and it may be shared
/// by threads. False for NULL.
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_is_frozen(config: *const quic_config) -> bool {
    guard_value(false, || {
        // SAFETY: per the contract.
        unsafe { handle_ref(config) }.is_some_and(|h| h.lock().frozen.is_some())
    })
}

/// Describes why the last setter on `config` failed ("" after a success).
/// The string is owned by the config and valid until its next call; never
/// NULL (a NULL `config` gives "").
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_last_error(config: *const quic_config) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        // SAFETY: per the contract.
        match unsafe { handle_ref(config) } {
            // The CString's buffer stays put until the next failure
            // replaces it, which is after the lock is released here.
            Some(h) => h.lock().last_error.as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// Sets the ALPN protocols, in preference order (`count` NUL-terminated
/// strings of 1..=255 bytes). A client offers them; a server picks the
/// first of its own list that the client offered and fails the handshake
/// with no_application_protocol (CRYPTO_ERROR 0x178) when there is none.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (no name at all, or an empty, over-long
/// or non-UTF-8 name).
///
/// Safety: `protocols` must be NULL (with `count` 0) or hold `count` valid string
/// pointers.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_alpn_protocols(
    config: *mut quic_config,
    protocols: *const *const c_char,
    count: usize,
) -> quic_result {
    with_config(config, "quic_config_set_alpn_protocols", |h| {
        if count > 0 && protocols.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        let mut list = Vec::with_capacity(count.min(64));
        for i in 0..count {
            // SAFETY: `protocols` holds `count` pointers per the contract.
            let p = unsafe { *protocols.add(i) };
            // SAFETY: each is NULL or NUL-terminated per the contract.
            match unsafe { c_str(p) } {
                Ok(Some(s)) => list.push(s.as_bytes().to_vec()),
                Ok(None) => return QUIC_RESULT_NULL_PARAMETER,
                Err(e) => return e,
            }
        }
        h.apply(|c| c.set_alpn_protocols(list))
    })
}

/// Sets the length of the connection IDs this endpoint issues (0..=20;
/// default 8). With a QUIC-LB configuration (`quic_config_set_quic_lb`),
/// which sets the length itself, another length is refused: its IDs could
/// not be routed.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (over 20, or not QUIC-LB's length).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_connection_id_length(
    config: *mut quic_config,
    length: usize,
) -> quic_result {
    with_config(config, "quic_config_set_connection_id_length", |h| {
        h.apply(|c| c.set_connection_id_length(length))
    })
}

/// Sets the idle timeout in nanoseconds (0 disables ours; the smaller
/// non-zero value of both peers applies). Default 60 s.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (over a day).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_idle_timeout(
    config: *mut quic_config,
    timeout_ns: u64,
) -> quic_result {
    with_config(config, "quic_config_set_idle_timeout", |h| {
        h.apply(|c| c.set_idle_timeout(timeout_ns))
    })
}

/// Sends a PING after `interval_ns` nanoseconds in which no packet came in
/// and no ack-eliciting packet went out, once the handshake is complete
/// (RFC 9000 §10.1.2, quinn's `keep_alive_interval`). A quiet but healthy
/// connection then outlives the idle timeout, while the PINGs cost nothing
/// as long as the peer talks. A peer that stopped answering still ends the
/// connection at the idle timeout (IDLE_TIMEOUT), counted from the first
/// PING it did not answer: keep-alive lets a client use a short idle
/// timeout (say 10 s, with a keep-alive of 3 s) to notice a dead server
/// soon, without closing connections that are merely quiet. Choose it
/// well below the idle timeout; 0, the default, sends none.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (over a day).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_keep_alive(
    config: *mut quic_config,
    interval_ns: u64,
) -> quic_result {
    with_config(config, "quic_config_set_keep_alive", |h| {
        h.apply(|c| c.set_keep_alive(interval_ns))
    })
}

/// With `disable` true, tells the peer not to move to another address
/// (the disable_active_migration transport parameter, RFC 9000 §18.2): a
/// libquic client then gets QUIC_RESULT_MIGRATION_DISABLED from
/// `quic_conn_probe_path` and `quic_conn_migrate`. A NAT rebinding, which
/// the peer does not choose, is still followed. Off by default.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_disable_active_migration(
    config: *mut quic_config,
    disable: bool,
) -> quic_result {
    with_config(config, "quic_config_set_disable_active_migration", |h| {
        h.apply(|c| {
            c.set_disable_active_migration(disable);
            Ok(())
        })
    })
}

/// Sets the largest datagram PMTU discovery probes for (RFC 8899, RFC
/// 9000 §14.3; 1200..=65527, default 1452: Ethernet under IPv6). Once the
/// handshake is confirmed, lone PING probes padded to larger sizes test
/// the path (outside congestion control; a lost probe is not
/// congestion); each acknowledged size is used from then on
/// (QUIC_EVENT_TYPE_PATH_MTU_CHANGED). Three probe timeouts in a row with
/// large packets in flight mean a black hole (the path shrank): back to
/// 1200 bytes, and the search starts again. Datagrams stay within the
/// buffer given to each send call, so a caller with 1200-byte buffers
/// keeps 1200-byte datagrams; give `quic_config_set_max_pmtu`'s size or
/// more. A ceiling at or below `quic_config_set_max_datagram_size` turns
/// discovery off. Send with DF set (`IP_MTU_DISCOVER`
/// `IP_PMTUDISC_PROBE`): a probe the kernel fragments proves nothing.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (out of range).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_pmtu(
    config: *mut quic_config,
    size: usize,
) -> quic_result {
    with_config(config, "quic_config_set_max_pmtu", |h| {
        h.apply(|c| c.set_max_pmtu(size))
    })
}

/// Lets the send calls hand out datagrams up to `horizon_ns` ahead of the
/// time the pacer (RFC 9002 §7.7) releases them, each stamped with that
/// time in `quic_datagram_info.send_time_ns`: hold each until then, with
/// `SO_TXTIME` or a timer of your own. A paced sender then wakes up once
/// per horizon instead of once per burst. 0 (the default): datagrams are
/// handed out when they may leave. Only for callers that read
/// `send_time_ns` (`quic_conn_send_info`, `quic_conn_send_batch`, the
/// endpoint's send calls). A batch's datagrams all leave at its time.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (over 1 s).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_pacing_horizon(
    config: *mut quic_config,
    horizon_ns: u64,
) -> quic_result {
    with_config(config, "quic_config_set_pacing_horizon", |h| {
        h.apply(|c| c.set_pacing_horizon(horizon_ns))
    })
}

/// Turns ECN on (the default) or off (RFC 9000 §13.4, RFC 9002 §7.1).
/// On, the connection asks for ECT(0) on its datagrams
/// (`quic_datagram_info.ecn` from `quic_conn_send_info`,
/// `quic_conn_send_batch` and the endpoint's calls: set it with an
/// `IP_TOS` / `IPV6_TCLASS` control message), counts the marks the
/// caller reports on received datagrams (`quic_datagram_info.ecn` from
/// `IP_RECVTOS` / `IPV6_RECVTCLASS`) in its ACKs, validates the path
/// from the peer's counts, and takes CE marks as congestion: the window
/// shrinks before a queue overflows. A path, peer or caller that does
/// not carry the marks fails validation within the first round trips,
/// and nothing is marked after that (`quic_stats.ecn_state`).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_ecn(
    config: *mut quic_config,
    enabled: bool,
) -> quic_result {
    with_config(config, "quic_config_set_ecn", |h| {
        h.apply(|c| {
            c.set_ecn(enabled);
            Ok(())
        })
    })
}

/// A server offers `addr` as its preferred address (RFC 9000 §9.6): after
/// the handshake, clients validate it and move their connection there. One
/// address per family (IPv4, IPv6); call once for each. The server must
/// also receive on `addr`, route what arrives there by connection ID like
/// everything else (the preferred address has a CID of its own, reported
/// as QUIC_EVENT_TYPE_CONNECTION_ID_ISSUED right after `quic_conn_new`),
/// feed every datagram, on either address and from the first one on, with
/// `quic_conn_recv_info` naming the local address it arrived on, and send
/// each datagram from the local address `quic_conn_send_info` gives. A client that moves there shows up as
/// QUIC_EVENT_TYPE_PEER_MIGRATED, then PATH_VALIDATED.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_INVALID_ARGUMENT` (no IP
/// address or no port); `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config; `addr` valid for
/// `addrlen` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_preferred_address(
    config: *mut quic_config,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
) -> quic_result {
    with_config(config, "quic_config_set_preferred_address", |h| {
        // SAFETY: per the contract.
        match unsafe { super::addr::read_sockaddr(addr, addrlen) } {
            Ok(a) => h.apply(|c| c.set_preferred_address(a)),
            Err(e) => e,
        }
    })
}

/// Whether a client moves to the server's preferred address (RFC 9000
/// §9.6.1): on by default. When on, the client probes it once the
/// handshake is confirmed, from its current local address, and moves there
/// when it answers (QUIC_EVENT_TYPE_PATH_VALIDATED, then
/// QUIC_EVENT_TYPE_MIGRATED with `remote_addr` the new server address);
/// `quic_conn_send_info` / `quic_conn_send` then give that address, so a
/// caller whose socket is `connect`ed to the first address must send
/// elsewhere. If it does not answer within three PTOs,
/// QUIC_EVENT_TYPE_PATH_FAILED, and the connection stays. Turn it off for
/// a client that can reach one server address only.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_follow_preferred_address(
    config: *mut quic_config,
    follow: bool,
) -> quic_result {
    with_config(config, "quic_config_set_follow_preferred_address", |h| {
        h.apply(|c| {
            c.set_follow_preferred_address(follow);
            Ok(())
        })
    })
}

/// Sets how long a handshake may take, in nanoseconds, counted from
/// `quic_conn_connect` (client) or the first Initial (server). When it runs
/// out the connection ends at once, silently, with a
/// QUIC_EVENT_TYPE_CONNECTION_TERMINATED event (error code 0, reason
/// "Handshake timeout: ..."). 0, the default, means the idle timeout
/// (60 s unless changed; 60 s when the idle timeout is off).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (over a day).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_handshake_timeout(
    config: *mut quic_config,
    timeout_ns: u64,
) -> quic_result {
    with_config(config, "quic_config_set_handshake_timeout", |h| {
        h.apply(|c| c.set_handshake_timeout(timeout_ns))
    })
}

/// Sets the connection-level receive window (initial_max_data). Default
/// 1 MiB.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (above 2^62 - 1).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_data(
    config: *mut quic_config,
    max_data: u64,
) -> quic_result {
    with_config(config, "quic_config_set_max_data", |h| {
        h.apply(|c| {
            let stream = c.transport.max_stream_data;
            c.set_windows(max_data, stream)
        })
    })
}

/// Sets the per-stream receive window (initial_max_stream_data_*).
/// Default 1 MiB.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (above 2^62 - 1).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_stream_data(
    config: *mut quic_config,
    max_stream_data: u64,
) -> quic_result {
    with_config(config, "quic_config_set_max_stream_data", |h| {
        h.apply(|c| {
            let data = c.transport.max_data;
            c.set_windows(data, max_stream_data)
        })
    })
}

/// Sets the largest UDP payload this endpoint sends (1200..=65527; default
/// 1200). `quic_conn_send` needs an output buffer at least this large.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT`.
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_datagram_size(
    config: *mut quic_config,
    size: usize,
) -> quic_result {
    with_config(config, "quic_config_set_max_datagram_size", |h| {
        h.apply(|c| c.set_max_datagram_size(size))
    })
}

/// Sets the server name a client sends (SNI) and checks the certificate
/// against (a host name or an IP address).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (empty, over 255 bytes, not UTF-8).
///
/// Safety: `name` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_server_name(
    config: *mut quic_config,
    name: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_set_server_name", |h| {
        // SAFETY: per the contract.
        match unsafe { c_str(name) } {
            Ok(Some(n)) => h.apply(|c| c.set_server_name(n)),
            Ok(None) => QUIC_RESULT_NULL_PARAMETER,
            Err(e) => e,
        }
    })
}

/// Turns verification of the peer's certificate on (`QUIC_VERIFY_MODE_REQUIRED`)
/// or off (`QUIC_VERIFY_MODE_NONE`); see `quic_config_set_verify_mode`.
/// Clients verify by default; turning it off is for tests and interop runs
/// only.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_verify_peer(
    config: *mut quic_config,
    verify: bool,
) -> quic_result {
    with_config(config, "quic_config_set_verify_peer", |h| {
        h.apply(|c| {
            c.set_verify_mode(if verify {
                VerifyMode::Required
            } else {
                VerifyMode::None
            });
            Ok(())
        })
    })
}

/// How the peer's certificate is verified (aioquic's `verify_mode`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_verify_mode {
    /// No verification; a server asks for no client certificate
    /// (ssl.CERT_NONE).
    None = 0,
    /// A server asks for a client certificate and verifies it if one is
    /// sent, but accepts clients without (ssl.CERT_OPTIONAL); for a client,
    /// the same as REQUIRED.
    Optional = 1,
    /// The peer must present a certificate that verifies against the
    /// trusted CAs (ssl.CERT_REQUIRED); a client also checks the server
    /// name.
    Required = 2,
}

/// Sets how the peer's certificate is verified. Defaults: a client
/// REQUIRED, a server NONE. The mode is a `uint32_t`: any other value is
/// refused.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (not a quic_verify_mode);
/// `QUIC_RESULT_ALREADY_USED` (frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_verify_mode(
    config: *mut quic_config,
    mode: u32,
) -> quic_result {
    with_config(config, "quic_config_set_verify_mode", |h| {
        let mode = match mode {
            0 => VerifyMode::None,
            1 => VerifyMode::Optional,
            2 => VerifyMode::Required,
            _ => {
                h.set_error(&format!(
                    "quic_config_set_verify_mode: {mode} is not a quic_verify_mode (0, 1 or 2)"
                ));
                return QUIC_RESULT_INVALID_ARGUMENT;
            }
        };
        h.apply(|c| {
            c.set_verify_mode(mode);
            Ok(())
        })
    })
}

/// Adds trusted CA certificates (aioquic's `load_verify_locations`): a PEM
/// file, a directory of hashed certificates, and/or PEM data in memory. Any
/// of them may be NULL. Without any, the system's trust store is used.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_FILE_UNREADABLE` (cafile or capath cannot be read);
/// `QUIC_RESULT_TLS_CA` (no certificate in the PEM, or a bad one);
/// `QUIC_RESULT_INVALID_ARGUMENT` (a path that is not UTF-8). Details:
/// `quic_config_last_error`.
///
/// Safety: Strings must be NULL or NUL-terminated; `cadata` NULL or valid for
/// `cadata_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_load_verify_locations(
    config: *mut quic_config,
    cafile: *const c_char,
    capath: *const c_char,
    cadata: *const u8,
    cadata_len: usize,
) -> quic_result {
    with_config(config, "quic_config_load_verify_locations", |h| {
        // SAFETY: per the contract.
        let (file, path) = match unsafe { (c_str(cafile), c_str(capath)) } {
            (Ok(f), Ok(p)) => (f, p),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let data = try_slice!(cadata, cadata_len);
        let data = (!cadata.is_null()).then_some(data);
        h.apply(|c| c.load_verify_locations(file, path, data))
    })
}

/// Loads this endpoint's certificate chain (PEM, leaf first) and private
/// key (PEM, encrypted when `password` is given) from files (aioquic's
/// `load_cert_chain`). `keyfile` may be NULL when the key is in `certfile`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_FILE_UNREADABLE`; `QUIC_RESULT_TLS_CERTIFICATE`;
/// `QUIC_RESULT_TLS_PRIVATE_KEY` (unreadable, wrong password, or not the
/// certificate's key); `QUIC_RESULT_INVALID_ARGUMENT`. Details:
/// `quic_config_last_error`.
///
/// Safety: Strings must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_load_cert_chain(
    config: *mut quic_config,
    certfile: *const c_char,
    keyfile: *const c_char,
    password: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_load_cert_chain", |h| {
        // SAFETY: per the contract.
        let (cert, key, pw) = match unsafe { (c_str(certfile), c_str(keyfile), c_str(password)) } {
            (Ok(Some(c)), Ok(k), Ok(p)) => (c, k, p),
            (Ok(None), _, _) => return QUIC_RESULT_NULL_PARAMETER,
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
        h.apply(|c| c.load_cert_chain(cert, key, pw.map(str::as_bytes)))
    })
}

/// Like `quic_config_load_cert_chain`, from PEM data in memory.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_TLS_CERTIFICATE`; `QUIC_RESULT_TLS_PRIVATE_KEY`;
/// `QUIC_RESULT_INVALID_ARGUMENT`.
///
/// Safety: Buffers must be valid for their lengths; `password` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_load_cert_chain_pem(
    config: *mut quic_config,
    chain: *const u8,
    chain_len: usize,
    key: *const u8,
    key_len: usize,
    password: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_load_cert_chain_pem", |h| {
        let chain = try_slice!(chain, chain_len);
        let key = try_slice!(key, key_len);
        // SAFETY: per the contract.
        let pw = match unsafe { c_str(password) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        h.apply(|c| c.load_cert_chain_pem(chain, key, pw.map(str::as_bytes)))
    })
}

/// Restricts the TLS 1.3 cipher suites, in preference order, by their TLS
/// identifiers: 0x1301 (AES-128-GCM), 0x1302 (AES-256-GCM), 0x1303
/// (ChaCha20-Poly1305).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (empty, or an identifier QUIC cannot use).
///
/// Safety: `suites` must be valid for `count` values.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_cipher_suites(
    config: *mut quic_config,
    suites: *const u16,
    count: usize,
) -> quic_result {
    with_config(config, "quic_config_set_cipher_suites", |h| {
        if count > 0 && suites.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        if count > 16 || !suites.is_aligned() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let ids: &[u16] = if count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, aligned, `count` values per the contract.
            unsafe { std::slice::from_raw_parts(suites, count) }
        };
        h.apply(|c| c.set_cipher_suite_ids(ids))
    })
}

/// Sets the RTT assumed before the first measurement, in nanoseconds
/// (1 ms ..= 60 s; default 100 ms, as aioquic).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT`.
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_initial_rtt(
    config: *mut quic_config,
    rtt_ns: u64,
) -> quic_result {
    with_config(config, "quic_config_set_initial_rtt", |h| {
        h.apply(|c| c.set_initial_rtt(rtt_ns))
    })
}

/// Sets the QUIC versions, preferred first (1 and 0x6b3343cf; default
/// 1 then 0x6b3343cf, as aioquic). A client starts with the first unless
/// `quic_config_set_original_version` says otherwise, and offers to switch
/// to any of them by compatible version negotiation (RFC 9368); it answers
/// a Version Negotiation packet with a new attempt in the first of them the
/// server lists, or ends with VERSION_NEGOTIATION_ERROR (0x11) naming both
/// lists. A server answers in the first of them the client offers.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (empty, or a version libquic lacks).
///
/// Safety: `versions` must be valid for `count` values.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_supported_versions(
    config: *mut quic_config,
    versions: *const u32,
    count: usize,
) -> quic_result {
    with_config(config, "quic_config_set_supported_versions", |h| {
        if count > 0 && versions.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        if count > 16 || !versions.is_aligned() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let list: Vec<u32> = if count == 0 {
            Vec::new()
        } else {
            // SAFETY: non-NULL, aligned, `count` values per the contract.
            unsafe { std::slice::from_raw_parts(versions, count) }.to_vec()
        };
        h.apply(|c| c.set_supported_versions(list))
    })
}

/// Sets the version a client's first flight uses (aioquic's
/// `original_version`), e.g. 1 while preferring 0x6b3343cf through
/// `quic_config_set_supported_versions`: a server that supports version 2
/// can then switch the connection to it without a round trip (RFC 9369
/// §4). Default: the first supported version. Ignored by a server.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (a version libquic lacks).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_original_version(
    config: *mut quic_config,
    version: u32,
) -> quic_result {
    with_config(config, "quic_config_set_original_version", |h| {
        h.apply(|c| c.set_original_version(version))
    })
}

/// Sets the TLS key-exchange groups in OpenSSL's list syntax, e.g.
/// "X25519:P-256". Default: OpenSSL's, which include the X25519MLKEM768
/// hybrid (a ClientHello over two packets).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (empty, not UTF-8, or a list OpenSSL
/// refuses, e.g. an unknown name; `quic_config_last_error` says why).
///
/// Safety: `groups` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_groups(
    config: *mut quic_config,
    groups: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_set_groups", |h| {
        // SAFETY: per the contract.
        match unsafe { c_str(groups) } {
            Ok(Some(g)) => h.apply(|c| c.set_groups(g)),
            Ok(None) => QUIC_RESULT_NULL_PARAMETER,
            Err(e) => e,
        }
    })
}

/// Appends TLS secrets in the NSS key log format (SSLKEYLOGFILE) to the
/// file at `path`, created if needed, so tools such as Wireshark can
/// decrypt captures. Pass NULL to stop logging.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (a path that is not UTF-8);
/// `QUIC_RESULT_FILE_UNREADABLE` (cannot be opened for appending).
///
/// Safety: `path` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_secrets_log_file(
    config: *mut quic_config,
    path: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_set_secrets_log_file", |h| {
        // SAFETY: per the contract.
        let path = match unsafe { c_str(path) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Some(path) = path else {
            return h.apply(|c| {
                c.set_key_log(None);
                Ok(())
            });
        };
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Mutex::new(f),
            Err(e) => {
                return h.fail(ConfigError::Io {
                    path: path.into(),
                    reason: e.to_string(),
                })
            }
        };
        h.apply(|c| {
            c.set_key_log(Some(Arc::new(move |line: &str| {
                if let Ok(mut f) = file.lock() {
                    let _ = writeln!(f, "{line}");
                }
            })));
            Ok(())
        })
    })
}

/// Receives NSS key log lines (without newline) as they are produced.
pub type quic_secrets_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, line: *const c_char)>;

/// The caller's userdata: an opaque pointer handed back, never read.
pub(super) struct UserData(pub(super) *mut c_void);
impl UserData {
    pub(super) fn ptr(&self) -> *mut c_void {
        self.0
    }
}
// SAFETY: libquic never dereferences it; the caller owns its thread-safety.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// Calls `callback(userdata, line)` for every TLS secret, on the thread
/// that drives the connection. Pass a NULL callback to stop logging.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen) (NULL config).
///
/// Safety: `callback` must be safe to call with `userdata` from any thread that
/// drives a connection made from this config, as long as such connections
/// live.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_secrets_log_callback(
    config: *mut quic_config,
    callback: quic_secrets_log_fn,
    userdata: *mut c_void,
) -> quic_result {
    with_config(config, "quic_config_set_secrets_log_callback", |h| {
        let Some(cb) = callback else {
            return h.apply(|c| {
                c.set_key_log(None);
                Ok(())
            });
        };
        let ud = UserData(userdata);
        h.apply(|c| {
            c.set_key_log(Some(Arc::new(move |line: &str| {
                if let Ok(line) = CString::new(line) {
                    // SAFETY: the caller vouched for `cb` and `userdata`.
                    unsafe { cb(ud.ptr(), line.as_ptr()) };
                }
            })));
            Ok(())
        })
    })
}

/// Offers DATAGRAM support (RFC 9221) accepting frames of up to `size`
/// bytes (max_datagram_frame_size); 0 turns it off (the default).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (above 2^62 - 1).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_datagram_frame_size(
    config: *mut quic_config,
    size: u64,
) -> quic_result {
    with_config(config, "quic_config_set_max_datagram_frame_size", |h| {
        h.apply(|c| c.set_max_datagram_frame_size(size))
    })
}

/// Sets how many streams of each kind the peer may have open at once
/// (initial_max_streams_bidi / _uni; default 128 each, as aioquic). Slots
/// are given back with MAX_STREAMS as streams close.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (above 2^60).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_streams(
    config: *mut quic_config,
    bidi: u64,
    uni: u64,
) -> quic_result {
    with_config(config, "quic_config_set_max_streams", |h| {
        h.apply(|c| c.set_max_streams(bidi, uni))
    })
}

/// Starts a 1-RTT key update (RFC 9001 §6) after every `packets` packets
/// sent with one key. 0, the default, updates only before the cipher's
/// confidentiality limit (2^23 packets for AES-GCM, RFC 9001 §6.6), which
/// libquic always does.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_key_update_interval(
    config: *mut quic_config,
    packets: u64,
) -> quic_result {
    with_config(config, "quic_config_set_key_update_interval", |h| {
        h.apply(|c| {
            c.set_key_update_interval(packets);
            Ok(())
        })
    })
}

/// Congestion control algorithms (aioquic's
/// `congestion_control_algorithm`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_congestion_control {
    /// NewReno (RFC 9002 §7), aioquic's default.
    NewReno = 0,
    /// CUBIC (RFC 9438), the default (NewReno was, up to libquic 0.2.0):
    /// on lossy paths it keeps about 1.6 times NewReno's goodput, and it is
    /// what quinn, msquic and Linux run.
    Cubic = 1,
}

/// Chooses the congestion controller: 0 NewReno, 1 CUBIC (the default)
/// (`QUIC_CONGESTION_CONTROL_*`).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (another value).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_congestion_control(
    config: *mut quic_config,
    algorithm: u32,
) -> quic_result {
    use crate::recovery::congestion::Algorithm;
    with_config(config, "quic_config_set_congestion_control", |h| {
        let algo = match algorithm {
            x if x == quic_congestion_control::NewReno as u32 => Algorithm::NewReno,
            x if x == quic_congestion_control::Cubic as u32 => Algorithm::Cubic,
            _ => {
                h.set_error(&format!(
                    "quic_config_set_congestion_control: {algorithm} is not a \
                     quic_congestion_control (0 or 1)"
                ));
                return QUIC_RESULT_INVALID_ARGUMENT;
            }
        };
        h.apply(|c| {
            c.set_congestion_control(algo);
            Ok(())
        })
    })
}

/// Sets how far receive windows may grow by auto-tuning: per stream and
/// per connection, in bytes. They start at `quic_config_set_max_stream_data`
/// / `quic_config_set_max_data` and double while the application keeps
/// up. Defaults: 16 MiB and 24 MiB. Values below the initial windows keep
/// the windows fixed.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (above 2^62 - 1).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_max_windows(
    config: *mut quic_config,
    stream: u64,
    connection: u64,
) -> quic_result {
    with_config(config, "quic_config_set_max_windows", |h| {
        h.apply(|c| c.set_max_windows(stream, connection))
    })
}

/// Turns session tickets on (aioquic's session_ticket_handler): a server
/// issues two after each handshake, sealed with its ticket keys
/// (`quic_config_set_ticket_keys`); a client reports each it receives as
/// QUIC_EVENT_TYPE_SESSION_TICKET, for a later connection to resume with
/// (`quic_conn_params.session_ticket`). Off by default on both sides.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_session_tickets(
    config: *mut quic_config,
    enabled: bool,
) -> quic_result {
    with_config(config, "quic_config_set_session_tickets", |h| {
        h.apply(|c| {
            c.set_session_tickets(enabled);
            Ok(())
        })
    })
}

/// Bytes of one ticket key for `quic_config_set_ticket_keys`.
pub const QUIC_TICKET_KEY_LEN: usize = 80;
const _: () = assert!(QUIC_TICKET_KEY_LEN == crate::tls::TICKET_KEY_LEN);

/// Sets a server's session ticket keys: `count` keys of
/// QUIC_TICKET_KEY_LEN (80) bytes each, back to back — a 16-byte key name
/// (sent in clear in each ticket), a 32-byte AES-256 key and a 32-byte
/// HMAC-SHA256 key, all secret but the name, from a good random source.
/// The first key seals new tickets; every key opens tickets (a client
/// holding a ticket under an older key resumes, and gets a new ticket
/// under the first). Give every server of a fleet the same keys so any of
/// them resumes any client. To rotate: a new config whose keys are the new
/// key first and the old ones after; drop a key once its tickets expired
/// (`quic_config_set_ticket_lifetime`). Without keys, each config seals
/// with random keys of its own. At most 16 keys; names must differ.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (no key, more than 16, or two with one
/// name); `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config; `keys` valid for
/// `count * 80` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_ticket_keys(
    config: *mut quic_config,
    keys: *const u8,
    count: usize,
) -> quic_result {
    use crate::tls::{TicketKey, TICKET_KEY_LEN};
    with_config(config, "quic_config_set_ticket_keys", |h| {
        let Some(len) = count.checked_mul(TICKET_KEY_LEN) else {
            h.set_error("quic_config_set_ticket_keys: too many keys");
            return QUIC_RESULT_INVALID_ARGUMENT;
        };
        let bytes = try_slice!(keys, len);
        let keys = bytes
            .chunks_exact(TICKET_KEY_LEN)
            .filter_map(|k| k.try_into().ok().map(TicketKey::from_bytes))
            .collect();
        h.apply(|c| c.set_ticket_keys(keys))
    })
}

/// Sets how long a server's session tickets may be used, in seconds: 1 to
/// 604800 (7 days, RFC 8446 §4.6.1). Default 86400 (a day). A client
/// offering an older ticket gets a full handshake.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (out of range); `QUIC_RESULT_ALREADY_USED`
/// (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_ticket_lifetime(
    config: *mut quic_config,
    seconds: u32,
) -> quic_result {
    with_config(config, "quic_config_set_ticket_lifetime", |h| {
        h.apply(|c| c.set_ticket_lifetime(seconds))
    })
}

/// Sets a server's key for address-validation tokens (Retry tokens from
/// `quic_retry_with_token`, NEW_TOKEN tokens it gives clients): 32 secret
/// random bytes, the same for every server of a fleet so that any of them
/// accepts the others' tokens. Random per config when never set.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config; `key` NULL or valid for
/// 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_token_key(
    config: *mut quic_config,
    key: *const u8,
) -> quic_result {
    with_config(config, "quic_config_set_token_key", |h| {
        let key = try_slice!(key, 32);
        let mut k = [0u8; 32];
        k.copy_from_slice(key);
        h.apply(|c| {
            c.set_token_key(k);
            Ok(())
        })
    })
}

/// Sets how long the NEW_TOKEN tokens a server gives its clients after
/// each handshake are good for, in seconds: at most 30 days; 0 gives none.
/// Default 3600 (an hour). Token times come from the system clock, which
/// servers of a fleet should keep in step.
///
/// A token is good for one connection (RFC 9000 §8.1.4): the config
/// remembers the tokens `quic_token_check` accepted (65,536 at most, each
/// for the token lifetime), and a token presented by another connection
/// attempt is INVALID. The register is in this process's memory: another
/// process or server of a fleet sharing `quic_config_set_token_key` would
/// accept the token once more.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (over 30 days); `QUIC_RESULT_ALREADY_USED`
/// (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_token_lifetime(
    config: *mut quic_config,
    seconds: u64,
) -> quic_result {
    with_config(config, "quic_config_set_token_lifetime", |h| {
        h.apply(|c| c.set_token_lifetime(seconds))
    })
}

/// Turns 0-RTT on (RFC 9001 §4.6; aioquic's max_early_data): a client
/// resuming with a ticket that allows it (`quic_conn_params.session_ticket`)
/// may send streams and datagrams right after `quic_conn_connect`, before
/// the handshake completes, within the limits the ticket remembered; a
/// server (with `quic_config_set_session_tickets` on) issues tickets that
/// allow it and accepts early data. Off by default on both sides.
///
/// **Replay**: an attacker can capture a client's 0-RTT flight and send it
/// again. OpenSSL refuses the early data of a flight whose ticket age is
/// more than about 10 seconds off, so a replay must come within seconds.
/// Within them, each config takes a ticket's early data once: a register
/// of the tickets used in the last 20 seconds, in this process's memory,
/// shared by the config's connections (65,536 at most; when it is full,
/// early data is refused and the handshake still resumes). Another config,
/// another process, or another server of a fleet sharing the ticket keys
/// does not see that register: give them one they share with
/// `quic_config_set_shared_register`, or a replay sent to them is accepted
/// again. A server restarted with the same ticket keys starts with an empty
/// register, so without a shared one it refuses 0-RTT for its first 20
/// seconds (random ticket keys, the default, open no older ticket and need
/// no such wait). Even so, only send in 0-RTT what is safe to process twice
/// (RFC 9001 §9.2): idempotent requests, not payments.
///
/// Whether early data was accepted: HANDSHAKE_COMPLETED's
/// `early_data_accepted`; a client whose early data was refused gets
/// QUIC_EVENT_TYPE_EARLY_DATA_REJECTED, and libquic sends its stream data
/// again in 1-RTT (its DATAGRAMs, unreliable, are not resent). Should the
/// server's new limits no longer allow what went early (fewer streams,
/// smaller windows), the connection ends with a local error saying so.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_early_data(
    config: *mut quic_config,
    enabled: bool,
) -> quic_result {
    with_config(config, "quic_config_set_early_data", |h| {
        h.apply(|c| {
            c.set_early_data(enabled);
            Ok(())
        })
    })
}
