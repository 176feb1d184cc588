//! libquic: a sans-I/O QUIC transport with a C ABI.
//!
//! The library opens no sockets, and its protocol timing uses only the time
//! callers pass (wall-clock time is read for address tokens and the 0-RTT
//! replay register; files only where a call names them). Callers feed received datagrams in,
//! pull datagrams to send out, pass the time and poll events; TLS 1.3 comes
//! from OpenSSL >= 3.5.1 through its hooks for third-party QUIC stacks.
//!
//! The C surface lives in [`ffi`] and is described by the generated header
//! `include/quic.h`. The Rust modules below it are the protocol core:
//!
//! - [`varint`], [`codec`]: the QUIC variable-length integer and a byte cursor.
//! - [`packet`]: packet headers, packet numbers, packet protection.
//! - [`frame`]: every frame of RFC 9000 §19 and RFC 9221.
//! - [`transport_params`]: the quic_transport_parameters TLS extension.
//! - [`crypto`]: key schedule, AEAD and header protection on OpenSSL EVP.
//! - [`server`]: stateless helpers (header parsing, Version Negotiation, Retry).
//!
//! A server routing a datagram before any connection exists reads its header
//! without keys:
//!
//! ```
//! use quic::packet::{header, PacketType};
//!
//! // A short-header packet for one of our 8-byte connection IDs.
//! let datagram = [0x41, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb];
//! let h = header::parse(&datagram, 8).unwrap();
//! assert_eq!(h.packet_type, PacketType::OneRtt);
//! assert_eq!(h.dcid, &[1, 2, 3, 4, 5, 6, 7, 8]);
//!
//! // An Initial of a version we do not speak is answered with Version
//! // Negotiation, echoing the connection IDs swapped.
//! let mut unknown = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 4, 9, 9, 9, 9, 0];
//! unknown.resize(1200, 0);
//! let h = header::parse(&unknown, 8).unwrap();
//! assert_eq!(h.packet_type, PacketType::UnknownVersion);
//! let mut vn = Vec::new();
//! quic::server::version_negotiation(&mut vn, h.dcid, h.scid, &[]).unwrap();
//! assert_eq!(header::parse(&vn, 0).unwrap().scid, &[9, 9, 9, 9]);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::mem_forget)]
#![warn(missing_docs, unreachable_pub)]

pub mod cid;
pub mod codec;
pub mod config;
pub mod conn;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod ffi;
pub mod frame;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod fuzz;
#[cfg(feature = "internals")]
pub mod internals;
pub mod packet;
mod prefetch;
pub mod qlog;
pub mod quic_lb;
pub mod ranges;
pub mod recovery;
pub mod server;
pub mod shared_register;
pub mod side;
pub mod tls;
pub mod token;
pub mod transport_params;
pub mod varint;
pub mod version;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
