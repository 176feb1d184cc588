//! Retry packets (RFC 9000 §17.2.5) with their integrity tag (RFC 9001 §5.8).

use crate::crypto::{retry, TAG_LEN};
use crate::error::CryptoError;
use crate::packet::MAX_CID_LEN;
use crate::version::{self, LongType};

/// Appends a Retry packet sent to a client whose Initial had source CID
/// `client_scid` (our DCID) and destination CID `odcid`; `scid` is the new
/// server CID the client must use, `token` the Retry token. `unused` supplies
/// the 4 arbitrary low bits of the first byte.
pub fn write(
    out: &mut Vec<u8>,
    version: u32,
    client_scid: &[u8],
    scid: &[u8],
    odcid: &[u8],
    token: &[u8],
    unused: u8,
) -> Result<(), CryptoError> {
    if !version::is_supported(version) {
        return Err(CryptoError(format!(
            "Retry for unsupported version {version:#x}"
        )));
    }
    if [client_scid, scid, odcid]
        .iter()
        .any(|c| c.len() > MAX_CID_LEN)
    {
        return Err(CryptoError("connection ID longer than 20 bytes".into()));
    }
    let start = out.len();
    let type_bits = version::long_type_bits(version, LongType::Retry);
    out.push(0xc0 | (type_bits << 4) | (unused & 0x0f));
    out.extend_from_slice(&version.to_be_bytes());
    out.push(client_scid.len() as u8);
    out.extend_from_slice(client_scid);
    out.push(scid.len() as u8);
    out.extend_from_slice(scid);
    out.extend_from_slice(token);
    match retry::integrity_tag(version, odcid, &out[start..]) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The size of the packet [`write`] produces.
pub fn encoded_len(client_scid: &[u8], scid: &[u8], token: &[u8]) -> usize {
    1 + 4 + 1 + client_scid.len() + 1 + scid.len() + token.len() + TAG_LEN
}

/// Checks the integrity tag of a received Retry packet `packet` (the whole
/// packet, tag last) against the DCID of our first Initial.
pub fn verify(version: u32, odcid: &[u8], packet: &[u8]) -> bool {
    if packet.len() < TAG_LEN {
        return false;
    }
    let (body, tag) = packet.split_at(packet.len() - TAG_LEN);
    retry::verify(version, odcid, body, tag)
}
