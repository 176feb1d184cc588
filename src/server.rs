//! Stateless server helpers: what a server does with a datagram before (or
//! without) a connection: read its header, answer an unknown version with
//! Version Negotiation, or ask the client to prove its address with Retry.

use crate::crypto::random::{RandomSource, SystemRandom};
use crate::error::{CryptoError, PacketError};
use crate::packet::header::{self, FixedBit, Header};
use crate::packet::{negotiation, retry};
use crate::version;

/// Parses the first header of a datagram for routing. The fixed bit is not
/// enforced here, because a peer that was offered grease_quic_bit may clear
/// it; the connection checks it.
pub fn parse_header(datagram: &[u8], short_dcid_len: usize) -> Result<Header<'_>, PacketError> {
    header::parse_with(datagram, short_dcid_len, FixedBit::MayBeGreased)
}

/// One random byte for the arbitrary bits of a first byte.
fn random_bits() -> u8 {
    let mut b = [0u8; 1];
    SystemRandom.fill(&mut b);
    b[0]
}

/// Appends a Version Negotiation packet answering a packet with
/// `client_dcid` and `client_scid`, listing `versions` (ours when empty).
pub fn version_negotiation(
    out: &mut Vec<u8>,
    client_dcid: &[u8],
    client_scid: &[u8],
    versions: &[u32],
) -> Result<(), PacketError> {
    let versions = if versions.is_empty() {
        &version::SUPPORTED[..]
    } else {
        versions
    };
    if negotiation::write(out, client_dcid, client_scid, versions, random_bits()) {
        Ok(())
    } else {
        Err(PacketError::ConnectionIdTooLong)
    }
}

/// Appends a Retry packet with its integrity tag (RFC 9000 §17.2.5).
pub fn retry_packet(
    out: &mut Vec<u8>,
    version: u32,
    client_dcid: &[u8],
    client_scid: &[u8],
    new_scid: &[u8],
    token: &[u8],
) -> Result<(), CryptoError> {
    retry::write(
        out,
        version,
        client_scid,
        new_scid,
        client_dcid,
        token,
        random_bits(),
    )
}
