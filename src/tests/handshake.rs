//! Handshake, close and robustness tests over the in-memory link (the
//! aioquic `test_connect*`, loss, close and malformed-input behaviours).

use super::pair::{configs, Dir, DropFn, Pair, MS};
use super::pki;
use crate::conn::{Event, Termination};
use crate::crypto::Suite;
use crate::error::code;

fn crypto_error(alert: u8) -> u64 {
    code::CRYPTO_ERROR_BASE + u64::from(alert)
}

fn terminated(events: &[Event]) -> Option<(u64, Option<u64>, Vec<u8>)> {
    events.iter().find_map(|e| match e {
        Event::ConnectionTerminated {
            error_code,
            frame_type,
            reason,
            ..
        } => Some((*error_code, *frame_type, reason.clone())),
        _ => None,
    })
}

/// Why the connection of `events` ended.
pub(super) fn cause(events: &[Event]) -> Option<Termination> {
    events.iter().find_map(|e| match e {
        Event::ConnectionTerminated { cause, .. } => Some(*cause),
        _ => None,
    })
}

#[test]
fn handshake_completes_with_the_expected_events() {
    let mut p = Pair::default_pair();
    p.handshake();
    for events in [&p.client_events, &p.server_events] {
        assert!(matches!(
            &events[0],
            Event::ProtocolNegotiated { alpn: Some(a) } if a == b"hq-interop"
        ));
        assert!(matches!(
            &events[1],
            Event::HandshakeCompleted { alpn: Some(a), session_resumed: false, early_data_accepted: false }
                if a == b"hq-interop"
        ));
        // Then 7 new connection IDs, up to the peer's limit of 8.
        let issued = events
            .iter()
            .filter(|e| matches!(e, Event::ConnectionIdIssued { .. }))
            .count();
        assert_eq!(issued, 7);
    }
    assert!(p.client.is_handshake_confirmed() && p.server().is_handshake_confirmed());
}

#[test]
fn every_cipher_suite() {
    for suite in [Suite::Aes128Gcm, Suite::Aes256Gcm, Suite::ChaCha20Poly1305] {
        let (mut c, s) = configs();
        c.set_cipher_suites(vec![suite]).unwrap();
        let mut p = Pair::new(c, s);
        p.handshake();
        // Data flows in 1-RTT packets under that suite: a PING is acked.
        p.client.send_ping(7).unwrap();
        let ok = p.run_until(p.now + 5_000 * MS, |p| {
            p.client_events
                .contains(&Event::PingAcknowledged { uid: 7 })
        });
        assert!(ok, "{suite:?}: ping not acknowledged");
    }
}

#[test]
fn the_negotiated_group_is_reported_by_its_codepoint() {
    // RFC 8446 §4.2.7 codepoints; None is OpenSSL's default list, which
    // starts with the hybrid X25519MLKEM768.
    for (groups, want) in [
        (Some("X25519"), 0x001d),
        (Some("P-256"), 0x0017),
        (Some("P-384"), 0x0018),
        (None, 0x11ec),
    ] {
        let (mut c, s) = configs();
        c.tls.groups = groups.map(String::from);
        let mut p = Pair::new(c, s);
        assert_eq!(p.client.stats().key_exchange_group, 0, "before");
        p.handshake();
        assert_eq!(p.client.stats().key_exchange_group, want, "{groups:?}");
        assert_eq!(p.server().stats().key_exchange_group, want, "{groups:?}");
    }
}

#[test]
fn alpn_mismatch_fails_with_no_application_protocol_at_both_ends() {
    let (mut c, s) = configs();
    c.set_alpn_protocols(vec![b"h3".to_vec()]).unwrap();
    let mut p = Pair::new(c, s);
    assert!(p.run_to_close());
    let want = crypto_error(120);
    assert_eq!(terminated(&p.server_events).map(|t| t.0), Some(want));
    assert_eq!(terminated(&p.client_events).map(|t| t.0), Some(want));
    assert_eq!(p.client.peer_error().map(|e| e.code), Some(want));
    assert!(!p.client.is_established());
}

#[test]
fn unknown_ca_is_a_crypto_error_at_the_client() {
    let (mut c, s) = configs();
    let other = pki::make("localhost", 0);
    let mut fresh = crate::config::Config::new(crate::side::Side::Client);
    fresh.tls.alpn_protocols = c.tls.alpn_protocols.clone();
    fresh.set_server_name("localhost").unwrap();
    fresh
        .load_verify_locations(None, None, Some(&other.ca_pem))
        .unwrap();
    c = fresh;
    let mut p = Pair::new(c, s);
    assert!(p.run_to_close());
    let (client_code, _, reason) = terminated(&p.client_events).expect("client terminated");
    assert!(
        (0x100..0x200).contains(&client_code),
        "client code {client_code:#x}"
    );
    // OpenSSL's verify result, in words, not just the alert number (the
    // other CA has the same name here, so OpenSSL finds it and the
    // signature check fails).
    let reason = String::from_utf8_lossy(&reason);
    assert!(reason.contains("certificate signature failure"), "{reason}");
    assert_eq!(p.client.local_error().map(|e| e.code), Some(client_code));
    let (server_code, ..) = terminated(&p.server_events).expect("server terminated");
    assert_eq!(server_code, client_code, "the server hears the same alert");
}

#[test]
fn wrong_hostname_is_a_crypto_error_at_the_client() {
    let (mut c, s) = configs();
    c.set_server_name("example.org").unwrap();
    let mut p = Pair::new(c, s);
    assert!(p.run_to_close());
    let (code, _, reason) = terminated(&p.client_events).expect("client terminated");
    assert!((0x100..0x200).contains(&code), "code {code:#x}");
    assert!(
        String::from_utf8_lossy(&reason).contains("hostname mismatch"),
        "{reason:?}"
    );
    assert!(terminated(&p.server_events).is_some());
}

#[test]
fn verification_can_be_turned_off() {
    let (mut c, s) = configs();
    c.set_server_name("example.org").unwrap();
    c.tls.verify_mode = crate::config::VerifyMode::None;
    let mut p = Pair::new(c, s);
    p.handshake();
}

/// aioquic's test_connect_with_loss_* idea: lose whole flights.
#[test]
fn handshake_survives_lost_flights() {
    type Pattern = fn(Dir, usize) -> bool;
    let patterns: [(&str, Pattern); 5] = [
        ("client's first datagram", |d, n| {
            d == Dir::ToServer && n == 0
        }),
        ("server's first datagram", |d, n| {
            d == Dir::ToClient && n == 0
        }),
        ("server's whole first flight", |d, n| {
            d == Dir::ToClient && n < 4
        }),
        ("client's Handshake flight", |d, n| {
            d == Dir::ToServer && (1..3).contains(&n)
        }),
        ("first two each way", |_, n| n < 2),
    ];
    for (name, lose) in patterns {
        let mut p = Pair::default_pair();
        p.drop = Box::new(move |d, n, _| lose(d, n));
        p.handshake();
        assert!(p.now < 10_000 * MS, "{name}: took {} ms", p.now / MS);
    }
}

/// Deterministic pseudo-random loss (xorshift), for reproducible seeds.
fn lossy(seed: u64, percent: u64) -> DropFn {
    let mut x = seed | 1;
    Box::new(move |_, _, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 100 < percent
    })
}

#[test]
fn handshake_completes_under_random_loss() {
    let mut lost_total = 0;
    for seed in 1..=12 {
        for percent in [10, 30] {
            let mut p = Pair::default_pair();
            let lost = std::rc::Rc::new(std::cell::Cell::new(0));
            let (l, mut inner) = (lost.clone(), lossy(seed, percent));
            p.drop = Box::new(move |d, n, b| {
                let drop = inner(d, n, b);
                l.set(l.get() + usize::from(drop));
                drop
            });
            p.handshake();
            lost_total += lost.get();
        }
    }
    assert!(lost_total > 24, "the link lost only {lost_total} datagrams");
}

/// A pair whose server's flight is larger than three times the client's
/// Initial (a 6-intermediate chain), and whose client's datagrams after
/// its first are lost: the server never validates the address. (X25519
/// alone keeps the ClientHello within that first datagram.)
pub(super) fn unvalidated_big_flight() -> Pair {
    let big = pki::make("localhost", 6);
    let (mut c, mut s) = configs();
    c.tls.groups = Some("X25519".into());
    c.tls.ca_certs.clear();
    c.load_verify_locations(None, None, Some(&big.ca_pem))
        .unwrap();
    s.load_cert_chain_pem(&big.chain_pem, &big.key_pem, None)
        .unwrap();
    let mut p = Pair::new(c, s);
    p.drop = Box::new(|d, n, _| d == Dir::ToServer && n > 0);
    p
}

#[test]
fn server_never_exceeds_three_times_what_it_received_before_validation() {
    let mut p = unvalidated_big_flight();
    let big = pki::make("localhost", 6);
    let violations = std::rc::Rc::new(std::cell::Cell::new(0));
    let v = violations.clone();
    p.on_server_send = Some(Box::new(move |sent, received| {
        if sent > 3 * received {
            v.set(v.get() + 1);
        }
    }));
    p.run_until(20_000 * MS, |_| false);
    assert_eq!(violations.get(), 0);
    // The server used its allowance (its flight is larger than 3x) and
    // stopped there.
    assert!(
        p.bytes_sent[1] > 2 * p.bytes_delivered[0],
        "{:?} {:?} {:?}",
        p.bytes_sent,
        p.server_events,
        p.server().local_error()
    );
    assert!(!p.server().is_established());
    assert!(p.bytes_sent[1] <= 3 * p.bytes_delivered[0]);

    // With the client's packets getting through, the same chain works.
    let (mut c, mut s) = configs();
    c.tls.ca_certs.clear();
    c.load_verify_locations(None, None, Some(&big.ca_pem))
        .unwrap();
    s.load_cert_chain_pem(&big.chain_pem, &big.key_pem, None)
        .unwrap();
    let mut p = Pair::new(c, s);
    p.handshake();
}

#[test]
fn idle_timeout_closes_both_sides() {
    let (mut c, mut s) = configs();
    c.transport.idle_timeout = 2_000 * MS;
    s.transport.idle_timeout = 5_000 * MS;
    let mut p = Pair::new(c, s);
    p.handshake();
    let start = p.now;
    assert!(p.run_to_close());
    for events in [&p.client_events, &p.server_events] {
        let (code, _, reason) = terminated(events).unwrap();
        assert_eq!(code, code::NO_ERROR);
        assert_eq!(reason, b"Idle timeout");
        // Not to be mistaken for a peer's close with code 0.
        assert_eq!(cause(events), Some(Termination::IdleTimeout));
    }
    // The smaller timeout (2 s) applies to both.
    let elapsed = p.now - start;
    assert!(
        (2_000 * MS..2_500 * MS).contains(&elapsed),
        "{} ms",
        elapsed / MS
    );
}

#[test]
fn close_with_and_without_reason() {
    for (app, code, reason) in [
        (true, 42u64, &b"bye"[..]),
        (false, code::NO_ERROR, &b""[..]),
    ] {
        let mut p = Pair::default_pair();
        p.handshake();
        p.client.close(app, code, None, reason, p.now).unwrap();
        assert!(p.run_to_close());
        let (got, frame_type, got_reason) = terminated(&p.server_events).unwrap();
        assert_eq!((got, got_reason.as_slice()), (code, reason));
        assert_eq!(frame_type.is_none(), app);
        let peer = p.server().peer_error().unwrap();
        assert_eq!((peer.is_app, peer.code), (app, code));
        assert_eq!(p.client.local_error().unwrap().code, code);
        // The closer's own event comes right away.
        assert_eq!(terminated(&p.client_events).unwrap().0, code);
        assert_eq!(cause(&p.client_events), Some(Termination::LocalClose));
        let peer_cause = if app {
            Termination::PeerApplication
        } else {
            Termination::PeerTransport
        };
        assert_eq!(cause(&p.server_events), Some(peer_cause));
    }
}

#[test]
fn garbage_does_not_disturb_an_established_connection() {
    let mut p = Pair::default_pair();
    p.handshake();
    let now = p.now;
    let addr = super::pair::server_addr();
    let mut x: u64 = 99;
    for len in [0usize, 1, 5, 20, 21, 40, 100, 1200, 1500] {
        let mut junk = vec![0u8; len];
        for b in junk.iter_mut() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (x >> 56) as u8;
        }
        p.client.recv(&junk, addr, now);
        // Looks like a short header for us, but cannot decrypt.
        if len > 30 {
            junk[0] = 0x40 | (junk[0] & 0x3f);
            let cid = p.client.local_cid();
            junk[1..1 + cid.len()].copy_from_slice(&cid);
            p.client.recv(&junk, addr, now);
        }
    }
    assert!(p.client.is_established());
    p.client.send_ping(1).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p
        .client_events
        .contains(&Event::PingAcknowledged { uid: 1 })));
}

#[test]
fn truncated_datagrams_are_dropped() {
    let mut p = Pair::default_pair();
    p.handshake();
    // Capture a real server datagram, then feed every truncation of it.
    p.server.as_mut().unwrap().send_ping(5).unwrap();
    let mut buf = Vec::new();
    let now = p.now;
    p.server.as_mut().unwrap().send(&mut buf, now).unwrap();
    for n in 0..buf.len() {
        p.client.recv(&buf[..n], super::pair::server_addr(), now);
    }
    assert!(p.client.is_established());
    p.client.recv(&buf, super::pair::server_addr(), now);
    assert!(p.client.is_established());
}

#[test]
fn secrets_are_logged_in_nss_key_log_format() {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (mut c, s) = configs();
    let sink = lines.clone();
    c.tls.key_log = Some(std::sync::Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_owned())
    }));
    let mut p = Pair::new(c, s);
    p.handshake();
    let lines = lines.lock().unwrap();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {lines:?}"));
        // LABEL <64 hex client random> <hex secret>
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].len(), 64);
        assert!(fields[2].len() >= 64);
    }
}

/// Re-protects the client's first Initial with its padding trimmed to
/// `size` bytes in total, so only the datagram size differs.
fn resized_initial(first: &[u8], size: usize) -> Vec<u8> {
    use crate::crypto::{InitialKeys, TAG_LEN};
    use crate::packet::{header, number, protect};
    use crate::version::{LongType, V1};
    let h = header::parse(first, 8).unwrap();
    let (dcid, scid) = (h.dcid.to_vec(), h.scid.to_vec());
    let mut rx = first[..h.packet_len].to_vec();
    let mut server = InitialKeys::new(V1, &dcid, false).unwrap();
    let opened = protect::open(&mut rx, h.pn_offset, None, &mut server.open).unwrap();
    let payload = &rx[opened.header_len..opened.header_len + opened.payload_len];
    let end = payload.iter().rposition(|b| *b != 0).unwrap() + 1;
    let mut client = InitialKeys::new(V1, &dcid, true).unwrap();
    let mut pkt = Vec::new();
    let layout = header::LongHeader {
        ty: LongType::Initial,
        version: V1,
        dcid: &dcid,
        scid: &scid,
        token: &[],
    }
    .write(&mut pkt, number::truncate(opened.pn, 4), 4, 1200)
    .unwrap();
    pkt.extend_from_slice(&payload[..end]);
    assert!(pkt.len() + TAG_LEN <= size, "payload too large for {size}");
    pkt.resize(size - TAG_LEN, 0);
    layout.finish(&mut pkt, TAG_LEN);
    pkt.resize(size, 0);
    protect::seal(&mut pkt, layout.pn_offset, 4, opened.pn, &mut client.seal).unwrap();
    pkt
}

#[test]
fn short_initial_datagrams_are_ignored_by_a_server() {
    let (mut c, s) = configs();
    c.tls.groups = Some("X25519".into()); // a ClientHello in one packet
    let mut p = Pair::new(c, s.clone());
    let mut first = Vec::new();
    p.client.send(&mut first, 0).unwrap();
    let stls = crate::tls::TlsContext::new(&s).unwrap();
    let dcid = crate::packet::header::parse(&first, 8)
        .unwrap()
        .dcid
        .to_vec();
    let s = std::sync::Arc::new(s);
    let mut out = Vec::new();
    // aioquic's test_initial_that_is_too_small: 1199 bytes get no answer.
    let mut server =
        crate::conn::Connection::new_server(s.clone(), stls.clone(), &dcid, None).unwrap();
    server.recv(
        &resized_initial(&first, 1199),
        super::pair::client_addr(),
        0,
    );
    assert!(
        server.send(&mut out, 0).is_none(),
        "answered a short Initial"
    );
    // The same content in 1200 bytes starts the handshake.
    let mut server = crate::conn::Connection::new_server(s, stls, &dcid, None).unwrap();
    server.recv(
        &resized_initial(&first, 1200),
        super::pair::client_addr(),
        0,
    );
    assert!(server.send(&mut out, 0).is_some());
    assert!(server.local_error().is_none());
}

#[test]
fn a_connection_in_quic_version_2() {
    // Both ends configured for v2 only: Initial/Handshake packets use v2's
    // type bits, salt and labels (RFC 9369), and data flows.
    let (mut c, mut s) = configs();
    c.set_supported_versions(vec![crate::version::V2]).unwrap();
    s.set_supported_versions(vec![crate::version::V2]).unwrap();
    let mut p = Pair::new(c, s);
    p.handshake();
    assert_eq!(p.client.version(), crate::version::V2);
    assert_eq!(p.server().version(), crate::version::V2);
    p.client.stream_send(0, b"over v2", true).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert_eq!(p.server_rx.bytes(0), b"over v2");
}

/// No silent stall: a client whose server never answers ends with an
/// event at the handshake deadline, well before the idle timeout.
#[test]
fn an_unanswered_handshake_ends_at_its_deadline() {
    let (mut c, s) = configs();
    c.set_handshake_timeout(2_000 * MS).unwrap();
    let mut p = Pair::new(c, s);
    p.drop = Box::new(|_, _, _| true);
    assert!(p.run_until(60_000 * MS, |p| p.client.is_closed()));
    assert_eq!(p.now, 2_000 * MS);
    let err = p.client.local_error().expect("closed locally");
    assert!(String::from_utf8_lossy(&err.reason).starts_with("Handshake timeout"));
    assert!(matches!(
        p.client_events.last(),
        Some(Event::ConnectionTerminated {
            cause: Termination::HandshakeTimeout,
            ..
        })
    ));
}

/// By default the handshake is bounded by the idle timeout.
#[test]
fn the_default_handshake_deadline_is_the_idle_timeout() {
    let (mut c, s) = configs();
    c.transport.idle_timeout = 5_000 * MS;
    let mut p = Pair::new(c, s);
    p.drop = Box::new(|_, _, _| true);
    assert!(p.run_until(600_000 * MS, |p| p.client.is_closed()));
    assert!(p.now <= 5_000 * MS, "{} ms", p.now / MS);
    let err = p.client.local_error().expect("closed locally");
    assert!(String::from_utf8_lossy(&err.reason).contains("within 5000 ms"));
}
