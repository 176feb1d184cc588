//! A libquic client that moves on purpose (RFC 9000 §9.2–9.5): it probes
//! a path from a new local address, then migrates there mid-transfer; a
//! probe that gets no answer leaves it where it was; a server that
//! disabled active migration is never probed.

use std::net::SocketAddr;

use super::pair::{client_addr, configs, path_events, Pair, MS};
use super::streams::pattern;
use crate::conn::{ApiError, Event, PathAddrs};

const SIZE: usize = 4 << 20;

/// A pair with a download of SIZE bytes under way (1 MB arrived).
fn downloading() -> (Pair, Vec<u8>) {
    let mut p = Pair::default_pair();
    p.handshake();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.client_confirmed()));
    let body = pattern(SIZE, 9);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    assert!(
        p.run_until(p.now + 60_000 * MS, |p| p.client_rx.bytes(1).len()
            >= 1 << 20)
    );
    (p, body)
}

fn finish(p: &mut Pair, body: &[u8]) {
    let done = p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&1));
    assert!(
        done,
        "stalled: {} of {SIZE} bytes; client events {:?}",
        p.client_rx.bytes(1).len(),
        p.client_events
            .iter()
            .filter(|e| !matches!(e, Event::StreamDataReceived { .. }))
            .collect::<Vec<_>>()
    );
    assert!(p.client_rx.bytes(1) == body, "the download differs");
}

/// Probe, validate, switch: the events come in that order, the server
/// follows, the rest of the download goes to the new address, and the
/// new path uses a connection ID of its own (the old one is retired).
fn migrate_mid_transfer(new: SocketAddr) -> Pair {
    let (mut p, body) = downloading();
    let old_cid = p.client.peer_cid_in_use();
    p.client_sockets.push(new);
    p.client.probe_path(new, true, p.now).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::Migrated { .. }))));
    assert_eq!(
        path_events(&p.client_events),
        [
            Event::PathValidated {
                path: PathAddrs::boxed(Some(new), super::pair::server_addr())
            },
            Event::Migrated {
                path: PathAddrs::boxed(Some(new), super::pair::server_addr())
            },
        ]
    );
    assert_ne!(
        p.client.peer_cid_in_use(),
        old_cid,
        "§9.5: a new path, a new CID"
    );
    let before = p.server_sent_to.get(&new).copied().unwrap_or(0);
    finish(&mut p, &body);
    assert_eq!(p.server().peer_addr(), Some(new));
    assert!(p.server_sent_to[&new] - before > (SIZE / 4) as u64);
    p
}

#[test]
fn a_client_probes_then_migrates_mid_transfer() {
    migrate_mid_transfer("10.1.2.3:4444".parse().unwrap());
}

/// RFC 9000 §9.4: a new IP address starts congestion control over; a new
/// port alone keeps it. Seen on an upload, where the client's window has
/// grown.
#[test]
fn a_move_resets_congestion_control_unless_only_the_port_changed() {
    for (new, resets) in [
        ("10.1.2.3:4444".parse::<SocketAddr>().unwrap(), true),
        (SocketAddr::new(client_addr().ip(), 4445), false),
    ] {
        let mut p = Pair::default_pair();
        p.handshake();
        assert!(p.run_until(p.now + 5_000 * MS, |p| p.client_confirmed()));
        let body = pattern(SIZE, 5);
        p.client.stream_send(0, &body, true).unwrap();
        assert!(
            p.run_until(p.now + 60_000 * MS, |p| p.server_rx.bytes(0).len()
                >= 1 << 20)
        );
        let grown = p.client.stats().cwnd;
        p.client_sockets.push(new);
        p.client.probe_path(new, true, p.now).unwrap();
        let mut at_move = None;
        p.run_until(p.now + 5_000 * MS, |p| {
            let moved = p
                .client_events
                .iter()
                .any(|e| matches!(e, Event::Migrated { .. }));
            if moved {
                at_move.get_or_insert(p.client.stats().cwnd);
            }
            moved
        });
        let cwnd = at_move.expect("migrated");
        assert_eq!(
            cwnd < grown / 2,
            resets,
            "{new}: window {cwnd} after the move, {grown} before"
        );
        assert!(p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0)));
        assert!(p.server_rx.bytes(0) == body);
        // ECN counts are per packet number space, not per path (RFC 9000
        // §13.4.1): the new path validates against the peer's running
        // counts.
        assert_eq!(
            p.client.stats().ecn_state,
            crate::conn::EcnState::Capable,
            "{new}"
        );
    }
}

/// The server's answers to the probe never arrive (a firewall): the probe
/// fails after about three PTOs, the connection stays on its path, and
/// the download completes there.
#[test]
fn a_probe_without_answer_fails_and_the_connection_stays() {
    let (mut p, body) = downloading();
    let dead: SocketAddr = "10.6.6.6:6666".parse().unwrap();
    p.client_sockets.push(dead);
    p.client_sockets_unreachable.push(dead);
    let start = p.now;
    p.client.probe_path(dead, true, p.now).unwrap();
    assert!(p.run_until(p.now + 20_000 * MS, |p| p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::PathFailed { .. }))));
    let waited = p.now - start;
    assert!(
        (2_000 * MS..=6_000 * MS).contains(&waited),
        "failed after {} ms",
        waited / MS
    );
    assert!(!p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::Migrated { .. } | Event::PathValidated { .. })));
    finish(&mut p, &body);
    assert_eq!(p.server().peer_addr(), Some(client_addr()));
    // The challenge went out more than once, each padded to 1200 bytes,
    // and the server never sent more than 3x what came from there.
    let got = p.server_received_from.get(&dead).copied().unwrap_or(0);
    assert!(got >= 2 * 1200, "probes sent: {got} bytes");
    let sent = p.server_sent_to.get(&dead).copied().unwrap_or(0);
    assert!(
        sent <= 3 * got,
        "sent {sent} to an unproven path, received {got}"
    );
}

/// A server that sent disable_active_migration is never probed; nor is
/// anything before the handshake is confirmed, nor by a server.
#[test]
fn migration_is_refused_where_the_rfc_forbids_it() {
    let new: SocketAddr = "10.1.2.3:4444".parse().unwrap();
    let (c, mut s) = configs();
    s.set_disable_active_migration(true);
    let mut p = Pair::new(c, s);
    assert!(matches!(
        p.client.probe_path(new, false, p.now),
        Err(ApiError::InvalidState(_))
    ));
    p.handshake();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.client_confirmed()));
    assert_eq!(
        p.client.probe_path(new, true, p.now),
        Err(ApiError::MigrationDisabled)
    );
    let now = p.now;
    assert!(matches!(
        p.server.as_mut().unwrap().probe_path(new, true, now),
        Err(ApiError::InvalidState(_))
    ));
}

/// Every probe holds one of the server's CIDs: with all of them set
/// aside, the next probe is refused with NoConnectionId, and a failed
/// probe gives its CID back (retired, and replaced by the server).
#[test]
fn probes_are_bounded_by_the_peer_cids() {
    let mut p = Pair::default_pair();
    p.handshake();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.client_confirmed()));
    let mut refused = None;
    for i in 0..10u16 {
        let addr = SocketAddr::new([10, 0, 9, 9].into(), 1000 + i);
        p.client_sockets.push(addr);
        p.client_sockets_unreachable.push(addr);
        match p.client.probe_path(addr, false, p.now) {
            Ok(()) => {}
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let (n, e) = refused.expect("some probe is refused");
    assert!(
        e == ApiError::NoConnectionId || e == ApiError::WouldBlock,
        "{e:?}"
    );
    assert!(n as usize <= crate::conn::migration::MAX_PROBES);
    // All fail; then a new probe can go again.
    assert!(p.run_until(p.now + 20_000 * MS, |p| p
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::PathFailed { .. }))
        .count()
        == n as usize));
    p.run_for(1_000);
    let again: SocketAddr = "10.1.2.3:4444".parse().unwrap();
    p.client_sockets.push(again);
    p.client.probe_path(again, true, p.now).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::Migrated { .. }))));
}
