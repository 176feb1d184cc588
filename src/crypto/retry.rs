//! The Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3).

use crate::crypto::{openssl::aes128gcm_tag, TAG_LEN};
use crate::error::CryptoError;
use crate::packet::MAX_CID_LEN;
use crate::version;

/// Computes the tag of a Retry packet `retry` (everything before the tag) sent
/// in answer to a client whose first destination connection ID was `odcid`.
pub fn integrity_tag(
    version: u32,
    odcid: &[u8],
    retry: &[u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    let (key, nonce) = version::retry_key_nonce(version)
        .ok_or_else(|| CryptoError(format!("no Retry key for version {version:#x}")))?;
    if odcid.len() > MAX_CID_LEN {
        return Err(CryptoError("original DCID longer than 20 bytes".into()));
    }
    // The Retry Pseudo-Packet: ODCID Length, ODCID, then the Retry packet.
    let mut pseudo = Vec::with_capacity(1 + odcid.len() + retry.len());
    pseudo.push(odcid.len() as u8);
    pseudo.extend_from_slice(odcid);
    pseudo.extend_from_slice(retry);
    aes128gcm_tag(key, nonce, &pseudo)
}

/// True when `tag` is the right tag for `retry` and `odcid`. Compared in
/// constant time.
pub fn verify(version: u32, odcid: &[u8], retry: &[u8], tag: &[u8]) -> bool {
    match integrity_tag(version, odcid, retry) {
        Ok(expected) => tag.len() == TAG_LEN && openssl::memcmp::eq(&expected, tag),
        Err(_) => false,
    }
}
