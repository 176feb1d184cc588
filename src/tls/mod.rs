//! TLS 1.3 for QUIC (RFC 9001 §4). OpenSSL's third-party QUIC hooks drive the
//! handshake; this module turns them into three things the connection
//! consumes: handshake bytes to send per encryption level, secrets per level
//! and direction, and the peer's transport parameters.
//!
//! Only `tls/openssl.rs` touches `SSL*`.

mod credentials;
mod early_data;
mod openssl;
mod post_handshake;
pub mod settings;
mod ticket_keys;

pub use self::credentials::{Credentials, TrustAnchors};
pub use self::early_data::{EarlyDataStatus, EarlyPolicy};
#[cfg(test)]
pub(crate) use self::openssl::aged_session;
pub use self::openssl::{check_groups, LocalParams, ParamsFn, TlsContext, TlsSession};
pub use self::ticket_keys::{TicketKey, TICKET_KEY_LEN};

use crate::crypto::{Secret, Suite};

/// Encryption levels, which map one-to-one to OpenSSL's protection levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Initial (OpenSSL: NONE).
    Initial = 0,
    /// 0-RTT (OpenSSL: EARLY).
    ZeroRtt = 1,
    /// Handshake.
    Handshake = 2,
    /// 1-RTT (OpenSSL: APPLICATION).
    OneRtt = 3,
}

impl Level {
    /// The level with OpenSSL's number.
    pub fn from_ossl(level: u32) -> Option<Level> {
        match level {
            0 => Some(Level::Initial),
            1 => Some(Level::ZeroRtt),
            2 => Some(Level::Handshake),
            3 => Some(Level::OneRtt),
            _ => None,
        }
    }
}

/// A secret that TLS made available.
#[derive(Debug)]
pub struct YieldedSecret {
    /// Encryption level.
    pub level: Level,
    /// True for the key we send with, false for the one we receive with.
    pub write: bool,
    /// Negotiated cipher suite.
    pub suite: Suite,
    /// The traffic secret.
    pub secret: Secret,
}

/// TLS alert description codes libquic refers to (RFC 8446 §6).
pub mod alert {
    /// unexpected_message
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    /// handshake_failure
    pub const HANDSHAKE_FAILURE: u8 = 40;
    /// missing_extension
    pub const MISSING_EXTENSION: u8 = 109;
    /// no_application_protocol
    pub const NO_APPLICATION_PROTOCOL: u8 = 120;
}
