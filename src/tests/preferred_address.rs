//! A server's preferred address (RFC 9000 §9.6): the client validates it
//! once the handshake is confirmed and moves there with the CID the server
//! gave for it; the server answers from there and follows; a preferred
//! address that does not answer leaves the connection where it was.

use std::net::SocketAddr;

use super::pair::{client_addr, configs, path_events, server_addr, Pair, MS};
use super::streams::pattern;
use crate::conn::{Event, PathAddrs};

const SIZE: usize = 2 << 20;

fn preferred() -> SocketAddr {
    "10.20.30.40:8443".parse().unwrap()
}

/// A pair whose server offers `preferred()`, the client following or not.
fn pair(follow: bool) -> Pair {
    let (mut c, mut s) = configs();
    s.set_preferred_address(preferred()).unwrap();
    c.set_follow_preferred_address(follow);
    let mut p = Pair::new(c, s);
    p.server_preferred = Some(preferred());
    p
}

fn download(p: &mut Pair) {
    p.handshake();
    let body = pattern(SIZE, 7);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    let done = p.run_until(p.now + 60_000 * MS, |p| p.client_rx.finished.contains(&1));
    assert!(
        done,
        "stalled; client events {:?}",
        path_events(&p.client_events)
    );
    assert!(p.client_rx.bytes(1) == body, "the download differs");
}

#[test]
fn the_client_moves_to_the_preferred_address() {
    let mut p = pair(true);
    download(&mut p);
    let local = Some(client_addr());
    assert_eq!(
        path_events(&p.client_events),
        [
            Event::PathValidated {
                path: PathAddrs::boxed(local, preferred())
            },
            Event::Migrated {
                path: PathAddrs::boxed(local, preferred())
            },
        ]
    );
    assert_eq!(p.client.peer_addr(), Some(preferred()));
    // Everything after the move went to the preferred address, and the
    // server proved the client's end of its new path (§9.6.2).
    let (old, new) = (
        p.client_sent_to[&server_addr()],
        p.client_sent_to[&preferred()],
    );
    assert!(
        new > old,
        "to the preferred address {new}, to the first {old}"
    );
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        Event::PathValidated { path } if path.local == Some(preferred())
    )));
    // The connection ID of the preferred address (sequence 1) is in use.
    let tp_cid = p
        .server()
        .local_params_for_test()
        .preferred_address
        .expect("offered")
        .cid;
    assert_eq!(p.client.peer_cid_in_use(), tp_cid);
}

#[test]
fn a_preferred_address_that_does_not_answer_is_left_alone() {
    let mut p = pair(true);
    p.server_unreachable.push(preferred());
    download(&mut p);
    // Three PTOs on a new path: about 3 s.
    p.client.send_ping(1).unwrap();
    p.run_for(5_000);
    assert!(matches!(
        path_events(&p.client_events)[..],
        [Event::PathFailed { ref path, .. }] if path.remote == preferred()
    ));
    assert_eq!(p.client.peer_addr(), Some(server_addr()));
}

#[test]
fn a_client_told_not_to_follow_stays() {
    let mut p = pair(false);
    download(&mut p);
    assert!(path_events(&p.client_events).is_empty());
    assert!(!p.client_sent_to.contains_key(&preferred()));
}

#[test]
fn only_a_server_has_a_preferred_address() {
    let (mut c, _) = configs();
    assert!(c.set_preferred_address(preferred()).is_err());
    let (_, mut s) = configs();
    assert!(s
        .set_preferred_address("0.0.0.0:443".parse().unwrap())
        .is_err());
}
