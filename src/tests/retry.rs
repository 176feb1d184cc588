//! Retry (RFC 9000 §8.1.2, §17.2.5): a server front end that answers every
//! Initial without a token with a Retry, as quiche's and quinn's servers
//! do. The ClientHello spans two Initial datagrams, so two Retries come
//! back; the client accepts only the first (§17.2.5.2).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::pair::{configs, Pair, RetryScid, MS};
use crate::conn::Event;
use crate::crypto::random::RandomSource;

fn handshake_through_retries(scid: RetryScid) -> Pair {
    let mut p = Pair::default_pair();
    p.retry_every_initial = Some(scid);
    let ok = p.run_until(10_000 * MS, |p| {
        p.client.is_established() && p.server.as_ref().is_some_and(|s| s.is_established())
    });
    assert!(
        ok,
        "no handshake after {} Retries: client {:?}",
        p.retries_sent, p.client_events
    );
    p
}

#[test]
fn a_retry_for_each_initial_datagram_with_the_same_scid() {
    let p = handshake_through_retries(RetryScid::FromDcid);
    assert!(p.retries_sent >= 2, "{} Retries", p.retries_sent);
}

#[test]
fn a_retry_for_each_initial_datagram_with_fresh_scids() {
    let mut p = handshake_through_retries(RetryScid::Random);
    assert!(p.retries_sent >= 2, "{} Retries", p.retries_sent);
    // The connection works after it.
    p.client.stream_send(0, b"after retry", true).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert_eq!(p.server_rx.bytes(0), b"after retry");
    assert!(!p
        .client_events
        .iter()
        .any(|e| matches!(e, Event::ConnectionTerminated { .. })));
}

#[test]
fn the_first_retry_lost_the_second_is_used() {
    let mut p = Pair::default_pair();
    p.retry_every_initial = Some(RetryScid::Random);
    p.drop = Box::new(|dir, n, _| dir == super::pair::Dir::ToClient && n == 0);
    let ok = p.run_until(10_000 * MS, |p| p.client.is_established());
    assert!(ok, "client {:?}", p.client_events);
}

/// A predictable source that can start over, so that a second connection
/// draws the same CIDs as the first (for tests only).
#[derive(Default)]
struct Rewindable(AtomicU64);

impl RandomSource for Rewindable {
    fn fill(&self, out: &mut [u8]) {
        for b in out {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            *b = (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8;
        }
    }
}

/// The server takes the two datagrams of the ClientHello as two
/// connections with the same CIDs, the second replacing the first: every
/// byte is acknowledged, but the surviving connection lacks the start of
/// the message. The client's probes repeat the whole ClientHello until the
/// server's first Initial CRYPTO data arrives, so the handshake completes
/// (it used to stall until the handshake timeout).
#[test]
fn a_server_that_splits_the_client_hello_over_two_connections() {
    let (c, mut s) = configs();
    let source = Arc::new(Rewindable::default());
    s.endpoint.random = source.clone();
    let mut p = Pair::new(c, s);
    p.retry_every_initial = Some(RetryScid::FromDcid);
    p.accept_twice = Some(Box::new(move || source.0.store(0, Ordering::Relaxed)));
    let ok = p.run_until(10_000 * MS, |p| {
        p.client.is_established() && p.server.as_ref().is_some_and(|s| s.is_established())
    });
    assert!(p.retries_sent >= 2, "the ClientHello fitted one datagram");
    assert!(p.accept_twice.is_none(), "the second accept did not happen");
    assert!(ok, "no handshake: client {:?}", p.client_events);
    assert!(p.now < 2_000 * MS, "took {} ms", p.now / MS);
    p.client.stream_send(0, b"after the split", true).unwrap();
    assert!(p.run_until(p.now + 5_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert_eq!(p.server_rx.bytes(0), b"after the split");
}
