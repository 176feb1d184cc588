//! Address-validation tokens minted and checked by the library (RFC 9000
//! §8.1): Retry with a library token, NEW_TOKEN given and presented, and
//! tokens that prove nothing (expired, another address, damaged, another
//! server) treated as no token.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::pair::{client_addr, configs, Pair, RetryScid, MS};
use crate::config::Config;
use crate::conn::Event;
use crate::server::{check_initial_token, InitialToken};
use crate::test_util::{FleetRegister, TestClock};

fn server_config(clock: &Arc<TestClock>) -> Config {
    let (_, mut s) = configs();
    s.set_token_key([42; 32]);
    s.set_unix_clock(clock.clone());
    s
}

/// The first NEW_TOKEN token a server with this clock gives a client of
/// config `c` after their handshake (as the client stores it).
fn a_new_token(c: &Config, clock: &Arc<TestClock>) -> Vec<u8> {
    let mut first = Pair::new(c.clone(), server_config(clock));
    first.handshake();
    first.run_until(first.now + 1_000 * MS, |p| {
        !new_tokens(&p.client_events).is_empty()
    });
    new_tokens(&first.client_events).remove(0)
}

fn new_tokens(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NewToken { token } => Some(token.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_retry_with_a_library_token_validates_the_client() {
    let clock = TestClock::at(1_000_000);
    let (c, _) = configs();
    let mut p = Pair::new(c, server_config(&clock));
    p.retry_every_initial = Some(RetryScid::Library);
    p.handshake();
    // One Retry per Initial datagram of the first flight (a ClientHello
    // with a post-quantum key share takes two); the client takes the first.
    assert!(p.retries_sent >= 1);
    assert!(matches!(p.initial_token, Some(InitialToken::Retry { .. })));
    p.client.stream_send(0, b"after retry", true).unwrap();
    assert!(p.run_until(p.now + 1_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert_eq!(p.server_rx.bytes(0), b"after retry");
}

#[test]
fn a_server_gives_a_new_token_that_validates_the_next_connection() {
    let clock = TestClock::at(5_000);
    let (c, _) = configs();
    let token = a_new_token(&c, &clock);

    // The next connection presents it: the server trusts the address at
    // once. With every client datagram after its first flight lost, an
    // unvalidated server may send at most 3x what it received (RFC 9000
    // §8.1); this one sends its flight and its retransmissions beyond.
    let server = Arc::new(server_config(&clock));
    let (sent, received) = limited_server_bytes(&c, &server, None, InitialToken::None);
    assert!(sent <= 3 * received, "{sent} sent for {received}");
    let (sent, received) = limited_server_bytes(&c, &server, Some(&token), InitialToken::NewToken);
    assert!(sent > 3 * received, "{sent} sent for {received}");
}

/// A NEW_TOKEN token is good for one connection (RFC 9000 §8.1.4): a
/// second one presenting it, as someone behind the same NAT replaying it
/// would, is an unvalidated client held to 3x. The attempt that used it
/// may present it again in its other Initials.
#[test]
fn a_replayed_new_token_does_not_lift_the_limit() {
    let clock = TestClock::at(7_000);
    let (c, _) = configs();
    let token = a_new_token(&c, &clock);
    let server = Arc::new(server_config(&clock));
    let (sent, received) = limited_server_bytes(&c, &server, Some(&token), InitialToken::NewToken);
    assert!(
        sent > 3 * received,
        "the first use: {sent} sent for {received}"
    );
    let (sent, received) = limited_server_bytes(&c, &server, Some(&token), InitialToken::Invalid);
    assert!(sent <= 3 * received, "a replay: {sent} sent for {received}");

    let raw = crate::conn::address_token::StoredToken::decode(&token)
        .unwrap()
        .token;
    let fresh = server_config(&clock);
    let here = client_addr();
    assert_eq!(
        check_initial_token(&fresh, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
    assert_eq!(
        check_initial_token(&fresh, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
    assert_eq!(
        check_initial_token(&fresh, &raw, &[2; 8], here),
        InitialToken::Invalid
    );
}

/// A server of a fleet asks the fleet's register about a token it has not
/// seen: one used at another server validates nothing, though this one's
/// own register never saw it. Its own repeats (the same attempt, a replay
/// here) are answered without asking.
#[test]
fn a_token_used_at_another_server_of_the_fleet_validates_nothing() {
    let clock = TestClock::at(9_000);
    let (c, _) = configs();
    let token = a_new_token(&c, &clock);
    let raw = crate::conn::address_token::StoredToken::decode(&token)
        .unwrap()
        .token;
    let fleet = Arc::new(FleetRegister::default());
    let member = || {
        let mut s = server_config(&clock);
        s.set_shared_register(Some(fleet.clone()));
        s
    };
    let (a, b) = (member(), member());
    let here = client_addr();
    assert_eq!(
        check_initial_token(&a, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
    assert_eq!(
        check_initial_token(&a, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
    assert_eq!(
        check_initial_token(&a, &raw, &[2; 8], here),
        InitialToken::Invalid
    );
    assert_eq!(fleet.asked.load(Ordering::Relaxed), 1);
    assert_eq!(
        check_initial_token(&b, &raw, &[1; 8], here),
        InitialToken::Invalid
    );
    // Outside the fleet, the token was never seen.
    let outsider = server_config(&clock);
    assert_eq!(
        check_initial_token(&outsider, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
}

/// (bytes the server sent, bytes it received) in 2 s when only the
/// client's first flight arrives, the client presenting `token`, which the
/// server must find `expected`.
fn limited_server_bytes(
    c: &Config,
    server: &Arc<Config>,
    token: Option<&[u8]>,
    expected: InitialToken,
) -> (u64, u64) {
    let stls = crate::tls::TlsContext::new(server).unwrap();
    let mut p = Pair::sharing(c.clone(), server.clone(), stls, 0, |conn| {
        if let Some(t) = token {
            conn.set_address_token(t).unwrap();
        }
    });
    // Everything the client sends once the server has spoken is lost.
    let spoke = std::cell::Cell::new(false);
    p.drop = Box::new(move |dir, _, _| {
        if dir == super::pair::Dir::ToClient {
            spoke.set(true);
        }
        dir == super::pair::Dir::ToServer && spoke.get()
    });
    p.run_until(2_000 * MS, |_| false);
    assert_eq!(p.initial_token, Some(expected));
    (p.bytes_sent[1], p.bytes_delivered[0])
}

#[test]
fn tokens_that_prove_nothing_are_no_token() {
    let clock = TestClock::at(10_000);
    let (c, _) = configs();
    let config = server_config(&clock);
    let blob = a_new_token(&c, &clock);
    let raw = crate::conn::address_token::StoredToken::decode(&blob)
        .unwrap()
        .token;
    let here = client_addr();
    assert_eq!(
        check_initial_token(&config, &raw, &[1; 8], here),
        InitialToken::NewToken
    );
    // Another address; damaged; another fleet's key; expired.
    let elsewhere = "10.9.9.9:4321".parse().unwrap();
    assert_eq!(
        check_initial_token(&config, &raw, &[1; 8], elsewhere),
        InitialToken::Invalid
    );
    let mut damaged = raw.clone();
    damaged[20] ^= 1;
    assert_eq!(
        check_initial_token(&config, &damaged, &[1; 8], here),
        InitialToken::Invalid
    );
    let mut other = server_config(&clock);
    other.set_token_key([43; 32]);
    assert_eq!(
        check_initial_token(&other, &raw, &[1; 8], here),
        InitialToken::Invalid
    );
    clock
        .0
        .fetch_add(crate::token::DEFAULT_TOKEN_LIFETIME + 1, Ordering::Relaxed);
    assert_eq!(
        check_initial_token(&config, &raw, &[1; 8], here),
        InitialToken::Invalid
    );
    // And a connection presenting an expired token just goes on unvalidated.
    let stls = crate::tls::TlsContext::new(&config).unwrap();
    let mut p = Pair::sharing(c, Arc::new(config), stls, 0, |conn| {
        conn.set_address_token(&blob).unwrap();
    });
    p.handshake();
    assert_eq!(p.initial_token, Some(InitialToken::Invalid));
}

#[test]
fn a_retry_token_is_for_the_retry_it_came_with() {
    let clock = TestClock::at(77);
    let config = server_config(&clock);
    let mut retry = Vec::new();
    let here = client_addr();
    crate::server::retry_with_token(&config, 1, &[9; 8], &[3; 8], here, &mut retry).unwrap();
    let h = crate::packet::header::parse(&retry, 8).unwrap();
    let (token, scid) = (h.token.to_vec(), h.scid.to_vec());
    let proof = check_initial_token(&config, &token, &scid, here);
    assert!(
        matches!(proof, InitialToken::Retry { ref original_dcid, .. } if **original_dcid == [9; 8])
    );
    // Sent towards another connection ID, or too late: no proof.
    assert_eq!(
        check_initial_token(&config, &token, &[5; 8], here),
        InitialToken::Invalid
    );
    clock
        .0
        .fetch_add(crate::token::RETRY_TOKEN_LIFETIME + 1, Ordering::Relaxed);
    assert_eq!(
        check_initial_token(&config, &token, &scid, here),
        InitialToken::Invalid
    );
}

#[test]
fn a_token_is_only_sent_to_the_server_it_came_from() {
    let clock = TestClock::at(9);
    let (c, _) = configs();
    let blob = a_new_token(&c, &clock);
    let mut elsewhere = c;
    elsewhere.set_server_name("127.0.0.1").unwrap();
    let s = server_config(&clock);
    let stls = crate::tls::TlsContext::new(&s).unwrap();
    let mut p = Pair::sharing(elsewhere, Arc::new(s), stls, 0, |conn| {
        conn.set_address_token(&blob).unwrap();
    });
    p.handshake();
    assert_eq!(p.initial_token, Some(InitialToken::None));
}

#[test]
fn a_server_sending_new_tokens_by_the_hundred_gets_a_few_events() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s);
    p.handshake();
    let mut payload = Vec::new();
    for i in 0..100u8 {
        crate::frame::Frame::NewToken { token: &[i; 40] }.write(&mut payload);
    }
    let now = p.now;
    p.client
        .inject_payload(crate::packet::PacketType::OneRtt, &payload, now);
    p.collect_events();
    let n = new_tokens(&p.client_events).len();
    assert!((1..=8).contains(&n), "{n} NEW_TOKEN events");
    assert!(p.client.is_established());
}
