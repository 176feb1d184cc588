//! Measurement helpers: process CPU time and summaries.

use std::time::Duration;

/// Process CPU time (user + system), the figure reported everywhere: these
/// machines are shared, so wall time would measure the neighbours.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU seconds taken by `f`.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = cpu_time();
    let out = f();
    (out, (cpu_time() - start).as_secs_f64())
}

/// Median, min and max of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(samples: &[f64]) -> Summary {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    Summary {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

/// Where the benchmark certificates are (tests/make-certs.sh output).
pub fn cert_dir() -> String {
    std::env::var("CERT_DIR").unwrap_or_else(|_| "build/certs".into())
}
