//! `make bench`: libquic (Rust API and C ABI) side by side with quinn-proto,
//! aioquic (a subprocess) and OpenSSL's ceilings, same work, interleaved
//! runs, CPU time. Every run checks that all the work was done and that the
//! pinned suite (AES-128-GCM) and group (X25519) were negotiated.
//!
//! Workloads: bulk (one stream, BENCH_MB megabytes, 200 by default) at
//! BATCH=2 and BATCH=32, the sender writing 1 MiB pieces that the stack
//! copies (`stream_send`, `quic_conn_stream_send`, quinn-proto's `write`)
//! and, in the `-owned` rows, hands over as `Bytes` without a copy
//! (`stream_send_bytes`, `quic_conn_stream_send_owned`, quinn-proto's
//! `write_chunks`); full handshakes (BENCH_HANDSHAKES, 1000 by
//! default), and as many resumed ones (libquic and OpenSSL's ceiling);
//! 1 KB request/response streams (BENCH_STREAMS, 10,000 by default);
//! connections through an endpoint on each side (BENCH_HANDSHAKES, 100 at
//! a time: handshake, 1 KB each way, close, freed); the
//! packet layer alone against the EVP ceiling, and the ceiling sealing
//! each payload from the data (what reading it from memory costs the
//! cipher), also opening it into a receive buffer (what moving the bytes
//! costs); the same ceiling as a bulk row, taking turns with the stacks'
//! transfers (their "vs ceiling"); memory per established
//! idle connection (BENCH_CONNS pairs, 1000 by default); the receive
//! side's cost of 1-byte STREAM frames in reverse order against in order
//! (BENCH_REASSEMBLY_MB, 16 by default); bulk/32 under a second link model
//! (1 ms of virtual time per turn); the timers of BENCH_ENDPOINT_CONNS
//! idle pairs through endpoints running out.
//!
//! Fairness: both stacks run CUBIC and hand out one datagram per send
//! call; the rows of a workload take turns in a different order each
//! repetition; the memory rows are measured in a child process, the only
//! place where allocations are counted, so no counting runs while CPU is
//! timed.

mod aioquic_drv;
mod cabi_drv;
mod ceilings;
mod endpoints;
mod libquic_drv;
mod lossy;
mod memory;
mod memory_rows;
mod quinn_drv;
mod reassembly;
mod udp_row;
mod util;

#[global_allocator]
static ALLOC: memory::Counting = memory::Counting;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use util::{measure, summarize, Summary};

const REPS: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A bulk transfer that advances on request.
pub trait BulkRun {
    /// Moves data until the receiver got at least `target` bytes of `data`
    /// (or all of it); returns how many it got.
    fn pump(&mut self, data: &bytes::Bytes, target: usize) -> usize;
}

/// Starts a bulk transfer (the handshake included).
type StartBulk<'a> = Box<dyn FnMut() -> Box<dyn BulkRun + 'a> + 'a>;

/// The samples of every row (MB per CPU-second for bulk, units per
/// CPU-second otherwise), and which rows to run.
struct Rows {
    samples: BTreeMap<String, Vec<f64>>,
    /// The repetition running: it sets the order in which rows take turns.
    rep: usize,
    /// BENCH_ONLY=text[,text...] runs only the rows whose name contains
    /// one of them (to profile one stack: BENCH_ONLY=bulk/32/libquic-rust);
    /// a text ending in `$` must end the name (`bulk/32/libquic-rust$`).
    only: String,
}

impl Rows {
    fn new() -> Self {
        Self {
            samples: BTreeMap::new(),
            rep: 0,
            only: std::env::var("BENCH_ONLY").unwrap_or_default(),
        }
    }

    fn want(&self, key: &str) -> bool {
        self.only.split(',').any(|p| match p.strip_suffix('$') {
            Some(end) => key.ends_with(end),
            None => key.contains(p),
        })
    }

    /// Runs `work` in this process (it returns the units it did) and
    /// records units per CPU-second.
    fn run(&mut self, key: &str, units: f64, work: &mut dyn FnMut() -> f64) {
        if self.want(key) {
            let (done, s) = measure(work);
            assert_eq!(done, units, "{key}: all the work was done");
            self.samples.entry(key.into()).or_default().push(units / s);
        }
    }

    /// Runs `units` units of each wanted row (a row's closure does the
    /// number of units it is given), the rows taking turns every `turn`
    /// units; records units times `scale` per CPU-second summed over the
    /// turns.
    fn run_alternating(
        &mut self,
        rows: &mut [(&str, &mut dyn FnMut(usize))],
        units: usize,
        turn: usize,
        scale: f64,
    ) {
        let mut cpu = vec![0.0; rows.len()];
        let mut done = 0;
        while done < units {
            let n = turn.min(units - done);
            for i in util::order(rows.len(), self.rep) {
                let (key, one) = &mut rows[i];
                if self.want(key) {
                    let ((), s) = measure(|| one(n));
                    cpu[i] += s;
                }
            }
            done += n;
        }
        for (i, (key, _)) in rows.iter().enumerate() {
            if self.want(key) {
                self.samples
                    .entry(key.to_string())
                    .or_default()
                    .push(units as f64 * scale / cpu[i]);
            }
        }
    }

    /// Bulk transfers of `data`, one per wanted row, started (handshake
    /// included) and then advanced `steps` times in turns; records MB per
    /// CPU-second of each.
    fn run_bulk<'a>(
        &mut self,
        starts: &mut [(String, StartBulk<'a>)],
        data: &bytes::Bytes,
        steps: usize,
    ) {
        let mut runs: Vec<(String, Box<dyn BulkRun + 'a>, f64)> = Vec::new();
        for i in util::order(starts.len(), self.rep) {
            let (key, start) = &mut starts[i];
            if self.want(key) {
                let (run, s) = measure(start);
                runs.push((key.clone(), run, s));
            }
        }
        for step in 1..=steps {
            let target = data.len() * step / steps;
            for (_, run, cpu) in runs.iter_mut() {
                let (_, s) = measure(|| run.pump(data, target));
                *cpu += s;
            }
        }
        for (key, mut run, cpu) in runs {
            assert_eq!(
                run.pump(data, data.len()),
                data.len(),
                "{key}: all bytes arrived"
            );
            self.samples
                .entry(key.to_string())
                .or_default()
                .push(data.len() as f64 / 1e6 / cpu);
        }
    }

    /// Runs aioquic's script with `args`, which must do `units` of work;
    /// records them times `scale` per CPU-second of the script's own
    /// measurement.
    fn run_aioquic(&mut self, key: &str, certs: &str, args: &[&str], units: usize, scale: f64) {
        if self.want(key) {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let r = aioquic_drv::run(certs, &args);
            assert_eq!(r.units, units as f64, "{key}: all the work was done");
            self.samples
                .entry(key.into())
                .or_default()
                .push(r.units * scale / r.cpu);
        }
    }
}

fn main() {
    if memory_rows::is_child() {
        memory_rows::child_main();
        return;
    }
    let certs = util::cert_dir();
    let mb = env_usize("BENCH_MB", 200);
    let handshakes = env_usize("BENCH_HANDSHAKES", 1000);
    let streams = env_usize("BENCH_STREAMS", 10_000);
    let data: bytes::Bytes = (0..mb << 20)
        .map(|i| (i * 7 + (i >> 12)) as u8)
        .collect::<Vec<u8>>()
        .into();
    let (lc, ls) = libquic_drv::configs(&certs);
    let (lc, ls) = (std::sync::Arc::new(lc), std::sync::Arc::new(ls));
    let ctls = quic::tls::TlsContext::new(&lc).unwrap();
    let stls = quic::tls::TlsContext::new(&ls).unwrap();
    let qcfg = quinn_drv::configs(&certs);
    let lib_cfg = endpoints::LibConfigs {
        c: lc.clone(),
        s: ls.clone(),
        ctls: ctls.clone(),
        stls: stls.clone(),
    };
    // The same with a qlog trace of every connection written to a file
    // (libquic_drv::qlog_to_files).
    let (lc_q, ls_q) = libquic_drv::with_qlog(&lc, &ls);
    let ccfg = cabi_drv::Configs::new(&certs);
    let tls_ceiling = ceilings::Handshakes::new(&certs);
    // The same with session tickets on, and a ticket to resume with.
    let (lc_t, ls_t) = {
        let (mut c, mut s) = libquic_drv::configs(&certs);
        c.set_session_tickets(true);
        s.set_session_tickets(true);
        (std::sync::Arc::new(c), std::sync::Arc::new(s))
    };
    let ctls_t = quic::tls::TlsContext::new(&lc_t).unwrap();
    let stls_t = quic::tls::TlsContext::new(&ls_t).unwrap();
    let ticket = libquic_drv::Pair::new(&lc_t, &ls_t, &ctls_t, &stls_t).ticket(32);
    let tls_resumed = ceilings::ResumedHandshakes::new(&certs);

    let mut b = Rows::new();
    for rep in 0..REPS {
        eprintln!("run {}/{REPS}", rep + 1);
        b.rep = rep;
        for batch in [2usize, 32] {
            // The stacks' transfers advance in turns of a twentieth of the
            // data, so a slow spell of the shared machine hits all alike.
            let mut starts: [(String, StartBulk); 9] = [
                (
                    format!("bulk/{batch}/libquic-rust"),
                    Box::new(|| Box::new(libquic_drv::Bulk::start(&lc, &ls, &ctls, &stls, batch))),
                ),
                (
                    format!("bulk/{batch}/libquic-rust-owned"),
                    Box::new(|| {
                        Box::new(libquic_drv::Bulk::start_owned(
                            &lc, &ls, &ctls, &stls, batch,
                        ))
                    }),
                ),
                (
                    format!("bulk/{batch}/libquic-rust-qlog"),
                    Box::new(|| {
                        Box::new(libquic_drv::Bulk::start(&lc_q, &ls_q, &ctls, &stls, batch))
                    }),
                ),
                (
                    format!("bulk/{batch}/libquic-rust-1KB-writes"),
                    Box::new(|| {
                        Box::new(libquic_drv::Bulk::start_with_writes(
                            &lc, &ls, &ctls, &stls, batch, 1024,
                        ))
                    }),
                ),
                (
                    format!("bulk/{batch}/libquic-c"),
                    Box::new(|| Box::new(cabi_drv::Bulk::start(&ccfg, batch))),
                ),
                (
                    format!("bulk/{batch}/libquic-c-owned"),
                    Box::new(|| Box::new(cabi_drv::Bulk::start_owned(&ccfg, batch))),
                ),
                (
                    format!("bulk/{batch}/quinn-proto"),
                    Box::new(|| Box::new(quinn_drv::Bulk::start(&qcfg, batch))),
                ),
                (
                    format!("bulk/{batch}/quinn-proto-owned"),
                    Box::new(|| Box::new(quinn_drv::Bulk::start_owned(&qcfg, batch))),
                ),
                // The rows' "vs ceiling", taking turns with them.
                (
                    format!("bulk/{batch}/openssl-aead-ceiling"),
                    Box::new(|| Box::new(ceilings::AeadBulk::start())),
                ),
            ];
            b.run_bulk(&mut starts, &data, 20);
            if batch == 32 {
                // The second link model: 1 ms of virtual time per turn,
                // whatever moved (util::set_tick), against which pacing
                // tuned to the usual model would show.
                let mut ticked: [(String, StartBulk); 2] = [
                    (
                        "bulk/32-1ms/libquic-rust".into(),
                        Box::new(|| Box::new(libquic_drv::Bulk::start(&lc, &ls, &ctls, &stls, 32))),
                    ),
                    (
                        "bulk/32-1ms/quinn-proto".into(),
                        Box::new(|| Box::new(quinn_drv::Bulk::start(&qcfg, 32))),
                    ),
                ];
                util::set_tick(1_000_000);
                b.run_bulk(&mut ticked, &data, 20);
                util::set_tick(0);
            }
            b.run_aioquic(
                &format!("bulk/{batch}/aioquic"),
                &certs,
                &["bulk", &batch.to_string(), &data.len().to_string()],
                data.len(),
                1e-6,
            );
        }
        let packets = data.len() / 1319;
        // The packet layers alone, taking turns every 4000 packets.
        let payload = ceilings::PAYLOAD;
        let check = |got: usize, n: usize| assert_eq!(got, n * payload, "every packet opened");
        // Where the from-memory row reads next in the data (each pass reads
        // it once, in order).
        let mut read_at = 0;
        // The moving-bytes row's own place in the data, and the receive
        // buffer it opens into (the size of libquic's in-order buffer).
        let (mut move_at, mut ring, mut ring_at) = (0, vec![0u8; 64 * 1024], 0);
        b.run_alternating(
            &mut [
                ("bulk/-/openssl-aead-ceiling", &mut |n| {
                    check(ceilings::aead(n), n)
                }),
                ("bulk/-/openssl-aead-from-memory", &mut |n| {
                    check(ceilings::aead_from(n, &data, &mut read_at), n)
                }),
                ("bulk/-/openssl-aead-moving-bytes", &mut |n| {
                    let got =
                        ceilings::aead_moving(n, &data, &mut move_at, &mut ring, &mut ring_at);
                    check(got, n)
                }),
                ("bulk/-/ring-aead-ceiling", &mut |n| {
                    check(ceilings::ring_aead(n), n)
                }),
                ("bulk/-/libquic-packet-layer", &mut |n| {
                    check(ceilings::libquic_packets(n), n)
                }),
            ],
            packets,
            4000,
            payload as f64 / 1e6,
        );
        // What a peer's frame order costs the receiver.
        let windows = env_usize("BENCH_REASSEMBLY_MB", 16);
        b.run_alternating(
            &mut [
                ("reassembly/in-order-1KB-frames", &mut |n| {
                    assert_eq!(
                        reassembly::run(reassembly::Order::InOrder1K, n, &data),
                        n << 20
                    )
                }),
                ("reassembly/in-order-1B-frames", &mut |n| {
                    assert_eq!(
                        reassembly::run(reassembly::Order::InOrder1, n, &data),
                        n << 20
                    )
                }),
                ("reassembly/reversed-1B-frames", &mut |n| {
                    assert_eq!(
                        reassembly::run(reassembly::Order::Reversed1, n, &data),
                        n << 20
                    )
                }),
            ],
            windows,
            1,
            1.0,
        );
        let n = streams as f64;
        b.run("streams/libquic-rust", n, &mut || {
            let mut p = libquic_drv::Pair::new(&lc, &ls, &ctls, &stls);
            p.handshake(32);
            p.streams(streams as u64, 1024, 32) as f64
        });
        b.run("streams/libquic-c", n, &mut || {
            let mut p = cabi_drv::Pair::new(&ccfg, 32);
            p.handshake();
            p.streams(streams as u64, 1024) as f64
        });
        b.run("streams/quinn-proto", n, &mut || {
            let mut p = quinn_drv::Pair::new(&qcfg);
            p.handshake(32);
            p.streams(streams as u64, 1024, 32) as f64
        });
        b.run_aioquic(
            "streams/aioquic",
            &certs,
            &["streams", "32", &streams.to_string(), "1024"],
            streams,
            1.0,
        );
        // Handshakes are short: the stacks take turns every 50 so that a
        // slow spell of this shared machine falls on all of them alike.
        // quinn-proto's pairs route through an endpoint on each side;
        // libquic-rust's connections talk directly, libquic-endpoints
        // routes through an endpoint on each side as quinn-proto does
        // (the like-for-like row).
        let mut libquic = |n| {
            for _ in 0..n {
                libquic_drv::Pair::new(&lc, &ls, &ctls, &stls).handshake(32);
            }
        };
        let mut lib_endpoints = |n| (0..n).for_each(|_| endpoints::LibFleet::handshake(&lib_cfg));
        let mut cabi = |n| (0..n).for_each(|_| cabi_drv::Pair::new(&ccfg, 32).handshake());
        let mut quinn = |n| (0..n).for_each(|_| quinn_drv::Pair::new(&qcfg).handshake(32));
        let mut ceiling = |n| (0..n).for_each(|_| tls_ceiling.one());
        b.run_alternating(
            &mut [
                ("handshakes/libquic-rust", &mut libquic),
                ("handshakes/libquic-endpoints", &mut lib_endpoints),
                ("handshakes/libquic-c", &mut cabi),
                ("handshakes/quinn-proto", &mut quinn),
                ("handshakes/openssl-tls-ceiling", &mut ceiling),
            ],
            handshakes,
            50,
            1.0,
        );
        // Connections through an endpoint on each side, both stacks: 100
        // at a time from one client endpoint to one server endpoint, each
        // a full handshake, a 1 KB request and answer, and a close, until
        // both endpoints let it go (endpoints.rs says what each does).
        let mut lib_fleet = |n| {
            let answered = endpoints::LibFleet::round(&lib_cfg, n);
            assert_eq!(answered, n, "libquic: every connection answered");
        };
        let mut quinn_fleet = |n| {
            let answered = endpoints::QuinnFleet::round(&qcfg, n);
            assert_eq!(answered, n, "quinn-proto: every connection answered");
        };
        b.run_alternating(
            &mut [
                ("endpoints/libquic-rust", &mut lib_fleet),
                ("endpoints/quinn-proto", &mut quinn_fleet),
            ],
            handshakes,
            100,
            1.0,
        );
        // Resumed handshakes: libquic against OpenSSL's own resumption
        // (both servers issue two tickets per handshake; one stateless
        // ticket is resumed every time). quinn-proto has no row: it does not
        // tell whether it resumed, so a silent full handshake could not be
        // told apart.
        let mut libquic_resumed = |n| {
            for _ in 0..n {
                libquic_drv::Pair::resuming(&lc_t, &ls_t, &ctls_t, &stls_t, &ticket)
                    .resumed_handshake(32);
            }
        };
        let mut ceiling_resumed = |n| (0..n).for_each(|_| tls_resumed.one());
        b.run_alternating(
            &mut [
                ("handshakes-resumed/libquic-rust", &mut libquic_resumed),
                (
                    "handshakes-resumed/openssl-tls-ceiling",
                    &mut ceiling_resumed,
                ),
            ],
            handshakes,
            50,
            1.0,
        );
        b.run_aioquic(
            "handshakes/aioquic",
            &certs,
            &["handshakes", "32", &handshakes.to_string()],
            handshakes,
            1.0,
        );
    }

    // Bulk under loss: goodput in virtual time over the simulated path.
    let loss_rows = if b.want("loss") {
        lossy::rows(&certs)
    } else {
        Vec::new()
    };

    // Memory per idle connection: BENCH_CONNS established pairs held at
    // once, measured in a child process of its own (memory_rows.rs), so
    // that the allocation counting and OpenSSL's malloc hooks never run
    // while CPU is timed here.
    let conns = env_usize("BENCH_CONNS", 1000);
    let report = if b.want("memory") {
        memory_rows::in_child()
    } else {
        memory_rows::Report::default()
    };
    let memory_rows = report.rows;
    let openssl_counted = report.openssl_counted;
    // The timers at scale: BENCH_ENDPOINT_CONNS idle pairs (10,000 by
    // default) through one endpoint per side, each stack's clock run until
    // every connection timed out and both endpoints let it go; CPU time
    // per connection, measured once (making the fleets is not timed).
    let expiry = b.want("timers").then(|| {
        let many = env_usize("BENCH_ENDPOINT_CONNS", 10_000);
        let lib_100 = endpoints::LibConfigs::with_streams(&certs, 100);
        let fleet = endpoints::LibFleet::held(&lib_100, many);
        let ((), lib) = util::measure(|| fleet.expire());
        let q = quinn_drv::configs_with_streams(&certs, 100);
        let fleet = endpoints::QuinnFleet::held(&q, many);
        let ((), quinn) = util::measure(|| fleet.expire());
        (many, lib, quinn)
    });

    // Over real UDP on loopback: the examples against quinn on tokio,
    // two processes each, BENCH_UDP_MB per download (udp_row.rs says
    // what each side does).
    let udp = b.want("udp").then(|| {
        let build =
            std::path::PathBuf::from(std::env::var("BUILD").unwrap_or_else(|_| "../build".into()));
        let quinn_hq = std::env::current_exe().unwrap().with_file_name("quinn-hq");
        udp_row::run(
            &build,
            &quinn_hq,
            &certs,
            env_usize("BENCH_UDP_MB", 1024),
            env_usize("BENCH_UDP_REPS", 3),
        )
    });

    let sum: BTreeMap<String, Summary> = b
        .samples
        .iter()
        .map(|(k, v)| (k.clone(), summarize(v)))
        .collect();
    let get = |k: &str| sum.get(k).map(|s| s.median).unwrap_or(f64::NAN);
    println!("\nlibquic benchmark: {mb} MB bulk, {handshakes} handshakes, {REPS} interleaved runs, CPU time");
    println!(
        "{:<40} {:>12} {:>21} {:>10} {:>10} {:>10}",
        "workload / stack", "median", "min-max", "CPU-s/GB", "vs quinn", "vs ceiling"
    );
    for (k, s) in &sum {
        let (unit_gb, quinn, ceiling) = if k.starts_with("bulk") {
            let batch = k.split('/').nth(1).unwrap_or("-");
            // The ceiling that took turns with the row, where there is one.
            let interleaved = get(&format!("bulk/{batch}/openssl-aead-ceiling"));
            (
                format!("{:.2}", 1000.0 / s.median),
                get(&format!("bulk/{batch}/quinn-proto")),
                if interleaved.is_finite() {
                    interleaved
                } else {
                    get("bulk/-/openssl-aead-ceiling")
                },
            )
        } else if k.starts_with("endpoints") {
            ("-".into(), get("endpoints/quinn-proto"), f64::NAN)
        } else if k.starts_with("streams") {
            ("-".into(), get("streams/quinn-proto"), f64::NAN)
        } else if k.starts_with("handshakes-resumed") {
            // Against OpenSSL's own resumption; quinn-proto has no row.
            (
                "-".into(),
                f64::NAN,
                get("handshakes-resumed/openssl-tls-ceiling"),
            )
        } else if k.starts_with("reassembly") {
            // "vs ceiling": against the same bytes as 1-byte frames in order.
            (
                format!("{:.2}", 1000.0 / s.median),
                f64::NAN,
                get("reassembly/in-order-1B-frames"),
            )
        } else {
            (
                "-".into(),
                get("handshakes/quinn-proto"),
                get("handshakes/openssl-tls-ceiling"),
            )
        };
        let ratio = |r: f64| {
            if r.is_finite() {
                format!("{r:.2}")
            } else {
                "-".to_string()
            }
        };
        println!(
            "{:<40} {:>12.1} {:>10.1}-{:<10.1} {:>10} {:>10} {:>10}",
            k,
            s.median,
            s.min,
            s.max,
            unit_gb,
            ratio(s.median / quinn),
            ratio(s.median / ceiling)
        );
    }
    println!("(bulk: payload MB per CPU-second; handshakes and 1 KB request/response streams: per CPU-second)");
    println!("(reassembly: MB per CPU-second through one stream's receive half; its \"vs ceiling\" is against");
    println!(" 1-byte frames in order, so reversed-1B-frames shows what the reverse order costs)");
    println!("(ceilings: AES-128-GCM seal + open + 2 header-protection masks per 1350-byte packet through");
    println!(" OpenSSL's EVP, and through ring, quinn-proto's crypto here; a full TLS 1.3 handshake with");
    println!(
        " OpenSSL alone over memory pipes; openssl-aead-from-memory: the same, each payload sealed"
    );
    println!(
        " from the benchmark's data in order, as a sender reads it, instead of from the packet;"
    );
    println!(" openssl-aead-moving-bytes: that, each payload also opened into a 64 KiB ring, as a");
    println!(" receiver's stream buffer keeps it (a diagnostic: what moving the bytes costs);");
    println!(
        " the bulk/2/ and bulk/32/ rows are set against bulk/N/openssl-aead-ceiling, the same"
    );
    println!(
        " ceiling taking turns with them; the other bulk rows against bulk/-/openssl-aead-ceiling)"
    );
    println!("\nmemory per established idle connection ({conns} pairs held at once):");
    println!("{:<30} {:>14} {:>14}", "stack@stream limit", "heap", "RSS");
    for (stack, heap, rss) in &memory_rows {
        println!(
            "{:<30} {:>11.1} KB {:>11.1} KB",
            stack,
            heap / 1024.0,
            rss / 1024.0
        );
    }
    println!(
        "(heap: live bytes from Rust's allocator{}, for aioquic from Python's (tracemalloc); RSS is noisy",
        if openssl_counted {
            " and OpenSSL's"
        } else {
            " only: OpenSSL's hooks were refused"
        }
    );
    println!(
        " as freed memory is reused; the C ABI pairs share one configuration, as the Rust ones do)"
    );
    if let Some((n, lib, quinn)) = expiry {
        println!(
            "idle timeout of {n} connection pairs held through endpoints, CPU per connection: \
             libquic {:.2} us, quinn-proto {:.2} us ({:.2}x quinn-proto's time)",
            lib * 1e6 / (2 * n) as f64,
            quinn * 1e6 / (2 * n) as f64,
            lib / quinn
        );
    }
    if let Some(udp) = &udp {
        let med = |v: &[f64]| summarize(v).median;
        let stat = |name: &str| {
            let s = &udp.samples.iter().find(|(n, _)| *n == name).unwrap().1;
            let wall = med(&s.iter().map(|x| x.wall).collect::<Vec<_>>());
            let cpu = med(&s.iter().map(|x| x.cpu).collect::<Vec<_>>());
            let rate = med(&s.iter().map(|x| udp.mb as f64 / x.cpu).collect::<Vec<_>>());
            (wall, cpu, rate, s.len())
        };
        let (qwall, _, qrate, _) = stat("quinn");
        println!(
            "\nUDP loopback: {} MB download between two processes per stack (median of runs):",
            udp.mb
        );
        println!(
            "{:<18} {:>8} {:>14} {:>14} {:>16} {:>14}",
            "stack", "wall s", "CPU s (both)", "MB per CPU-s", "vs quinn (MB/s)", "wall vs quinn"
        );
        for (name, _) in &udp.samples {
            let (wall, cpu, rate, n) = stat(name);
            println!(
                "{:<18} {:>8.2} {:>14.2} {:>14.0} {:>16.2} {:>14.2}   ({n} runs)",
                name,
                wall,
                cpu,
                rate,
                rate / qrate,
                wall / qwall
            );
        }
        println!(
            "(libquic: quic-server and quic-client; no-gso: both with --no-gso; quinn: quinn-hq on"
        );
        println!(
            " tokio, current-thread; CPU: user + system of both processes from wait4; udp_row.rs)"
        );
    }
    if !loss_rows.is_empty() {
        println!(
            "\nbulk under loss: {} MB download, 10 ms RTT, 100 Mbit/s bottleneck, 256 KB queue,",
            lossy::MB
        );
        println!("random loss both ways; goodput in virtual time (median of {} seeds); CPU-seconds per GB", lossy::SEEDS);
        println!("of both ends and the simulated path");
        println!(
            "{:<22} {:>14} {:>14} {:>10} {:>12} {:>12}",
            "loss / controller",
            "libquic Mbit/s",
            "quinn Mbit/s",
            "vs quinn",
            "libquic CPU",
            "quinn CPU"
        );
        for r in &loss_rows {
            println!(
                "{:<22} {:>14.1} {:>14.1} {:>10.2} {:>10.1} s {:>10.1} s",
                format!("{:.0}% / {}", r.loss * 100.0, r.cc.name()),
                r.libquic,
                r.quinn,
                r.libquic / r.quinn,
                r.libquic_cpu_gb,
                r.quinn_cpu_gb
            );
        }
    }
    let mut json = String::from("{");
    for (i, (k, s)) in sum.iter().enumerate() {
        let _ = write!(
            json,
            "{}\"{k}\":{{\"median\":{:.3},\"min\":{:.3},\"max\":{:.3}}}",
            if i > 0 { "," } else { "" },
            s.median,
            s.min,
            s.max
        );
    }
    if !sum.is_empty() {
        json.push(',');
    }
    json.push_str("\"memory_per_conn\":{");
    for (i, (stack, heap, rss)) in memory_rows.iter().enumerate() {
        let _ = write!(
            json,
            "{}\"{stack}\":{{\"heap\":{heap:.0},\"rss\":{rss:.0}}}",
            if i > 0 { "," } else { "" }
        );
    }
    json.push('}');
    if let Some(udp) = &udp {
        json.push_str(",\"udp_loopback\":{");
        for (i, (name, samples)) in udp.samples.iter().enumerate() {
            let med = |f: &dyn Fn(&udp_row::Sample) -> f64| {
                summarize(&samples.iter().map(f).collect::<Vec<_>>()).median
            };
            let _ = write!(
                json,
                "{}\"{name}\":{{\"wall_s\":{:.3},\"cpu_s\":{:.3},\"mb_per_cpu_s\":{:.1}}}",
                if i > 0 { "," } else { "" },
                med(&|x| x.wall),
                med(&|x| x.cpu),
                med(&|x| udp.mb as f64 / x.cpu)
            );
        }
        json.push('}');
    }
    json.push('}');
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("compare.json"), json + "\n");
}
