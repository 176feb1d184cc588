//! QUIC packets: headers, packet numbers, protection, and the two packets a
//! server builds without a connection (Version Negotiation and Retry).

pub mod header;
pub mod negotiation;
pub mod number;
pub mod protect;
pub mod retry;

pub use header::{Header, LongHeader, PacketType};

/// The longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// The smallest datagram that may carry a client Initial (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;
