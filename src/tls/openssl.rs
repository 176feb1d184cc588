//! The OpenSSL QUIC-TLS glue (`SSL_set_quic_tls_cbs`, OpenSSL >= 3.5.1).
//! OPENSSL-QUIC.md §1-§4 describe the contract followed here.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use foreign_types::ForeignType;
use openssl::ex_data::Index;
use openssl::ssl::{
    AlpnError, Ssl, SslContext, SslContextBuilder, SslMethod, SslSession, SslSessionCacheMode,
    SslVerifyMode, SslVersion,
};
use openssl_sys as ffi;
use std::sync::{Mutex, OnceLock};

use super::early_data::{self, EarlyDataStatus, EarlyPolicy};
use super::post_handshake::PostHandshake;
use super::settings::{TlsInputs, TlsSettings, VerifyMode};
use super::ticket_keys;
use super::{alert, Level, YieldedSecret};
use crate::crypto::{Secret, Suite};
use crate::error::ConfigError;
use crate::error::{code, TransportError};
use crate::side::Side;
use crate::transport_params::TransportParameters;

// OpenSSL's QUIC-TLS API (ssl.h, core_dispatch.h); openssl-sys lacks it.
#[repr(C)]
struct OsslDispatch {
    function_id: c_int,
    function: Option<unsafe extern "C" fn()>,
}

const CRYPTO_SEND: c_int = 2001;
const CRYPTO_RECV_RCD: c_int = 2002;
const CRYPTO_RELEASE_RCD: c_int = 2003;
const YIELD_SECRET: c_int = 2004;
const GOT_TRANSPORT_PARAMS: c_int = 2005;
const ALERT: c_int = 2006;

extern "C" {
    fn SSL_set_quic_tls_cbs(
        s: *mut ffi::SSL,
        qtdis: *const OsslDispatch,
        arg: *mut c_void,
    ) -> c_int;
    fn SSL_set_quic_tls_transport_params(s: *mut ffi::SSL, params: *const u8, len: usize) -> c_int;
    fn SSL_CTX_set_timeout(ctx: *mut ffi::SSL_CTX, seconds: std::ffi::c_long) -> std::ffi::c_long;
}

const SSL_ERROR_WANT_READ: c_int = 2;
const SSL_ERROR_WANT_WRITE: c_int = 3;
const SSL_SENT_SHUTDOWN: c_int = 1;
const SSL_RECEIVED_SHUTDOWN: c_int = 2;

/// An `SSL_CTX` built from a configuration's TLS settings, shared by its
/// connections.
pub struct TlsContext {
    ctx: SslContext,
    side: Side,
    /// A client captures session tickets (see [`TlsSession::take_tickets`]).
    tickets: bool,
}

/// Tickets (DER-encoded sessions) a client's SSL received, put there by
/// the context's new-session callback, which finds it through ex_data.
type TicketInbox = Mutex<Vec<Vec<u8>>>;

/// Tickets a connection keeps before the application takes them, and
/// reports in all: a server sending them without end gets no more events
/// (and the client then stops holding OpenSSL's state for them).
const MAX_TICKETS_HELD: usize = 8;

fn inbox_index() -> Index<Ssl, TicketInbox> {
    static INDEX: OnceLock<Index<Ssl, TicketInbox>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("an SSL ex_data index"))
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("side", &self.side)
            .finish()
    }
}

/// Debian's CA bundle: the vendored OpenSSL looks under /usr/local/ssl.
const SYSTEM_CA_FILES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

fn suite_name(s: Suite) -> &'static str {
    match s {
        Suite::Aes128Gcm => "TLS_AES_128_GCM_SHA256",
        Suite::Aes256Gcm => "TLS_AES_256_GCM_SHA384",
        Suite::ChaCha20Poly1305 => "TLS_CHACHA20_POLY1305_SHA256",
    }
}

/// Checks a key-exchange group list the way [`TlsContext::new`] applies
/// it, so a bad name is reported where it was set.
pub fn check_groups(groups: &str) -> Result<(), ConfigError> {
    let bad = |detail: String| {
        ConfigError::Invalid(format!(
            "TLS groups \"{groups}\" not accepted by OpenSSL: {detail}"
        ))
    };
    if groups.is_empty() {
        return Err(bad("empty list".into()));
    }
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(|e| bad(e.to_string()))?;
    b.set_groups_list(groups).map_err(|e| bad(e.to_string()))
}

impl TlsContext {
    /// Builds the `SSL_CTX` for `config`.
    pub fn new(inputs: &impl TlsInputs) -> Result<Arc<Self>, ConfigError> {
        let config = inputs.tls_settings();
        let tls_err = |e: openssl::error::ErrorStack| ConfigError::Invalid(e.to_string());
        let method = match config.side {
            Side::Client => SslMethod::tls_client(),
            Side::Server => SslMethod::tls_server(),
        };
        let mut b = SslContextBuilder::new(method).map_err(tls_err)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_3))
            .map_err(tls_err)?;
        let suites: Vec<&str> = config
            .cipher_suites
            .iter()
            .map(|s| suite_name(*s))
            .collect();
        b.set_ciphersuites(&suites.join(":")).map_err(tls_err)?;
        if let Some(groups) = &config.groups {
            b.set_groups_list(groups).map_err(tls_err)?;
        }
        let creds = &config.credentials;
        if let (Some(leaf), Some(key)) = (creds.chain.first(), &creds.key) {
            b.set_certificate(leaf)
                .map_err(|e| ConfigError::Certificate(e.to_string()))?;
            for c in &creds.chain[1..] {
                b.add_extra_chain_cert(c.clone())
                    .map_err(|e| ConfigError::Certificate(e.to_string()))?;
            }
            b.set_private_key(key)
                .map_err(|e| ConfigError::PrivateKey(e.to_string()))?;
        }
        if config.verify_mode == VerifyMode::None {
            b.set_verify(SslVerifyMode::NONE);
        } else {
            let mut mode = SslVerifyMode::PEER;
            // A client always gets a certificate (TLS 1.3 servers must send
            // one); a server requires one unless Optional.
            if config.side == Side::Server && config.verify_mode == VerifyMode::Required {
                mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
            }
            b.set_verify(mode);
            load_trust(&mut b, config)?;
        }
        if config.side == Side::Server {
            if config.session_tickets {
                // Stateless tickets (no early data is offered yet), sealed
                // with the application's keys when it gave some. Two, so a
                // client can open two connections at once (RFC 8446 §4.6.1).
                b.set_num_tickets(2).map_err(tls_err)?;
                // SAFETY: the context is live; a TLS 1.3 ticket's lifetime
                // is the session timeout.
                unsafe { SSL_CTX_set_timeout(b.as_ptr(), config.ticket_lifetime.into()) };
                if !config.ticket_keys.is_empty()
                    && !ticket_keys::install(&mut b, config.ticket_keys.clone())
                {
                    return Err(ConfigError::Invalid(
                        "OpenSSL refused the ticket key callback".into(),
                    ));
                }
                if config.early_data && !early_data::install_server(&mut b, inputs) {
                    return Err(ConfigError::Invalid(
                        "OpenSSL refused the early data callbacks".into(),
                    ));
                }
            } else {
                // No resumption: a ticket would cost two encryptions per
                // handshake and a flight of bytes for nothing.
                b.set_num_tickets(0).map_err(tls_err)?;
            }
            // A server without protocols of its own takes part in no ALPN
            // negotiation (aioquic's alpn_protocols=None): the client's
            // offer goes unanswered, and the application agrees on its
            // protocol otherwise (RFC 9001 §8.1).
            if !config.alpn_protocols.is_empty() {
                let ours = config.alpn_protocols.clone();
                // RFC 9001 §8.1: without a common protocol the handshake
                // fails with no_application_protocol; NOACK would let it
                // go on.
                b.set_alpn_select_callback(move |_, offered| {
                    select_alpn(&ours, offered).ok_or(AlpnError::ALERT_FATAL)
                });
            }
        }
        let tickets = config.side == Side::Client && config.session_tickets;
        if tickets {
            // OPENSSL-QUIC.md §5: each ticket reaches the callback, and
            // OpenSSL keeps no cache of its own.
            b.set_session_cache_mode(
                SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL,
            );
            b.set_new_session_callback(|ssl, session| {
                let (Some(inbox), Ok(der)) = (ssl.ex_data(inbox_index()), session.to_der()) else {
                    return;
                };
                if let Ok(mut held) = inbox.lock() {
                    if held.len() < MAX_TICKETS_HELD {
                        held.push(der);
                    }
                }
            });
        }
        if let Some(log) = &config.key_log {
            let log = log.clone();
            b.set_keylog_callback(move |_, line| log(line));
        }
        Ok(Arc::new(TlsContext {
            ctx: b.build(),
            side: config.side,
            tickets,
        }))
    }
}

fn load_trust(b: &mut SslContextBuilder, config: &TlsSettings) -> Result<(), ConfigError> {
    let ca_err = |e: openssl::error::ErrorStack| ConfigError::CaCertificates(e.to_string());
    let explicit = !config.ca_certs.is_empty() || config.ca_path.is_some();
    for c in &config.ca_certs.certs {
        b.cert_store_mut().add_cert(c.clone()).map_err(ca_err)?;
    }
    if let Some(dir) = &config.ca_path {
        b.load_verify_locations(None, Some(dir)).map_err(ca_err)?;
    }
    if !explicit {
        // The system's trust store: honour SSL_CERT_FILE / SSL_CERT_DIR,
        // then the usual bundle locations.
        let _ = b.set_default_verify_paths();
        if let Some(f) = SYSTEM_CA_FILES
            .iter()
            .find(|f| std::path::Path::new(f).exists())
        {
            let _ = b.load_verify_locations(Some(std::path::Path::new(f)), None);
        }
        // Failures above leave an empty store: verification then fails
        // with unknown_ca, which is the honest outcome.
        unsafe_clear_errors();
    }
    Ok(())
}

/// The first of our protocols that the client offered (server preference,
/// as aioquic does). `offered` is the wire list: u8 length + bytes each.
fn select_alpn<'a>(ours: &[Vec<u8>], offered: &'a [u8]) -> Option<&'a [u8]> {
    for mine in ours {
        let mut rest = offered;
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if tail.len() < len {
                break;
            }
            let (p, next) = tail.split_at(len);
            if p == mine.as_slice() {
                return Some(p);
            }
            rest = next;
        }
    }
    None
}

fn unsafe_clear_errors() {
    // SAFETY: ERR_clear_error only empties this thread's error queue.
    unsafe { ffi::ERR_clear_error() };
}

/// What the callbacks record during an `SSL_*` call, for the connection to
/// collect afterwards. Boxed so its address, handed to OpenSSL, never moves.
struct CallbackState {
    side: Side,
    write_level: Level,
    read_level: Level,
    /// Handshake bytes to send, per level.
    outgoing: [Vec<u8>; 4],
    /// In-order handshake bytes received, per level, not yet given to TLS.
    incoming: [VecDeque<u8>; 4],
    /// The record lent to OpenSSL by `crypto_recv_rcd`; must not move
    /// until `crypto_release_rcd`.
    lent: Vec<u8>,
    lent_out: bool,
    secrets: Vec<YieldedSecret>,
    peer_params: Option<Result<TransportParameters, TransportError>>,
    got_params: bool,
    app_read_yielded: bool,
    /// Server: makes our transport parameters from the client's, once they
    /// arrive (compatible version negotiation, RFC 9368 §2.3, decides the
    /// version_information we send).
    params_for_peer: Option<ParamsFn>,
    /// Every encoding of our parameters handed to OpenSSL, which keeps a
    /// pointer to the newest: alive as long as the SSL.
    params_given: Vec<Box<[u8]>>,
    alert: Option<u8>,
    /// An error of our own, which wins over the alert it causes.
    error: Option<TransportError>,
}

/// Makes a server's encoded transport parameters from the client's.
pub type ParamsFn = Box<dyn FnMut(&TransportParameters) -> Vec<u8> + Send>;

/// The transport parameters a session sends.
pub enum LocalParams {
    /// Known up front (a client's, or a server's that do not depend on the
    /// client's), encoded.
    Fixed(Vec<u8>),
    /// A server's, made when the client's arrive, before TLS answers.
    FromPeer(ParamsFn),
}

/// One TLS handshake.
pub struct TlsSession {
    /// OpenSSL's state, until the handshake no longer needs it.
    live: Option<Live>,
    /// What the rest of the connection asks about the handshake, kept when
    /// `live` goes.
    outcome: Outcome,
    /// Reads what the peer sends after `live` went.
    post: PostHandshake,
    /// A message refused after `live` went, reported by `advance`.
    late_error: Option<TransportError>,
    complete: bool,
    failed: bool,
    /// Bytes were provided since TLS last ran.
    fed: bool,
    /// Early data was offered (a client) or may be accepted (a server).
    early_offered: bool,
    /// A client that captures tickets keeps OpenSSL's state until one came.
    wants_tickets: bool,
    tickets_seen: usize,
    /// `post` followed every 1-RTT byte given to OpenSSL without finding
    /// anything but tickets, so it can take over at a message boundary.
    post_in_step: bool,
}

/// The SSL and what its callbacks use.
struct Live {
    // Field order matters: `ssl` is dropped (SSL_free, which may call back)
    // before the state its callbacks use.
    ssl: Ssl,
    state: Box<CallbackState>,
    _params: Box<[u8]>,
}

/// The negotiated values of a finished handshake.
#[derive(Debug, Default)]
struct Outcome {
    alpn: Option<Vec<u8>>,
    cipher_suite: Option<u16>,
    key_exchange_group: Option<u16>,
    resumed: bool,
    early: EarlyDataStatus,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("complete", &self.complete)
            .field("retired", &self.live.is_none())
            .finish_non_exhaustive()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // SAFETY: `ssl` is a live SSL; marking it shut down does no I/O and
        // keeps a server's tickets cached (OPENSSL-QUIC.md §4).
        unsafe {
            ffi::SSL_set_shutdown(self.ssl.as_ptr(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        };
    }
}

impl TlsSession {
    /// A session for one connection, sending our encoded transport
    /// parameters `params`. `server_name` is the SNI and the name the
    /// certificate must carry (client).
    ///
    /// `resume` is a client's DER-encoded session from an earlier ticket; one
    /// OpenSSL cannot read is ignored (a full handshake follows). With early
    /// data on in `config`, a client offers it when the session allows; a
    /// server given `early` accepts it within that policy.
    pub fn new(
        ctx: &TlsContext,
        config: &TlsSettings,
        params: LocalParams,
        resume: Option<&[u8]>,
        early: Option<EarlyPolicy>,
    ) -> Result<Self, TransportError> {
        let internal = |e: openssl::error::ErrorStack| {
            let _ = e;
            TransportError::new(code::INTERNAL_ERROR, 0, "TLS session setup failed")
        };
        let mut ssl = Ssl::new(&ctx.ctx).map_err(internal)?;
        let mut early_wanted = false;
        if ctx.side == Side::Client {
            if let Some(name) = &config.server_name {
                let ip = name.parse::<std::net::IpAddr>().ok();
                if ip.is_none() {
                    ssl.set_hostname(name).map_err(internal)?;
                }
                if config.verify_mode != VerifyMode::None {
                    match ip {
                        Some(ip) => ssl.param_mut().set_ip(ip),
                        None => ssl.param_mut().set_host(name),
                    }
                    .map_err(internal)?;
                }
            }
            if !config.alpn_protocols.is_empty() {
                let mut wire = Vec::new();
                for p in &config.alpn_protocols {
                    wire.push(p.len() as u8);
                    wire.extend_from_slice(p);
                }
                ssl.set_alpn_protos(&wire).map_err(internal)?;
            }
            if let Some(session) = resume.and_then(|der| SslSession::from_der(der).ok()) {
                // SAFETY: the session comes from this library's own tickets
                // for a client context of the same kind; a session that
                // does not fit the server only means a full handshake.
                let resuming = unsafe { ssl.set_session(&session) }.is_ok();
                // OPENSSL-QUIC.md §5: only a session carrying QUIC's
                // max_early_data allows 0-RTT.
                early_wanted =
                    config.early_data && resuming && session.max_early_data() == u32::MAX;
            }
            unsafe_clear_errors();
            if ctx.tickets {
                ssl.set_ex_data(inbox_index(), Mutex::new(Vec::new()));
            }
            ssl.set_connect_state();
        } else {
            ssl.set_accept_state();
        }
        let mut state = Box::new(CallbackState {
            side: ctx.side,
            write_level: Level::Initial,
            read_level: Level::Initial,
            outgoing: Default::default(),
            incoming: Default::default(),
            lent: Vec::new(),
            lent_out: false,
            secrets: Vec::new(),
            peer_params: None,
            got_params: false,
            app_read_yielded: false,
            params_for_peer: None,
            params_given: Vec::new(),
            alert: None,
            error: None,
        });
        let params: Box<[u8]> = match params {
            LocalParams::Fixed(p) => p.into_boxed_slice(),
            LocalParams::FromPeer(f) => {
                state.params_for_peer = Some(f);
                Box::default()
            }
        };
        // SAFETY: these are the exact C signatures OpenSSL calls through the
        // dispatch table; the table itself is copied by the call below.
        let table = unsafe {
            [
                entry(
                    CRYPTO_SEND,
                    std::mem::transmute::<CryptoSend, VoidFn>(crypto_send),
                ),
                entry(
                    CRYPTO_RECV_RCD,
                    std::mem::transmute::<CryptoRecv, VoidFn>(crypto_recv_rcd),
                ),
                entry(
                    CRYPTO_RELEASE_RCD,
                    std::mem::transmute::<CryptoRelease, VoidFn>(crypto_release_rcd),
                ),
                entry(
                    YIELD_SECRET,
                    std::mem::transmute::<YieldFn, VoidFn>(yield_secret),
                ),
                entry(
                    GOT_TRANSPORT_PARAMS,
                    std::mem::transmute::<GotParams, VoidFn>(got_transport_params),
                ),
                entry(ALERT, std::mem::transmute::<AlertFn, VoidFn>(on_alert)),
                OsslDispatch {
                    function_id: 0,
                    function: None,
                },
            ]
        };
        let arg = (&mut *state as *mut CallbackState).cast::<c_void>();
        // SAFETY: `ssl` is live; `arg` points into a Box owned by the session
        // and dropped after `ssl`; `params` is kept alive by the session for
        // the SSL's lifetime, as OpenSSL stores the pointer without copying.
        let ok = unsafe {
            SSL_set_quic_tls_cbs(ssl.as_ptr(), table.as_ptr(), arg) == 1
                && (state.params_for_peer.is_some()
                    || SSL_set_quic_tls_transport_params(
                        ssl.as_ptr(),
                        params.as_ptr(),
                        params.len(),
                    ) == 1)
        };
        // After the callbacks, before the handshake starts (OPENSSL-QUIC.md
        // §2): a client resuming a session that allows it, a server with a
        // policy (which then issues tickets that allow it).
        let early_offered = match (ctx.side, early) {
            (Side::Client, _) => early_wanted && early_data::enable(&mut ssl, None),
            (Side::Server, Some(policy)) => early_data::enable(&mut ssl, Some(policy)),
            (Side::Server, None) => false,
        };
        unsafe_clear_errors();
        if !ok {
            unsafe_clear_errors();
            return Err(TransportError::new(
                code::INTERNAL_ERROR,
                0,
                "OpenSSL refused the QUIC TLS callbacks",
            ));
        }
        Ok(Self {
            live: Some(Live {
                ssl,
                state,
                _params: params,
            }),
            outcome: Outcome::default(),
            post: PostHandshake::new(ctx.side == Side::Client),
            late_error: None,
            complete: false,
            failed: false,
            fed: true,
            early_offered,
            wants_tickets: ctx.tickets,
            tickets_seen: 0,
            post_in_step: true,
        })
    }

    /// Hands in-order handshake bytes received at `level` to TLS.
    pub fn provide(&mut self, level: Level, data: &[u8]) {
        match &mut self.live {
            Some(live) => {
                if level == Level::OneRtt && self.complete {
                    // Follow the messages OpenSSL reads, to hand over at a
                    // boundary (see `retire_if_done`).
                    self.post_in_step &= self.post.feed(level, data).is_ok();
                }
                live.state.incoming[level as usize].extend(data)
            }
            None => {
                if self.late_error.is_none() {
                    self.late_error = self.post.feed(level, data).err();
                }
            }
        }
        self.fed = true;
    }

    /// Runs TLS on whatever it was given. Errors are fatal: close the
    /// connection with the returned error.
    pub fn advance(&mut self) -> Result<(), TransportError> {
        // TLS only makes progress on new bytes (the first call starts it):
        // running the state machine per datagram costs a lot, during the
        // handshake as after it (a NewSessionTicket).
        if self.failed || !std::mem::take(&mut self.fed) {
            return Ok(());
        }
        let Some(live) = &mut self.live else {
            return match self.late_error.take() {
                Some(e) => {
                    self.failed = true;
                    Err(e)
                }
                None => Ok(()),
            };
        };
        unsafe_clear_errors();
        let ssl = live.ssl.as_ptr();
        let rc = if self.complete {
            let mut n = 0usize;
            // SAFETY: reading 0 bytes into NULL processes post-handshake
            // messages, as SSL_set_quic_tls_cbs(3) requires after completion.
            unsafe { ffi::SSL_read_ex(ssl, std::ptr::null_mut(), 0, &mut n) }
        } else {
            // SAFETY: `ssl` is live and configured for QUIC.
            unsafe { ffi::SSL_do_handshake(ssl) }
        };
        if rc == 1 && !self.complete {
            // OPENSSL-QUIC.md §4: a server may return 1 before the client's
            // Finished; only the 1-RTT read secret proves completion.
            // SAFETY: `ssl` is live.
            let finished = unsafe { ffi::SSL_is_init_finished(ssl) } == 1;
            if live.state.side == Side::Client || (live.state.app_read_yielded && finished) {
                self.complete = true;
                self.outcome = Outcome::of(&live.ssl);
            }
        } else if rc <= 0 {
            // SAFETY: `ssl` is live; `rc` is the last call's result.
            let err = unsafe { ffi::SSL_get_error(ssl, rc) };
            if err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE {
                unsafe_clear_errors();
                return Err(self.fail());
            }
        }
        unsafe_clear_errors();
        let state = &self.live.as_ref().expect("checked above").state;
        if let Some(e) = state.error.clone() {
            self.failed = true;
            return Err(e);
        }
        // RFC 9001 §8.2: the quic_transport_parameters extension is
        // mandatory; OpenSSL does not enforce it.
        let params_due = match state.side {
            Side::Server => state.write_level >= Level::Handshake,
            Side::Client => self.complete,
        };
        if params_due && !state.got_params {
            self.failed = true;
            return Err(TransportError::new(
                code::CRYPTO_ERROR_BASE + u64::from(alert::MISSING_EXTENSION),
                0,
                "peer sent no quic_transport_parameters",
            ));
        }
        Ok(())
    }

    fn fail(&mut self) -> TransportError {
        self.failed = true;
        let Some(live) = &self.live else {
            return TransportError::new(code::INTERNAL_ERROR, 0, "TLS failure");
        };
        if let Some(e) = live.state.error.clone() {
            return e;
        }
        match live.state.alert {
            Some(a) => TransportError::new(
                code::CRYPTO_ERROR_BASE + u64::from(a),
                0,
                verify_failure(live.ssl.verify_result().as_raw()).unwrap_or("TLS handshake failed"),
            ),
            None => TransportError::new(code::INTERNAL_ERROR, 0, "TLS failure"),
        }
    }

    /// Lets OpenSSL's state go once the handshake is complete and all it
    /// produced was taken, so an established connection does not carry the
    /// TLS library's memory (about half of an idle connection's). What
    /// the peer may still send is read by [`PostHandshake`]: a server
    /// sends us nothing more, and a client skips the tickets a server
    /// sends (after the first, when it captures them).
    pub fn retire_if_done(&mut self) {
        let Some(live) = &self.live else { return };
        let st = &live.state;
        let drained = st.outgoing.iter().all(Vec::is_empty)
            && st.incoming.iter().all(VecDeque::is_empty)
            && !st.lent_out
            && st.secrets.is_empty()
            && st.peer_params.is_none();
        // A client that captures tickets keeps the state until the first
        // came, and hands over only between messages.
        let tickets_done = !self.wants_tickets || self.tickets_seen > 0;
        let handover = self.post_in_step && self.post.at_boundary();
        if self.complete && !self.failed && !self.fed && drained && tickets_done && handover {
            self.live = None;
        }
    }

    /// A client that captures tickets gives up waiting for the first.
    pub fn stop_waiting_for_tickets(&mut self) {
        self.wants_tickets = false;
    }

    /// Takes the tickets (DER-encoded sessions) received since the last
    /// call, oldest first: a client with tickets on only.
    pub fn take_tickets(&mut self) -> Vec<Vec<u8>> {
        let Some(live) = &self.live else {
            return Vec::new();
        };
        let Some(inbox) = live.ssl.ex_data(inbox_index()) else {
            return Vec::new();
        };
        let mut got = inbox
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        got.truncate(MAX_TICKETS_HELD.saturating_sub(self.tickets_seen));
        self.tickets_seen += got.len();
        got
    }

    /// Takes the handshake bytes to send at `level`.
    pub fn take_outgoing(&mut self, level: Level) -> Vec<u8> {
        match &mut self.live {
            Some(live) => std::mem::take(&mut live.state.outgoing[level as usize]),
            None => Vec::new(),
        }
    }

    /// Takes the secrets yielded since the last call, in order.
    pub fn take_secrets(&mut self) -> Vec<YieldedSecret> {
        match &mut self.live {
            Some(live) => std::mem::take(&mut live.state.secrets),
            None => Vec::new(),
        }
    }

    /// Takes the peer's decoded transport parameters once they arrived.
    pub fn take_peer_params(&mut self) -> Option<Result<TransportParameters, TransportError>> {
        self.live.as_mut()?.state.peer_params.take()
    }

    /// True when [`TlsSession::advance`] or the `take_` calls have
    /// something to do: before completion, after CRYPTO data arrived, or
    /// with output not taken yet. The connection skips them otherwise, as
    /// it asks after every datagram.
    pub fn has_work(&self) -> bool {
        let Some(live) = &self.live else {
            return self.fed;
        };
        !self.complete
            || self.fed
            || !live.state.secrets.is_empty()
            || live.state.peer_params.is_some()
            || live.state.outgoing.iter().any(|o| !o.is_empty())
    }

    /// True once the handshake completed (RFC 9001 §4.1.1).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// True once OpenSSL's state was let go ([`TlsSession::retire_if_done`]).
    pub fn is_retired(&self) -> bool {
        self.live.is_none()
    }

    /// The level TLS currently reads at.
    pub fn read_level(&self) -> Level {
        self.live
            .as_ref()
            .map_or(Level::OneRtt, |l| l.state.read_level)
    }

    /// Bytes received at `level` that TLS has not consumed.
    pub fn unread(&self, level: Level) -> usize {
        let Some(live) = &self.live else { return 0 };
        let st = &live.state;
        st.incoming[level as usize].len()
            + if st.lent_out && st.read_level == level {
                st.lent.len()
            } else {
                0
            }
    }

    /// The negotiated ALPN protocol.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        match &self.live {
            Some(live) if !self.complete => Outcome::of(&live.ssl).alpn,
            _ => self.outcome.alpn.clone(),
        }
    }

    /// The negotiated cipher suite's TLS identifier.
    pub fn cipher_suite(&self) -> Option<u16> {
        match &self.live {
            Some(live) if !self.complete => cipher_suite(&live.ssl),
            _ => self.outcome.cipher_suite,
        }
    }

    /// The negotiated key-exchange group's TLS codepoint (RFC 8446 §4.2.7
    /// NamedGroup: 0x001d for X25519, 0x11ec for X25519MLKEM768), if any.
    pub fn key_exchange_group(&self) -> Option<u16> {
        match &self.live {
            Some(live) if !self.complete => key_exchange_group(&live.ssl),
            _ => self.outcome.key_exchange_group,
        }
    }

    /// True when a client offered early data (0-RTT keys will come), or a
    /// server may accept it.
    pub fn early_data_offered(&self) -> bool {
        self.early_offered
    }

    /// What became of early data, once the handshake completed.
    pub fn early_data_status(&self) -> EarlyDataStatus {
        match &self.live {
            Some(live) if !self.complete => early_data::status(&live.ssl),
            _ => self.outcome.early,
        }
    }

    /// True when the session was resumed from a ticket.
    pub fn session_resumed(&self) -> bool {
        match &self.live {
            Some(live) if !self.complete => live.ssl.session_reused(),
            _ => self.outcome.resumed,
        }
    }
}

/// Why certificate verification failed, in words, for the X509_V_ERR_*
/// codes a misconfigured deployment meets (x509_vfy.h): the reason of the
/// CONNECTION_TERMINATED event and of our CONNECTION_CLOSE, instead of the
/// bare alert number. None for success and for codes not listed.
fn verify_failure(code: c_int) -> Option<&'static str> {
    Some(match code {
        7 => "TLS handshake failed: certificate signature failure (signed by another CA of that name?)",
        9 => "TLS handshake failed: certificate is not yet valid",
        10 => "TLS handshake failed: certificate has expired",
        18 => "TLS handshake failed: self-signed certificate",
        19 => "TLS handshake failed: self-signed certificate in the chain",
        20 => "TLS handshake failed: unable to get local issuer certificate (unknown CA)",
        21 => "TLS handshake failed: unable to verify the first certificate",
        23 => "TLS handshake failed: certificate revoked",
        24 => "TLS handshake failed: invalid CA certificate",
        26 => "TLS handshake failed: unsupported certificate purpose",
        62 => "TLS handshake failed: hostname mismatch",
        64 => "TLS handshake failed: IP address mismatch",
        _ => return None,
    })
}

impl Outcome {
    fn of(ssl: &Ssl) -> Self {
        Self {
            alpn: ssl.selected_alpn_protocol().map(<[u8]>::to_vec),
            cipher_suite: cipher_suite(ssl),
            key_exchange_group: key_exchange_group(ssl),
            resumed: ssl.session_reused(),
            early: early_data::status(ssl),
        }
    }
}

fn cipher_suite(ssl: &Ssl) -> Option<u16> {
    ssl.current_cipher().map(|c| {
        let id = c.protocol_id();
        u16::from_be_bytes([id[0], id[1]])
    })
}

fn key_exchange_group(ssl: &Ssl) -> Option<u16> {
    /// OpenSSL's NIDs of the groups that have one, with their codepoints;
    /// groups without a NID come back as TLSEXT_nid_unknown | codepoint.
    const BY_NID: [(c_int, u16); 10] = [
        (1034, 0x001d), // NID_X25519
        (1035, 0x001e), // NID_X448
        (415, 0x0017),  // NID_X9_62_prime256v1
        (715, 0x0018),  // NID_secp384r1
        (716, 0x0019),  // NID_secp521r1
        (1126, 0x0100), // NID_ffdhe2048
        (1127, 0x0101), // NID_ffdhe3072
        (1128, 0x0102), // NID_ffdhe4096
        (1129, 0x0103), // NID_ffdhe6144
        (1130, 0x0104), // NID_ffdhe8192
    ];
    const SSL_CTRL_GET_NEGOTIATED_GROUP: c_int = 134;
    const TLSEXT_NID_UNKNOWN: c_int = 0x0100_0000;
    // SAFETY: the SSL is live; this control only reads the handshake
    // state (it is the SSL_get_negotiated_group macro).
    let nid = unsafe {
        ffi::SSL_ctrl(
            ssl.as_ptr(),
            SSL_CTRL_GET_NEGOTIATED_GROUP,
            0,
            std::ptr::null_mut(),
        )
    } as c_int;
    if nid <= 0 {
        None
    } else if nid & TLSEXT_NID_UNKNOWN != 0 {
        Some((nid & 0xffff) as u16)
    } else {
        BY_NID.iter().find(|(n, _)| *n == nid).map(|(_, g)| *g)
    }
}

/// The untyped function pointer of a dispatch table entry.
type VoidFn = unsafe extern "C" fn();
type CryptoSend =
    unsafe extern "C" fn(*mut ffi::SSL, *const u8, usize, *mut usize, *mut c_void) -> c_int;
type CryptoRecv =
    unsafe extern "C" fn(*mut ffi::SSL, *mut *const u8, *mut usize, *mut c_void) -> c_int;
type CryptoRelease = unsafe extern "C" fn(*mut ffi::SSL, usize, *mut c_void) -> c_int;
type YieldFn =
    unsafe extern "C" fn(*mut ffi::SSL, u32, c_int, *const u8, usize, *mut c_void) -> c_int;
type GotParams = unsafe extern "C" fn(*mut ffi::SSL, *const u8, usize, *mut c_void) -> c_int;
type AlertFn = unsafe extern "C" fn(*mut ffi::SSL, u8, *mut c_void) -> c_int;

fn entry(function_id: c_int, f: VoidFn) -> OsslDispatch {
    OsslDispatch {
        function_id,
        function: Some(f),
    }
}

/// Runs a callback body on the state behind `arg`; a panic is a failure (0)
/// rather than an unwind into OpenSSL.
///
/// # Safety
/// `arg` must be the `CallbackState` registered with the SSL.
unsafe fn with_state(arg: *mut c_void, f: impl FnOnce(&mut CallbackState) -> bool) -> c_int {
    // SAFETY: `arg` is the boxed state registered in `TlsSession::new`, alive
    // until after SSL_free; OpenSSL calls back only on the thread running an
    // SSL call on this session, so no other reference is active.
    let state = unsafe { &mut *arg.cast::<CallbackState>() };
    match catch_unwind(AssertUnwindSafe(|| f(state))) {
        Ok(true) => 1,
        _ => 0,
    }
}

unsafe extern "C" fn crypto_send(
    _s: *mut ffi::SSL,
    buf: *const u8,
    len: usize,
    consumed: *mut usize,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes `len` readable bytes at `buf` and a writable
    // `consumed`; `arg` is our state.
    unsafe {
        with_state(arg, |st| {
            let data = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(buf, len)
            };
            st.outgoing[st.write_level as usize].extend_from_slice(data);
            *consumed = len;
            true
        })
    }
}

unsafe extern "C" fn crypto_recv_rcd(
    _s: *mut ffi::SSL,
    buf: *mut *const u8,
    bytes_read: *mut usize,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes writable `buf` and `bytes_read`; `arg` is ours.
    unsafe {
        with_state(arg, |st| {
            if !st.lent_out {
                let q = &mut st.incoming[st.read_level as usize];
                st.lent.clear();
                st.lent.extend(q.drain(..));
                st.lent_out = !st.lent.is_empty();
            }
            *buf = st.lent.as_ptr();
            *bytes_read = if st.lent_out { st.lent.len() } else { 0 };
            true
        })
    }
}

unsafe extern "C" fn crypto_release_rcd(
    _s: *mut ffi::SSL,
    bytes_read: usize,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: `arg` is ours.
    unsafe {
        with_state(arg, |st| {
            if bytes_read >= st.lent.len() {
                st.lent.clear();
                st.lent_out = false;
            } else {
                // Never seen (OpenSSL releases whole records): keep the rest
                // lent, in place, for the next read.
                st.lent.drain(..bytes_read);
            }
            true
        })
    }
}

unsafe extern "C" fn yield_secret(
    s: *mut ffi::SSL,
    prot_level: u32,
    direction: c_int,
    secret: *const u8,
    secret_len: usize,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes `secret_len` readable bytes; `s` is the live
    // SSL running this call; `arg` is ours.
    unsafe {
        let cipher = ffi::SSL_get_current_cipher(s);
        let suite = if cipher.is_null() {
            None
        } else {
            Suite::from_tls_id(ffi::SSL_CIPHER_get_protocol_id(cipher))
        };
        let bytes = std::slice::from_raw_parts(secret, secret_len);
        with_state(arg, |st| {
            let (Some(level), Some(suite), Ok(secret)) =
                (Level::from_ossl(prot_level), suite, Secret::new(bytes))
            else {
                st.error = Some(TransportError::new(
                    code::INTERNAL_ERROR,
                    0,
                    "unusable secret from TLS",
                ));
                return false;
            };
            let write = direction == 1;
            if write {
                st.write_level = level;
            } else {
                st.read_level = level;
                if level == Level::OneRtt {
                    st.app_read_yielded = true;
                }
            }
            st.secrets.push(YieldedSecret {
                level,
                write,
                suite,
                secret,
            });
            true
        })
    }
}

unsafe extern "C" fn got_transport_params(
    s: *mut ffi::SSL,
    params: *const u8,
    len: usize,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: OpenSSL passes `len` readable bytes; `arg` is ours.
    unsafe {
        let bytes = if len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(params, len)
        };
        with_state(arg, |st| {
            st.got_params = true;
            let decoded = TransportParameters::decode(bytes, st.side.peer());
            let mut ok = decoded.is_ok();
            match &decoded {
                // Returning 0 makes OpenSSL raise an alert with code 0; our
                // error is the one to report (OPENSSL-QUIC.md §3).
                Err(e) => st.error = Some(e.clone()),
                Ok(peer) => {
                    if let Some(make) = st.params_for_peer.as_mut() {
                        // Runs again for a second ClientHello after a
                        // HelloRetryRequest; the newest encoding is used.
                        let ours: Box<[u8]> = make(peer).into_boxed_slice();
                        // SAFETY: `s` is the SSL calling us; OpenSSL keeps the
                        // pointer, and `params_given` keeps the bytes until
                        // the state is dropped, after SSL_free.
                        ok = SSL_set_quic_tls_transport_params(s, ours.as_ptr(), ours.len()) == 1;
                        st.params_given.push(ours);
                    }
                }
            }
            st.peer_params = Some(decoded);
            ok
        })
    }
}

unsafe extern "C" fn on_alert(_s: *mut ffi::SSL, alert_code: u8, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is ours.
    unsafe {
        with_state(arg, |st| {
            st.alert.get_or_insert(alert_code);
            true
        })
    }
}

/// A DER session made `seconds` older (for tests of expired tickets).
#[cfg(test)]
pub(crate) fn aged_session(der: &[u8], seconds: i64) -> Vec<u8> {
    extern "C" {
        fn SSL_SESSION_get_time(s: *const ffi::SSL_SESSION) -> std::ffi::c_long;
        fn SSL_SESSION_set_time(s: *mut ffi::SSL_SESSION, t: std::ffi::c_long) -> std::ffi::c_long;
    }
    let session = SslSession::from_der(der).expect("a DER session");
    // SAFETY: `session` is a live SSL_SESSION owned here.
    unsafe {
        let t = SSL_SESSION_get_time(session.as_ptr());
        SSL_SESSION_set_time(session.as_ptr(), t - seconds as std::ffi::c_long);
    }
    session.to_der().expect("DER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_selection_prefers_the_server_order() {
        let ours = vec![b"h3".to_vec(), b"hq-interop".to_vec()];
        let offered = b"\x0ahq-interop\x02h3";
        assert_eq!(select_alpn(&ours, offered), Some(&b"h3"[..]));
        assert_eq!(select_alpn(&ours, b"\x03foo"), None);
        assert_eq!(select_alpn(&ours, b"\x09truncated"), None);
        assert_eq!(select_alpn(&[], offered), None);
    }
}
