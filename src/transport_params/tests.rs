//! Transport parameter tests, mirroring aioquic's TRANSPORT_PARAMETER_ERROR
//! cases (INTEROP.md §2) plus the RFC 9001 A.2 ClientHello's parameters.

use super::*;
use crate::error::code;
use crate::test_util::hex;
use crate::version::{V1, V2};

fn enc(params: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (pid, v) in params {
        varint::write(&mut out, *pid);
        varint::write(&mut out, v.len() as u64);
        out.extend_from_slice(v);
    }
    out
}

fn int_bytes(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint::write(&mut out, v);
    out
}

fn assert_tp_error(bytes: &[u8], sender: Side) {
    let e = TransportParameters::decode(bytes, sender).expect_err("should be rejected");
    assert_eq!(e.code, code::TRANSPORT_PARAMETER_ERROR, "{}", e.reason);
}

/// The parameters inside the RFC 9001 A.2 ClientHello.
#[test]
fn parses_the_rfc9001_client_parameters() {
    let bytes = hex(
        "0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f08\
         8394c8f03e51570806048000ffff",
    );
    let tp = TransportParameters::decode(&bytes, Side::Client).unwrap();
    assert_eq!(tp.initial_max_data, varint::MAX);
    assert_eq!(tp.initial_max_stream_data_bidi_local, 65_535);
    assert_eq!(tp.initial_max_stream_data_bidi_remote, 65_535);
    assert_eq!(tp.initial_max_stream_data_uni, 65_535);
    assert_eq!(tp.initial_max_streams_bidi, 16);
    assert_eq!(tp.initial_max_streams_uni, 16);
    assert_eq!(tp.max_idle_timeout, 30_000);
    assert_eq!(
        tp.initial_source_connection_id.as_deref(),
        Some(&hex("8394c8f03e515708")[..])
    );
    assert_eq!(tp.ack_delay_exponent, 3, "default");
    assert_eq!(tp.max_ack_delay, 25, "default");
    assert_eq!(tp.active_connection_id_limit, 2, "default");
    assert_eq!(tp.max_udp_payload_size, 65_527, "default");
}

#[test]
fn full_set_round_trips() {
    let tp = TransportParameters {
        original_destination_connection_id: ConnectionId::new(&[1; 8]),
        max_idle_timeout: 60_000,
        stateless_reset_token: Some([2; 16]),
        max_udp_payload_size: 1350,
        initial_max_data: 1 << 20,
        initial_max_stream_data_bidi_local: 1 << 18,
        initial_max_stream_data_bidi_remote: 1 << 17,
        initial_max_stream_data_uni: 1 << 16,
        initial_max_streams_bidi: 128,
        initial_max_streams_uni: MAX_STREAMS_LIMIT,
        ack_delay_exponent: 10,
        max_ack_delay: 16_383,
        disable_active_migration: true,
        preferred_address: Some(PreferredAddress {
            ipv4: "1.2.3.4:4433".parse().unwrap(),
            ipv6: "[2001:db8::1]:4434".parse().unwrap(),
            cid: ConnectionId::new(&[3; 20]).unwrap(),
            reset_token: [4; 16],
        }),
        active_connection_id_limit: 8,
        initial_source_connection_id: ConnectionId::new(&[]),
        retry_source_connection_id: ConnectionId::new(&[5; 4]),
        max_datagram_frame_size: Some(65_535),
        version_information: Some(VersionInformation {
            chosen: V2,
            available: vec![V1, V2],
        }),
        grease_quic_bit: true,
    };
    let mut bytes = Vec::new();
    tp.encode(&mut bytes);
    assert_eq!(TransportParameters::decode(&bytes, Side::Server), Ok(tp));
}

#[test]
fn defaults_are_not_sent_and_round_trip() {
    let mut bytes = Vec::new();
    TransportParameters::default().encode(&mut bytes);
    assert!(bytes.is_empty());
    assert_eq!(
        TransportParameters::decode(&[], Side::Client),
        Ok(TransportParameters::default())
    );
    // A zero max_datagram_frame_size is still "supported" and must be sent.
    let tp = TransportParameters {
        max_datagram_frame_size: Some(0),
        ..Default::default()
    };
    let mut bytes = Vec::new();
    tp.encode(&mut bytes);
    assert_eq!(TransportParameters::decode(&bytes, Side::Client), Ok(tp));
}

#[test]
fn unknown_and_reserved_parameters_are_ignored() {
    // 31 * N + 27 is reserved for greasing (RFC 9000 §18.1).
    let bytes = enc(&[
        (31 * 5 + 27, b"grease"),
        (0x1234, b""),
        (0x01, &int_bytes(5)),
    ]);
    let tp = TransportParameters::decode(&bytes, Side::Server).unwrap();
    assert_eq!(tp.max_idle_timeout, 5);
}

#[test]
fn malformed_encodings() {
    let good = enc(&[(id::MAX_IDLE_TIMEOUT, &int_bytes(30_000))]);
    for n in 1..good.len() {
        assert_tp_error(&good[..n], Side::Server);
    }
    // An integer parameter with trailing bytes, or empty.
    assert_tp_error(&enc(&[(id::INITIAL_MAX_DATA, &[0x01, 0x02])]), Side::Server);
    assert_tp_error(&enc(&[(id::INITIAL_MAX_DATA, &[])]), Side::Server);
    // A duplicate.
    assert_tp_error(
        &enc(&[(id::MAX_IDLE_TIMEOUT, &[1]), (id::MAX_IDLE_TIMEOUT, &[1])]),
        Side::Server,
    );
}

#[test]
fn out_of_range_values() {
    for (pid, value) in [
        (id::ACK_DELAY_EXPONENT, 21u64),
        (id::MAX_ACK_DELAY, 1 << 14),
        (id::ACTIVE_CONNECTION_ID_LIMIT, 1),
        (id::ACTIVE_CONNECTION_ID_LIMIT, 0),
        (id::MAX_UDP_PAYLOAD_SIZE, 1199),
        (id::INITIAL_MAX_STREAMS_BIDI, MAX_STREAMS_LIMIT + 1),
        (id::INITIAL_MAX_STREAMS_UNI, MAX_STREAMS_LIMIT + 1),
    ] {
        assert_tp_error(&enc(&[(pid, &int_bytes(value))]), Side::Server);
    }
    // The boundary values themselves are fine.
    for (pid, value) in [
        (id::ACK_DELAY_EXPONENT, 20u64),
        (id::MAX_ACK_DELAY, (1 << 14) - 1),
        (id::ACTIVE_CONNECTION_ID_LIMIT, 2),
        (id::MAX_UDP_PAYLOAD_SIZE, 1200),
    ] {
        assert!(
            TransportParameters::decode(&enc(&[(pid, &int_bytes(value))]), Side::Server).is_ok()
        );
    }
}

#[test]
fn bad_connection_ids_and_tokens() {
    assert_tp_error(
        &enc(&[(id::INITIAL_SOURCE_CONNECTION_ID, &[0; 21])]),
        Side::Client,
    );
    assert_tp_error(&enc(&[(id::STATELESS_RESET_TOKEN, &[0; 15])]), Side::Server);
    assert_tp_error(&enc(&[(id::DISABLE_ACTIVE_MIGRATION, &[0])]), Side::Server);
    assert_tp_error(&enc(&[(id::GREASE_QUIC_BIT, &[1])]), Side::Server);
}

#[test]
fn server_only_parameters_from_a_client() {
    for pid in [
        id::ORIGINAL_DESTINATION_CONNECTION_ID,
        id::STATELESS_RESET_TOKEN,
        id::PREFERRED_ADDRESS,
        id::RETRY_SOURCE_CONNECTION_ID,
    ] {
        assert_tp_error(&enc(&[(pid, &[0; 16])]), Side::Client);
    }
}

#[test]
fn preferred_address_rules() {
    let mut pa = Vec::new();
    pa.extend_from_slice(&[0; 4 + 2 + 16 + 2]);
    pa.push(0); // empty CID: forbidden
    pa.extend_from_slice(&[0; 16]);
    assert_tp_error(&enc(&[(id::PREFERRED_ADDRESS, &pa)]), Side::Server);
    pa.truncate(24);
    assert_tp_error(&enc(&[(id::PREFERRED_ADDRESS, &pa)]), Side::Server);
}

#[test]
fn version_information_rules() {
    let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
    let vi = |v: &[u8]| enc(&[(id::VERSION_INFORMATION, v)]);
    // Too short, not a multiple of 4, chosen 0, available 0.
    assert_tp_error(&vi(&[0, 0, 1]), Side::Server);
    assert_tp_error(&vi(&[0, 0, 0, 1, 0]), Side::Server);
    assert_tp_error(&vi(&words(&[0, V1])), Side::Server);
    assert_tp_error(&vi(&words(&[V1, 0])), Side::Server);
    // From a client, the chosen version must be listed.
    assert_tp_error(&vi(&words(&[V1, V2])), Side::Client);
    assert!(TransportParameters::decode(&vi(&words(&[V1, V2, V1])), Side::Client).is_ok());
    // A server may list an empty set, or leave its chosen version out.
    let tp = TransportParameters::decode(&vi(&words(&[V2])), Side::Server).unwrap();
    assert_eq!(
        tp.version_information,
        Some(VersionInformation {
            chosen: V2,
            available: vec![]
        })
    );
    assert!(TransportParameters::decode(&vi(&words(&[V2, V1])), Side::Server).is_ok());
    // A huge list is kept bounded.
    let many: Vec<u32> = std::iter::once(V1)
        .chain((1..=1000).map(|i| 0x1a2a_0000 + i))
        .collect();
    let tp = TransportParameters::decode(&vi(&words(&many)), Side::Server).unwrap();
    assert_eq!(
        tp.version_information.unwrap().available.len(),
        MAX_AVAILABLE_VERSIONS
    );
}
