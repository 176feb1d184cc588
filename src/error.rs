//! Errors of the protocol core.
//!
//! Each error a peer can cause carries the transport error code RFC 9000 §20.1
//! names, so the connection can close with it. The mapping to the C ABI's
//! `quic_result` lives in `ffi/result.rs` and nowhere else.

use thiserror::Error;

/// Transport error codes (RFC 9000 §20.1, RFC 9368 §10.2).
pub mod code {
    /// Closing without error.
    pub const NO_ERROR: u64 = 0x00;
    /// An internal error of the endpoint.
    pub const INTERNAL_ERROR: u64 = 0x01;
    /// The server refused to accept a new connection.
    pub const CONNECTION_REFUSED: u64 = 0x02;
    /// More data received than permitted.
    pub const FLOW_CONTROL_ERROR: u64 = 0x03;
    /// Too many streams opened.
    pub const STREAM_LIMIT_ERROR: u64 = 0x04;
    /// A frame for a stream in a state that does not permit it.
    pub const STREAM_STATE_ERROR: u64 = 0x05;
    /// A final size that changed or lies below received data.
    pub const FINAL_SIZE_ERROR: u64 = 0x06;
    /// A badly formatted frame.
    pub const FRAME_ENCODING_ERROR: u64 = 0x07;
    /// Malformed or invalid transport parameters.
    pub const TRANSPORT_PARAMETER_ERROR: u64 = 0x08;
    /// More connection IDs than the advertised limit.
    pub const CONNECTION_ID_LIMIT_ERROR: u64 = 0x09;
    /// A protocol rule was broken.
    pub const PROTOCOL_VIOLATION: u64 = 0x0a;
    /// An invalid token in a NEW_TOKEN frame or Initial.
    pub const INVALID_TOKEN: u64 = 0x0b;
    /// The application or application protocol caused the close.
    pub const APPLICATION_ERROR: u64 = 0x0c;
    /// More CRYPTO data than can be buffered.
    pub const CRYPTO_BUFFER_EXCEEDED: u64 = 0x0d;
    /// A key update error.
    pub const KEY_UPDATE_ERROR: u64 = 0x0e;
    /// The AEAD confidentiality or integrity limit was reached.
    pub const AEAD_LIMIT_REACHED: u64 = 0x0f;
    /// No viable network path exists.
    pub const NO_VIABLE_PATH: u64 = 0x10;
    /// Version negotiation failed (RFC 9368 §10.2).
    pub const VERSION_NEGOTIATION_ERROR: u64 = 0x11;
    /// First TLS alert code: CRYPTO_ERROR is 0x0100 + alert (RFC 9001 §4.8).
    pub const CRYPTO_ERROR_BASE: u64 = 0x0100;
}

/// A violation by the peer that ends the connection with a transport error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("transport error 0x{code:x} (frame type 0x{frame_type:x}): {reason}")]
pub struct TransportError {
    /// The RFC 9000 §20.1 error code.
    pub code: u64,
    /// The frame type that caused it, 0 when none.
    pub frame_type: u64,
    /// A short human-readable explanation, sent as the reason phrase.
    pub reason: &'static str,
}

impl TransportError {
    /// An error caused by a frame of type `frame_type`.
    pub fn new(code: u64, frame_type: u64, reason: &'static str) -> Self {
        Self {
            code,
            frame_type,
            reason,
        }
    }

    /// FRAME_ENCODING_ERROR for a frame of type `frame_type`.
    pub fn frame_encoding(frame_type: u64, reason: &'static str) -> Self {
        Self::new(code::FRAME_ENCODING_ERROR, frame_type, reason)
    }

    /// TRANSPORT_PARAMETER_ERROR.
    pub fn transport_parameter(reason: &'static str) -> Self {
        Self::new(code::TRANSPORT_PARAMETER_ERROR, 0, reason)
    }

    /// PROTOCOL_VIOLATION.
    pub fn protocol_violation(frame_type: u64, reason: &'static str) -> Self {
        Self::new(code::PROTOCOL_VIOLATION, frame_type, reason)
    }
}

/// Why a packet could not be parsed or opened. Such packets are dropped
/// (RFC 9000 §12.2 and §5.2): none of these close a connection by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    /// The datagram ends inside the header or before the declared length.
    #[error("packet truncated")]
    Truncated,
    /// A header field holds a value the format does not allow.
    #[error("malformed packet header: {0}")]
    Malformed(&'static str),
    /// A connection ID longer than the version allows.
    #[error("connection ID too long")]
    ConnectionIdTooLong,
    /// The fixed bit (0x40) is zero where it must be one.
    #[error("fixed bit is zero")]
    FixedBitZero,
    /// A long header of a version this operation does not support.
    #[error("unsupported version 0x{0:08x}")]
    UnsupportedVersion(u32),
    /// Decryption failed: wrong keys, corruption or a forgery.
    #[error("packet decryption failed")]
    DecryptionFailed,
    /// A Retry packet whose integrity tag does not verify.
    #[error("retry integrity tag mismatch")]
    BadRetryTag,
}

/// A local failure of the cryptographic library (not a peer error).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("crypto library failure: {0}")]
pub struct CryptoError(pub String);

/// Why a setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A value outside its allowed range.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A certificate (chain) could not be parsed.
    #[error("bad certificate: {0}")]
    Certificate(String),
    /// A private key could not be parsed or does not match the certificate.
    #[error("bad private key: {0}")]
    PrivateKey(String),
    /// Trusted CA certificates could not be loaded.
    #[error("bad CA certificates: {0}")]
    CaCertificates(String),
}
