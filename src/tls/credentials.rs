//! Certificates and keys, parsed by OpenSSL here so that the core's
//! `Config` holds them without knowing OpenSSL's types.

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::error::ConfigError;

/// This endpoint's certificate chain (leaf first) and the leaf's private
/// key. Empty until loaded.
#[derive(Clone, Default)]
pub struct Credentials {
    pub(super) chain: Vec<X509>,
    pub(super) key: Option<PKey<Private>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Parses a PEM chain (leaf first) and the leaf's PEM private key,
    /// encrypted when `password` is given; refuses a key that is not the
    /// leaf certificate's.
    pub fn from_pem(
        chain_pem: &[u8],
        key_pem: &[u8],
        password: Option<&[u8]>,
    ) -> Result<Self, ConfigError> {
        let chain =
            X509::stack_from_pem(chain_pem).map_err(|e| ConfigError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(ConfigError::Certificate("no PEM certificate found".into()));
        }
        let key = match password {
            Some(pw) => PKey::private_key_from_pem_passphrase(key_pem, pw),
            None => PKey::private_key_from_pem(key_pem),
        }
        .map_err(|e| ConfigError::PrivateKey(e.to_string()))?;
        let leaf_key = chain[0]
            .public_key()
            .map_err(|e| ConfigError::Certificate(e.to_string()))?;
        if !leaf_key.public_eq(&key) {
            return Err(ConfigError::PrivateKey(
                "the private key does not match the certificate".into(),
            ));
        }
        Ok(Self {
            chain,
            key: Some(key),
        })
    }

    /// True once a certificate and its key were loaded.
    pub fn is_loaded(&self) -> bool {
        !self.chain.is_empty() && self.key.is_some()
    }
}

/// Trusted CA certificates given in memory or by file (a directory of
/// hashed certificates is a path, kept by `Config`).
#[derive(Clone, Default)]
pub struct TrustAnchors {
    pub(super) certs: Vec<X509>,
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl TrustAnchors {
    /// Adds the certificates of PEM data `pem`; `what` names it in errors.
    pub fn add_pem(&mut self, pem: &[u8], what: &str) -> Result<(), ConfigError> {
        let certs = X509::stack_from_pem(pem)
            .map_err(|e| ConfigError::CaCertificates(format!("{what}: {e}")))?;
        if certs.is_empty() {
            return Err(ConfigError::CaCertificates(format!(
                "{what}: no PEM certificate found"
            )));
        }
        self.certs.extend(certs);
        Ok(())
    }

    /// True when none were given.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Forgets them all.
    pub fn clear(&mut self) {
        self.certs.clear();
    }
}
