//! 0-RTT (RFC 9001 §4.6, RFC 9000 §7.4.1): early data accepted and its
//! answer one round trip after the first packet; refused early data sent
//! again in 1-RTT; a replayed flight not processed twice; limits that no
//! longer allow what was sent early ending the connection with a reason.

use std::sync::Arc;

use super::pair::{configs, Pair, MS};
use crate::config::Config;
use crate::conn::{ApiError, Connection, Event, Termination};
use crate::shared_register::SharedRegister;
use crate::test_util::{FleetRegister, TestClock};
use crate::tls::{TicketKey, TlsContext};

fn key() -> TicketKey {
    TicketKey {
        name: [1; 16],
        aes: [2; 32],
        hmac: [3; 32],
    }
}

/// Client and server configs with tickets (shared keys) and 0-RTT on; the
/// server's fleet shares a register (without one, a server with lasting
/// keys refuses early data for its first seconds).
fn early_configs() -> (Config, Config) {
    let (c, mut s) = fleet_configs();
    s.set_shared_register(Some(Arc::new(FleetRegister::default())));
    (c, s)
}

/// As [`early_configs`], with no shared register.
fn fleet_configs() -> (Config, Config) {
    let (mut c, mut s) = configs();
    for cfg in [&mut c, &mut s] {
        cfg.set_session_tickets(true);
        cfg.set_early_data(true);
        cfg.set_max_datagram_frame_size(1200).unwrap();
    }
    s.set_ticket_keys(vec![key()]).unwrap();
    (c, s)
}

type Server = (Arc<Config>, Arc<TlsContext>);

fn server_of(s: Config) -> Server {
    let tls = TlsContext::new(&s).unwrap();
    (Arc::new(s), tls)
}

/// A ticket from a full handshake with `server`.
fn ticket_from(c: &Config, server: &Server) -> Vec<u8> {
    let mut p = Pair::sharing(c.clone(), server.0.clone(), server.1.clone(), 0, |_| {});
    p.handshake();
    p.run_until(p.now + 1_000 * MS, |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, Event::SessionTicket { .. }))
    });
    p.client_events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::SessionTicket { ticket } => Some(ticket.clone()),
            _ => None,
        })
        .expect("a ticket")
}

/// A pair whose client resumes with `ticket` and, before any datagram
/// moved, queues a request on stream 0.
fn resuming(c: &Config, server: &Server, ticket: &[u8], request: &[u8]) -> Pair {
    let mut p = Pair::sharing(c.clone(), server.0.clone(), server.1.clone(), 0, |conn| {
        conn.set_session_ticket(ticket).unwrap();
    });
    p.client.stream_send(0, request, true).unwrap();
    p
}

fn early_accepted(events: &[Event]) -> Option<bool> {
    events.iter().find_map(|e| match e {
        Event::HandshakeCompleted {
            early_data_accepted,
            ..
        } => Some(*early_data_accepted),
        _ => None,
    })
}

#[test]
fn early_data_is_accepted_and_answered_one_round_trip_after_the_first_packet() {
    let (c, s) = early_configs();
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    let mut p = resuming(&c, &server, &ticket, b"GET /index.html");
    p.client.send_datagram(b"early datagram").unwrap();
    // quic.h: open_stream works in 0-RTT, within the ticket's limits.
    assert_eq!(p.client.open_stream(false), Ok(4));
    p.client.stream_send(4, b"second", true).unwrap();
    // The request arrives with the client's first flight (one-way delay
    // 10 ms), before the client's Finished could.
    let ok = p.run_until(50 * MS, |p| p.server_rx.finished.contains(&0));
    assert!(ok, "the early request did not arrive");
    assert!(p.now <= 11 * MS, "arrived at {} ms", p.now / MS);
    assert!(
        !p.server().is_established(),
        "the server's handshake is not complete yet"
    );
    assert_eq!(p.server_rx.bytes(0), b"GET /index.html");
    assert_eq!(p.server_rx.bytes(4), b"second");
    assert_eq!(p.server_rx.datagrams, vec![b"early datagram".to_vec()]);
    // The answer goes at once (0.5-RTT): one round trip after the start.
    p.server
        .as_mut()
        .unwrap()
        .stream_send(0, b"<html>", true)
        .unwrap();
    let ok = p.run_until(100 * MS, |p| p.client_rx.finished.contains(&0));
    assert!(ok);
    assert!(p.now <= 21 * MS, "answered at {} ms", p.now / MS);
    assert_eq!(p.client_rx.bytes(0), b"<html>");
    p.handshake();
    assert_eq!(early_accepted(&p.client_events), Some(true));
    assert_eq!(early_accepted(&p.server_events), Some(true));
}

#[test]
fn refused_early_data_is_sent_again_in_one_rtt() {
    let (c, s) = early_configs();
    let ticket = ticket_from(&c, &server_of(s));
    // The same keys, but this server does not take early data.
    let (_, mut s) = early_configs();
    s.set_early_data(false);
    let server = server_of(s);
    let request = vec![7u8; 3000];
    let mut p = resuming(&c, &server, &ticket, &request);
    let ok = p.run_until(5_000 * MS, |p| p.server_rx.finished.contains(&0));
    assert!(ok, "the refused early data never arrived");
    assert_eq!(p.server_rx.bytes(0), &request[..]);
    // It came after the handshake, in 1-RTT.
    assert!(p.now > 20 * MS);
    assert!(p.client_events.contains(&Event::EarlyDataRejected));
    assert_eq!(early_accepted(&p.client_events), Some(false));
    assert_eq!(early_accepted(&p.server_events), Some(false));
}

/// The client's first flight of a 0-RTT connection, captured.
fn first_flight(c: &Config, ticket: &[u8]) -> Vec<Vec<u8>> {
    let tls = TlsContext::new(c).unwrap();
    let mut client = Connection::new_client(Arc::new(c.clone()), tls).unwrap();
    client.set_session_ticket(ticket).unwrap();
    client.connect(super::pair::server_addr(), 0).unwrap();
    client.stream_send(0, b"transfer $100", true).unwrap();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while client.send(&mut buf, 0).is_some() {
        out.push(buf.clone());
    }
    out
}

/// Feeds a captured flight to a new server connection; the early stream
/// data it delivered.
fn server_reads(server: &Server, flight: &[Vec<u8>]) -> Vec<u8> {
    let dcid = crate::packet::header::parse(&flight[0], 8)
        .unwrap()
        .dcid
        .to_vec();
    let mut conn = Connection::new_server(server.0.clone(), server.1.clone(), &dcid, None).unwrap();
    for d in flight {
        conn.recv(d, super::pair::client_addr(), 0);
    }
    let mut got = Vec::new();
    while let Some(e) = conn.poll_event() {
        if let Event::StreamDataReceived { data, .. } = e {
            got.extend_from_slice(&data);
        }
    }
    got
}

#[test]
fn a_replayed_early_flight_is_not_processed_twice() {
    let (c, s) = early_configs();
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    let flight = first_flight(&c, &ticket);
    // Initial and 0-RTT packets, coalesced or not.
    assert!(!flight.is_empty());
    assert_eq!(server_reads(&server, &flight), b"transfer $100");
    // An attacker sends the same datagrams again: the server resumes the
    // session, but takes no early data from that ticket twice.
    assert_eq!(server_reads(&server, &flight), b"");
    // Nor does another server of the fleet (same keys, its own strike
    // register) that shares the fleet's register.
    let (_, mut s) = early_configs();
    s.set_shared_register(server.0.endpoint.shared_register.clone());
    assert_eq!(server_reads(&server_of(s), &flight), b"");
    // One whose register is its own would: the limit of a defence kept in
    // one place.
    let (_, s) = early_configs();
    assert_eq!(server_reads(&server_of(s), &flight), b"transfer $100");
}

/// A server whose ticket keys outlive it (a restart, a fleet) and whose
/// strike register is its own cannot know what was accepted just before
/// it started: it refuses early data for the first 20 s, then takes it.
/// With random keys no older ticket opens, so it takes it at once.
#[test]
fn a_server_with_lasting_keys_and_no_shared_register_refuses_0rtt_at_first() {
    let (c, mut s) = fleet_configs();
    let clock = TestClock::at(1_000_000);
    s.set_unix_clock(clock.clone());
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    let flight = first_flight(&c, &ticket);
    clock.set(1_000_019);
    assert_eq!(server_reads(&server, &flight), b"", "19 s after its start");
    clock.set(1_000_020);
    assert_eq!(server_reads(&server, &flight), b"transfer $100");

    let (mut c, mut s) = configs();
    for cfg in [&mut c, &mut s] {
        cfg.set_session_tickets(true);
        cfg.set_early_data(true);
    }
    s.set_unix_clock(TestClock::at(1_000_000));
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    assert_eq!(
        server_reads(&server, &first_flight(&c, &ticket)),
        b"transfer $100",
        "random keys: at once"
    );
}

/// The fleet's register is asked only about tickets the server has not
/// seen, and its "used" is final.
#[test]
fn the_shared_register_is_asked_once_per_ticket_and_its_word_is_final() {
    let (c, mut s) = fleet_configs();
    let fleet = Arc::new(FleetRegister::default());
    s.set_shared_register(Some(fleet.clone()));
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    let flight = first_flight(&c, &ticket);
    let asked = || fleet.asked.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(server_reads(&server, &flight), b"transfer $100");
    assert_eq!(asked(), 1);
    assert_eq!(server_reads(&server, &flight), b"");
    assert_eq!(asked(), 1, "a replay here is this server's to refuse");

    let ticket = ticket_from(&c, &server);
    let flight = first_flight(&c, &ticket);
    // Another server of the fleet took this ticket's flight already.
    let nonce_taken = fleet.clone();
    struct AlwaysUsed(Arc<FleetRegister>);
    impl SharedRegister for AlwaysUsed {
        fn first_use(&self, kind: crate::shared_register::OnceKind, id: &[u8], keep: u64) -> bool {
            let _ = self.0.first_use(kind, id, keep);
            false
        }
    }
    let (_, mut s) = fleet_configs();
    s.set_shared_register(Some(Arc::new(AlwaysUsed(nonce_taken))));
    assert_eq!(server_reads(&server_of(s), &flight), b"");
}

#[test]
fn limits_that_no_longer_allow_what_was_sent_early_end_the_connection() {
    let (c, s) = early_configs();
    let ticket = ticket_from(&c, &server_of(s));
    // This server refuses early data and allows one stream only.
    let (_, mut s) = early_configs();
    s.set_early_data(false);
    s.set_max_streams(1, 1).unwrap();
    let server = server_of(s);
    let mut p = resuming(&c, &server, &ticket, b"one");
    for sid in [4, 8] {
        p.client.stream_send(sid, b"more", true).unwrap();
    }
    p.run_to_close();
    let cause = p.client_events.iter().find_map(|e| match e {
        Event::ConnectionTerminated { cause, reason, .. } => Some((*cause, reason.clone())),
        _ => None,
    });
    let (cause, reason) = cause.expect("the connection ended");
    assert_eq!(cause, Termination::LocalError);
    assert!(
        String::from_utf8_lossy(&reason).contains("0-RTT"),
        "{reason:?}"
    );
}

#[test]
fn without_a_ticket_that_allows_it_nothing_goes_early() {
    // A ticket from a server without 0-RTT.
    let (c, mut s) = early_configs();
    s.set_early_data(false);
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    let mut p = Pair::sharing(c.clone(), server.0.clone(), server.1.clone(), 0, |conn| {
        conn.set_session_ticket(&ticket).unwrap();
    });
    assert_eq!(
        p.client.stream_send(0, b"x", true),
        Err(ApiError::HandshakePending)
    );
    p.handshake();
    assert_eq!(early_accepted(&p.client_events), Some(false));
    // And a client without 0-RTT on sends nothing early either.
    let (mut c, s) = early_configs();
    let server = server_of(s);
    let ticket = ticket_from(&c, &server);
    c.set_early_data(false);
    let mut p = Pair::sharing(c, server.0.clone(), server.1.clone(), 0, |conn| {
        conn.set_session_ticket(&ticket).unwrap();
    });
    assert_eq!(
        p.client.stream_send(0, b"x", true),
        Err(ApiError::HandshakePending)
    );
}

#[test]
fn a_stream_window_that_shrank_under_refused_early_data_ends_the_connection() {
    let (c, s) = early_configs();
    let ticket = ticket_from(&c, &server_of(s));
    let (_, mut s) = early_configs();
    s.set_early_data(false);
    s.set_windows(1 << 20, 1024).unwrap();
    let server = server_of(s);
    // More than the new 1 KB stream window goes out in 0-RTT at once.
    let mut p = resuming(&c, &server, &ticket, &[5u8; 8000]);
    p.run_to_close();
    assert!(p.client_events.contains(&Event::EarlyDataRejected));
    let reason = p.client_events.iter().find_map(|e| match e {
        Event::ConnectionTerminated {
            cause: Termination::LocalError,
            reason,
            ..
        } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.is_some_and(|r| String::from_utf8_lossy(&r).contains("0-RTT")),
        "{:?}",
        p.client_events
    );
}
