//! Throwaway certificate authorities and server certificates for tests.

use std::sync::OnceLock;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// A CA and a chain it issued for a server name.
pub(crate) struct Pki {
    pub(crate) ca_pem: Vec<u8>,
    /// Leaf first, then any intermediates.
    pub(crate) chain_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn cert(
    cn: &str,
    serial: u32,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
    san: Option<&str>,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
            .unwrap();
    }
    if let Some(host) = san {
        let ext = SubjectAlternativeName::new()
            .dns(host)
            .ip("127.0.0.1")
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .unwrap();
        b.append_extension(ext).unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

/// A CA and a server certificate for `host`, with `intermediates`
/// intermediate CAs between them.
pub(crate) fn make(host: &str, intermediates: usize) -> Pki {
    let ca_key = key();
    let ca = cert("libquic test CA", 1, &ca_key, None, true, None);
    let mut issuer = (ca.clone(), ca_key);
    let mut chain_rest = Vec::new();
    for i in 0..intermediates {
        let k = key();
        let c = cert(
            &format!("libquic test intermediate {i}"),
            10 + i as u32,
            &k,
            Some((&issuer.0, &issuer.1)),
            true,
            None,
        );
        chain_rest.push(c.clone());
        issuer = (c, k);
    }
    let leaf_key = key();
    let leaf = cert(
        host,
        100,
        &leaf_key,
        Some((&issuer.0, &issuer.1)),
        false,
        Some(host),
    );
    let mut chain_pem = leaf.to_pem().unwrap();
    for c in chain_rest.iter().rev() {
        chain_pem.extend(c.to_pem().unwrap());
    }
    Pki {
        ca_pem: ca.to_pem().unwrap(),
        chain_pem,
        key_pem: leaf_key.private_key_to_pem_pkcs8().unwrap(),
    }
}

/// The shared PKI for "localhost" most tests use.
pub(crate) fn localhost() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| make("localhost", 0))
}
