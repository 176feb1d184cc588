//! Receive windows (RFC 9000 §4.1-§4.2): the limit we advertise with
//! MAX_DATA / MAX_STREAM_DATA, moved as the application consumes data and
//! grown (auto-tuned) when the peer keeps up with it, so a fast, long path
//! is not window-limited.

/// A window we advertise to the peer.
#[derive(Debug, Clone)]
pub(crate) struct RecvWindow {
    window: u64,
    max_window: u64,
    advertised: u64,
    consumed: u64,
    last_update: Option<u64>,
    pending: bool,
}

impl RecvWindow {
    /// Starts with `initial` advertised; may grow up to `max_window`.
    pub(crate) fn new(initial: u64, max_window: u64) -> Self {
        Self {
            window: initial,
            max_window: max_window.max(initial),
            advertised: initial,
            consumed: 0,
            last_update: None,
            pending: false,
        }
    }

    /// The limit the peer was given.
    pub(crate) fn limit(&self) -> u64 {
        self.advertised
    }

    /// Bytes the application consumed (credited back) so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The application consumed `n` bytes at `now`; `rtt` is the smoothed
    /// RTT. Moves the window once half of it was used, doubling it when the
    /// previous move was less than two RTTs ago.
    pub(crate) fn on_consumed(&mut self, n: u64, now: u64, rtt: u64) {
        self.consumed += n;
        if self.advertised.saturating_sub(self.consumed) >= self.window / 2 {
            return;
        }
        if self
            .last_update
            .is_some_and(|t| now.saturating_sub(t) < 2 * rtt)
        {
            self.window = (self.window * 2).min(self.max_window);
        }
        self.last_update = Some(now);
        let new = (self.consumed + self.window).min(crate::varint::MAX);
        if new > self.advertised {
            self.advertised = new;
            self.pending = true;
        }
    }

    /// The new limit to announce, once.
    pub(crate) fn take_update(&mut self) -> Option<u64> {
        std::mem::take(&mut self.pending).then_some(self.advertised)
    }

    /// True when an update waits to be sent.
    pub(crate) fn has_update(&self) -> bool {
        self.pending
    }

    /// A frame carrying an update was lost: announce the current limit again.
    pub(crate) fn on_update_lost(&mut self) {
        self.pending = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn moves_after_half_the_window() {
        let mut w = RecvWindow::new(100, 100);
        w.on_consumed(40, 0, 10 * MS);
        assert_eq!(w.take_update(), None);
        w.on_consumed(20, 0, 10 * MS);
        assert_eq!(w.take_update(), Some(160));
        assert_eq!(w.take_update(), None);
        w.on_update_lost();
        assert_eq!(w.take_update(), Some(160));
    }

    #[test]
    fn grows_when_updates_come_fast_and_stops_at_the_maximum() {
        let mut w = RecvWindow::new(100, 400);
        let mut now = 0;
        for _ in 0..20 {
            w.on_consumed(60, now, 100 * MS);
            now += MS; // much faster than 2 RTTs
        }
        assert_eq!(w.window, 400);
        // Slow consumption does not grow it further (and never shrinks it).
        let mut slow = RecvWindow::new(100, 400);
        for i in 0..20 {
            slow.on_consumed(60, i * 1000 * MS, 100 * MS);
        }
        assert_eq!(slow.window, 100);
    }
}
