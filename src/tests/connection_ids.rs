//! `change_connection_id` (aioquic's; RFC 9000 §5.1.2): the client moves
//! to an unused connection ID of the server's and retires the old one; the
//! server replaces what was retired, so changes can go on as long as the
//! connection lives, and run out only when called faster than the peer can
//! answer.

use super::pair::Pair;
use super::streams::pattern;
use crate::conn::{ApiError, Event};

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
