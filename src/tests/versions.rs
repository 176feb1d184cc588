//! Version negotiation (RFC 9000 §6, RFC 9368, RFC 9369 §4): compatible
//! negotiation between versions 1 and 2 in both directions, a new attempt
//! after a Version Negotiation packet, a clear error when no version is
//! common, and the downgrade check.

use super::pair::{configs, Pair, MS};
use crate::conn::Event;
use crate::error::code;
use crate::version::{V1, V2};

/// A pair whose client starts in `original` offering `client_versions`,
/// and whose server deploys `server_versions` (preferred first).
fn pair(original: u32, client_versions: &[u32], server_versions: &[u32]) -> Pair {
    let (mut c, mut s) = configs();
    c.set_supported_versions(client_versions.to_vec()).unwrap();
    c.set_original_version(original).unwrap();
    s.set_supported_versions(server_versions.to_vec()).unwrap();
    Pair::new(c, s)
}

/// Handshake, then a small exchange; returns the version both ended in.
fn connect_and_talk(p: &mut Pair) -> u32 {
    p.handshake();
    p.client.stream_send(0, b"ping", true).unwrap();
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, b"pong", true)
        .unwrap();
    assert!(p.run_until(p.now + 5000 * MS, |p| {
        p.server_rx.finished.contains(&0) && p.client_rx.finished.contains(&1)
    }));
    assert_eq!(p.server_rx.bytes(0), b"ping");
    assert_eq!(p.client_rx.bytes(1), b"pong");
    let v = p.client.version();
    assert_eq!(v, p.server().version(), "the two sides disagree");
    assert_eq!(p.client.stats().version, v);
    v
}

#[test]
fn a_server_preferring_v2_upgrades_a_v1_client() {
    let mut p = pair(V1, &[V1, V2], &[V2, V1]);
    assert_eq!(connect_and_talk(&mut p), V2);
}

#[test]
fn a_server_preferring_v1_downgrades_a_v2_client_that_offers_v1() {
    let mut p = pair(V2, &[V2, V1], &[V1, V2]);
    assert_eq!(connect_and_talk(&mut p), V1);
}

#[test]
fn no_switch_when_the_client_offers_only_its_version() {
    let mut p = pair(V1, &[V1], &[V2, V1]);
    assert_eq!(connect_and_talk(&mut p), V1);
}

#[test]
fn the_client_keeps_its_version_when_the_server_prefers_it() {
    let mut p = pair(V1, &[V2, V1], &[V1, V2]);
    assert_eq!(connect_and_talk(&mut p), V1);
}

#[test]
fn the_switch_survives_lost_server_flights() {
    let mut p = pair(V1, &[V1, V2], &[V2, V1]);
    p.drop = Box::new(|dir, n, _| dir == super::pair::Dir::ToClient && n < 2);
    assert_eq!(connect_and_talk(&mut p), V2);
}

#[test]
fn version_negotiation_leads_to_a_new_attempt_in_a_common_version() {
    // The server deploys only v2; the client starts in v1 and offers both.
    let mut p = pair(V1, &[V1, V2], &[V2]);
    assert_eq!(connect_and_talk(&mut p), V2);
}

#[test]
fn no_common_version_ends_at_once_with_a_clear_error() {
    let mut p = pair(V1, &[V1], &[V2]);
    let done = p.run_until(60_000 * MS, |p| p.client.is_closed());
    assert!(done);
    // One round trip (20 ms here), not a timeout.
    assert!(p.now <= 50 * MS, "took {} ms", p.now / MS);
    let err = p.client.local_error().expect("closed by the client");
    assert_eq!(err.code, code::VERSION_NEGOTIATION_ERROR);
    let reason = String::from_utf8_lossy(&err.reason);
    assert!(
        reason.contains("0x6b3343cf") && reason.contains("0x1"),
        "{reason}"
    );
    assert!(p.client_events.iter().any(
        |e| matches!(e, Event::ConnectionTerminated { error_code, cause, .. }
            if *error_code == code::VERSION_NEGOTIATION_ERROR
                && *cause == crate::conn::Termination::VersionNegotiation)
    ));
}

/// RFC 9368 §4: a forged Version Negotiation packet steers the client to
/// v1, but the server's Version Information shows it supports v2, which
/// the client prefers: the client closes with VERSION_NEGOTIATION_ERROR.
#[test]
fn a_forged_version_negotiation_is_detected_as_a_downgrade() {
    let mut p = pair(V2, &[V2, V1], &[V1, V2]);
    // The first flight never reaches the server; a forged VN answers it.
    let mut buf = Vec::new();
    let mut first = None;
    while p.client.send(&mut buf, 0).is_some() {
        first.get_or_insert_with(|| buf.clone());
    }
    let first = first.expect("a first flight");
    let h = crate::packet::header::parse(&first, 8).unwrap();
    let mut vn = Vec::new();
    crate::server::version_negotiation(&mut vn, h.dcid, h.scid, &[V1]).unwrap();
    let addr = super::pair::server_addr();
    p.client.recv(&vn, addr, 0);
    assert_eq!(
        p.client.version(),
        V1,
        "the client made a new attempt in v1"
    );
    p.run_until(5000 * MS, |p| p.client.local_error().is_some());
    let err = p.client.local_error().expect("the client closed");
    assert_eq!(err.code, code::VERSION_NEGOTIATION_ERROR, "{err:?}");
}

/// RFC 9368 §4: a Version Negotiation packet listing the version we used
/// is ignored.
#[test]
fn a_version_negotiation_listing_our_version_is_ignored() {
    let mut p = pair(V1, &[V1, V2], &[V1, V2]);
    let mut buf = Vec::new();
    let mut first = None;
    while p.client.send(&mut buf, 0).is_some() {
        first.get_or_insert_with(|| buf.clone());
    }
    let first = first.unwrap();
    let h = crate::packet::header::parse(&first, 8).unwrap();
    let mut vn = Vec::new();
    crate::server::version_negotiation(&mut vn, h.dcid, h.scid, &[V2, V1]).unwrap();
    p.client.recv(&vn, super::pair::server_addr(), 0);
    assert_eq!(p.client.version(), V1);
    assert!(!p.client.is_closed());
}

/// A client offering v2 that takes the server's first v2 packet as news
/// of the version only: it drops the packet but acknowledges it, and sends
/// its ClientHello again in v2 (picoquic does). Every byte of the server's
/// ServerHello is then acknowledged but none was read; the server sends
/// its flight again at once on the repeated ClientHello (RFC 9002 §6.2.3),
/// acknowledged parts included, and the handshake completes in v2 within
/// milliseconds, long before any probe timeout (it used to wait until the
/// handshake timeout).
#[test]
fn a_client_that_acknowledges_the_first_v2_packet_without_reading_it() {
    use crate::crypto::InitialKeys;
    use crate::frame;
    use crate::packet::header;

    let (mut c, mut s) = configs();
    c.set_supported_versions(vec![V1, V2]).unwrap();
    c.set_original_version(V1).unwrap();
    s.set_supported_versions(vec![V2, V1]).unwrap();
    let (caddr, saddr) = (super::pair::client_addr(), super::pair::server_addr());
    let f = super::craft::first_flight(c, s);
    let (mut client, mut server) = (f.client, f.server);
    let (odcid, client_scid) = (f.odcid, f.client_scid);
    let mut buf = Vec::new();
    for d in &f.datagrams {
        server.recv(d, caddr, MS);
    }
    let mut unread = Vec::new();
    while server.send(&mut buf, MS).is_some() {
        unread.push(buf.clone());
    }
    let h = header::parse(&unread[0], 8).unwrap();
    assert_eq!(h.version, V2, "the server did not switch");
    let server_scid = h.scid.to_vec();

    // The repeat: ACK of the server's packet 0, the ClientHello's first
    // byte again, in a v2 Initial.
    let mut payload = Vec::new();
    frame::write_ack(&mut payload, &[(0, 0)], 0, None);
    payload.extend_from_slice(&[0x06, 0x00, 0x01, 0x01]);
    let mut keys = InitialKeys::new(V2, &odcid, true).unwrap();
    let pn = 10;
    client.skip_packet_numbers(crate::recovery::Space::Initial, pn + 1);
    let pkt = super::craft::client_initial(&mut keys, V2, &server_scid, &client_scid, pn, &payload);
    let mut now = 2 * MS;
    server.recv(&pkt, caddr, now);

    // From here on both read everything, with no timer run.
    for _ in 0..20 {
        now += MS / 10;
        let mut moved = false;
        while server.send(&mut buf, now).is_some() {
            client.recv(&buf, saddr, now);
            moved = true;
        }
        while client.send(&mut buf, now).is_some() {
            server.recv(&buf, caddr, now);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    assert!(
        client.is_established(),
        "the client never got a ServerHello"
    );
    assert!(server.is_established());
    assert_eq!(client.version(), V2);
    assert!(now < 10 * MS, "took {} ms", now / MS);
}
