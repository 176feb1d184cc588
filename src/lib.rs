//! libquic: a sans-I/O QUIC transport with a C ABI.
//!
//! The library performs no I/O of its own. Callers feed received datagrams in,
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
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::mem_forget)]
#![warn(missing_docs, unreachable_pub)]

pub mod cid;
pub mod codec;
pub mod crypto;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod packet;
pub mod server;
pub mod side;
pub mod transport_params;
pub mod varint;
pub mod version;

#[cfg(test)]
mod test_util;
