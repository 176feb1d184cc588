//! The fuzz corpus in `fuzz/corpus/<target>/` replayed through the same
//! target bodies (`src/fuzz.rs`) on every `cargo test`: an input that once
//! crashed, committed there, stays a regression test. `write_seed_corpus`
//! (ignored; run it by name) wrote the first seeds.

use std::path::PathBuf;

use crate::fuzz::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn the_committed_corpus_replays_cleanly() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let dir = corpus_dir(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} crashes", path.display());
            n += 1;
        }
        assert!(n > 0, "{name}: no corpus in {}", dir.display());
        total += n;
    }
    assert!(total >= 20);
    // The ClientHello seed gets as far as a server flight (ServerHello and
    // certificate), so the fuzzer starts deep in the handshake.
    let hello = std::fs::read(corpus_dir("server_initial").join("client_hello")).unwrap();
    crate::fuzz::server_initial(&hello);
    let sent = crate::fuzz::LAST_SERVER_SENT.with(|c| c.get());
    assert!(sent > 1000, "the server answered with {sent} bytes");
    // The path seeds move the client: the server follows it.
    crate::fuzz::path_frames(&std::fs::read(corpus_dir("path_frames").join("rebinding")).unwrap());
    assert!(
        crate::fuzz::LAST_MIGRATIONS.with(|c| c.get()) >= 1,
        "no migration"
    );
    // The token seeds are valid tokens, so the fuzzer mutates real ones.
    use crate::server::{check_initial_token, InitialToken};
    let (cfg, peer) = (crate::fuzz::token_config(), crate::fuzz::token_peer());
    let dcid = crate::fuzz::TOKEN_DCID;
    let seed = |n| std::fs::read(corpus_dir("address_token").join(n)).unwrap();
    assert!(matches!(
        check_initial_token(cfg, &seed("retry"), &dcid, peer),
        InitialToken::Retry { .. }
    ));
    assert_eq!(
        check_initial_token(cfg, &seed("new_token"), &dcid, peer),
        InitialToken::NewToken
    );
}

/// Writes the seed corpus (run with `cargo test --release --lib
/// write_seed_corpus -- --ignored`).
#[test]
#[ignore]
fn write_seed_corpus() {
    use crate::crypto::InitialKeys;
    use crate::frame::{self, Frame};
    use crate::packet::{header, protect};
    use crate::side::Side;
    use crate::transport_params::TransportParameters;

    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    let one = |f: Frame<'_>| {
        let mut out = Vec::new();
        f.write(&mut out);
        out
    };
    // Frames: one of each kind, and a mixed payload.
    let mut ack = Vec::new();
    frame::write_ack(&mut ack, &[(90, 100), (50, 80), (0, 10)], 17, None);
    let cid = [1, 2, 3, 4, 5, 6, 7, 8];
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("ping", one(Frame::Ping)),
        ("ack", ack.clone()),
        (
            "crypto",
            one(Frame::Crypto {
                offset: 1000,
                data: b"handshake",
            }),
        ),
        (
            "stream",
            one(Frame::Stream {
                stream_id: 4,
                offset: 70_000,
                data: b"data",
                fin: true,
            }),
        ),
        (
            "reset",
            one(Frame::ResetStream {
                stream_id: 8,
                error_code: 3,
                final_size: 100,
            }),
        ),
        (
            "stop",
            one(Frame::StopSending {
                stream_id: 8,
                error_code: 5,
            }),
        ),
        ("max_data", one(Frame::MaxData(1 << 30))),
        (
            "max_stream_data",
            one(Frame::MaxStreamData {
                stream_id: 0,
                max: 99,
            }),
        ),
        (
            "max_streams",
            one(Frame::MaxStreams {
                bidi: true,
                max: 1000,
            }),
        ),
        (
            "new_cid",
            one(Frame::NewConnectionId {
                seq: 9,
                retire_prior_to: 3,
                cid: &cid,
                reset_token: [7; 16],
            }),
        ),
        ("retire_cid", one(Frame::RetireConnectionId { seq: 2 })),
        ("path_challenge", one(Frame::PathChallenge(*b"12345678"))),
        (
            "close",
            one(Frame::ConnectionClose {
                app: false,
                error_code: 10,
                frame_type: 6,
                reason: b"bye",
            }),
        ),
        (
            "datagram",
            one(Frame::Datagram {
                data: b"dgram",
                with_len: true,
            }),
        ),
        ("new_token", one(Frame::NewToken { token: b"token" })),
        ("handshake_done", one(Frame::HandshakeDone)),
    ];
    let mut mixed = Vec::new();
    for (name, bytes) in &samples {
        write("frames", name, bytes);
        mixed.extend_from_slice(bytes);
    }
    write("frames", "mixed", &mixed);
    // The established connection gets the 1-RTT-legal ones.
    for (name, bytes) in &samples {
        if !matches!(*name, "crypto" | "new_token" | "handshake_done") {
            write("established_payload", name, bytes);
        }
    }
    // Headers: the RFC 9001 / RFC 9369 sample packets, a Version
    // Negotiation, a short header.
    for (name, v) in [
        (
            "rfc9001_client_initial",
            crate::test_util::vector!("rfc9001_client_initial_protected"),
        ),
        (
            "rfc9001_server_initial",
            crate::test_util::vector!("rfc9001_server_initial_protected"),
        ),
        ("rfc9001_retry", crate::test_util::vector!("rfc9001_retry")),
        (
            "rfc9369_client_initial",
            crate::test_util::vector!("rfc9369_client_initial_protected"),
        ),
    ] {
        write("header", name, &v);
    }
    let mut vn = Vec::new();
    crate::server::version_negotiation(&mut vn, &cid, &[9, 9], &[]).unwrap();
    write("header", "version_negotiation", &vn);
    write(
        "header",
        "short",
        &[0x41, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb, 0xcc, 0xdd],
    );
    // Transport parameters as a client and a server send them.
    let mut tp = TransportParameters {
        initial_max_data: 1 << 20,
        initial_source_connection_id: crate::cid::ConnectionId::new(&cid),
        ..Default::default()
    };
    let mut bytes = Vec::new();
    tp.encode(&mut bytes);
    write("transport_params", "client", &bytes);
    tp.original_destination_connection_id = crate::cid::ConnectionId::new(&[3; 8]);
    tp.stateless_reset_token = Some([5; 16]);
    bytes.clear();
    tp.encode(&mut bytes);
    write("transport_params", "server", &bytes);
    // A real ClientHello: the plaintext of a libquic client's first
    // Initial packets.
    let (c, _) = super::pair::configs();
    let tls = crate::tls::TlsContext::new(&c).unwrap();
    let mut client = crate::conn::Connection::new_client(c.into(), tls).unwrap();
    client.connect(super::pair::server_addr(), 0).unwrap();
    let mut plain = Vec::new();
    let mut buf = Vec::new();
    let mut keys = None;
    while client.send(&mut buf, 0).is_some() {
        let h = header::parse(&buf, 8).unwrap();
        let keys = keys.get_or_insert_with(|| InitialKeys::new(h.version, h.dcid, false).unwrap());
        let (pn_offset, len) = (h.pn_offset, h.packet_len);
        let mut pkt = buf[..len].to_vec();
        let o = protect::open(&mut pkt, pn_offset, None, &mut keys.open).unwrap();
        let payload = &pkt[o.header_len..o.header_len + o.payload_len];
        if plain.is_empty() {
            // The client's SCID, then the first payload's length.
            plain.push(h.scid.len() as u8);
            plain.extend_from_slice(h.scid);
            plain.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        plain.extend_from_slice(payload);
    }
    write("server_initial", "client_hello", &plain);
    write("server_initial", "ping_padding", &[0, 0, 4, 1, 0, 0, 0]);
    let _ = Side::Client;
}

/// Writes the address_token seeds: a valid Retry token and a valid
/// NEW_TOKEN token for the target's fixed key, clock and client (run with
/// `cargo test --release --lib write_token_seeds -- --ignored`).
#[test]
#[ignore]
fn write_token_seeds() {
    use crate::cid::ConnectionId;
    use crate::crypto::random::SystemRandom;
    use crate::fuzz::{token_config, token_peer, TOKEN_DCID, TOKEN_TIME};
    let dir = corpus_dir("address_token");
    std::fs::create_dir_all(&dir).unwrap();
    let key = &token_config().endpoint.token_key;
    let odcid = ConnectionId::new(&[7; 8]).unwrap();
    let scid = ConnectionId::new(&TOKEN_DCID).unwrap();
    let retry = key.retry_token(token_peer(), &odcid, &scid, TOKEN_TIME, &SystemRandom);
    let new = key.new_token(token_peer(), TOKEN_TIME, &SystemRandom);
    std::fs::write(dir.join("retry"), retry).unwrap();
    std::fs::write(dir.join("new_token"), new).unwrap();
    std::fs::write(dir.join("garbage"), [0x4c; 40]).unwrap();
}
