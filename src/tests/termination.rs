//! Every CONNECTION_TERMINATED event says why the connection ended (idle
//! and handshake timeouts, closes on both sides, version negotiation are
//! checked where those are tested); here: protocol errors on both sides,
//! and stateless resets (RFC 9000 §10.3).

use super::handshake::cause;
use super::pair::{server_addr, Pair};
use crate::conn::Termination;
use crate::packet::PacketType;

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

#[test]
fn a_protocol_error_is_ours_on_one_side_and_the_peers_on_the_other() {
    let mut p = established();
    let now = p.now;
    // An empty payload is a PROTOCOL_VIOLATION (RFC 9000 §12.4).
    p.server
        .as_mut()
        .unwrap()
        .inject_payload(PacketType::OneRtt, &[], now);
    assert!(p.run_to_close());
    assert_eq!(cause(&p.server_events), Some(Termination::LocalError));
    assert_eq!(cause(&p.client_events), Some(Termination::PeerTransport));
}

/// A datagram shaped like a short-header packet whose last 16 bytes are the
/// token of the connection ID the client sends to.
fn reset_datagram(token: [u8; 16], len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
        .collect();
    d[0] = 0x40 | (d[0] & 0x3f);
    let n = d.len();
    d[n - 16..].copy_from_slice(&token);
    d
}

#[test]
fn a_stateless_reset_drains_the_connection_and_says_so() {
    let mut p = established();
    let token = p.server().local_reset_token(0).expect("token of CID 0");
    let now = p.now;
    p.client
        .recv(&reset_datagram(token, 43), server_addr(), now);
    p.collect_events();
    assert_eq!(cause(&p.client_events), Some(Termination::StatelessReset));
    // RFC 9000 §10.3.1: nothing more is sent.
    let mut buf = Vec::new();
    assert!(p.client.send(&mut buf, now).is_none());
}

#[test]
fn a_wrong_or_short_token_is_not_a_reset() {
    let mut p = established();
    let mut token = p.server().local_reset_token(0).expect("token of CID 0");
    let now = p.now;
    // Too short to be a reset (§10.3: at least 21 bytes).
    p.client
        .recv(&reset_datagram(token, 20), server_addr(), now);
    token[7] ^= 1;
    p.client
        .recv(&reset_datagram(token, 60), server_addr(), now);
    p.collect_events();
    assert_eq!(cause(&p.client_events), None);
    assert!(p.client.is_established());
}
