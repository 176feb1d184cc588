//! The memory rows, measured in a child process of the benchmark (the
//! same binary, with BENCH_MEMORY_CHILD set): only there does the global
//! allocator count and do OpenSSL's allocations go through counting
//! hooks, so the timed rows of the parent run without either.
//!
//! Each row: BENCH_CONNS established idle pairs (1,000 by default) held at
//! once, every stack settled alike; then BENCH_ENDPOINT_CONNS pairs
//! (10,000) through one endpoint per side; then aioquic's own figure.

use std::process::Command;

use crate::{aioquic_drv, cabi_drv, endpoints, env_usize, libquic_drv, memory, quinn_drv, util};

const CHILD: &str = "BENCH_MEMORY_CHILD";

/// (stack, heap, RSS) per connection in bytes, and whether OpenSSL's
/// allocations were counted.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<(String, f64, f64)>,
    pub openssl_counted: bool,
}

/// True in the child.
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs the child and reads its report.
pub fn in_child() -> Report {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let out = Command::new(exe)
        .env(CHILD, "1")
        .output()
        .expect("the memory child runs");
    assert!(
        out.status.success(),
        "memory child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = Report::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["row", name, heap, rss] => report.rows.push((
                name.to_string(),
                heap.parse().unwrap(),
                rss.parse().unwrap(),
            )),
            ["openssl_counted", v] => report.openssl_counted = v == "true",
            _ => {}
        }
    }
    report
}

/// The child: hooks and counting on, every row measured, one line each.
pub fn child_main() {
    let openssl_counted = memory::count_openssl();
    memory::start_counting();
    let certs = util::cert_dir();
    let conns = env_usize("BENCH_CONNS", 1000);
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    // Both stacks at the same stream limits (each kind): default-like ones
    // and a large one, where per-stream state weighs most.
    for limit in [100u32, 128, 1000] {
        let lib = endpoints::LibConfigs::with_streams(&certs, u64::from(limit));
        let (h, r) = memory::per_connection(conns, || {
            let mut p = libquic_drv::Pair::new(&lib.c, &lib.s, &lib.ctls, &lib.stls);
            p.handshake(32);
            p.settle();
            p
        });
        rows.push((format!("libquic-rust@{limit}"), h, r));
        let q = quinn_drv::configs_with_streams(&certs, limit);
        let (h, r) = memory::per_connection(conns, || {
            let mut p = quinn_drv::Pair::new(&q);
            p.handshake(32);
            p.settle();
            p
        });
        rows.push((format!("quinn-proto@{limit}"), h, r));
    }
    let ccfg = cabi_drv::Configs::new(&certs);
    let (h, r) = memory::per_connection(conns, || {
        let mut p = cabi_drv::Pair::new(&ccfg, 32);
        p.handshake();
        p.settle();
        p
    });
    rows.push(("libquic-c@1000".into(), h, r));
    // Through an endpoint on each side, both stacks, with many more
    // connections at a stream limit of 100: the endpoints' routing tables
    // and timer heaps are included.
    let many = env_usize("BENCH_ENDPOINT_CONNS", 10_000);
    let lib_100 = endpoints::LibConfigs::with_streams(&certs, 100);
    let (h, r) = memory::per_connection_of(many, || endpoints::LibFleet::held(&lib_100, many));
    rows.push((format!("libquic-endpoints@100 x{many}"), h, r));
    let q = quinn_drv::configs_with_streams(&certs, 100);
    let (h, r) = memory::per_connection_of(many, || endpoints::QuinnFleet::held(&q, many));
    rows.push((format!("quinn-endpoints@100 x{many}"), h, r));
    let m = aioquic_drv::memory(&certs, conns);
    rows.push(("aioquic".into(), m.heap, m.rss));
    for (name, heap, rss) in rows {
        println!("row\t{name}\t{heap}\t{rss}");
    }
    println!("openssl_counted\t{openssl_counted}");
}
