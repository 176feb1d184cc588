//! A client that moves (RFC 9000 §9): NAT rebinding and a new address in
//! the middle of a transfer, a spoofed address that never answers, and the
//! anti-amplification limit on a path not yet proven (§9.3.1).

use std::net::SocketAddr;

use super::pair::{client_addr, Pair, MS};
use super::streams::pattern;
use crate::conn::Event;

const SIZE: usize = 4 << 20;

fn migrations(events: &[Event]) -> Vec<SocketAddr> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PeerMigrated { addr } => Some(*addr),
            _ => None,
        })
        .collect()
}

fn validations(events: &[Event]) -> Vec<SocketAddr> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PathValidated { path } => Some(path.remote),
            _ => None,
        })
        .collect()
}

/// A download during which the client's address changes to `new` once
/// `at` bytes arrived; returns the pair at the end.
fn download_across_a_move(new: SocketAddr, at: usize) -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    let body = pattern(SIZE, 3);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    let moved = p.run_until(p.now + 60_000 * MS, |p| p.client_rx.bytes(1).len() >= at);
    assert!(moved);
    p.client_seen_as = new;
    let done = p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&1));
    assert!(
        done,
        "stalled after the move: {} of {SIZE} bytes; server events {:?}",
        p.client_rx.bytes(1).len(),
        p.server_events
    );
    assert!(p.client_rx.bytes(1) == body, "the download differs");
    p
}

#[test]
fn nat_rebinding_mid_transfer() {
    let new: SocketAddr = "10.0.0.1:5555".parse().unwrap();
    let p = download_across_a_move(new, 1 << 20);
    assert_eq!(p.server().peer_addr(), Some(new));
    assert_eq!(migrations(&p.server_events), [new]);
    assert_eq!(validations(&p.server_events), [new]);
}

#[test]
fn a_new_address_mid_transfer() {
    let new: SocketAddr = "10.9.9.9:4321".parse().unwrap();
    let p = download_across_a_move(new, 1 << 20);
    assert_eq!(p.server().peer_addr(), Some(new));
    assert_eq!(validations(&p.server_events), [new]);
    // The old address was left behind: the rest went to the new one.
    assert!(p.server_sent_to[&new] > (SIZE / 2) as u64);
}

/// One packet with a spoofed source (an on-path attacker rewrote it): the
/// server moves, but the real address wins back at the client's next
/// packet, and nothing is lost.
#[test]
fn a_single_spoofed_packet_does_not_take_the_connection_away() {
    let mut p = Pair::default_pair();
    p.handshake();
    let body = pattern(SIZE, 4);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    p.run_until(p.now + 60_000 * MS, |p| {
        p.client_rx.bytes(1).len() > 100_000
    });
    let spoofed: SocketAddr = "192.0.2.66:6666".parse().unwrap();
    p.client.send_ping(1).unwrap();
    p.client_seen_as = spoofed;
    // Exactly one client datagram (the PING) arrives as if from there.
    let sent = p.counts[0];
    p.run_until(p.now + 60_000 * MS, |p| p.counts[0] > sent);
    p.run_until(p.now + 15 * MS, |_| false);
    p.client_seen_as = client_addr();
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&1)));
    assert!(p.client_rx.bytes(1) == body);
    assert_eq!(p.server().peer_addr(), Some(client_addr()));
    assert!(!validations(&p.server_events).contains(&spoofed));
    // Unproven, the spoofed address got at most 3x what came from it.
    let got = p.server_received_from.get(&spoofed).copied().unwrap_or(0);
    let sent = p.server_sent_to.get(&spoofed).copied().unwrap_or(0);
    assert!(
        sent <= 3 * got,
        "sent {sent} to the spoofed address, received {got}"
    );
}

/// The client moves to an address whose answers never come back (the
/// server's datagrams there are lost, and so are the client's after the
/// first): validation fails and the server returns to the proven address.
#[test]
fn a_failed_validation_goes_back_to_the_proven_address() {
    let mut p = Pair::default_pair();
    p.handshake();
    let gone: SocketAddr = "10.7.7.7:7777".parse().unwrap();
    p.client.send_ping(1).unwrap();
    p.client_seen_as = gone;
    let sent = p.counts[0];
    p.run_until(p.now + 60_000 * MS, |p| p.counts[0] > sent);
    let at = p.now;
    // Nothing more from the client reaches the server for a while.
    p.drop = Box::new(|dir, _, _| dir == super::pair::Dir::ToServer);
    p.run_until(at + 5_000 * MS, |p| migrations(&p.server_events).len() >= 2);
    assert_eq!(migrations(&p.server_events), [gone, client_addr()]);
    assert_eq!(p.server().peer_addr(), Some(client_addr()));
    assert!(validations(&p.server_events).is_empty());
    assert!(!p.server().is_closed());
    // The way back works.
    p.drop = Box::new(|_, _, _| false);
    p.client_seen_as = client_addr();
    p.client.stream_send(0, b"still here", true).unwrap();
    assert!(p.run_until(p.now + 10_000 * MS, |p| p.server_rx.finished.contains(&0)));
}

/// A probing packet (PATH_CHALLENGE alone) from another address is
/// answered there, padded, and does not move the server (RFC 9000 §9.1).
#[test]
fn a_probe_from_another_address_is_answered_there() {
    let mut p = Pair::default_pair();
    p.handshake();
    let probe_from: SocketAddr = "10.3.3.3:3333".parse().unwrap();
    let mut probe = Vec::new();
    assert!(p.client.probe_packet(&mut probe, *b"probe!!!", p.now));
    assert!(probe.len() >= 1200);
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    server.recv(&probe, probe_from, now);
    let mut out = Vec::new();
    assert_eq!(
        server.send(&mut out, now),
        Some(probe_from),
        "answered on the probed path"
    );
    assert!(out.len() >= 1200, "the response is padded: {}", out.len());
    assert_eq!(
        server.peer_addr(),
        Some(client_addr()),
        "a probe does not move the server"
    );
    p.collect_events();
    assert!(migrations(&p.server_events).is_empty());
    // The answer opens at the client.
    p.client.recv(&out, super::pair::server_addr(), now);
    assert!(p.client.is_established());
}
