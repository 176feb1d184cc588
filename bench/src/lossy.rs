//! Bulk under loss: a download over a simulated path (`tests/netsim`: 10 ms
//! RTT, a 100 Mbit/s bottleneck with a 256 KB queue, seeded random loss
//! both ways) by libquic and by quinn-proto, each with the same congestion
//! controller. Goodput is in virtual time, so it measures the stacks' loss
//! recovery and congestion control, not the machine; CPU is measured too.
//! What each driver does is said in `netsim::download`.

use std::sync::Arc;

use netsim::download::{lossy_path, run, run_watched, Download};
use netsim::libquic_host::LibquicDownload;
use netsim::quinn_host::QuinnDownload;

use crate::util::{measure, summarize};
use crate::{libquic_drv, quinn_drv};

/// Megabytes each download moves, and the seeds per row.
pub const MB: usize = 5;
pub const SEEDS: u64 = 9;

/// The congestion controller both stacks use in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cc {
    NewReno,
    Cubic,
}

impl Cc {
    pub fn name(self) -> &'static str {
        match self {
            Cc::NewReno => "newreno",
            Cc::Cubic => "cubic",
        }
    }
}

/// One row of the bulk-under-loss table.
pub struct LossRow {
    pub loss: f64,
    pub cc: Cc,
    /// Median goodput, Mbit/s of virtual time.
    pub libquic: f64,
    pub quinn: f64,
    /// CPU-seconds per GB moved.
    pub libquic_cpu_gb: f64,
    pub quinn_cpu_gb: f64,
}

/// Runs one download; its goodput and the CPU it took.
fn one(name: &str, d: &mut dyn Download, loss: f64, seed: u64, size: usize) -> (f64, f64) {
    let (outcome, cpu) = measure(|| run(d, lossy_path(loss, seed), size));
    let outcome = outcome.unwrap_or_else(|| panic!("{name}: the download did not finish"));
    (outcome.mbit_per_s(size), cpu)
}

/// With BENCH_LOSS_TRACE set, libquic's first run of each row prints its
/// sender's state once per virtual second (outside the CPU measurement):
/// window, bytes in flight, losses found by the packet and the time
/// threshold, PTOs, congestion events, persistent congestion, spurious
/// losses, and the time it had nothing in flight.
fn trace(
    c: (&Arc<quic::config::Config>, &Arc<quic::tls::TlsContext>),
    s: (&Arc<quic::config::Config>, &Arc<quic::tls::TlsContext>),
    body: &Arc<[u8]>,
    loss: f64,
    label: &str,
) {
    let size = body.len();
    let mut d = LibquicDownload::new(c, s, body.clone());
    let (mut next, mut last, mut idle) = (1_000_000_000u64, 0u64, 0u64);
    eprintln!("trace {label}: t cwnd in-flight lost-by-pn lost-by-time ptos cong-events persistent spurious idle-ms");
    let watch = |d: &LibquicDownload, now: u64| {
        let Some(conn) = d.server() else { return };
        let st = conn.stats();
        if st.bytes_in_flight == 0 {
            idle += now - last;
        }
        last = now;
        if now >= next {
            let r = conn.recovery_stats();
            eprintln!(
                "trace {label}: {:>3}s {:>8} {:>8} {:>6} {:>6} {:>5} {:>5} {:>3} {:>5} {:>6}",
                now / 1_000_000_000,
                st.cwnd,
                st.bytes_in_flight,
                r.lost_by_packet_threshold,
                r.lost_by_time_threshold,
                r.probe_timeouts,
                r.congestion_events,
                r.persistent_congestion,
                st.spurious_losses,
                idle / 1_000_000
            );
            idle = 0;
            next += 1_000_000_000;
        }
    };
    run_watched(&mut d, lossy_path(loss, 1), size, watch).expect("the traced download finished");
}

/// The loss rates of the rows: 1%, 5%, 10% and 30%, or BENCH_LOSS_RATES
/// (comma-separated fractions, as "0.3") to look at one case.
fn loss_rates() -> Vec<f64> {
    match std::env::var("BENCH_LOSS_RATES") {
        Ok(list) => list
            .split(',')
            .map(|r| {
                r.trim()
                    .parse()
                    .expect("BENCH_LOSS_RATES: fractions such as 0.3")
            })
            .collect(),
        Err(_) => vec![0.01, 0.05, 0.10, 0.30],
    }
}

/// libquic and quinn-proto, the same controller on both, at each loss
/// rate, seed by seed in turn.
pub fn rows(certs: &str) -> Vec<LossRow> {
    let size = MB << 20;
    let body: Arc<[u8]> = (0..size).map(|i| (i * 7) as u8).collect();
    let mut rows = Vec::new();
    for cc in [Cc::Cubic, Cc::NewReno] {
        let (mut c, mut s) = libquic_drv::configs(certs);
        let algorithm = match cc {
            Cc::Cubic => quic::recovery::congestion::Algorithm::Cubic,
            Cc::NewReno => quic::recovery::congestion::Algorithm::NewReno,
        };
        c.set_congestion_control(algorithm);
        s.set_congestion_control(algorithm);
        let (c, s) = (Arc::new(c), Arc::new(s));
        let (ct, st) = (
            quic::tls::TlsContext::new(&c).unwrap(),
            quic::tls::TlsContext::new(&s).unwrap(),
        );
        let q = quinn_drv::configs_with(certs, 1000, cc);
        for loss in loss_rates() {
            if std::env::var_os("BENCH_LOSS_TRACE").is_some() {
                let label = format!("{:.0}%/{}", loss * 100.0, cc.name());
                trace((&c, &ct), (&s, &st), &body, loss, &label);
                let mut d = QuinnDownload::new(&q.client, &q.server, body.clone());
                run(&mut d, lossy_path(loss, 1), size).expect("quinn-proto's download finished");
                let st = d.server().expect("accepted").stats();
                eprintln!(
                    "trace {label} quinn-proto at the end: cwnd {} lost {} of {} packets, {} congestion events, rtt {:?}, {} PINGs",
                    st.path.cwnd,
                    st.path.lost_packets,
                    st.path.sent_packets,
                    st.path.congestion_events,
                    st.path.rtt,
                    st.frame_tx.ping
                );
            }
            let (mut lg, mut qg) = (Vec::new(), Vec::new());
            let (mut lcpu, mut qcpu) = (0.0, 0.0);
            for seed in 1..=SEEDS {
                let mut d = LibquicDownload::new((&c, &ct), (&s, &st), body.clone());
                let (g, cpu) = one("libquic", &mut d, loss, seed, size);
                lg.push(g);
                lcpu += cpu;
                let mut d = QuinnDownload::new(&q.client, &q.server, body.clone());
                let (g, cpu) = one("quinn-proto", &mut d, loss, seed, size);
                qg.push(g);
                qcpu += cpu;
            }
            let gb = (size as f64 * SEEDS as f64) / 1e9;
            rows.push(LossRow {
                loss,
                cc,
                libquic: summarize(&lg).median,
                quinn: summarize(&qg).median,
                libquic_cpu_gb: lcpu / gb,
                quinn_cpu_gb: qcpu / gb,
            });
        }
    }
    rows
}
