//! After the handshake: the TLS library's state is let go on both sides,
//! and what a peer may still send in 1-RTT CRYPTO frames is handled without
//! it (RFC 8446 §4.6.1 tickets skipped, RFC 9001 §6 KeyUpdate refused).

use super::pair::{Pair, MS};
use crate::conn::Connection;
use crate::error::code;
use crate::frame;
use crate::packet::PacketType;

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

/// One CRYPTO frame at `offset` carrying `data`.
fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::write_crypto_header(&mut f, offset, data.len());
    f.extend_from_slice(data);
    f
}

/// A NewSessionTicket message with a `body`-byte body (its content does not
/// matter to a connection that keeps no tickets).
fn ticket(body: usize) -> Vec<u8> {
    let mut m = vec![4, (body >> 16) as u8, (body >> 8) as u8, body as u8];
    m.resize(4 + body, 0x5a);
    m
}

/// Feeds `stream` as 1-RTT CRYPTO frames of `piece` bytes, last piece
/// first, so reassembly as well as the message reader sees the split.
fn feed_crypto(conn: &mut Connection, stream: &[u8], piece: usize, now: u64) {
    let frames: Vec<Vec<u8>> = stream
        .chunks(piece)
        .enumerate()
        .map(|(i, c)| crypto((i * piece) as u64, c))
        .collect();
    for f in frames.iter().rev() {
        conn.inject_payload(PacketType::OneRtt, f, now);
    }
}

#[test]
fn both_sides_let_tls_go_once_established() {
    let p = established();
    assert!(p.client.tls_retired());
    assert!(p.server().tls_retired());
    // What the handshake negotiated is still reported.
    for st in [p.client.stats(), p.server().stats()] {
        assert_ne!(st.cipher_suite, 0);
        assert_ne!(st.key_exchange_group, 0);
    }
}

#[test]
fn tickets_after_retirement_are_skipped_and_data_still_flows() {
    let mut p = established();
    let mut stream = ticket(200);
    stream.extend(ticket(3000));
    stream.extend(ticket(0));
    let now = p.now;
    feed_crypto(&mut p.client, &stream, 97, now);
    assert!(
        p.client.local_error().is_none(),
        "{:?}",
        p.client.local_error()
    );
    let sid = p.client.next_stream_id(false);
    p.client
        .stream_send(sid, b"after the tickets", true)
        .unwrap();
    let got = p.run_until(p.now + 5_000 * MS, |p| {
        p.server_rx.bytes(sid) == b"after the tickets"
    });
    assert!(got);
}

#[test]
fn key_update_message_is_unexpected_message() {
    let mut p = established();
    let mut stream = ticket(50);
    // KeyUpdate(update_not_requested): RFC 9001 §6 makes it 0x010a.
    stream.extend([24, 0, 0, 1, 0]);
    let now = p.now;
    feed_crypto(&mut p.client, &stream, 1000, now);
    let err = p.client.local_error().expect("closed");
    assert_eq!(err.code, code::CRYPTO_ERROR_BASE + 10);
}

/// A client has nothing to send after its Finished, not even a ticket.
#[test]
fn a_client_sends_a_server_nothing_after_the_handshake() {
    let mut p = established();
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    feed_crypto(server, &ticket(10), 1000, now);
    let err = server.local_error().expect("closed");
    assert_eq!(err.code, code::CRYPTO_ERROR_BASE + 10);
}
