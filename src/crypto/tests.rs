//! Key schedule tests against RFC 9001 Appendix A and RFC 9369 Appendix A.

use super::*;
use crate::test_util::hex;
use crate::version::{V1, V2};

const DCID: &str = "8394c8f03e515708";

struct Expected {
    version: u32,
    client_secret: &'static str,
    client: [&'static str; 3],
    server_secret: &'static str,
    server: [&'static str; 3],
}

const INITIAL: [Expected; 2] = [
    Expected {
        version: V1,
        client_secret: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
        client: [
            "1f369613dd76d5467730efcbe3b1a22d",
            "fa044b2f42a3fd3b46fb255c",
            "9f50449e04a0e810283a1e9933adedd2",
        ],
        server_secret: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
        server: [
            "cf3a5331653c364c88f0f379b6067e37",
            "0ac1493ca1905853b0bba03e",
            "c206b8d9b9f0f37644430b490eeaa314",
        ],
    },
    Expected {
        version: V2,
        client_secret: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
        client: [
            "8b1a0bc121284290a29e0971b5cd045d",
            "91f73e2351d8fa91660e909f",
            "45b95e15235d6f45a6b19cbcb0294ba9",
        ],
        server_secret: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
        server: [
            "82db637861d55e1d011f19ea71d5d2a7",
            "dd13c276499c0249d3310652",
            "edf6d05c83121201b436e16877593c3a",
        ],
    },
];

#[test]
fn initial_secrets_and_keys() {
    for e in &INITIAL {
        let (client, server) = initial_secrets(e.version, &hex(DCID)).unwrap();
        assert_eq!(client.as_bytes(), &hex(e.client_secret)[..]);
        assert_eq!(server.as_bytes(), &hex(e.server_secret)[..]);
        for (secret, [key, iv, hp]) in [(&client, e.client), (&server, e.server)] {
            let m = derive_material(Suite::Aes128Gcm, e.version, secret).unwrap();
            assert_eq!(m.key, hex(key));
            assert_eq!(m.iv.to_vec(), hex(iv));
            assert_eq!(m.hp, hex(hp));
        }
    }
}

#[test]
fn unknown_version_has_no_initial_keys() {
    assert!(initial_secrets(0x1a2a_3a4a, &hex(DCID)).is_err());
}

const A5_SECRET: &str = "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b";

/// RFC 9001 A.5 and RFC 9369 A.5: ChaCha20 1-RTT keys and the key update.
#[test]
fn chacha20_keys_and_key_update() {
    let secret = Secret::new(&hex(A5_SECRET)).unwrap();
    for (version, key, iv, hp, ku) in [
        (
            V1,
            "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
            "e0459b3474bdd0e44a41c144",
            "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
            "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
        ),
        (
            V2,
            "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
            "a6b5bc6ab7dafce30ffff5dd",
            "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
            "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
        ),
    ] {
        let m = derive_material(Suite::ChaCha20Poly1305, version, &secret).unwrap();
        assert_eq!(m.key, hex(key));
        assert_eq!(m.iv.to_vec(), hex(iv));
        assert_eq!(m.hp, hex(hp));
        let next = next_secret(Suite::ChaCha20Poly1305, version, &secret).unwrap();
        assert_eq!(next.as_bytes(), &hex(ku)[..]);
    }
}

/// RFC 9001 §5.8 / RFC 9369 §3.3.3: the fixed Retry key and nonce are
/// Expand-Label of the published secrets.
#[test]
fn retry_key_and_nonce_derive_from_the_published_secrets() {
    for (version, secret) in [
        (
            V1,
            "d9c9943e6101fd200021506bcc02814c73030f25c79d71ce876eca876e6fca8e",
        ),
        (
            V2,
            "c4dd2484d681aefa4ff4d69c2c20299984a765a5d3c31982f38fc74162155e9f",
        ),
    ] {
        let m = derive_material(
            Suite::Aes128Gcm,
            version,
            &Secret::new(&hex(secret)).unwrap(),
        )
        .unwrap();
        let (key, nonce) = version::retry_key_nonce(version).unwrap();
        assert_eq!(&m.key[..], &key[..]);
        assert_eq!(&m.iv, nonce);
    }
}

#[test]
fn aes256_uses_sha384_secrets() {
    let secret = Secret::new(&[7u8; 48]).unwrap();
    let m = derive_material(Suite::Aes256Gcm, V1, &secret).unwrap();
    assert_eq!(m.key.len(), 32);
    assert_eq!(m.hp.len(), 32);
    assert_eq!(
        next_secret(Suite::Aes256Gcm, V1, &secret)
            .unwrap()
            .as_bytes()
            .len(),
        48
    );
    assert!(Secret::new(&[0; 31]).is_err());
}

#[test]
fn seal_then_open_round_trips_for_every_suite() {
    for suite in [Suite::Aes128Gcm, Suite::Aes256Gcm, Suite::ChaCha20Poly1305] {
        let secret = Secret::new(&vec![9u8; suite.hash().output_len()]).unwrap();
        let mut seal = DirectionalKeys::new(suite, V1, &secret, true).unwrap();
        let mut open = DirectionalKeys::new(suite, V1, &secret, false).unwrap();
        for pn in [0u64, 1, 1 << 40] {
            let mut data = b"hello quic".to_vec();
            let mut tag = [0u8; TAG_LEN];
            seal.packet.seal(pn, b"aad", &mut data, &mut tag).unwrap();
            assert_ne!(&data, b"hello quic");
            let mut copy = data.clone();
            assert!(open.packet.open(pn, b"aad", &mut copy, &tag));
            assert_eq!(&copy, b"hello quic");
            // Out of place: the same plaintext, the ciphertext untouched;
            // a wrong tag or a length mismatch is refused.
            let mut out = [0u8; 10];
            assert!(open.packet.open_into(pn, b"aad", &data, &mut out, &tag));
            assert_eq!(&out, b"hello quic");
            assert_ne!(&data, b"hello quic");
            let mut bad = tag;
            bad[15] ^= 0x80;
            assert!(!open.packet.open_into(pn, b"aad", &data, &mut out, &bad));
            assert!(!open
                .packet
                .open_into(pn, b"aad", &data, &mut out[..9], &tag));
            // Wrong packet number, AAD or tag: the packet is rejected.
            assert!(!open.packet.open(pn + 1, b"aad", &mut data.clone(), &tag));
            assert!(!open.packet.open(pn, b"aaD", &mut data.clone(), &tag));
            let mut bad = tag;
            bad[0] ^= 1;
            assert!(!open.packet.open(pn, b"aad", &mut data.clone(), &bad));
            // A failure leaves OpenSSL's error queue empty.
            assert_eq!(::openssl::error::ErrorStack::get().errors().len(), 0);
        }
    }
}

#[test]
fn hkdf_matches_openssls_kdf_for_both_hashes() {
    // Our HMAC-based HKDF against OpenSSL's EVP HKDF: both hashes, salts
    // and keys above the block size, outputs of several blocks.
    use ::openssl::kdf::{hkdf, HkdfMode};
    use ::openssl::md::Md;
    for (hash, md) in [
        (HashAlg::Sha256, Md::sha256()),
        (HashAlg::Sha384, Md::sha384()),
    ] {
        let n = hash.output_len();
        for salt_len in [0usize, 20, 64, 129, 200] {
            let salt: Vec<u8> = (0..salt_len).map(|i| i as u8 ^ 0x5a).collect();
            let ikm = [0x0bu8; 22];
            let mut ours = vec![0u8; n];
            openssl::hkdf_extract(hash, &salt, &ikm, &mut ours).unwrap();
            let mut theirs = vec![0u8; n];
            hkdf(
                md,
                &ikm,
                Some(&salt),
                None,
                HkdfMode::ExtractOnly,
                None,
                &mut theirs,
            )
            .unwrap();
            assert_eq!(ours, theirs, "{hash:?} extract, salt {salt_len}");
        }
        let secret: Vec<u8> = (0..n as u8).collect();
        for (label, len) in [
            (&b"quic key"[..], 16),
            (b"quic iv", 12),
            (b"quic ku", n),
            (b"x", 100),
        ] {
            let mut ours = vec![0u8; len];
            let prk = openssl::HmacKey::new(hash, &secret);
            openssl::hkdf_expand_label(&prk, label, &mut ours).unwrap();
            let mut info = (len as u16).to_be_bytes().to_vec();
            info.push(6 + label.len() as u8);
            info.extend_from_slice(b"tls13 ");
            info.extend_from_slice(label);
            info.push(0);
            let mut theirs = vec![0u8; len];
            hkdf(
                md,
                &secret,
                None,
                Some(&info),
                HkdfMode::ExpandOnly,
                None,
                &mut theirs,
            )
            .unwrap();
            assert_eq!(ours, theirs, "{hash:?} expand {len}");
        }
    }
}
