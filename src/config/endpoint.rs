//! The settings every connection of an endpoint shares (the first layer
//! of a configuration, which transport and TLS settings build on):
//! connection IDs and how they are made, the stateless reset and token
//! keys, randomness, the wall clock, and the registers that make tokens
//! and 0-RTT tickets single-use.

use std::sync::{Arc, Mutex};

use super::{random_key, CidGeneratorFn};
use crate::crypto::random::{RandomSource, SystemRandom};
use crate::shared_register::SharedRegister;
use crate::token::{
    SystemClock, TokenKey, UnixClock, UsedTokens, DEFAULT_TOKEN_LIFETIME, USED_TOKENS_CAPACITY,
};

/// Endpoint-wide settings of a configuration.
#[derive(Clone)]
pub struct EndpointSettings {
    /// Length of the connection IDs we issue (0..=20).
    pub(crate) connection_id_length: usize,
    /// Where connection IDs, reset tokens and path challenges get their
    /// randomness (default: OpenSSL's DRBG, then getrandom(2)).
    pub(crate) random: Arc<dyn RandomSource>,
    /// Stateless reset tokens are derived from this key and each CID
    /// (RFC 9000 §10.3.2), so any server holding it can reset a
    /// connection it lost; None: random tokens, known to the connection
    /// only.
    pub(crate) reset_key: Option<[u8; 32]>,
    /// Makes the connection IDs we issue; None: random ones.
    pub(crate) cid_generator: Option<CidGeneratorFn>,
    /// The length a QUIC-LB configuration fixed (`Config::set_quic_lb`):
    /// another would make IDs a load balancer cannot route.
    pub(crate) quic_lb_cid_len: Option<usize>,
    /// A server's key for address-validation tokens (Retry, NEW_TOKEN):
    /// random per configuration unless set.
    pub(crate) token_key: Arc<TokenKey>,
    /// How long a NEW_TOKEN token is good for, in seconds (0: a server
    /// sends none).
    pub(crate) token_lifetime: u64,
    /// Wall-clock time for tokens, which servers of a fleet must agree on.
    pub(crate) unix_clock: Arc<dyn UnixClock>,
    /// NEW_TOKEN tokens presented already, shared by the connections of
    /// this configuration (and its copies).
    pub(crate) used_tokens: Arc<Mutex<UsedTokens>>,
    /// The application's register of used tokens and 0-RTT tickets, shared
    /// beyond this configuration (a fleet, a restart); None = in memory
    /// only.
    pub(crate) shared_register: Option<Arc<dyn SharedRegister>>,
    /// Where each connection's qlog trace goes; None: no qlog.
    pub(crate) qlog: Option<crate::qlog::QlogSink>,
}

impl EndpointSettings {
    /// The defaults: 8-byte random connection IDs, random keys, the
    /// system's randomness and clock, in-memory registers.
    pub(crate) fn new() -> Self {
        Self {
            connection_id_length: 8,
            random: Arc::new(SystemRandom),
            reset_key: None,
            cid_generator: None,
            quic_lb_cid_len: None,
            token_key: Arc::new(TokenKey::new(random_key())),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            unix_clock: Arc::new(SystemClock),
            used_tokens: Arc::new(Mutex::new(UsedTokens::new(USED_TOKENS_CAPACITY))),
            shared_register: None,
            qlog: None,
        }
    }
}
