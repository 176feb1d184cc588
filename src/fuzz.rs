//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer), here
//! so that `cargo test` replays the committed corpus through the very same
//! code on a stable toolchain. Compiled only for tests and for fuzzing
//! (cargo-fuzz passes `--cfg fuzzing`); not part of the library's API.
//!
//! Each function takes arbitrary bytes and must neither panic nor hang;
//! where an encoding round trip exists, it checks it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::conn::Connection;
use crate::crypto::{InitialKeys, TAG_LEN};
use crate::frame::Frames;
use crate::packet::header::{self, LongHeader};
use crate::packet::{number, protect, PacketType};
use crate::side::Side;
use crate::tls::TlsContext;
use crate::transport_params::TransportParameters;
use crate::version::{LongType, V1};

#[cfg(test)]
use crate::tests::pki;
#[cfg(not(test))]
#[allow(dead_code)]
#[path = "tests/pki.rs"]
mod pki;

/// The frame parser: every frame it accepts encodes again and parses back
/// to the same frame.
pub fn frames(data: &[u8]) {
    let mut out = Vec::new();
    for frame in Frames::new(data) {
        let Ok(frame) = frame else { break };
        for ty in [
            PacketType::Initial,
            PacketType::ZeroRtt,
            PacketType::Handshake,
            PacketType::OneRtt,
        ] {
            let _ = frame.permitted_in(ty);
        }
        out.clear();
        frame.write(&mut out);
        let again = Frames::new(&out).next();
        assert!(
            matches!(&again, Some(Ok(g)) if *g == frame),
            "{frame:?} came back as {again:?}"
        );
    }
}

/// The packet header parser, with and without a greased QUIC bit.
pub fn header(data: &[u8]) {
    for cid_len in [0, 8, 20] {
        if let Ok(h) = header::parse(data, cid_len) {
            assert!(h.packet_len <= data.len());
            assert!(h.pn_offset <= h.packet_len);
        }
        let _ = crate::server::parse_header(data, cid_len);
    }
}

/// Transport parameters: whatever decodes, encodes and decodes to the same
/// value.
pub fn transport_params(data: &[u8]) {
    for sender in [Side::Client, Side::Server] {
        let Ok(tp) = TransportParameters::decode(data, sender) else {
            continue;
        };
        let mut out = Vec::new();
        tp.encode(&mut out);
        let again = TransportParameters::decode(&out, sender).expect("our own encoding decodes");
        assert_eq!(again, tp);
    }
}

/// Client and server settings with their TLS contexts, made once.
struct Fixture {
    client: Arc<Config>,
    client_tls: Arc<TlsContext>,
    server: Arc<Config>,
    server_tls: Arc<TlsContext>,
}

fn configs() -> &'static Fixture {
    static CONFIGS: OnceLock<Fixture> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let pki = pki::localhost();
        let mut c = Config::new(Side::Client);
        c.set_alpn_protocols(vec![b"hq-interop".to_vec()]).unwrap();
        c.set_server_name("localhost").unwrap();
        c.load_verify_locations(None, None, Some(&pki.ca_pem))
            .unwrap();
        let mut s = Config::new(Side::Server);
        s.set_alpn_protocols(vec![b"hq-interop".to_vec()]).unwrap();
        s.load_cert_chain_pem(&pki.chain_pem, &pki.key_pem, None)
            .unwrap();
        s.transport.max_datagram_frame_size = Some(1200);
        c.transport.max_datagram_frame_size = Some(1200);
        // Both sides trace (into nothing), so that what a hostile peer
        // sends also goes through the qlog formatting of every frame.
        let discard: crate::qlog::QlogSink = Arc::new(|_: &crate::qlog::QlogTrace<'_>| {
            let out: crate::qlog::QlogOutput = Box::new(|records: &[u8]| records.len());
            Some(out)
        });
        c.set_qlog(Some(discard.clone()));
        s.set_qlog(Some(discard));
        Fixture {
            client_tls: TlsContext::new(&c).unwrap(),
            server_tls: TlsContext::new(&s).unwrap(),
            client: Arc::new(c),
            server: Arc::new(s),
        }
    })
}

fn client_addr() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 4321))
}

fn server_addr() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 2], 4433))
}

/// Lets a connection answer: everything it sends is discarded.
fn drain(conn: &mut Connection, now: u64) {
    let mut buf = Vec::new();
    for _ in 0..64 {
        if conn.send(&mut buf, now).is_none() {
            break;
        }
    }
    while conn.poll_event().is_some() {}
    let _ = conn.timer();
}

/// A server connection given client Initials whose decrypted payloads are
/// in `data`: the client's SCID (a length byte, then at most 20 bytes;
/// its transport parameters must name it), a 2-byte big-endian length, the
/// first packet's payload, then the second's (each cut to fit a 1200-byte
/// packet). CRYPTO reassembly,
/// the ClientHello and transport parameters through OpenSSL, ACK handling.
pub fn server_initial(data: &[u8]) {
    let f = configs();
    let (sc, st) = (&f.server, &f.server_tls);
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let Ok(mut server) = Connection::new_server(sc.clone(), st.clone(), &dcid, None) else {
        return;
    };
    let mut keys = InitialKeys::new(V1, &dcid, true).expect("Initial keys");
    let mut now = 0;
    // Up to two packets, as a ClientHello may span two.
    let (scid, data) = match data {
        [n, rest @ ..] if usize::from(*n) <= 20 && rest.len() >= usize::from(*n) => {
            rest.split_at(usize::from(*n))
        }
        _ => (&[1u8, 2, 3, 4][..], data),
    };
    let (first_len, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (data.len(), data),
    };
    let (first, second) = rest.split_at(first_len.min(rest.len()));
    for (pn, part) in [first, second].into_iter().enumerate() {
        let part = &part[..part.len().min(1160)];
        if part.is_empty() && pn > 0 {
            break;
        }
        let hdr = LongHeader {
            ty: LongType::Initial,
            version: V1,
            dcid: &dcid,
            scid,
            token: &[],
        };
        let mut pkt = Vec::new();
        let Ok(layout) = hdr.write(&mut pkt, number::truncate(pn as u64, 2), 2, 1200) else {
            return;
        };
        pkt.extend_from_slice(part);
        pkt.resize(1200 - TAG_LEN, 0);
        layout.finish(&mut pkt, TAG_LEN);
        pkt.resize(1200, 0);
        if protect::seal(&mut pkt, layout.pn_offset, 2, pn as u64, &mut keys.seal).is_err() {
            return;
        }
        server.recv(&pkt, client_addr(), now);
        drain(&mut server, now);
        now += 1_000_000;
    }
    server.handle_timer(now + 1_000_000_000);
    drain(&mut server, now);
    LAST_SERVER_SENT.with(|c| c.set(server.stats().bytes_sent));
}

// Kept in fuzzing builds too: what the targets compile must not depend on
// cfg(test), which only `cargo test` sets.
thread_local! {
    /// Bytes the last `server_initial` server sent (the seeds' check that
    /// a ClientHello reaches TLS).
    pub(crate) static LAST_SERVER_SENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Migrations the server of the last `path_frames` run reported (for
    /// the corpus replay to see its seeds reach that far).
    pub(crate) static LAST_MIGRATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A client and a server that completed their handshake over a lossless,
/// instant link (a handful of rounds).
fn established() -> Option<(Connection, Connection)> {
    let f = configs();
    let (cc, ct, sc, st) = (&f.client, &f.client_tls, &f.server, &f.server_tls);
    let mut client = Connection::new_client(cc.clone(), ct.clone()).ok()?;
    client.connect(server_addr(), 0).ok()?;
    let mut server: Option<Connection> = None;
    let mut buf = Vec::new();
    let now = 0;
    for _ in 0..16 {
        let mut moved = false;
        while client.send(&mut buf, now).is_some() {
            moved = true;
            let s = server.get_or_insert_with(|| {
                let h = header::parse(&buf, 8).expect("our own Initial parses");
                Connection::new_server(sc.clone(), st.clone(), h.dcid, None)
                    .expect("server connection")
            });
            s.recv(&buf, client_addr(), now);
        }
        if let Some(s) = &mut server {
            while s.send(&mut buf, now).is_some() {
                moved = true;
                client.recv(&buf, server_addr(), now);
            }
        }
        if !moved {
            break;
        }
    }
    let server = server?;
    assert!(
        client.is_established() && server.is_established(),
        "the fuzz pair did not connect"
    );
    Some((client, server))
}

/// An established client and server; `data` arrives as a decrypted 1-RTT
/// payload at the server, then at the client.
pub fn established_payload(data: &[u8]) {
    let Some((mut client, mut server)) = established() else {
        return;
    };
    let now = 0;
    server.inject_payload(PacketType::OneRtt, data, now);
    drain(&mut server, now);
    client.inject_payload(PacketType::OneRtt, data, now);
    drain(&mut client, now);
}

/// Path frames from changing addresses: an established pair, then `data`
/// as records (an address byte, a length byte, that many bytes of 1-RTT
/// payload), each sent to the server as a real 1-RTT packet from one of
/// four addresses: the client's, its host on another port (NAT
/// rebinding), another host (migration), a spoofed victim. PATH_CHALLENGE,
/// PATH_RESPONSE, NEW_CONNECTION_ID and RETIRE_CONNECTION_ID go through
/// the whole receive path: migration, validation, the 3x budget, CIDs.
pub fn path_frames(data: &[u8]) {
    let Some((mut client, mut server)) = established() else {
        return;
    };
    let addrs: [SocketAddr; 4] = [
        client_addr(),
        ([10, 0, 0, 1], 5555).into(),
        ([10, 0, 0, 9], 4321).into(),
        ([192, 0, 2, 1], 443).into(),
    ];
    let (mut now, mut rest, mut migrations) = (0u64, data, 0);
    while rest.len() >= 2 {
        let from = addrs[usize::from(rest[0]) % addrs.len()];
        let end = (2 + usize::from(rest[1])).min(rest.len());
        let payload = &rest[2..end];
        rest = &rest[end..];
        now += 5_000_000;
        let Some(d) = client.craft_one_rtt_payload(payload, now) else {
            return;
        };
        server.recv(&d, from, now);
        if server.timer().is_some_and(|t| t <= now) {
            server.handle_timer(now);
        }
        while let Some(e) = server.poll_event() {
            migrations += u64::from(matches!(e, crate::conn::Event::PeerMigrated { .. }));
        }
        drain(&mut server, now);
    }
    LAST_MIGRATIONS.with(|c| c.set(migrations));
}

/// The server config the token target checks with: a fixed key and a
/// fixed clock, so seeds minted once stay valid.
pub fn token_config() -> &'static Config {
    struct Fixed;
    impl crate::token::UnixClock for Fixed {
        fn unix_seconds(&self) -> u64 {
            TOKEN_TIME
        }
    }
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut c = Config::new(Side::Server);
        c.set_token_key([9; 32]);
        c.set_unix_clock(Arc::new(Fixed));
        c
    })
}

/// The token target's time, client address and Initial DCID.
pub const TOKEN_TIME: u64 = 1_700_000_000;
pub const TOKEN_DCID: [u8; 8] = [1; 8];
/// The client the token target's tokens come from.
pub fn token_peer() -> SocketAddr {
    "192.0.2.1:4433".parse().unwrap()
}

/// An Initial's token as a server checks it (peer-controlled bytes): no
/// panic, and anything proven is consistent with what was asked.
pub fn address_token(data: &[u8]) {
    use crate::server::{check_initial_token, InitialToken};
    match check_initial_token(token_config(), data, &TOKEN_DCID, token_peer()) {
        InitialToken::None => assert!(data.is_empty()),
        InitialToken::Retry { retry_scid, .. } => assert_eq!(*retry_scid, TOKEN_DCID),
        InitialToken::Invalid | InitialToken::NewToken => {}
    }
}

/// A target: its name (the corpus folder) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, for the corpus replay.
pub const TARGETS: [Target; 7] = [
    ("frames", frames),
    ("header", header),
    ("transport_params", transport_params),
    ("server_initial", server_initial),
    ("established_payload", established_payload),
    ("address_token", address_token),
    ("path_frames", path_frames),
];
