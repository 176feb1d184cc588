//! A register of one-time identifiers that the application shares: the
//! servers of a fleet (or one server's processes, before and after a
//! restart) must agree that a NEW_TOKEN token (RFC 9000 §8.1.4) or the
//! ticket of a 0-RTT flight (RFC 9001 §9.2) is taken once, and each
//! configuration's in-memory registers only see their own connections.
//!
//! The library keeps its own registers either way and asks the shared one
//! only about identifiers those have not seen: the same attempt's second
//! Initial never needs the fleet, and a replay to the same server never
//! costs a round trip to it.

/// What a one-time identifier belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceKind {
    /// The 12-byte identifier of a NEW_TOKEN token an Initial presents.
    NewToken,
    /// The 16-byte nonce of the session ticket a 0-RTT flight resumes.
    EarlyData,
}

/// The application's register, shared by the servers that could see the
/// same token or ticket. Called from any thread that drives a connection or
/// checks a token, possibly from several at once; it should answer quickly,
/// since the handshake waits for it.
pub trait SharedRegister: Send + Sync {
    /// Records `id` of `kind` as used, to be kept for `keep_seconds`; true
    /// only when it had not been used before. Anything short of a sure
    /// "first use" (an error, a full register) must answer false: the token
    /// then validates nothing, the early data is refused, and the
    /// connection goes on without either.
    fn first_use(&self, kind: OnceKind, id: &[u8], keep_seconds: u64) -> bool;
}

impl std::fmt::Debug for dyn SharedRegister {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRegister")
    }
}
