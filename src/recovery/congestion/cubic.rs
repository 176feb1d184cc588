//! CUBIC (RFC 9438), in bytes, with the Reno-friendly region (§4.3) and
//! fast convergence (§4.7).

use super::{initial_window, minimum_window};

/// C (RFC 9438 §5.1): 0.4 segments per second cubed.
pub const C: f64 = 0.4;
/// β_cubic (RFC 9438 §4.6): the window after a congestion event is 0.7 of
/// the window before it.
pub const BETA: f64 = 0.7;

/// CUBIC state.
#[derive(Debug, Clone)]
pub struct Cubic {
    pub(super) mds: u64,
    cwnd: u64,
    /// Slow start threshold.
    pub ssthresh: u64,
    recovery_start: Option<u64>,
    /// W_max in bytes: the window before the last reduction.
    pub w_max: f64,
    /// K in seconds: when W_cubic returns to W_max.
    pub k: f64,
    /// Start of the current avoidance epoch (ns): the congestion event,
    /// or the first acknowledgement in avoidance without one.
    epoch_start: Option<u64>,
    /// The window when the epoch started, in bytes: where W_est starts.
    w_est_start: f64,
    /// The window before the last reduction, in bytes: past it, W_est
    /// grows like Reno's (α = 1, RFC 9438 §4.3).
    prior_cwnd: f64,
}

impl Cubic {
    /// Fresh state for datagrams of `mds` bytes.
    pub fn new(mds: u64) -> Self {
        Self {
            mds,
            cwnd: initial_window(mds),
            ssthresh: u64::MAX,
            recovery_start: None,
            w_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est_start: 0.0,
            prior_cwnd: 0.0,
        }
    }

    /// Congestion window.
    pub fn window(&self) -> u64 {
        self.cwnd
    }

    /// When the current (or last) recovery period started.
    pub(super) fn recovery_start(&self) -> Option<u64> {
        self.recovery_start
    }

    fn in_recovery(&self, time_sent: u64) -> bool {
        self.recovery_start.is_some_and(|r| time_sent <= r)
    }

    /// W_cubic(t) (RFC 9438 §4.2, Figure 1), in bytes, t in seconds since
    /// the epoch started.
    pub fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) * self.mds as f64 + self.w_max
    }

    /// W_est, the Reno-friendly window, `t` seconds into the epoch with
    /// RTT `rtt` (seconds), in bytes. It is a function of time since the
    /// congestion event, in the form of RFC 8312 §4.2 (eq. 4): α
    /// segments per RTT, then 1 past the window before the reduction
    /// (RFC 9438 §4.3). RFC 9438 counts acknowledged segments instead,
    /// which stalls on small windows: in the RTT after a reduction nothing
    /// counts (every acknowledged packet was sent in recovery), and a
    /// window of 2.7 segments carries only 2, so under random loss the
    /// estimate grew at half the rate of a Reno flow's. Growth applies only
    /// on acknowledgements of packets sent after the event, never while
    /// application-limited, and by at most the acknowledged bytes.
    pub fn w_est(&self, t: f64, rtt: f64) -> f64 {
        let mds = self.mds as f64;
        let alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
        let rtts = t / rtt;
        let reno_friendly = self.w_est_start + alpha * mds * rtts;
        if reno_friendly <= self.prior_cwnd {
            return reno_friendly;
        }
        // Past the prior window: one segment per RTT from there on.
        let to_prior = (self.prior_cwnd - self.w_est_start).max(0.0) / (alpha * mds);
        self.prior_cwnd.max(self.w_est_start) + mds * (rtts - to_prior)
    }

    /// An acknowledgement (RFC 9438 §4.2-§4.4).
    pub fn on_acked(&mut self, bytes: u64, time_sent: u64, now: u64, rtt: u64, app_limited: bool) {
        if self.in_recovery(time_sent) || app_limited {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd += bytes;
            return;
        }
        let epoch = *self.epoch_start.get_or_insert_with(|| {
            // An epoch without a previous loss starts at the current
            // window (§4.2: W_max = cwnd, K = 0).
            if self.w_max < self.cwnd as f64 {
                self.w_max = self.cwnd as f64;
                self.k = 0.0;
            }
            self.w_est_start = self.cwnd as f64;
            self.prior_cwnd = self.cwnd as f64;
            now
        });
        let cwnd = self.cwnd as f64;
        let t = now.saturating_sub(epoch) as f64 / 1e9;
        let rtt = (rtt.max(1_000) as f64) / 1e9;
        let w_est = self.w_est(t, rtt);
        let next = if self.w_cubic(t) < w_est {
            // §4.3: the Reno-friendly region.
            w_est.min(cwnd + bytes as f64)
        } else {
            // §4.4/§4.5: aim at W_cubic one RTT ahead, at most 1.5x.
            let target = self.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
            cwnd + (target - cwnd) * bytes as f64 / cwnd
        };
        self.cwnd = (next as u64).max(self.cwnd).max(minimum_window(self.mds));
    }

    /// A congestion event (RFC 9438 §4.6, §4.7).
    pub fn on_congestion_event(&mut self, time_sent: u64, now: u64) {
        if self.in_recovery(time_sent) {
            return;
        }
        self.recovery_start = Some(now);
        // The epoch starts now (W_cubic and W_est count from the event).
        self.epoch_start = Some(now);
        let cwnd = self.cwnd as f64;
        self.prior_cwnd = cwnd;
        // Fast convergence: a flow that lost before reaching its previous
        // W_max yields bandwidth.
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        let reduced = ((cwnd * BETA) as u64).max(minimum_window(self.mds));
        self.ssthresh = reduced;
        self.cwnd = reduced;
        // K = cbrt((W_max - cwnd) / C), in segments.
        let mds = self.mds as f64;
        self.k = ((self.w_max - self.cwnd as f64) / mds / C).max(0.0).cbrt();
        self.w_est_start = self.cwnd as f64;
    }

    /// Persistent congestion (RFC 9438 §4.8 defers to RFC 9002).
    pub fn on_persistent_congestion(&mut self) {
        self.cwnd = minimum_window(self.mds);
        self.recovery_start = None;
        self.epoch_start = None;
        self.w_max = 0.0;
        self.k = 0.0;
    }
}
