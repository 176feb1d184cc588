//! What a server asks of a client: no ALPN of its own (aioquic's
//! `alpn_protocols=None`) and the three certificate verification modes
//! (aioquic's `verify_mode`: CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED).

use super::handshake::cause;
use super::pair::{configs, Pair};
use super::pki;
use crate::config::VerifyMode;
use crate::conn::Termination;
use crate::error::code;

const NO_APPLICATION_PROTOCOL: u64 = code::CRYPTO_ERROR_BASE + 120;

#[test]
fn a_server_without_alpn_takes_part_in_no_negotiation() {
    // The client offers none either: the handshake completes without one.
    let (mut c, mut s) = configs();
    c.tls.alpn_protocols.clear();
    s.tls.alpn_protocols.clear();
    let mut p = Pair::new(c, s);
    p.handshake();

    // The client offers one: the server answers without ALPN instead of
    // failing; it is the client that insists on an answer (RFC 9001 §8.1).
    let (c, mut s) = configs();
    s.tls.alpn_protocols.clear();
    let mut p = Pair::new(c, s);
    assert!(p.run_to_close());
    assert_eq!(
        p.client.local_error().map(|e| e.code),
        Some(NO_APPLICATION_PROTOCOL)
    );
    assert!(p.server().local_error().is_none(), "the server accepted");
    assert_eq!(cause(&p.server_events), Some(Termination::PeerTransport));
}

/// A server verifying client certificates in `mode` against the test CA;
/// the client presents `client_pki`'s certificate, if any.
fn mutual(mode: VerifyMode, client_pki: Option<&pki::Pki>) -> Pair {
    let (mut c, mut s) = configs();
    s.tls.verify_mode = mode;
    s.load_verify_locations(None, None, Some(&pki::localhost().ca_pem))
        .unwrap();
    if let Some(k) = client_pki {
        c.load_cert_chain_pem(&k.chain_pem, &k.key_pem, None)
            .unwrap();
    }
    Pair::new(c, s)
}

#[test]
fn optional_client_certificates_are_verified_when_sent() {
    // No certificate: accepted.
    mutual(VerifyMode::Optional, None).handshake();
    // One from the trusted CA: accepted.
    mutual(VerifyMode::Optional, Some(pki::localhost())).handshake();
    // One from another CA: refused with a TLS alert.
    let stranger = pki::make("client.example", 0);
    let mut p = mutual(VerifyMode::Optional, Some(&stranger));
    assert!(p.run_to_close());
    let err = p.server().local_error().expect("the server refused");
    assert!((0x100..0x200).contains(&err.code), "code {:#x}", err.code);
}

#[test]
fn required_client_certificates_must_be_sent() {
    mutual(VerifyMode::Required, Some(pki::localhost())).handshake();
    let mut p = mutual(VerifyMode::Required, None);
    assert!(p.run_to_close());
    let err = p.server().local_error().expect("the server refused");
    // certificate_required (116, RFC 8446 §4.4.2.4).
    assert_eq!(err.code, code::CRYPTO_ERROR_BASE + 116);
}
