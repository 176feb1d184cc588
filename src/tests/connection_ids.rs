//! Changing connection IDs (RFC 9000 §5.1.2) from both ends.
//! `change_connection_id` (aioquic's): the client moves to an unused
//! connection ID of the server's and retires the old one; the server
//! replaces what was retired, so changes can go on as long as the
//! connection lives, and run out only when called faster than the peer can
//! answer. `rotate_connection_ids`: an endpoint replaces every ID it gave
//! the peer, whose Retire Prior To makes the peer retire the old ones.

use std::cell::RefCell;
use std::rc::Rc;

use super::pair::{Dir, Pair};
use super::streams::pattern;
use crate::cid::ConnectionId;
use crate::conn::{ApiError, Connection, Event};

fn retired_on_server(p: &Pair) -> usize {
    p.server_events
        .iter()
        .filter(|e| matches!(e, Event::ConnectionIdRetired { .. }))
        .count()
}

#[test]
fn connection_ids_change_run_out_and_are_replaced_while_data_flows() {
    let mut p = Pair::default_pair();
    assert!(matches!(
        p.client.change_connection_id(),
        Err(ApiError::InvalidState(_))
    ));
    p.handshake();
    p.run_for(100);
    let mut used = vec![p.client.peer_cid_in_use()];
    let mut changes = 0;
    for round in 0..5u8 {
        // Change until the server's spare IDs run out.
        let mut this_round = 0;
        loop {
            match p.client.change_connection_id() {
                Ok(()) => {
                    let cid = p.client.peer_cid_in_use();
                    assert!(!used.contains(&cid), "round {round}: an ID used before");
                    used.push(cid);
                    this_round += 1;
                }
                Err(ApiError::NoConnectionId) => break,
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert!(this_round >= 1, "round {round}: no spare ID");
        changes += this_round;
        // Traffic on the new ID: the data arrives, the retirements reach
        // the server, and it issues replacements.
        let sid = u64::from(round) * 4;
        let body = pattern(50_000, round);
        p.client.stream_send(sid, &body, true).unwrap();
        p.run_for(200);
        assert!(p.server_rx.bytes(sid) == body, "round {round}: data intact");
        assert_eq!(retired_on_server(&p), changes, "round {round}");
    }
    assert!(changes >= 10, "{changes} changes in five rounds");
}

/// The destination CID of a short-header datagram (8-byte CIDs).
fn short_header_dcid(datagram: &[u8]) -> Option<ConnectionId> {
    if datagram.first()? & 0x80 != 0 {
        return None;
    }
    ConnectionId::new(datagram.get(1..9)?)
}

fn retired(events: &[Event]) -> Vec<ConnectionId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionIdRetired { cid } => Some(*cid),
            _ => None,
        })
        .collect()
}

/// Three rotations by the `server` side (else the client) mid-transfer,
/// with loss: each time the peer retires every old ID, sends nothing to
/// one after retiring it, and the data arrives intact.
fn rotations_mid_transfer(server_rotates: bool) {
    let mut p = Pair::default_pair();
    p.handshake();
    p.run_for(100);
    // The destination CID of every datagram towards the rotating side, in
    // the order they were sent.
    let seen: Rc<RefCell<Vec<ConnectionId>>> = Rc::default();
    let towards = if server_rotates {
        Dir::ToServer
    } else {
        Dir::ToClient
    };
    let log = seen.clone();
    let mut loss = 0u32;
    p.drop = Box::new(move |dir, _, d| {
        if dir == towards {
            log.borrow_mut().extend(short_header_dcid(d));
        }
        loss += 1;
        loss % 17 == 0
    });
    fn rotating(p: &mut Pair, server: bool) -> &mut Connection {
        if server {
            p.server.as_mut().unwrap()
        } else {
            &mut p.client
        }
    }
    for round in 0..3u8 {
        let old = rotating(&mut p, server_rotates).local_cid_list();
        let events_before = if server_rotates {
            p.server_events.len()
        } else {
            p.client_events.len()
        };
        rotating(&mut p, server_rotates)
            .rotate_connection_ids()
            .unwrap();
        let new: Vec<ConnectionId> = rotating(&mut p, server_rotates)
            .local_cid_list()
            .into_iter()
            .filter(|c| !old.contains(c))
            .collect();
        assert!(new.len() >= 2, "round {round}: a set of new IDs");
        assert!(matches!(
            rotating(&mut p, server_rotates).rotate_connection_ids(),
            Err(ApiError::WouldBlock)
        ));
        let sid = u64::from(round) * 4;
        let body = pattern(200_000, round);
        p.client.stream_send(sid, &body, true).unwrap();
        let all_retired = |p: &Pair| {
            let events = if server_rotates {
                &p.server_events
            } else {
                &p.client_events
            };
            let r = retired(&events[events_before..]);
            old.iter().all(|c| r.contains(c))
        };
        assert!(
            p.run_until(p.now + 5_000 * super::pair::MS, all_retired),
            "round {round}: the peer retired every old ID"
        );
        let sent_after_retiring = seen.borrow().len();
        let arrived = p.run_until(p.now + 20_000 * super::pair::MS, |p| {
            p.server_rx.bytes(sid).len() >= body.len()
        });
        assert!(
            arrived && p.server_rx.bytes(sid) == body,
            "round {round}: data intact"
        );
        let late: Vec<_> = seen.borrow()[sent_after_retiring..]
            .iter()
            .filter(|c| !new.contains(c))
            .copied()
            .collect();
        assert!(
            late.is_empty(),
            "round {round}: sent to IDs outside the new set after retiring: {late:?}"
        );
        assert!(!seen.borrow()[sent_after_retiring..].is_empty());
        assert_eq!(
            rotating(&mut p, server_rotates).local_cid_list().len(),
            new.len(),
            "round {round}: only the new set routes"
        );
    }
    assert!(p.client.is_established() && p.server().is_established());
}

#[test]
fn a_server_replaces_all_its_connection_ids_mid_transfer() {
    rotations_mid_transfer(true);
}

#[test]
fn a_client_replaces_all_its_connection_ids_mid_transfer() {
    rotations_mid_transfer(false);
}

#[test]
fn rotation_is_refused_before_the_handshake_and_with_empty_ids() {
    let mut p = Pair::default_pair();
    assert!(matches!(
        p.client.rotate_connection_ids(),
        Err(ApiError::InvalidState(_))
    ));
    let (mut c, s) = super::pair::configs();
    c.set_connection_id_length(0).unwrap();
    let mut p = Pair::new(c, s);
    p.handshake();
    assert!(matches!(
        p.client.rotate_connection_ids(),
        Err(ApiError::InvalidState(_))
    ));
}
