//! `quic_result`: the return code of every fallible function, and the only
//! place core errors are mapped to it.
//!
//! Codes are never reused: a retired code stays here as a comment.

use std::ffi::c_char;

use super::guard::guard_value;
use crate::config::ConfigError;
use crate::conn::ApiError;
use crate::error::{CryptoError, PacketError};

/// Result of a libquic call: `QUIC_RESULT_OK` (0) on success,
/// `QUIC_RESULT_DONE` (1) when there is nothing (more) to do, a negative
/// `QUIC_RESULT_*` code on error. Errors come in bands: -1.. API misuse,
/// -100.. packets, -200.. TLS and crypto, -300.. streams and datagrams,
/// -900.. fatal.
pub type quic_result = i32;

/// Success.
pub const QUIC_RESULT_OK: quic_result = 0;
/// Nothing (more) to do; not an error.
pub const QUIC_RESULT_DONE: quic_result = 1;

/// A required pointer argument was NULL.
pub const QUIC_RESULT_NULL_PARAMETER: quic_result = -1;
/// An argument has a value the function does not accept.
pub const QUIC_RESULT_INVALID_ARGUMENT: quic_result = -2;
/// The output buffer is too small for the result.
pub const QUIC_RESULT_BUFFER_TOO_SMALL: quic_result = -3;
/// The object is not in a state that allows this call.
pub const QUIC_RESULT_INVALID_STATE: quic_result = -4;
/// A single-use object or value was used twice.
pub const QUIC_RESULT_ALREADY_USED: quic_result = -5;
/// A file could not be read (details: `quic_config_last_error`).
pub const QUIC_RESULT_FILE_UNREADABLE: quic_result = -6;
/// A socket address that is not IPv4 or IPv6, or too short.
pub const QUIC_RESULT_INVALID_ADDRESS: quic_result = -7;

/// The packet ends before its header or declared length does.
pub const QUIC_RESULT_PACKET_TRUNCATED: quic_result = -100;
/// A packet header field holds a value the format forbids.
pub const QUIC_RESULT_PACKET_MALFORMED: quic_result = -101;
/// A connection ID longer than 20 bytes (255 for Version Negotiation).
pub const QUIC_RESULT_CONNECTION_ID_TOO_LONG: quic_result = -102;
/// The fixed bit of a packet is zero where it must be one.
pub const QUIC_RESULT_FIXED_BIT_ZERO: quic_result = -103;
/// A QUIC version this library does not implement.
pub const QUIC_RESULT_UNSUPPORTED_VERSION: quic_result = -104;
/// A packet failed to decrypt.
pub const QUIC_RESULT_DECRYPTION_FAILED: quic_result = -105;
/// A Retry packet's integrity tag does not verify.
pub const QUIC_RESULT_RETRY_TAG_MISMATCH: quic_result = -106;

/// The connection is closing or closed: nothing new can be sent.
pub const QUIC_RESULT_CLOSING: quic_result = -8;
/// Too much is queued; drain `quic_conn_send` and retry.
pub const QUIC_RESULT_WOULD_BLOCK: quic_result = -9;
/// Streams cannot be opened before the handshake has brought the peer's
/// stream limits: retry after QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED.
pub const QUIC_RESULT_HANDSHAKE_PENDING: quic_result = -10;
/// The peer has given no connection ID that was not used yet
/// (`quic_conn_change_connection_id`): try again after more traffic, as
/// the peer sends new ones when old ones are retired.
pub const QUIC_RESULT_NO_CONNECTION_ID: quic_result = -11;
/// The server sent `disable_active_migration` (RFC 9000 §18.2): this
/// connection may not probe or move to another local address.
pub const QUIC_RESULT_MIGRATION_DISABLED: quic_result = -12;
/// No live connection has this handle (`quic_endpoint_conn`): it was
/// freed after its QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE, or never
/// existed.
pub const QUIC_RESULT_NO_SUCH_CONNECTION: quic_result = -13;

/// The peer's stream limit does not allow opening this stream yet; a
/// STREAMS_BLOCKED frame tells the peer.
pub const QUIC_RESULT_STREAM_LIMIT: quic_result = -300;
/// A stream ID that cannot be used this way (the peer's unidirectional
/// stream, a peer stream not opened yet, above 2^62 - 1).
pub const QUIC_RESULT_INVALID_STREAM: quic_result = -301;
/// The stream's send side was already finished with FIN.
pub const QUIC_RESULT_STREAM_FINISHED: quic_result = -302;
/// The stream was reset, or the peer asked us to stop sending on it.
pub const QUIC_RESULT_STREAM_RESET: quic_result = -303;
/// The peer did not offer DATAGRAM support (max_datagram_frame_size).
pub const QUIC_RESULT_DATAGRAM_UNSUPPORTED: quic_result = -304;
/// The datagram is larger than the peer accepts or a packet holds.
pub const QUIC_RESULT_DATAGRAM_TOO_LARGE: quic_result = -305;

/// The cryptographic library failed (not a peer error).
pub const QUIC_RESULT_CRYPTO_FAILURE: quic_result = -200;
/// A certificate (chain) could not be loaded or parsed.
pub const QUIC_RESULT_TLS_CERTIFICATE: quic_result = -201;
/// A private key could not be loaded, was encrypted with another password,
/// or does not match the certificate.
pub const QUIC_RESULT_TLS_PRIVATE_KEY: quic_result = -202;
/// Trusted CA certificates could not be loaded.
pub const QUIC_RESULT_TLS_CA: quic_result = -203;
/// TLS could not be set up for a connection.
pub const QUIC_RESULT_TLS_SETUP: quic_result = -204;

/// A bug in libquic was caught at the API boundary; the object involved is
/// unusable from now on (free it).
pub const QUIC_RESULT_PANIC: quic_result = -900;
/// An internal invariant failed.
pub const QUIC_RESULT_INTERNAL: quic_result = -901;

/// Returns a static, NUL-terminated English description of `result`, never
/// NULL; unknown codes get "unknown result code".
#[no_mangle]
pub extern "C" fn quic_result_str(result: quic_result) -> *const c_char {
    let s: &'static std::ffi::CStr = match result {
        QUIC_RESULT_OK => c"success",
        QUIC_RESULT_DONE => c"nothing more to do",
        QUIC_RESULT_NULL_PARAMETER => c"a required pointer argument is NULL",
        QUIC_RESULT_INVALID_ARGUMENT => c"invalid argument",
        QUIC_RESULT_BUFFER_TOO_SMALL => c"output buffer too small",
        QUIC_RESULT_INVALID_STATE => c"call not allowed in the current state",
        QUIC_RESULT_ALREADY_USED => c"object already used",
        QUIC_RESULT_FILE_UNREADABLE => c"file cannot be read",
        QUIC_RESULT_INVALID_ADDRESS => c"invalid socket address",
        QUIC_RESULT_CLOSING => c"connection closing",
        QUIC_RESULT_WOULD_BLOCK => c"queue full; send first",
        QUIC_RESULT_HANDSHAKE_PENDING => {
            c"the handshake has not brought the peer's stream limits yet; retry after it completes"
        }
        QUIC_RESULT_NO_CONNECTION_ID => c"the peer has given no unused connection ID",
        QUIC_RESULT_MIGRATION_DISABLED => c"the peer does not allow active migration",
        QUIC_RESULT_NO_SUCH_CONNECTION => c"no live connection has this handle",
        QUIC_RESULT_STREAM_LIMIT => c"stream limit reached",
        QUIC_RESULT_INVALID_STREAM => c"invalid stream for this operation",
        QUIC_RESULT_STREAM_FINISHED => c"stream send side already finished",
        QUIC_RESULT_STREAM_RESET => c"stream reset or stopped",
        QUIC_RESULT_DATAGRAM_UNSUPPORTED => c"peer does not accept DATAGRAM frames",
        QUIC_RESULT_DATAGRAM_TOO_LARGE => c"datagram too large",
        QUIC_RESULT_PACKET_TRUNCATED => c"packet truncated",
        QUIC_RESULT_PACKET_MALFORMED => c"malformed packet",
        QUIC_RESULT_CONNECTION_ID_TOO_LONG => c"connection ID too long",
        QUIC_RESULT_FIXED_BIT_ZERO => c"packet fixed bit is zero",
        QUIC_RESULT_UNSUPPORTED_VERSION => c"unsupported QUIC version",
        QUIC_RESULT_DECRYPTION_FAILED => c"packet decryption failed",
        QUIC_RESULT_RETRY_TAG_MISMATCH => c"retry integrity tag mismatch",
        QUIC_RESULT_CRYPTO_FAILURE => c"cryptographic library failure",
        QUIC_RESULT_TLS_CERTIFICATE => c"bad certificate",
        QUIC_RESULT_TLS_PRIVATE_KEY => c"bad private key",
        QUIC_RESULT_TLS_CA => c"bad CA certificates",
        QUIC_RESULT_TLS_SETUP => c"TLS setup failed",
        QUIC_RESULT_PANIC => c"internal panic caught; object unusable",
        QUIC_RESULT_INTERNAL => c"internal error",
        _ => c"unknown result code",
    };
    s.as_ptr()
}

/// True when `result` means the object involved can no longer be used
/// (`QUIC_RESULT_PANIC`, `QUIC_RESULT_INTERNAL`).
#[no_mangle]
pub extern "C" fn quic_result_is_fatal(result: quic_result) -> bool {
    guard_value(true, || result <= QUIC_RESULT_PANIC)
}

/// The code for a packet error.
pub(crate) fn packet_error_code(e: PacketError) -> quic_result {
    match e {
        PacketError::Truncated => QUIC_RESULT_PACKET_TRUNCATED,
        PacketError::Malformed(_) => QUIC_RESULT_PACKET_MALFORMED,
        PacketError::ConnectionIdTooLong => QUIC_RESULT_CONNECTION_ID_TOO_LONG,
        PacketError::FixedBitZero => QUIC_RESULT_FIXED_BIT_ZERO,
        PacketError::UnsupportedVersion(_) => QUIC_RESULT_UNSUPPORTED_VERSION,
        PacketError::DecryptionFailed => QUIC_RESULT_DECRYPTION_FAILED,
        PacketError::BadRetryTag => QUIC_RESULT_RETRY_TAG_MISMATCH,
    }
}

/// The code for a crypto library failure.
pub(crate) fn crypto_error_code(_: CryptoError) -> quic_result {
    QUIC_RESULT_CRYPTO_FAILURE
}

/// The code of a failed call on a connection.
pub(crate) fn api_error_code(e: ApiError) -> quic_result {
    match e {
        ApiError::InvalidState(_) => QUIC_RESULT_INVALID_STATE,
        ApiError::InvalidArgument(_) => QUIC_RESULT_INVALID_ARGUMENT,
        ApiError::Tls(_) => QUIC_RESULT_TLS_SETUP,
        ApiError::StreamLimit => QUIC_RESULT_STREAM_LIMIT,
        ApiError::InvalidStream(_) => QUIC_RESULT_INVALID_STREAM,
        ApiError::StreamFinished => QUIC_RESULT_STREAM_FINISHED,
        ApiError::StreamReset => QUIC_RESULT_STREAM_RESET,
        ApiError::Closing => QUIC_RESULT_CLOSING,
        ApiError::DatagramUnsupported => QUIC_RESULT_DATAGRAM_UNSUPPORTED,
        ApiError::DatagramTooLarge => QUIC_RESULT_DATAGRAM_TOO_LARGE,
        ApiError::WouldBlock => QUIC_RESULT_WOULD_BLOCK,
        ApiError::HandshakePending => QUIC_RESULT_HANDSHAKE_PENDING,
        ApiError::NoConnectionId => QUIC_RESULT_NO_CONNECTION_ID,
        ApiError::MigrationDisabled => QUIC_RESULT_MIGRATION_DISABLED,
    }
}

/// The code of a configuration setter's failure.
pub(crate) fn config_error_code(e: &ConfigError) -> quic_result {
    match e {
        ConfigError::Invalid(_) => QUIC_RESULT_INVALID_ARGUMENT,
        ConfigError::Io { .. } => QUIC_RESULT_FILE_UNREADABLE,
        ConfigError::Certificate(_) => QUIC_RESULT_TLS_CERTIFICATE,
        ConfigError::PrivateKey(_) => QUIC_RESULT_TLS_PRIVATE_KEY,
        ConfigError::CaCertificates(_) => QUIC_RESULT_TLS_CA,
    }
}
