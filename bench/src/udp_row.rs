//! The UDP loopback row: a BENCH_UDP_MB download (1024 MB by default)
//! over real UDP on 127.0.0.1, between two processes, for each stack:
//!
//! - libquic: the examples, `quic-server` and `quic-client` (one thread
//!   each; recvmmsg + UDP_GRO in, sendmmsg + UDP_SEGMENT out, ECN, PMTU
//!   discovery up to 1452 bytes);
//! - libquic-no-gso: the same with `--no-gso` on both (one datagram per
//!   buffer, still several buffers per sendmmsg / recvmmsg), to show what
//!   GSO/GRO gain;
//! - quinn: `quinn-hq` (src/bin/quinn-hq.rs), quinn 0.11 on a
//!   current-thread tokio runtime with quinn-udp's GSO, GRO and ECN, PMTU
//!   discovery up to 1452 bytes.
//!
//! Both run CUBIC, read the same file from the page cache and write it to
//! a file in /dev/shm (tmpfs), with flow-control limits of 16 MB per
//! stream and 24 MB per connection. Each run is a full handshake and one
//! stream. Measured per run: the client's wall time, and the CPU time
//! (user + system) of both processes from wait4; the rows take turns in
//! a different order each repetition. Nothing else runs in either
//! process: the bench itself only waits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One download: wall time of the client, CPU of client and server.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: f64,
    pub cpu: f64,
}

/// What the row measures: each stack's samples.
pub struct Rows {
    pub mb: usize,
    pub samples: Vec<(&'static str, Vec<Sample>)>,
}

fn rusage_cpu(r: &libc::rusage) -> f64 {
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

/// Waits for `pid` and returns its exit status and CPU time.
fn reap(pid: u32) -> (i32, f64) {
    let mut status = 0;
    // SAFETY: plain data; all-zero is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped; the pointers are valid.
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as i32, "wait4");
    (status, rusage_cpu(&usage))
}

/// Starts a server command that prints "listening on ADDR:PORT" first;
/// returns its pid and port.
// Reaped by `reap` (wait4, for its CPU time), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn start_server(mut cmd: Command) -> (u32, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("server says where it listens");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child.id(), port)
}

/// Runs the client against a started server, then stops the server;
/// checks the file arrived whole.
// Both processes are reaped by `reap` (wait4), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn download(
    server: (u32, u16),
    client: impl FnOnce(u16) -> Command,
    out: &Path,
    mb: usize,
) -> Sample {
    let (spid, port) = server;
    let _ = std::fs::remove_file(out.join("bench.bin"));
    let start = Instant::now();
    let child = client(port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("client starts");
    let (status, client_cpu) = reap(child.id());
    let wall = start.elapsed().as_secs_f64();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(spid as i32, libc::SIGTERM) };
    let (_, server_cpu) = reap(spid);
    assert_eq!(status, 0, "the client succeeded");
    let got = std::fs::metadata(out.join("bench.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(got, (mb as u64) << 20, "the whole file arrived");
    Sample {
        wall,
        cpu: client_cpu + server_cpu,
    }
}

/// Runs the row `reps` times per stack; `build` holds the examples,
/// `quinn_hq` is the quinn binary.
pub fn run(build: &Path, quinn_hq: &Path, certs: &str, mb: usize, reps: usize) -> Rows {
    let root = PathBuf::from("/dev/shm/libquic-bench-udp");
    let (www, out) = (root.join("www"), root.join("out"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let file = www.join("bench.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some((mb as u64) << 20) {
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|i: usize| (i * 7 + (i >> 9)) as u8)
            .collect();
        let mut f = std::fs::File::create(&file).unwrap();
        for _ in 0..mb {
            std::io::Write::write_all(&mut f, &chunk).unwrap();
        }
    }
    let (cert, key, ca) = (
        format!("{certs}/server.pem"),
        format!("{certs}/server.key"),
        format!("{certs}/ca.pem"),
    );
    let mut rows = Rows {
        mb,
        samples: vec![
            ("libquic", vec![]),
            ("libquic-no-gso", vec![]),
            ("quinn", vec![]),
        ],
    };
    for rep in 0..reps {
        for i in super::util::order(rows.samples.len(), rep) {
            let name = rows.samples[i].0;
            let sample = match name {
                "quinn" => {
                    let mut s = Command::new(quinn_hq);
                    s.args(["server", "127.0.0.1:0", &cert, &key, www.to_str().unwrap()]);
                    download(
                        start_server(s),
                        |port| {
                            let mut c = Command::new(quinn_hq);
                            c.args(["client", &ca, out.to_str().unwrap()])
                                .arg(format!("127.0.0.1:{port}"))
                                .arg("bench.bin");
                            c
                        },
                        &out,
                        mb,
                    )
                }
                _ => {
                    let extra: &[&str] = if name == "libquic" {
                        &[]
                    } else {
                        &["--no-gso"]
                    };
                    let mut s = Command::new(build.join("quic-server"));
                    s.args(["--listen", "127.0.0.1:0", "--cert", &cert, "--key", &key])
                        .args(["--root", www.to_str().unwrap()])
                        .args(extra);
                    download(
                        start_server(s),
                        |port| {
                            let mut c = Command::new(build.join("quic-client"));
                            c.args(["--ca", &ca, "--output", out.to_str().unwrap()])
                                .args(extra)
                                .arg(format!("https://127.0.0.1:{port}/bench.bin"));
                            c
                        },
                        &out,
                        mb,
                    )
                }
            };
            rows.samples[i].1.push(sample);
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    rows
}
