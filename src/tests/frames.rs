//! Frames a peer may not send, or not send here: the connection closes with
//! the error RFC 9000 names (aioquic's test_payload_received_* and
//! test_handle_*_not_allowed cases).

use super::pair::{Pair, MS};
use crate::error::code;
use crate::frame::{self, Frame};
use crate::packet::PacketType;
use crate::varint;

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

/// Feeds `payload` to the server (or client) and returns its local error.
fn close_code(to_server: bool, ptype: PacketType, payload: &[u8]) -> Option<(u64, Option<u64>)> {
    let mut p = established();
    let now = p.now;
    let conn = if to_server {
        p.server.as_mut().unwrap()
    } else {
        &mut p.client
    };
    conn.inject_payload(ptype, payload, now);
    conn.local_error().map(|e| (e.code, e.frame_type))
}

fn encode(f: &Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    f.write(&mut out);
    out
}

#[test]
fn empty_payload_is_a_protocol_violation() {
    let got = close_code(true, PacketType::OneRtt, &[]);
    assert_eq!(got.map(|g| g.0), Some(code::PROTOCOL_VIOLATION));
}

#[test]
fn padding_only_is_fine() {
    assert_eq!(close_code(true, PacketType::OneRtt, &[0; 20]), None);
}

#[test]
fn unknown_frame_type_is_a_frame_encoding_error() {
    let mut payload = Vec::new();
    varint::write(&mut payload, 0x3f);
    assert_eq!(
        close_code(true, PacketType::OneRtt, &payload),
        Some((code::FRAME_ENCODING_ERROR, Some(0x3f)))
    );
}

#[test]
fn malformed_frame_is_a_frame_encoding_error() {
    // A NEW_CONNECTION_ID cut short.
    let payload = [frame::kind::NEW_CONNECTION_ID as u8, 1, 0, 8, 1, 2];
    assert_eq!(
        close_code(true, PacketType::OneRtt, &payload),
        Some((
            code::FRAME_ENCODING_ERROR,
            Some(frame::kind::NEW_CONNECTION_ID)
        ))
    );
}

#[test]
fn frames_outside_their_packet_types_are_protocol_violations() {
    let stream = encode(&Frame::Stream {
        stream_id: 0,
        offset: 0,
        data: b"x",
        fin: false,
    });
    let got = close_code(true, PacketType::Handshake, &stream);
    assert_eq!(got.map(|g| g.0), Some(code::PROTOCOL_VIOLATION));
    let ping_then_done = [frame::kind::PING as u8, frame::kind::HANDSHAKE_DONE as u8];
    assert_eq!(
        close_code(false, PacketType::Handshake, &ping_then_done),
        Some((code::PROTOCOL_VIOLATION, Some(frame::kind::HANDSHAKE_DONE)))
    );
}

#[test]
fn server_only_frames_from_a_client() {
    let done = [frame::kind::HANDSHAKE_DONE as u8];
    assert_eq!(
        close_code(true, PacketType::OneRtt, &done),
        Some((code::PROTOCOL_VIOLATION, Some(frame::kind::HANDSHAKE_DONE)))
    );
    let token = encode(&Frame::NewToken { token: b"t" });
    assert_eq!(
        close_code(true, PacketType::OneRtt, &token),
        Some((code::PROTOCOL_VIOLATION, Some(frame::kind::NEW_TOKEN)))
    );
}

#[test]
fn acknowledging_an_unsent_packet_is_a_protocol_violation() {
    let mut ack = Vec::new();
    frame::write_ack(&mut ack, &[(0, 1_000_000)], 0, None);
    assert_eq!(
        close_code(true, PacketType::OneRtt, &ack),
        Some((code::PROTOCOL_VIOLATION, Some(frame::kind::ACK)))
    );
}

#[test]
fn datagram_without_our_offer_is_a_protocol_violation() {
    let d = encode(&Frame::Datagram {
        data: b"hi",
        with_len: true,
    });
    let got = close_code(false, PacketType::OneRtt, &d);
    assert_eq!(got.map(|g| g.0), Some(code::PROTOCOL_VIOLATION));
}

#[test]
fn retiring_the_connection_id_in_use_is_a_protocol_violation() {
    let mut p = established();
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    // Sequence 0 is the CID the client's packets carry (inject_payload
    // uses it as the packet's DCID).
    server.inject_payload(
        PacketType::OneRtt,
        &encode(&Frame::RetireConnectionId { seq: 0 }),
        now,
    );
    assert_eq!(
        server.local_error().map(|e| e.code),
        Some(code::PROTOCOL_VIOLATION)
    );
    let _ = MS;
}

#[test]
fn the_peer_hears_our_error() {
    let mut p = established();
    let now = p.now;
    p.server
        .as_mut()
        .unwrap()
        .inject_payload(PacketType::OneRtt, &[0x3f], now);
    assert!(p.run_to_close());
    let peer = p.client.peer_error().expect("client saw the close");
    assert_eq!(peer.code, code::FRAME_ENCODING_ERROR);
    assert_eq!(peer.frame_type, Some(0x3f));
}
