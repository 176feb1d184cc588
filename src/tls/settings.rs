//! What the TLS layer is configured with: the part of a
//! [`crate::config::Config`] that OpenSSL sees, plus what TLS takes from
//! the endpoint-wide settings through [`TlsInputs`]. Kept here, under
//! `tls`, so that `tls` never imports `config` (`config` composes these).

use std::path::PathBuf;
use std::sync::Arc;

use super::{Credentials, TicketKey, TrustAnchors};
use crate::crypto::Suite;
use crate::shared_register::SharedRegister;
use crate::side::Side;
use crate::token::UnixClock;

/// A receiver of NSS key log lines (SSLKEYLOGFILE format), without the
/// trailing newline.
pub type KeyLogFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Peer certificate verification (aioquic's `verify_mode`: ssl.CERT_NONE,
/// CERT_OPTIONAL, CERT_REQUIRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// No verification; a server asks for no client certificate.
    None,
    /// A server asks for a client certificate and verifies one if sent,
    /// but accepts a client without (a client verifies as Required).
    Optional,
    /// The peer must present a certificate that verifies.
    Required,
}

/// A ticket's default lifetime: a day (aioquic's).
pub(crate) const DEFAULT_TICKET_LIFETIME: u32 = 86_400;

/// The TLS settings of a configuration.
#[derive(Clone)]
pub struct TlsSettings {
    /// Client or server.
    pub(crate) side: Side,
    /// ALPN protocols, in preference order.
    pub(crate) alpn_protocols: Vec<Vec<u8>>,
    /// Server name for SNI and certificate checks (client).
    pub(crate) server_name: Option<String>,
    /// Whether and how the peer's certificate is verified (default: a
    /// client requires one, a server asks for none).
    pub(crate) verify_mode: VerifyMode,
    /// Trusted CA certificates, parsed from cafile / cadata.
    pub(crate) ca_certs: TrustAnchors,
    /// A directory of hashed CA certificates (capath).
    pub(crate) ca_path: Option<PathBuf>,
    /// Our certificate chain and key (server, or client auth).
    pub(crate) credentials: Credentials,
    /// Allowed cipher suites, in preference order.
    pub(crate) cipher_suites: Vec<Suite>,
    /// TLS key groups (OpenSSL list syntax); None = OpenSSL's defaults.
    pub(crate) groups: Option<String>,
    /// Where TLS secrets are logged.
    pub(crate) key_log: Option<KeyLogFn>,
    /// Session tickets: a server issues them, a client reports each one
    /// (aioquic's session_ticket_handler).
    pub(crate) session_tickets: bool,
    /// A server's ticket keys, the first sealing; empty = random ones per
    /// configuration.
    pub(crate) ticket_keys: Vec<TicketKey>,
    /// How long a server's tickets may be used, in seconds.
    pub(crate) ticket_lifetime: u32,
    /// 0-RTT: a client sends early data when its ticket allows, a server
    /// accepts it (and issues tickets that allow it).
    pub(crate) early_data: bool,
}

impl TlsSettings {
    /// aioquic's defaults for `side`.
    pub(crate) fn new(side: Side) -> Self {
        Self {
            side,
            alpn_protocols: Vec::new(),
            server_name: None,
            verify_mode: match side {
                Side::Client => VerifyMode::Required,
                Side::Server => VerifyMode::None,
            },
            ca_certs: TrustAnchors::default(),
            ca_path: None,
            credentials: Credentials::default(),
            cipher_suites: vec![Suite::Aes128Gcm, Suite::Aes256Gcm, Suite::ChaCha20Poly1305],
            groups: None,
            key_log: None,
            session_tickets: false,
            ticket_keys: Vec::new(),
            ticket_lifetime: DEFAULT_TICKET_LIFETIME,
            early_data: false,
        }
    }
}

/// What building a TLS context needs: the TLS settings, and from the
/// endpoint-wide settings the wall clock and the shared register (the
/// 0-RTT replay defence uses both).
pub trait TlsInputs {
    /// The TLS settings.
    fn tls_settings(&self) -> &TlsSettings;
    /// Wall-clock time, which servers of a fleet agree on.
    fn unix_clock(&self) -> Arc<dyn UnixClock>;
    /// The application's register of one-time identifiers, if any.
    fn shared_register(&self) -> Option<Arc<dyn SharedRegister>>;
}

impl<T: TlsInputs + ?Sized> TlsInputs for Arc<T> {
    fn tls_settings(&self) -> &TlsSettings {
        (**self).tls_settings()
    }

    fn unix_clock(&self) -> Arc<dyn UnixClock> {
        (**self).unix_clock()
    }

    fn shared_register(&self) -> Option<Arc<dyn SharedRegister>> {
        (**self).shared_register()
    }
}
