//! 0-RTT through OpenSSL's QUIC hooks (RFC 9001 §4.6, OPENSSL-QUIC.md §5):
//! the server's side of deciding whether early data is accepted.
//!
//! Each ticket a server issues carries, as OpenSSL ticket app data, the
//! QUIC version and the transport parameters that bound a 0-RTT flight
//! (what RFC 9000 §7.4.1 has the client remember), plus a random 16-byte
//! nonce. When a client resumes with early data, the server accepts it
//! only when the version is the same, none of its current limits is
//! smaller than the ticket's (§7.4.1: it must not reduce them), and the
//! ticket's nonce was not seen before: tickets are stateless (a fleet
//! shares their keys), so the strike register is what stops an attacker
//! replaying a captured 0-RTT flight to this server (RFC 9001 §9.2). The
//! register is bounded; when it is full of live nonces, early data is
//! refused (the handshake goes on as a resumption) rather than replayable.
//!
//! A nonce needs keeping only while a replay of its flight could still be
//! accepted: OpenSSL takes early data only when the ticket age the client
//! claims is within 10 s of its own view (`TICKET_AGE_ALLOWANCE`, plus 1 s
//! for rounding), and a replayed ClientHello carries its original claim.
//! So entries live [`STRIKE_WINDOW`] seconds on the register's one clock,
//! not until the ticket expires: a client resuming 65,536 times fills it
//! for 20 seconds, not for the ticket's lifetime.
//!
//! The register lives in one configuration's memory. Servers that share
//! ticket keys (a fleet, a process restarted with the same keys) give the
//! application's [`SharedRegister`] the last word on each new nonce; a
//! server with such keys and no shared register refuses early data for
//! its register's first window, since a flight accepted just before it
//! existed could come again.

use std::collections::{HashSet, VecDeque};
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex, OnceLock};

use foreign_types::ForeignTypeRef;
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContext, SslContextBuilder, SslRef};
use openssl_sys as ffi;

use super::settings::TlsInputs;
use crate::shared_register::{OnceKind, SharedRegister};
use crate::side::Side;
use crate::token::UnixClock;
use crate::transport_params::TransportParameters;

/// Nonces the strike register holds at most (a few MB at most: a 16-byte
/// nonce and an expiry each, in a set and a queue).
pub(super) const STRIKE_CAPACITY: usize = 65_536;

/// Seconds a nonce stays in the strike register: twice the 11 s in which
/// OpenSSL could accept a replayed flight's ticket age.
pub(super) const STRIKE_WINDOW: u64 = 20;

/// What a server's connection would allow a 0-RTT flight, and what its
/// tickets record: the version and the encoded limits.
#[derive(Debug, Clone)]
pub struct EarlyPolicy {
    /// The QUIC version of the connection.
    pub version: u32,
    /// The server's 0-RTT-relevant transport parameters, encoded.
    pub params: Vec<u8>,
}

/// Nonces of tickets already used for early data, for [`STRIKE_WINDOW`].
pub(crate) struct StrikeRegister {
    seen: HashSet<[u8; 16]>,
    /// (expiry in Unix seconds, nonce), oldest first.
    order: VecDeque<(u64, [u8; 16])>,
    capacity: usize,
    clock: Arc<dyn UnixClock>,
    /// The application's register, asked about nonces this one has not
    /// seen.
    shared: Option<Arc<dyn SharedRegister>>,
    /// No early data before this (Unix seconds): a register that starts
    /// empty cannot know the flights accepted in the last window by the
    /// process it replaces (see [`StrikeRegister::new`]).
    refuse_until: u64,
}

impl std::fmt::Debug for StrikeRegister {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrikeRegister")
            .field("seen", &self.seen.len())
            .field("shared", &self.shared.is_some())
            .field("refuse_until", &self.refuse_until)
            .finish()
    }
}

impl StrikeRegister {
    /// An empty register. When tickets outlive it (`lasting_tickets`: the
    /// application's ticket keys, which a restarted process or another
    /// server also holds) and no `shared` register remembers for it, a
    /// flight accepted just before it existed could be replayed to it: so
    /// it refuses early data for the first [`STRIKE_WINDOW`] seconds. With
    /// random ticket keys, made with this register, no older ticket opens.
    pub(crate) fn new(
        capacity: usize,
        clock: Arc<dyn UnixClock>,
        shared: Option<Arc<dyn SharedRegister>>,
        lasting_tickets: bool,
    ) -> Self {
        let refuse_until = if lasting_tickets && shared.is_none() {
            clock.unix_seconds().saturating_add(STRIKE_WINDOW)
        } else {
            0
        };
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
            clock,
            shared,
            refuse_until,
        }
    }

    /// Records a ticket's first use for early data here; false when it was
    /// used within the window (a replay), when the register is full of live
    /// nonces, or while it is too young to know. The shared register, if
    /// any, has the last word on a true ([`allow_early_data`] asks it
    /// outside this register's lock).
    pub(crate) fn first_use(&mut self, nonce: [u8; 16]) -> bool {
        let now = self.clock.unix_seconds();
        if now < self.refuse_until {
            return false;
        }
        // One window for all, on one clock: the oldest entries go first.
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, n)) = self.order.pop_front() {
                self.seen.remove(&n);
            }
        }
        if self.seen.contains(&nonce) || self.seen.len() >= self.capacity {
            return false;
        }
        self.seen.insert(nonce);
        self.order
            .push_back((now.saturating_add(STRIKE_WINDOW), nonce));
        true
    }
}

/// The policy of one server SSL, found by the callbacks through ex_data.
fn policy_index() -> Index<Ssl, EarlyPolicy> {
    static INDEX: OnceLock<Index<Ssl, EarlyPolicy>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("an SSL ex_data index"))
}

/// The strike register of a server context.
fn register_index() -> Index<SslContext, Mutex<StrikeRegister>> {
    static INDEX: OnceLock<Index<SslContext, Mutex<StrikeRegister>>> = OnceLock::new();
    *INDEX.get_or_init(|| SslContext::new_ex_index().expect("an SSL_CTX ex_data index"))
}

type GenCb = unsafe extern "C" fn(*mut ffi::SSL, *mut c_void) -> c_int;
type AllowCb = unsafe extern "C" fn(*mut ffi::SSL, *mut c_void) -> c_int;

extern "C" {
    fn SSL_set_quic_tls_early_data_enabled(s: *mut ffi::SSL, enabled: c_int) -> c_int;
    fn SSL_CTX_set_session_ticket_cb(
        ctx: *mut ffi::SSL_CTX,
        gen_cb: Option<GenCb>,
        dec_cb: Option<unsafe extern "C" fn()>,
        arg: *mut c_void,
    ) -> c_int;
    fn SSL_CTX_set_allow_early_data_cb(
        ctx: *mut ffi::SSL_CTX,
        cb: Option<AllowCb>,
        arg: *mut c_void,
    );
    fn SSL_SESSION_set1_ticket_appdata(
        ss: *mut ffi::SSL_SESSION,
        data: *const c_void,
        len: usize,
    ) -> c_int;
    fn SSL_SESSION_get0_ticket_appdata(
        ss: *mut ffi::SSL_SESSION,
        data: *mut *mut c_void,
        len: *mut usize,
    ) -> c_int;
    fn SSL_get_early_data_status(s: *const ffi::SSL) -> c_int;
}

/// SSL_OP_NO_ANTI_REPLAY: keep tickets stateless with early data on
/// (OPENSSL-QUIC.md §5); replays are ours to stop.
const SSL_OP_NO_ANTI_REPLAY: u64 = 1 << 24;
const SSL_EARLY_DATA_ACCEPTED: c_int = 2;
const SSL_EARLY_DATA_REJECTED: c_int = 1;

/// What became of a client's early data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyDataStatus {
    /// None was offered.
    #[default]
    NotSent,
    /// The server refused it: everything sent in 0-RTT must go again.
    Rejected,
    /// The server took it.
    Accepted,
}

/// Sets a server context up for 0-RTT: stateless tickets carrying the
/// policy, the allow callback, and a strike register.
pub(super) fn install_server(b: &mut SslContextBuilder, inputs: &impl TlsInputs) -> bool {
    let register = StrikeRegister::new(
        STRIKE_CAPACITY,
        inputs.unix_clock(),
        inputs.shared_register(),
        !inputs.tls_settings().ticket_keys.is_empty(),
    );
    b.set_ex_data(register_index(), Mutex::new(register));
    // SAFETY: the context is live; the callbacks have the exact C
    // signatures and take what they need from ex_data, not from `arg`.
    unsafe {
        ffi::SSL_CTX_set_options(b.as_ptr(), SSL_OP_NO_ANTI_REPLAY as _);
        SSL_CTX_set_allow_early_data_cb(b.as_ptr(), Some(allow_early_data), std::ptr::null_mut());
        SSL_CTX_set_session_ticket_cb(b.as_ptr(), Some(ticket_appdata), None, std::ptr::null_mut())
            == 1
    }
}

/// Turns early data on for one SSL (a server with its policy; a client
/// resuming a session that allows it). False when OpenSSL declines (a
/// client's session without the QUIC max_early_data).
pub(super) fn enable(ssl: &mut Ssl, policy: Option<EarlyPolicy>) -> bool {
    if let Some(p) = policy {
        ssl.set_ex_data(policy_index(), p);
    }
    // SAFETY: the SSL is live, its QUIC callbacks are set and it has not
    // started (SSL_set_quic_tls_early_data_enabled(3)).
    unsafe { SSL_set_quic_tls_early_data_enabled(ssl.as_ptr(), 1) == 1 }
}

/// What OpenSSL says became of early data (after the handshake).
pub(super) fn status(ssl: &SslRef) -> EarlyDataStatus {
    // SAFETY: the SSL is live.
    match unsafe { SSL_get_early_data_status(ssl.as_ptr()) } {
        SSL_EARLY_DATA_ACCEPTED => EarlyDataStatus::Accepted,
        SSL_EARLY_DATA_REJECTED => EarlyDataStatus::Rejected,
        _ => EarlyDataStatus::NotSent,
    }
}

/// Ticket app data: version (4), nonce (16), encoded parameters.
fn appdata(policy: &EarlyPolicy, nonce: [u8; 16]) -> Vec<u8> {
    let mut v = policy.version.to_be_bytes().to_vec();
    v.extend_from_slice(&nonce);
    v.extend_from_slice(&policy.params);
    v
}

/// SSL_CTX_set_session_ticket_cb's generate callback: the policy and a
/// fresh nonce go into the ticket.
unsafe extern "C" fn ticket_appdata(s: *mut ffi::SSL, _arg: *mut c_void) -> c_int {
    let run = || {
        // SAFETY: OpenSSL passes the live SSL issuing the ticket.
        let ssl = unsafe { SslRef::from_ptr(s) };
        let Some(policy) = ssl.ex_data(policy_index()) else {
            return 1; // no policy: a ticket without early data's record
        };
        let mut nonce = [0u8; 16];
        if openssl::rand::rand_bytes(&mut nonce).is_err() {
            return 0;
        }
        let data = appdata(policy, nonce);
        // SAFETY: the SSL's session is live; OpenSSL copies the data.
        unsafe {
            let session = ffi::SSL_get_session(s);
            !session.is_null()
                && SSL_SESSION_set1_ticket_appdata(session, data.as_ptr().cast(), data.len()) == 1
        }
        .into()
    };
    std::panic::catch_unwind(run).unwrap_or(0)
}

/// SSL_set_allow_early_data_cb's callback: 1 accepts the client's early
/// data, 0 refuses only the early data (the resumption goes on).
unsafe extern "C" fn allow_early_data(s: *mut ffi::SSL, _arg: *mut c_void) -> c_int {
    let run = || {
        // SAFETY: OpenSSL passes the live SSL deciding on early data.
        let ssl = unsafe { SslRef::from_ptr(s) };
        let Some(policy) = ssl.ex_data(policy_index()) else {
            return 0;
        };
        let (mut data, mut len) = (std::ptr::null_mut::<c_void>(), 0usize);
        // SAFETY: the resumed session is live for the call; the app data
        // pointer stays valid while it is.
        let found = unsafe {
            let session = ffi::SSL_get_session(s);
            if session.is_null() {
                return 0;
            }
            SSL_SESSION_get0_ticket_appdata(session, &mut data, &mut len) == 1
        };
        if !found || data.is_null() || len < 20 {
            return 0;
        }
        // SAFETY: OpenSSL gives `len` bytes at `data`.
        let app = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        let version = u32::from_be_bytes([app[0], app[1], app[2], app[3]]);
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&app[4..20]);
        let (Ok(then), Ok(now)) = (
            TransportParameters::decode(&app[20..], Side::Server),
            TransportParameters::decode(&policy.params, Side::Server),
        ) else {
            return 0;
        };
        if version != policy.version || !now.keeps_zero_rtt_limits(&then) {
            return 0;
        }
        let Some(register) = ssl.ssl_context().ex_data(register_index()) else {
            return 0;
        };
        let (first, shared) = register
            .lock()
            .map(|mut r| (r.first_use(nonce), r.shared.clone()))
            .unwrap_or((false, None));
        // The fleet's register may take a while: no lock is held.
        let fleet_first =
            || shared.is_none_or(|s| s.first_use(OnceKind::EarlyData, &nonce, STRIKE_WINDOW));
        c_int::from(first && fleet_first())
    };
    std::panic::catch_unwind(run).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TestClock;

    #[test]
    fn a_nonce_is_taken_once_within_the_window_and_a_full_register_refuses() {
        let clock = TestClock::at(100);
        let mut r = StrikeRegister::new(2, clock.clone(), None, false);
        assert!(r.first_use([1; 16]));
        assert!(!r.first_use([1; 16]), "a replay");
        clock.set(105);
        assert!(r.first_use([2; 16]));
        assert!(!r.first_use([3; 16]), "full of live nonces");
        // The window of the first passed: room again, on the register's
        // own clock, although the tickets themselves live for a day.
        clock.set(100 + STRIKE_WINDOW);
        assert!(r.first_use([3; 16]));
        assert!(!r.first_use([2; 16]), "still within its window");
    }

    #[test]
    fn a_client_resuming_many_times_blocks_0rtt_for_the_window_only() {
        let clock = TestClock::at(1_000);
        let mut r = StrikeRegister::new(STRIKE_CAPACITY, clock.clone(), None, false);
        for i in 0..STRIKE_CAPACITY as u64 {
            let mut n = [0; 16];
            n[..8].copy_from_slice(&i.to_be_bytes());
            assert!(r.first_use(n));
        }
        assert!(!r.first_use([0xee; 16]), "full");
        clock.set(1_000 + STRIKE_WINDOW);
        assert!(r.first_use([0xee; 16]), "0-RTT is back after the window");
    }
}
