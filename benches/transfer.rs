//! `make bench` (part): CPU cost of an in-memory bulk transfer through
//! libquic's Rust API — one client and one server in one thread, datagrams
//! handed over directly (lossless, no delay), 1350-byte datagrams,
//! TLS_AES_128_GCM_SHA256 with X25519, 8 MB stream and 16 MB connection
//! windows. Reports payload MB per process CPU-second over several runs.
//! The side-by-side comparison with other stacks is issue 6's harness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quic::config::Config;
use quic::conn::{Connection, Event};
use quic::crypto::Suite;
use quic::packet::header;
use quic::side::Side;
use quic::tls::TlsContext;

const SIZE: usize = 64 << 20;
/// BENCH_MB overrides SIZE (for profiling runs).
fn size() -> usize {
    std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(SIZE, |m| m << 20)
}
const REPS: usize = 5;

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn configs(certs: &str) -> (Config, Config) {
    let mut c = Config::new(Side::Client);
    let mut s = Config::new(Side::Server);
    for cfg in [&mut c, &mut s] {
        cfg.set_alpn_protocols(vec![b"bench".to_vec()]).unwrap();
        cfg.set_cipher_suites(vec![Suite::Aes128Gcm]).unwrap();
        cfg.groups = Some("X25519".into());
        cfg.set_max_datagram_size(1350).unwrap();
        cfg.set_windows(16 << 20, 8 << 20).unwrap();
    }
    c.set_server_name("localhost").unwrap();
    c.load_verify_locations(Some(&format!("{certs}/ca.pem")), None, None)
        .unwrap();
    s.load_cert_chain(
        &format!("{certs}/server.pem"),
        Some(&format!("{certs}/server.key")),
        None,
    )
    .unwrap();
    (c, s)
}

/// One transfer of SIZE bytes client to server; returns CPU seconds.
fn run(c: &Config, s: &Config, data: &[u8]) -> f64 {
    let (ca, sa): (SocketAddr, SocketAddr) = (
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    );
    let ctls = TlsContext::new(c).unwrap();
    let stls = TlsContext::new(s).unwrap();
    let s = Arc::new(s.clone());
    let start = cpu_time();
    let mut client = Connection::new_client(Arc::new(c.clone()), ctls).unwrap();
    let mut server: Option<Connection> = None;
    let mut now = 0u64;
    client.connect(sa, now).unwrap();
    let mut buf = Vec::with_capacity(2048);
    let mut sent = false;
    let mut received = 0usize;
    let mut done = false;
    while !done {
        let mut moved = false;
        while client.send(&mut buf, now).is_some() {
            moved = true;
            let srv = server.get_or_insert_with(|| {
                let h = header::parse(&buf, 8).unwrap();
                Connection::new_server(s.clone(), stls.clone(), h.dcid, None).unwrap()
            });
            srv.recv(&buf, ca, now);
        }
        if let Some(srv) = &mut server {
            while srv.send(&mut buf, now).is_some() {
                moved = true;
                client.recv(&buf, sa, now);
            }
            while let Some(e) = srv.poll_event() {
                if let Event::StreamDataReceived {
                    data: d,
                    end_stream,
                    ..
                } = e
                {
                    received += d.len();
                    done |= end_stream;
                }
            }
        }
        while let Some(e) = client.poll_event() {
            if matches!(e, Event::HandshakeCompleted { .. }) && !sent {
                client.stream_send(0, data, true).unwrap();
                sent = true;
            }
        }
        if !moved {
            let t = [client.timer(), server.as_ref().and_then(|s| s.timer())]
                .into_iter()
                .flatten()
                .min()
                .expect("a timer while the transfer runs");
            now = now.max(t);
            if client.timer().is_some_and(|t| t <= now) {
                client.handle_timer(now);
            }
            if let Some(srv) = &mut server {
                if srv.timer().is_some_and(|t| t <= now) {
                    srv.handle_timer(now);
                }
            }
            // A lossless link with no delay: advance a little so RTT and
            // pacing stay finite.
            now += 10_000;
        }
    }
    assert_eq!(received, data.len(), "all bytes arrived");
    (cpu_time() - start).as_secs_f64()
}

fn main() {
    let certs = std::env::var("CERT_DIR").unwrap_or_else(|_| "build/certs".into());
    let (c, s) = configs(&certs);
    let data: Vec<u8> = (0..size()).map(|i| (i * 7 + (i >> 12)) as u8).collect();
    let mut rates: Vec<f64> = (0..REPS)
        .map(|_| data.len() as f64 / 1e6 / run(&c, &s, &data))
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[REPS / 2];
    println!(
        "in-memory transfer, {} MB client to server, {REPS} runs",
        data.len() >> 20
    );
    println!(
        "libquic: median {median:.0} MB/CPU-s (min {:.0}, max {:.0}); 10 MB costs {:.3} CPU-s",
        rates[0],
        rates[REPS - 1],
        10.0 / median
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("transfer.json"),
        format!(
            "{{\"bench\":\"transfer\",\"mb\":{},\"median_mb_per_cpu_s\":{median:.1}}}\n",
            SIZE >> 20
        ),
    );
}
