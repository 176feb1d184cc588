//! NewReno (RFC 9002 §7.3, Appendix B).

use super::{initial_window, minimum_window};

/// NewReno state, in bytes.
#[derive(Debug, Clone)]
pub struct NewReno {
    pub(super) mds: u64,
    cwnd: u64,
    /// Slow start threshold.
    pub ssthresh: u64,
    recovery_start: Option<u64>,
    /// Bytes acknowledged toward the next congestion-avoidance increase.
    acked_in_avoidance: u64,
}

impl NewReno {
    /// Fresh state for datagrams of `mds` bytes.
    pub fn new(mds: u64) -> Self {
        Self {
            mds,
            cwnd: initial_window(mds),
            ssthresh: u64::MAX,
            recovery_start: None,
            acked_in_avoidance: 0,
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

    /// RFC 9002 B.5, OnPacketsAcked.
    pub fn on_acked(&mut self, bytes: u64, time_sent: u64, app_limited: bool) {
        if self.in_recovery(time_sent) || app_limited {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd += bytes; // slow start
        } else {
            // Congestion avoidance: one datagram per window acknowledged.
            self.acked_in_avoidance += bytes;
            if self.acked_in_avoidance >= self.cwnd {
                self.acked_in_avoidance -= self.cwnd;
                self.cwnd += self.mds;
            }
        }
    }

    /// RFC 9002 B.6, OnCongestionEvent.
    pub fn on_congestion_event(&mut self, time_sent: u64, now: u64) {
        if self.in_recovery(time_sent) {
            return;
        }
        self.recovery_start = Some(now);
        self.ssthresh = (self.cwnd / 2).max(minimum_window(self.mds));
        self.cwnd = self.ssthresh;
        self.acked_in_avoidance = 0;
    }

    /// RFC 9002 B.8: persistent congestion.
    pub fn on_persistent_congestion(&mut self) {
        self.cwnd = minimum_window(self.mds);
        self.recovery_start = None;
        self.acked_in_avoidance = 0;
    }
}
