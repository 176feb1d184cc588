//! Congestion control (RFC 9002 §7): NewReno and CUBIC (RFC 9438), chosen
//! per connection, both with slow start and recovery periods.

pub mod cubic;
mod new_reno;

pub use cubic::Cubic;
pub use new_reno::NewReno;

/// Which controller a connection uses (aioquic's
/// `congestion_control_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// NewReno (RFC 9002 §7.3), aioquic's default.
    NewReno,
    /// CUBIC (RFC 9438), the default: on lossy paths it keeps about 1.6
    /// times NewReno's goodput (`make bench`, bulk under loss), and it is
    /// what quinn, msquic and Linux run, so flows share a bottleneck with
    /// theirs on equal terms.
    #[default]
    Cubic,
}

/// The states of RFC 9002 §7.3 a controller is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Below ssthresh: the window grows by what is acknowledged.
    SlowStart,
    /// Above ssthresh: about a datagram per round trip (NewReno) or along
    /// CUBIC's curve.
    CongestionAvoidance,
    /// After a congestion event, until a packet sent since is acknowledged.
    Recovery,
}

/// The initial window (RFC 9002 §7.2): ten datagrams, within 14720 bytes
/// but at least two datagrams.
pub fn initial_window(mds: u64) -> u64 {
    (10 * mds).min(14_720.max(2 * mds))
}

/// The minimum window: two datagrams.
pub fn minimum_window(mds: u64) -> u64 {
    2 * mds
}

/// A congestion controller.
#[derive(Debug, Clone)]
pub enum Controller {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
}

impl Controller {
    /// A controller of `algorithm` for datagrams of `mds` bytes.
    pub fn new(algorithm: Algorithm, mds: u64) -> Self {
        match algorithm {
            Algorithm::NewReno => Controller::NewReno(NewReno::new(mds)),
            Algorithm::Cubic => Controller::Cubic(Cubic::new(mds)),
        }
    }

    /// The datagram size changed (PMTU discovery): the minimum window and
    /// the growth per round trip follow it.
    pub fn set_mds(&mut self, mds: u64) {
        match self {
            Controller::NewReno(c) => c.mds = mds,
            Controller::Cubic(c) => c.mds = mds,
        }
    }

    /// The congestion window in bytes.
    pub fn window(&self) -> u64 {
        match self {
            Controller::NewReno(c) => c.window(),
            Controller::Cubic(c) => c.window(),
        }
    }

    /// The slow start threshold (u64::MAX before the first loss).
    pub fn ssthresh(&self) -> u64 {
        match self {
            Controller::NewReno(c) => c.ssthresh,
            Controller::Cubic(c) => c.ssthresh,
        }
    }

    /// Where the controller stands (for logs): in recovery until a packet
    /// sent after the period started is acknowledged (RFC 9002 §7.3.2),
    /// else in slow start below ssthresh, else congestion avoidance.
    /// `newest_acked_sent` is when the newest acknowledged packet was sent.
    pub fn phase(&self, newest_acked_sent: Option<u64>) -> Phase {
        let start = match self {
            Controller::NewReno(c) => c.recovery_start(),
            Controller::Cubic(c) => c.recovery_start(),
        };
        if start.is_some_and(|r| newest_acked_sent.is_none_or(|t| t <= r)) {
            Phase::Recovery
        } else if self.window() < self.ssthresh() {
            Phase::SlowStart
        } else {
            Phase::CongestionAvoidance
        }
    }

    /// An in-flight packet of `bytes`, sent at `time_sent`, was
    /// acknowledged at `now`. `rtt` is the smoothed RTT; `app_limited` says
    /// the sender was not using the window (it must not grow then).
    pub fn on_acked(&mut self, bytes: u64, time_sent: u64, now: u64, rtt: u64, app_limited: bool) {
        match self {
            Controller::NewReno(c) => c.on_acked(bytes, time_sent, app_limited),
            Controller::Cubic(c) => c.on_acked(bytes, time_sent, now, rtt, app_limited),
        }
    }

    /// Packets were lost; the newest was sent at `time_sent` (RFC 9002
    /// §7.3.2: one reduction per recovery period).
    pub fn on_congestion_event(&mut self, time_sent: u64, now: u64) {
        match self {
            Controller::NewReno(c) => c.on_congestion_event(time_sent, now),
            Controller::Cubic(c) => c.on_congestion_event(time_sent, now),
        }
    }

    /// Persistent congestion (RFC 9002 §7.6.2): collapse to the minimum.
    pub fn on_persistent_congestion(&mut self) {
        match self {
            Controller::NewReno(c) => c.on_persistent_congestion(),
            Controller::Cubic(c) => c.on_persistent_congestion(),
        }
    }
}

#[cfg(test)]
mod tests;
