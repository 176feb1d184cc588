//! A hostile peer: frames crafted with the library's own packet protection
//! (or injected after decryption) that attack each bound a peer controls.
//! Every test asserts the bound held — bytes held, pieces stored, streams
//! allocated, the close code — never a time.

use super::pair::{configs, Pair, MS};
use super::streams::pattern;
use crate::config::Config;
use crate::conn::{Connection, Event};
use crate::crypto::InitialKeys;
use crate::frame::{self, Frame};
use crate::packet::PacketType;
use crate::recovery::Space;
use crate::side::Side;
use crate::tls::TlsContext;
use crate::version::V1;

const DCID: [u8; 8] = [7, 6, 5, 4, 3, 2, 1, 0];
const SCID: [u8; 4] = [9, 9, 9, 9];

/// A client Initial datagram of 1200 bytes carrying `payload` (padded).
fn client_initial(keys: &mut InitialKeys, pn: u64, payload: &[u8]) -> Vec<u8> {
    super::craft::client_initial(keys, V1, &DCID, &SCID, pn, payload)
}

/// A server connection fed Initials whose payloads come from `frames`,
/// packed as many per packet as fit.
fn server_fed_initials(frames: impl Iterator<Item = Vec<u8>>) -> Connection {
    let (_, s) = configs();
    let tls = TlsContext::new(&s).unwrap();
    let mut server = Connection::new_server(s.into(), tls, &DCID, None).unwrap();
    let mut keys = InitialKeys::new(V1, &DCID, true).unwrap();
    let from = super::pair::client_addr();
    let (mut pn, mut payload) = (0u64, Vec::new());
    let room = 1100;
    let mut flush = |server: &mut Connection, payload: &mut Vec<u8>, pn: &mut u64| {
        let d = client_initial(&mut keys, *pn, payload);
        server.recv(&d, from, *pn * MS);
        *pn += 1;
        payload.clear();
    };
    for f in frames {
        if payload.len() + f.len() > room {
            flush(&mut server, &mut payload, &mut pn);
        }
        payload.extend_from_slice(&f);
    }
    if !payload.is_empty() {
        flush(&mut server, &mut payload, &mut pn);
    }
    server
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_crypto_header(&mut out, offset, data.len());
    out.extend_from_slice(data);
    out
}

fn stream_frame(sid: u64, offset: u64, data: &[u8], fin: bool) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_stream_header(&mut out, sid, offset, data.len(), fin, true);
    out.extend_from_slice(data);
    out
}

/// Finding 1: 1-byte CRYPTO frames at descending offsets up to the 256 KiB
/// limit, before any handshake. They join one piece, held in at most twice
/// the limit of memory.
#[test]
fn reversed_one_byte_crypto_fragments_stay_one_bounded_piece() {
    let limit = crate::conn::MAX_CRYPTO_BUFFER;
    let server = server_fed_initials((1..limit).rev().map(|o| crypto_frame(o, &[o as u8])));
    assert!(server.local_error().is_none(), "{:?}", server.local_error());
    let held = server.held(Space::Initial);
    assert_eq!(held.crypto_pieces, 1);
    assert!(
        held.crypto_memory as u64 <= 2 * limit,
        "{} bytes held for {limit} of credit",
        held.crypto_memory
    );
}

/// Gaps between the bytes: the piece cap holds, the rest is refused (and
/// the packets go unacknowledged), the connection stays up.
#[test]
fn gappy_crypto_fragments_are_capped() {
    let server = server_fed_initials((0..20_000u64).rev().map(|i| crypto_frame(2 * i + 1, b"x")));
    assert!(server.local_error().is_none());
    let held = server.held(Space::Initial);
    assert_eq!(held.crypto_pieces, crate::conn::MAX_CRYPTO_PIECES);
    assert!(held.crypto_memory < 64 * 1024, "{}", held.crypto_memory);
}

/// Beyond the CRYPTO limit: CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5).
#[test]
fn crypto_beyond_the_limit_is_an_error() {
    let limit = crate::conn::MAX_CRYPTO_BUFFER;
    let server = server_fed_initials([crypto_frame(limit, b"x")].into_iter());
    let err = server.local_error().expect("closed");
    assert_eq!(err.code, crate::error::code::CRYPTO_BUFFER_EXCEEDED);
}

fn established() -> Pair {
    let mut p = Pair::default_pair();
    p.handshake();
    p
}

/// Feeds frames to the server as decrypted 1-RTT payloads of about a
/// packet each.
fn feed_server(p: &mut Pair, frames: impl Iterator<Item = Vec<u8>>) {
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    let mut payload = Vec::new();
    for f in frames {
        if payload.len() + f.len() > 1150 {
            server.inject_and_collect(PacketType::OneRtt, &payload, now);
            payload.clear();
        }
        payload.extend_from_slice(&f);
    }
    if !payload.is_empty() {
        server.inject_and_collect(PacketType::OneRtt, &payload, now);
    }
}

/// Finding 2: a stream's whole window (1 MiB) as 1-byte frames in reverse.
/// One piece, at most twice the credit in memory, and the data intact once
/// the first byte comes.
#[test]
fn reversed_one_byte_stream_fragments_fill_the_window_in_bounded_memory() {
    let mut p = established();
    let window = p.server().config_max_stream_data();
    let body = pattern(window as usize, 9);
    feed_server(
        &mut p,
        (1..window)
            .rev()
            .map(|o| stream_frame(0, o, &body[o as usize..o as usize + 1], false)),
    );
    let server = p.server.as_mut().unwrap();
    assert!(server.local_error().is_none(), "{:?}", server.local_error());
    let (pieces, memory) = server.stream_held(0).expect("stream 0");
    assert_eq!(pieces, 1);
    assert!(
        memory as u64 <= 2 * window,
        "{memory} bytes for {window} of credit"
    );
    feed_server(
        &mut p,
        std::iter::once(stream_frame(0, 0, &body[..1], false)),
    );
    assert!(p.server().local_error().is_none());
    p.collect_events();
    let got = p.server_rx.bytes(0);
    assert_eq!(got.len(), body.len());
    let first_diff = got.iter().zip(&body).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "the data differs");
}

/// Gaps between 1-byte STREAM frames: each stream holds at most its cap of
/// pieces, and all streams together the connection's cap.
#[test]
fn gappy_stream_fragments_are_capped_per_stream_and_per_connection() {
    let (c, mut s) = configs();
    s.transport.max_stream_data = 1 << 20;
    s.transport.max_data = 16 << 20;
    let mut p = Pair::new(c, s);
    p.handshake();
    let per_stream = crate::conn::MAX_OOO_PIECES_PER_STREAM;
    let per_conn = crate::conn::MAX_OOO_PIECES_PER_CONNECTION;
    let streams = (per_conn / per_stream + 2) as u64;
    for n in 0..streams {
        let sid = 4 * n;
        feed_server(
            &mut p,
            (0..2 * per_stream as u64).map(|i| stream_frame(sid, 2 * i + 1, b"x", false)),
        );
    }
    let server = p.server.as_mut().unwrap();
    assert!(server.local_error().is_none());
    for n in 0..streams {
        let (pieces, _) = server.stream_held(4 * n).unwrap();
        assert!(pieces <= per_stream, "stream {n}: {pieces}");
    }
    assert_eq!(server.held(Space::Application).stream_pieces, per_conn);
}

/// Finding 4: naming stream 4,000,000 creates one stream, not four million;
/// lower streams get state only when used.
#[test]
fn streams_are_created_lazily() {
    let (c, mut s) = configs();
    s.transport.max_streams_bidi = 1 << 40;
    let mut p = Pair::new(c, s);
    p.handshake();
    let before = p.server().held(Space::Application).streams;
    feed_server(
        &mut p,
        std::iter::once(stream_frame(4 * 4_000_000, 0, b"far", true)),
    );
    assert_eq!(p.server().held(Space::Application).streams, before + 1);
    p.collect_events();
    assert_eq!(p.server_rx.bytes(4 * 4_000_000), b"far");
    // A lower stream, opened implicitly, works once used.
    feed_server(
        &mut p,
        std::iter::once(stream_frame(4 * 17, 0, b"low", true)),
    );
    p.collect_events();
    assert_eq!(p.server_rx.bytes(4 * 17), b"low");
    assert!(p.server().held(Space::Application).streams <= before + 2);
    assert!(p.server().local_error().is_none());
}

/// PATH_CHALLENGE floods: at most a few responses are owed.
#[test]
fn path_challenge_floods_owe_a_bounded_number_of_responses() {
    let mut p = established();
    feed_server(
        &mut p,
        (0..10_000u64).map(|i| {
            let mut f = Vec::new();
            Frame::PathChallenge(i.to_be_bytes()).write(&mut f);
            f
        }),
    );
    assert!(p.server().held(Space::Application).path_responses <= 4);
    assert!(p.server().local_error().is_none());
}

/// NEW_CONNECTION_ID floods with ever larger Retire Prior To: the retire
/// queue is capped and the connection closes with CONNECTION_ID_LIMIT_ERROR
/// instead of growing.
#[test]
fn new_connection_id_floods_are_bounded() {
    let mut p = established();
    feed_server(
        &mut p,
        (1000..100_000u64).map(|seq| {
            let mut f = Vec::new();
            let cid = seq.to_be_bytes();
            Frame::NewConnectionId {
                seq,
                retire_prior_to: seq,
                cid: &cid,
                reset_token: [seq as u8; 16],
            }
            .write(&mut f);
            f
        }),
    );
    // Either the retires went out as they came (not here: nothing is
    // sent while injecting) or the queue hit its cap.
    let err = p.server().local_error().expect("closed");
    assert_eq!(err.code, crate::error::code::CONNECTION_ID_LIMIT_ERROR);
}

/// An ACK frame with the largest number of ranges a packet holds, over
/// packets we sent: processed without error.
#[test]
fn ack_frames_with_many_ranges_are_fine() {
    let mut p = established();
    let body = pattern(2 << 20, 3);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    p.drop = Box::new(|dir, _, _| dir == super::pair::Dir::ToServer);
    p.run_until(p.now + 200 * MS, |_| false);
    // Acknowledge every other packet the server sent.
    let sent = p.server().next_packet_number(Space::Application);
    let ranges: Vec<(u64, u64)> = (0..sent / 2)
        .rev()
        .map(|i| (2 * i, 2 * i))
        .take(300)
        .collect();
    let mut f = Vec::new();
    frame::write_ack(&mut f, &ranges, u64::MAX >> 10, None);
    let now = p.now;
    p.server
        .as_mut()
        .unwrap()
        .inject_payload(PacketType::OneRtt, &f, now);
    assert!(
        p.server().local_error().is_none(),
        "{:?}",
        p.server().local_error()
    );
}

/// DATAGRAM frames when the application never polls: the queue is capped.
#[test]
fn unread_datagrams_are_capped() {
    let (mut c, mut s) = configs();
    c.transport.max_datagram_frame_size = Some(1200);
    s.transport.max_datagram_frame_size = Some(1200);
    let mut p = Pair::new(c, s);
    p.handshake();
    let now = p.now;
    let server = p.server.as_mut().unwrap();
    for _ in 0..2000 {
        let mut f = Vec::new();
        frame::write_datagram_header(&mut f, 10, true);
        f.extend_from_slice(&[1; 10]);
        server.inject_payload(PacketType::OneRtt, &f, now);
    }
    let datagrams = std::iter::from_fn(|| server.poll_event())
        .filter(|e| matches!(e, Event::DatagramFrameReceived { .. }))
        .count();
    assert!(datagrams <= 256, "{datagrams}");
}

/// Finding 3: our idle timeout off and the peer's the largest it can send:
/// the deadline saturates instead of wrapping into the past.
#[test]
fn a_huge_peer_idle_timeout_does_not_wrap() {
    let (mut c, mut s) = configs();
    s.transport.idle_timeout = 0;
    c.transport.idle_timeout = u64::MAX; // bypassing the setter, as a peer can
    let mut p = Pair::new(c, s);
    p.handshake();
    for uid in 0..5 {
        p.client.send_ping(uid).unwrap();
        p.run_until(p.now + 2000 * MS, |_| false);
    }
    assert!(!p.server().is_closed(), "{:?}", p.server().local_error());
}

/// Finding 3: a caller clock near the end of u64: handshake, data and
/// timers all work.
#[test]
fn a_clock_near_its_end_works() {
    let (c, s) = configs();
    let start = u64::MAX - 1_000_000 * MS;
    let mut p = Pair::new_at(c, s, start);
    p.handshake();
    p.client.stream_send(0, &pattern(300_000, 1), true).unwrap();
    assert!(p.run_until(p.now + 60_000 * MS, |p| p.server_rx.finished.contains(&0)));
    assert!(p.client.timer().is_some());
}

/// Finding 3 and 6: setters refuse values that make no sense, at once.
#[test]
fn setters_refuse_nonsense() {
    let mut c = Config::new(Side::Client);
    assert!(c.set_idle_timeout(u64::MAX).is_err());
    assert!(c.set_idle_timeout(86_400_000_000_001).is_err());
    assert!(c.set_idle_timeout(30_000 * MS).is_ok());
    let e = c.set_groups("nonsense").unwrap_err().to_string();
    assert!(e.contains("nonsense"), "{e}");
    assert!(c.set_groups("X25519:P-256").is_ok());
    assert!(c.set_alpn_protocols(vec![]).is_err());
}

/// Drives `server` for `duration` of virtual time against a peer that
/// sends what `answer` gives 0.1 ms after every datagram of ours, and
/// otherwise when its own 50 ms timer fires. Returns (datagrams the server
/// sent, datagrams the peer sent).
fn answering_peer(
    server: &mut Connection,
    start: u64,
    duration: u64,
    mut answer: impl FnMut(u64) -> Vec<Vec<u8>>,
) -> (u64, u64) {
    let from = super::pair::client_addr();
    let (mut now, mut peer_due, mut buf) = (start, start, Vec::new());
    let (mut sent, mut got) = (0u64, 0u64);
    while now < start + duration {
        while server.send(&mut buf, now).is_some() {
            sent += 1;
            peer_due = peer_due.min(now + MS / 10);
        }
        now = server
            .timer()
            .map_or(peer_due, |t| t.min(peer_due))
            .max(now);
        if server.timer().is_some_and(|t| t <= now) {
            server.handle_timer(now);
        }
        if now >= peer_due {
            for d in answer(now) {
                server.recv(&d, from, now);
                got += 1;
            }
            peer_due = now + 50 * MS;
        }
    }
    (sent, got)
}

/// What a loop of `duration` may cost at most once the run of repeats is
/// over: an ACK per max_ack_delay (25 ms), and the run itself.
fn paced_bound(duration: u64) -> u64 {
    duration / (25 * MS) + 8 + 2
}

/// A client that answers every datagram of ours with a PING at once (RFC
/// 9000 §13.2.1 forbids making every such packet ack-eliciting) while the
/// handshake cannot go on: after a short, quick run the server's ACKs are
/// paced to one per max_ack_delay, so the exchange no longer runs at the
/// speed of the path (picoquic did this to a server that switched
/// versions, about 8,000 datagrams a second each way).
#[test]
fn a_ping_for_every_ack_does_not_drive_an_endless_exchange() {
    let (_, s) = configs();
    let tls = TlsContext::new(&s).unwrap();
    let mut server = Connection::new_server(s.into(), tls, &DCID, None).unwrap();
    let mut keys = InitialKeys::new(V1, &DCID, true).unwrap();
    // The start of a ClientHello that never ends: the handshake waits.
    let partial = crypto_frame(0, &[1, 0, 0x10, 0, 3, 3]);
    server.recv(
        &client_initial(&mut keys, 0, &partial),
        super::pair::client_addr(),
        0,
    );
    let mut pn = 0;
    let duration = 2_000 * MS;
    let (sent, pings) = answering_peer(&mut server, 0, duration, |_| {
        pn += 1;
        vec![client_initial(&mut keys, pn, &[0x01])]
    });
    assert!(!server.is_closed(), "the handshake timeout is 60 s");
    // Without the bound: one ACK per ping, about 20,000 in these 2 s.
    assert!(
        sent <= paced_bound(duration),
        "{sent} datagrams for {pings} pings"
    );
    // The pings are still acknowledged, within max_ack_delay.
    assert!(
        sent >= duration / (50 * MS),
        "{sent} datagrams for {pings} pings"
    );
}

/// The same loop after the handshake, with STREAM frames whose bytes the
/// server has already: two for every datagram of ours (so every second one
/// would be acknowledged at once).
#[test]
fn repeated_stream_data_does_not_drive_an_endless_exchange() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.client.stream_send(0, b"hello", false).unwrap();
    assert!(p.run_until(p.now + 1_000 * MS, |p| p.server_rx.bytes(0) == b"hello"));
    p.run_until(p.now + 1_000 * MS, |_| false); // everything acknowledged
    let mut server = p.server.take().unwrap();
    let duration = 2_000 * MS;
    let client = &mut p.client;
    let (sent, repeats) = answering_peer(&mut server, p.now, duration, |now| {
        (0..2)
            .map(|_| {
                let again = Frame::Stream {
                    stream_id: 0,
                    offset: 0,
                    data: b"hello",
                    fin: false,
                };
                client.craft_one_rtt(&[again], now)
            })
            .collect()
    });
    assert!(!server.is_closed());
    // Without the bound: an ACK for every second repeat, 10,000 here.
    assert!(
        sent <= paced_bound(duration),
        "{sent} datagrams for {repeats} repeats"
    );
    assert!(
        sent >= duration / (50 * MS),
        "{sent} datagrams for {repeats} repeats"
    );
}

/// One datagram from a spoofed source with four PATH_CHALLENGE frames
/// gets at most three times its size back (RFC 9000 §8.2.2, §21.5.3): the
/// last challenge of a datagram is answered, once.
#[test]
fn path_challenges_from_a_spoofed_source_are_not_reflected_past_3x() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.run_until(p.now + 1_000 * MS, |_| false); // everything acknowledged
    let mut server = p.server.take().unwrap();
    let now = p.now;
    let challenges: Vec<Frame> = (0..4u8).map(|i| Frame::PathChallenge([i; 8])).collect();
    let d = p.client.craft_one_rtt(&challenges, now);
    let victim: std::net::SocketAddr = "192.0.2.7:9999".parse().unwrap();
    server.recv(&d, victim, now);
    let (mut to_victim, mut buf) = (0, Vec::new());
    while let Some(to) = server.send(&mut buf, now) {
        if to == victim {
            to_victim += buf.len();
        }
    }
    assert!(to_victim > 0, "the challenge was not answered");
    assert!(
        to_victim <= 3 * d.len(),
        "{to_victim} bytes for a {}-byte datagram",
        d.len()
    );
}

/// Before the handshake validates the client's address, only datagrams
/// from that address earn the server credit (RFC 9000 §8.1): an attacker
/// that spoofs a victim's Initial, then sends datagrams with the same DCID
/// from its own address, does not raise what goes to the victim.
#[test]
fn only_the_clients_address_earns_amplification_credit() {
    let big = super::pki::make("localhost", 6);
    let (mut c, mut s) = configs();
    c.tls.groups = Some("X25519".into()); // a one-datagram ClientHello
    s.load_cert_chain_pem(&big.chain_pem, &big.key_pem, None)
        .unwrap();
    let f = super::craft::first_flight(c, s);
    assert_eq!(f.datagrams.len(), 1, "a one-datagram ClientHello");
    let (mut server, first) = (f.server, f.datagrams[0].clone());
    let victim = super::pair::client_addr();
    let attacker: std::net::SocketAddr = "198.51.100.9:4444".parse().unwrap();
    server.recv(&first, victim, 0);
    for _ in 0..20 {
        server.recv(&first, attacker, MS);
    }
    // Everything it sends in a second, retransmissions included.
    let (mut to_victim, mut buf, mut now) = (0, Vec::new(), MS);
    while now < 1_000 * MS {
        while let Some(to) = server.send(&mut buf, now) {
            assert_eq!(to, victim);
            to_victim += buf.len();
        }
        let Some(t) = server.timer() else { break };
        now = t.max(now);
        server.handle_timer(now);
    }
    assert!(
        to_victim <= 3 * first.len(),
        "{to_victim} bytes for {}",
        first.len()
    );
    // The flight is larger than the allowance, which the server used.
    assert!(to_victim > 2 * first.len(), "{to_victim} bytes");
}

/// A peer retiring every connection ID we issue, one after another, gets
/// new ones only up to the lifetime cap (1024 in all): the connection
/// stays up on the IDs it has, without issuing more.
#[test]
fn connection_ids_issued_over_a_life_are_capped() {
    let mut p = established();
    feed_server(
        &mut p,
        (1..1024u64).map(|seq| {
            let mut f = Vec::new();
            Frame::RetireConnectionId { seq }.write(&mut f);
            f
        }),
    );
    p.collect_events();
    let issued = p
        .server_events
        .iter()
        .filter(|e| matches!(e, Event::ConnectionIdIssued { .. }))
        .count();
    let retired = p
        .server_events
        .iter()
        .filter(|e| matches!(e, Event::ConnectionIdRetired { .. }))
        .count();
    assert_eq!(retired, 1023);
    // Sequence 0 is the handshake's own ID (no event): 1 to 1023 issued,
    // 1024 in all. Without the cap, each retirement of k would have issued
    // k + 7, so 1030 events.
    assert_eq!(issued, 1023, "every ID up to the cap, and not one more");
    assert!(p.server().local_error().is_none());
    assert!(!p.server().is_closed());
}
