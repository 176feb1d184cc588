//! Every CONNECTION_TERMINATED event says why the connection ended (idle
//! and handshake timeouts, closes on both sides, version negotiation are
//! checked where those are tested); here: protocol errors on both sides,
//! and stateless resets (RFC 9000 §10.3).

use super::handshake::cause;
use super::pair::{server_addr, Pair};
use crate::conn::Termination;
use crate::packet::PacketType;

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

#[test]
fn a_protocol_error_is_ours_on_one_side_and_the_peers_on_the_other() {
    let mut p = established();
    let now = p.now;
    // An empty payload is a PROTOCOL_VIOLATION (RFC 9000 §12.4).
    p.server
        .as_mut()
        .unwrap()
        .inject_payload(PacketType::OneRtt, &[], now);
    assert!(p.run_to_close());
    assert_eq!(cause(&p.server_events), Some(Termination::LocalError));
    assert_eq!(cause(&p.client_events), Some(Termination::PeerTransport));
}

/// A datagram shaped like a short-header packet whose last 16 bytes are the
/// token of the connection ID the client sends to.
fn reset_datagram(token: [u8; 16], len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
        .collect();
    d[0] = 0x40 | (d[0] & 0x3f);
    let n = d.len();
    d[n - 16..].copy_from_slice(&token);
    d
}

#[test]
fn a_stateless_reset_drains_the_connection_and_says_so() {
    let mut p = established();
    let token = p.server().local_reset_token(0).expect("token of CID 0");
    let now = p.now;
    p.client
        .recv(&reset_datagram(token, 43), server_addr(), now);
    p.collect_events();
    assert_eq!(cause(&p.client_events), Some(Termination::StatelessReset));
    // RFC 9000 §10.3.1: nothing more is sent.
    let mut buf = Vec::new();
    assert!(p.client.send(&mut buf, now).is_none());
}

#[test]
fn a_wrong_or_short_token_is_not_a_reset() {
    let mut p = established();
    let mut token = p.server().local_reset_token(0).expect("token of CID 0");
    let now = p.now;
    // Too short to be a reset (§10.3: at least 21 bytes).
    p.client
        .recv(&reset_datagram(token, 20), server_addr(), now);
    token[7] ^= 1;
    p.client
        .recv(&reset_datagram(token, 60), server_addr(), now);
    p.collect_events();
    assert_eq!(cause(&p.client_events), None);
    assert!(p.client.is_established());
}

/// Keep-alive (RFC 9000 §10.1.2): PINGs keep a quiet, healthy connection
/// open past the idle timeout, cost nothing while the peer talks, and a
/// peer that stops answering still ends the connection within the idle
/// timeout after the first unanswered PING.
mod keep_alive {
    use super::super::pair::{configs, Dir, Pair, MS};
    use crate::conn::{Event, Termination};

    const IDLE: u64 = 3_000 * MS;
    const KEEP_ALIVE: u64 = 1_000 * MS;

    fn pair() -> Pair {
        let (mut c, mut s) = configs();
        c.set_idle_timeout(IDLE).unwrap();
        s.set_idle_timeout(IDLE).unwrap();
        c.set_keep_alive(KEEP_ALIVE).unwrap();
        let mut p = Pair::new(c, s);
        p.handshake();
        p
    }

    fn terminated(events: &[Event]) -> Option<Termination> {
        events.iter().find_map(|e| match e {
            Event::ConnectionTerminated { cause, .. } => Some(*cause),
            _ => None,
        })
    }

    #[test]
    fn a_quiet_healthy_connection_stays_open() {
        let mut p = pair();
        let sent = p.counts[Dir::ToServer as usize];
        p.run_for(30_000);
        assert_eq!(terminated(&p.client_events), None);
        assert_eq!(terminated(&p.server_events), None);
        let pings = p.counts[Dir::ToServer as usize] - sent;
        assert!(
            (25..=35).contains(&pings),
            "{pings} keep-alive datagrams in 30 s"
        );
    }

    #[test]
    fn no_pings_while_the_peer_talks() {
        let mut p = pair();
        for i in 0..20u64 {
            let at = p.now + 500 * MS;
            p.run_until(at, |p| p.now >= at);
            let before = p.counts[Dir::ToServer as usize];
            p.server
                .as_mut()
                .unwrap()
                .stream_send(1, &[i as u8; 100], false)
                .unwrap();
            let at = p.now + 100 * MS;
            p.run_until(at, |p| p.now >= at);
            // One ACK for the message, no PING.
            assert_eq!(p.counts[Dir::ToServer as usize] - before, 1, "message {i}");
        }
        assert_eq!(terminated(&p.client_events), None);
    }

    #[test]
    fn a_silent_peer_ends_the_connection_within_the_idle_timeout() {
        let mut p = pair();
        let settle = p.now + 200 * MS;
        p.run_until(settle, |p| p.now >= settle);
        let silent_from = p.now;
        p.drop = Box::new(|d, _, _| d == Dir::ToClient);
        let sent = p.counts[Dir::ToServer as usize];
        assert!(
            p.run_until(silent_from + 60_000 * MS, |p| terminated(&p.client_events)
                .is_some())
        );
        assert_eq!(terminated(&p.client_events), Some(Termination::IdleTimeout));
        let took = p.now - silent_from;
        assert!(
            took <= KEEP_ALIVE + IDLE + 10 * MS,
            "closed {} ms after the peer fell silent",
            took / MS
        );
        assert!(p.counts[Dir::ToServer as usize] > sent, "the client probed");
    }
}

/// `abandon` (a peer known gone, e.g. ICMP port unreachable): closed at
/// once, nothing more sent, and the event says why.
#[test]
fn an_abandoned_connection_ends_at_once_and_sends_nothing() {
    use super::pair::Dir;
    use crate::conn::Event;
    let mut p = Pair::default_pair();
    p.handshake();
    p.client.stream_send(0, &[1; 5000], false).unwrap();
    p.client.abandon(b"port unreachable");
    assert!(p.client.is_closed());
    let mut buf = Vec::new();
    assert_eq!(p.client.send(&mut buf, p.now), None, "nothing goes out");
    let sent = p.counts[Dir::ToServer as usize];
    p.run_for(1_000);
    assert_eq!(p.counts[Dir::ToServer as usize], sent);
    let terminated: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionTerminated { cause, reason, .. } => Some((*cause, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        terminated,
        vec![(Termination::Abandoned, b"port unreachable".to_vec())]
    );
    // Twice: nothing more.
    p.client.abandon(b"again");
    p.collect_events();
    assert_eq!(
        p.client_events
            .iter()
            .filter(|e| matches!(e, Event::ConnectionTerminated { .. }))
            .count(),
        1
    );
}

/// The lifecycle quic.h states: `is_closed` can be true while events wait,
/// and CONNECTION_TERMINATED is the last of them; data that came in the
/// same packet as the peer's CONNECTION_CLOSE, before it, is still
/// delivered, ahead of that event.
#[test]
fn data_before_the_close_is_delivered_and_terminated_comes_last() {
    use super::pair::MS;
    use crate::conn::Event;
    use crate::frame::Frame;
    let mut p = Pair::default_pair();
    p.handshake();
    let now = p.now;
    let packet = p.server.as_mut().unwrap().craft_one_rtt(
        &[
            Frame::Stream {
                stream_id: 1,
                offset: 0,
                data: b"last words",
                fin: true,
            },
            Frame::ConnectionClose {
                app: true,
                error_code: 9,
                frame_type: 0,
                reason: b"bye",
            },
        ],
        now,
    );
    p.client.recv(&packet, server_addr(), now + 5 * MS);
    // Draining, then closed after three PTOs, the events still queued.
    assert!(!p.client.is_closed());
    p.client.handle_timer(now + 10_000 * MS);
    assert!(p.client.is_closed());
    let events: Vec<_> = std::iter::from_fn(|| p.client.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(e,
            Event::StreamDataReceived { stream_id: 1, end_stream: true, data } if &data[..] == b"last words")),
        "the data was delivered: {events:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(Event::ConnectionTerminated {
                cause: Termination::PeerApplication,
                error_code: 9,
                ..
            })
        ),
        "{events:?}"
    );
}
