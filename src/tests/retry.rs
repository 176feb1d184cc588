//! Retry (RFC 9000 §8.1.2, §17.2.5): a server front end that answers every
//! Initial without a token with a Retry, as quiche's and quinn's servers
//! do. The ClientHello spans two Initial datagrams, so two Retries come
//! back; the client accepts only the first (§17.2.5.2).

use super::pair::{Pair, RetryScid, MS};
use crate::conn::Event;

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
