//! The QUIC key schedule (RFC 9001 §5) on OpenSSL EVP.
//!
//! TLS hands us secrets; everything derived from them is ours: packet keys,
//! IVs and header-protection keys, Initial keys from the client's first
//! destination connection ID, the next generation for a key update, and the
//! Retry integrity tag.

mod openssl;
pub mod random;
pub mod retry;

pub(crate) use self::openssl::library_version;
pub use self::openssl::{HeaderKey, PacketKey};
use crate::error::CryptoError;
use crate::version;

/// Length of every AEAD tag QUIC uses.
pub const TAG_LEN: usize = 16;

/// Bytes of ciphertext sampled for header protection (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;

/// The hash of a cipher suite, which sizes its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256, 32-byte secrets.
    Sha256,
    /// SHA-384, 48-byte secrets.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// The TLS 1.3 cipher suites QUIC can use (RFC 9001 §5.3; CCM_8 is excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128Gcm,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256Gcm,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
    ChaCha20Poly1305,
}

impl Suite {
    /// The suite with TLS identifier `id`, if QUIC supports it.
    pub fn from_tls_id(id: u16) -> Option<Self> {
        match id {
            0x1301 => Some(Suite::Aes128Gcm),
            0x1302 => Some(Suite::Aes256Gcm),
            0x1303 => Some(Suite::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The TLS identifier.
    pub fn tls_id(self) -> u16 {
        match self {
            Suite::Aes128Gcm => 0x1301,
            Suite::Aes256Gcm => 0x1302,
            Suite::ChaCha20Poly1305 => 0x1303,
        }
    }

    /// The suite's hash.
    pub fn hash(self) -> HashAlg {
        match self {
            Suite::Aes256Gcm => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// AEAD (and header-protection) key length.
    pub fn key_len(self) -> usize {
        match self {
            Suite::Aes128Gcm => 16,
            _ => 32,
        }
    }

    fn aead_name(self) -> &'static str {
        match self {
            Suite::Aes128Gcm => "AES-128-GCM",
            Suite::Aes256Gcm => "AES-256-GCM",
            Suite::ChaCha20Poly1305 => "ChaCha20-Poly1305",
        }
    }

    fn hp_name(self) -> &'static str {
        match self {
            Suite::Aes128Gcm => "AES-128-ECB",
            Suite::Aes256Gcm => "AES-256-ECB",
            Suite::ChaCha20Poly1305 => "ChaCha20",
        }
    }
}

/// A traffic secret, wiped when dropped.
#[derive(Clone)]
pub struct Secret {
    bytes: [u8; 48],
    len: usize,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

impl Secret {
    /// Copies a secret of 32 or 48 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 && bytes.len() != 48 {
            return Err(CryptoError(format!("secret of {} bytes", bytes.len())));
        }
        let mut s = Secret {
            bytes: [0; 48],
            len: bytes.len(),
        };
        s.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(s)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.bytes.iter_mut() {
            // SAFETY: `b` is a valid, aligned &mut u8; a volatile write keeps
            // the compiler from eliding the wipe of a dead value.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// The raw key material derived from one secret (RFC 9001 §5.1).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    /// AEAD key (16 or 32 bytes used).
    pub key: Vec<u8>,
    /// Static IV.
    pub iv: [u8; 12],
    /// Header-protection key.
    pub hp: Vec<u8>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMaterial(..)")
    }
}

/// Derives key, IV and header-protection key from `secret` with the labels
/// of `version`.
pub fn derive_material(
    suite: Suite,
    version: u32,
    secret: &Secret,
) -> Result<KeyMaterial, CryptoError> {
    let labels = version::labels(version);
    let prk = openssl::HmacKey::new(suite.hash(), secret.as_bytes());
    let mut key = vec![0u8; suite.key_len()];
    let mut iv = [0u8; 12];
    let mut hp = vec![0u8; suite.key_len()];
    openssl::hkdf_expand_label(&prk, labels.key, &mut key)?;
    openssl::hkdf_expand_label(&prk, labels.iv, &mut iv)?;
    openssl::hkdf_expand_label(&prk, labels.hp, &mut hp)?;
    Ok(KeyMaterial { key, iv, hp })
}

/// The secret of the next key phase (RFC 9001 §6.1, "quic ku").
pub fn next_secret(suite: Suite, version: u32, secret: &Secret) -> Result<Secret, CryptoError> {
    let hash = suite.hash();
    let mut out = [0u8; 48];
    let out = &mut out[..hash.output_len()];
    let prk = openssl::HmacKey::new(hash, secret.as_bytes());
    openssl::hkdf_expand_label(&prk, version::labels(version).ku, out)?;
    Secret::new(out)
}

/// The next key generation for one direction (RFC 9001 §6.1): the next
/// secret and its AEAD key. The header-protection key is not updated.
pub fn next_packet_key(
    suite: Suite,
    version: u32,
    secret: &Secret,
    sealing: bool,
) -> Result<(Secret, PacketKey), CryptoError> {
    let next = next_secret(suite, version, secret)?;
    let labels = version::labels(version);
    let prk = openssl::HmacKey::new(suite.hash(), next.as_bytes());
    let mut key = [0u8; 32];
    let key = &mut key[..suite.key_len()];
    let mut iv = [0u8; 12];
    openssl::hkdf_expand_label(&prk, labels.key, key)?;
    openssl::hkdf_expand_label(&prk, labels.iv, &mut iv)?;
    let packet = PacketKey::new(suite, key, iv, sealing)?;
    Ok((next, packet))
}

/// Packet and header keys for one direction.
#[derive(Debug)]
pub struct DirectionalKeys {
    /// AEAD key.
    pub packet: PacketKey,
    /// Header-protection key.
    pub header: HeaderKey,
}

impl DirectionalKeys {
    /// Keys for sealing (`sealing`) or opening packets protected with
    /// `secret`.
    pub fn new(
        suite: Suite,
        version: u32,
        secret: &Secret,
        sealing: bool,
    ) -> Result<Self, CryptoError> {
        let m = derive_material(suite, version, secret)?;
        Ok(Self {
            packet: PacketKey::new(suite, &m.key, m.iv, sealing)?,
            header: HeaderKey::new(suite, &m.hp)?,
        })
    }
}

/// The client and server Initial secrets for a client's first destination
/// connection ID (RFC 9001 §5.2; RFC 9369 §3.3.1 for v2's salt).
pub fn initial_secrets(version: u32, dcid: &[u8]) -> Result<(Secret, Secret), CryptoError> {
    let salt = version::initial_salt(version)
        .ok_or_else(|| CryptoError(format!("no Initial salt for version {version:#x}")))?;
    let mut prk = [0u8; 32];
    openssl::hkdf_extract(HashAlg::Sha256, salt, dcid, &mut prk)?;
    let prk = Secret::new(&prk)?;
    let mut client = [0u8; 32];
    let mut server = [0u8; 32];
    let prk = openssl::HmacKey::new(HashAlg::Sha256, prk.as_bytes());
    openssl::hkdf_expand_label(&prk, b"client in", &mut client)?;
    openssl::hkdf_expand_label(&prk, b"server in", &mut server)?;
    Ok((Secret::new(&client)?, Secret::new(&server)?))
}

/// The stateless reset token of `cid` under a static key (RFC 9000
/// §10.3.2): HMAC-SHA256(key, cid) cut to 16 bytes. Every server sharing
/// the key derives the same token, so any of them can reset a connection
/// another one lost, and the key itself never leaves the endpoint.
pub fn stateless_reset_token(key: &[u8; 32], cid: &[u8]) -> [u8; 16] {
    let mut mac = [0u8; 32];
    // HKDF-Extract(salt, ikm) is HMAC(salt, ikm); it cannot fail with a
    // SHA-256-sized output.
    if openssl::hkdf_extract(HashAlg::Sha256, key, cid, &mut mac).is_err() {
        mac = [0; 32];
    }
    let mut token = [0u8; 16];
    token.copy_from_slice(&mac[..16]);
    token
}

/// Sealing and opening keys for Initial packets, from our side's view.
#[derive(Debug)]
pub struct InitialKeys {
    /// Protects what we send.
    pub seal: DirectionalKeys,
    /// Removes protection from what we receive.
    pub open: DirectionalKeys,
}

impl InitialKeys {
    /// Initial keys for `version` and the client's first DCID; `is_client`
    /// picks which secret seals.
    pub fn new(version: u32, dcid: &[u8], is_client: bool) -> Result<Self, CryptoError> {
        let (client, server) = initial_secrets(version, dcid)?;
        let (ours, theirs) = if is_client {
            (client, server)
        } else {
            (server, client)
        };
        Ok(Self {
            seal: DirectionalKeys::new(Suite::Aes128Gcm, version, &ours, true)?,
            open: DirectionalKeys::new(Suite::Aes128Gcm, version, &theirs, false)?,
        })
    }
}

#[cfg(test)]
mod tests;
