//! Session tickets and resumption (RFC 9001 §4.6, RFC 8446 §4.6.1):
//! tickets issued and reported, sessions resumed, and every ticket that
//! cannot be used falling back to a full handshake without an error.

use std::sync::Arc;

use super::pair::{configs, Pair, MS};
use crate::config::Config;
use crate::conn::resumption::StoredTicket;
use crate::conn::{Connection, Event};
use crate::tls::{TicketKey, TlsContext};

fn key(n: u8) -> TicketKey {
    TicketKey {
        name: [n; 16],
        aes: [n.wrapping_add(1); 32],
        hmac: [n.wrapping_add(2); 32],
    }
}

/// Client and server configs with tickets on; the server's keys when
/// given.
fn ticket_configs(keys: Option<Vec<TicketKey>>) -> (Config, Config) {
    let (mut c, mut s) = configs();
    c.set_session_tickets(true);
    s.set_session_tickets(true);
    if let Some(keys) = keys {
        s.set_ticket_keys(keys).unwrap();
    }
    (c, s)
}

fn server_of(s: Config) -> (Arc<Config>, Arc<TlsContext>) {
    let tls = TlsContext::new(&s).unwrap();
    (Arc::new(s), tls)
}

fn tickets(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SessionTicket { ticket } => Some(ticket.clone()),
            _ => None,
        })
        .collect()
}

fn resumed(events: &[Event]) -> Option<bool> {
    events.iter().find_map(|e| match e {
        Event::HandshakeCompleted {
            session_resumed, ..
        } => Some(*session_resumed),
        _ => None,
    })
}

/// Connects with `ticket` (if any) to the shared server; returns the pair
/// once both sides completed and the client got a ticket (or 1 s passed).
fn connect(client: Config, server: &(Arc<Config>, Arc<TlsContext>), ticket: Option<&[u8]>) -> Pair {
    let mut p = Pair::sharing(client, server.0.clone(), server.1.clone(), 0, |c| {
        if let Some(t) = ticket {
            c.set_session_ticket(t).unwrap();
        }
    });
    p.handshake();
    p.run_until(p.now + 1_000 * MS, |p| {
        !tickets(&p.client_events).is_empty()
    });
    p
}

/// (client resumed, server resumed) of a pair.
fn both_resumed(p: &Pair) -> (bool, bool) {
    (
        resumed(&p.client_events).expect("client completed"),
        resumed(&p.server_events).expect("server completed"),
    )
}

#[test]
fn a_ticket_resumes_the_session_and_data_flows() {
    let (c, s) = ticket_configs(None);
    let server = server_of(s);
    let first = connect(c.clone(), &server, None);
    assert_eq!(both_resumed(&first), (false, false));
    let got = tickets(&first.client_events);
    assert!(!got.is_empty(), "no ticket reported");
    // The client let its TLS state go once it had a ticket.
    assert!(first.client.tls_retired());

    let mut second = connect(c, &server, Some(got.last().unwrap()));
    assert_eq!(both_resumed(&second), (true, true));
    second
        .client
        .stream_send(0, b"after resumption", true)
        .unwrap();
    let ok = second.run_until(second.now + 1_000 * MS, |p| {
        p.server_rx.finished.contains(&0)
    });
    assert!(ok);
    assert_eq!(second.server_rx.bytes(0), b"after resumption");
    // A resumed session issues tickets of its own.
    assert!(!tickets(&second.client_events).is_empty());
}

#[test]
fn tickets_are_reported_only_when_asked_for() {
    let (mut c, s) = ticket_configs(None);
    c.set_session_tickets(false);
    let server = server_of(s);
    let p = connect(c, &server, None);
    assert!(tickets(&p.client_events).is_empty());
    assert!(p.client.tls_retired());
    // And a server without tickets sends none to a client that asks,
    // which stops waiting and lets its TLS state go.
    let (c, mut s) = ticket_configs(None);
    s.set_session_tickets(false);
    let mut p = connect(c, &server_of(s), None);
    assert!(tickets(&p.client_events).is_empty());
    p.client.send_ping(1).unwrap();
    p.run_until(p.now + 2_000 * MS, |p| p.client.tls_retired());
    assert!(p.client.tls_retired());
}

/// A ticket that cannot be used gives a full handshake, never an error.
#[track_caller]
fn falls_back(ticket: &[u8]) {
    let (c, s) = ticket_configs(Some(vec![key(1)]));
    let p = connect(c, &server_of(s), Some(ticket));
    assert_eq!(both_resumed(&p), (false, false));
    assert!(p.client.is_established() && p.server().is_established());
}

fn first_ticket() -> Vec<u8> {
    let (c, s) = ticket_configs(Some(vec![key(1)]));
    let p = connect(c, &server_of(s), None);
    tickets(&p.client_events).remove(0)
}

fn edited(ticket: &[u8], edit: impl FnOnce(&mut StoredTicket)) -> Vec<u8> {
    let mut t = StoredTicket::decode(ticket).unwrap();
    edit(&mut t);
    t.encode().unwrap()
}

#[test]
fn a_ticket_under_shared_keys_resumes_elsewhere() {
    let ticket = first_ticket();
    // Another server (another TLS context) with the same keys.
    let (c, s) = ticket_configs(Some(vec![key(1)]));
    let p = connect(c, &server_of(s), Some(&ticket));
    assert_eq!(both_resumed(&p), (true, true));
}

#[test]
fn foreign_corrupt_and_expired_tickets_fall_back() {
    let ticket = first_ticket();
    falls_back(&edited(&ticket, |t| t.server_name = "other.example".into()));
    falls_back(&edited(&ticket, |t| t.alpn = b"h3".to_vec()));
    falls_back(&edited(&ticket, |t| t.version = 0xff00_001d));
    // Damaged: the TLS session, the encoding, or not a ticket at all.
    for at in [10, ticket.len() / 2, ticket.len() - 3] {
        let mut damaged = ticket.clone();
        damaged[at] ^= 0xff;
        falls_back(&damaged);
    }
    falls_back(&edited(&ticket, |t| {
        t.tls_session = vec![0x30, 0x03, 2, 1, 1]
    }));
    falls_back(&ticket[..ticket.len() - 1]);
    falls_back(b"not a ticket");
    // Older than its lifetime (a day by default); a little older resumes.
    let (c, s) = ticket_configs(Some(vec![key(1)]));
    let young = edited(&ticket, |t| {
        t.tls_session = crate::tls::aged_session(&t.tls_session, 60)
    });
    let p = connect(c, &server_of(s), Some(&young));
    assert_eq!(both_resumed(&p), (true, true));
    falls_back(&edited(&ticket, |t| {
        t.tls_session = crate::tls::aged_session(&t.tls_session, 2 * 86_400)
    }));
}

#[test]
fn ticket_keys_rotate_without_dropping_tickets_under_the_old_key() {
    let old = first_ticket(); // sealed under key 1
                              // Rotated: key 2 seals, key 1 still opens.
    let (c, s) = ticket_configs(Some(vec![key(2), key(1)]));
    let p = connect(c.clone(), &server_of(s), Some(&old));
    assert_eq!(both_resumed(&p), (true, true));
    let renewed = tickets(&p.client_events);
    assert!(!renewed.is_empty(), "no ticket under the new key");
    // Key 1 retired: its tickets give a full handshake; key 2's resume.
    let (c2, s) = ticket_configs(Some(vec![key(2)]));
    let server = server_of(s);
    let p = connect(c2.clone(), &server, Some(&old));
    assert_eq!(both_resumed(&p), (false, false));
    let p = connect(c2, &server, Some(renewed.last().unwrap()));
    assert_eq!(both_resumed(&p), (true, true));
}

#[test]
fn random_keys_belong_to_one_server_context() {
    let (c, s) = ticket_configs(None);
    let ticket = tickets(&connect(c.clone(), &server_of(s.clone()), None).client_events).remove(0);
    // The same settings, but a context of its own: other random keys.
    let p = connect(c, &server_of(s), Some(&ticket));
    assert_eq!(both_resumed(&p), (false, false));
}

#[test]
fn a_ticket_is_set_by_a_client_before_it_connects() {
    let (c, s) = ticket_configs(None);
    let mut p = connect(c, &server_of(s), None);
    let t = tickets(&p.client_events).remove(0);
    assert!(p.client.set_session_ticket(&t).is_err(), "after connect");
    let server = p.server.as_mut().unwrap();
    assert!(server.set_session_ticket(&t).is_err(), "a server");
    let (c, _) = ticket_configs(None);
    let tls = TlsContext::new(&c).unwrap();
    let mut fresh = Connection::new_client(Arc::new(c), tls).unwrap();
    assert_eq!(fresh.set_session_ticket(b"junk"), Ok(()));
}

/// A client waiting for tickets from a server that sends none stops
/// waiting at the ticket-wait deadline of the timer table (three PTOs
/// after confirmation), with no packet needed to come along.
#[test]
fn the_ticket_wait_ends_at_its_own_deadline() {
    use crate::conn::timers::Timer;
    let (mut c, s) = configs();
    c.set_session_tickets(true);
    let mut p = Pair::new(c, s);
    p.handshake();
    let at = p
        .client
        .timers()
        .get(Timer::TicketWait)
        .expect("the client waits for tickets once confirmed");
    assert!(p.client.timer().is_some_and(|t| t <= at));
    p.client.handle_timer(at);
    assert_eq!(p.client.timers().get(Timer::TicketWait), None);
    assert!(tickets(&p.client_events).is_empty());
}
