//! Every deadline of a connection in one table: one `Timer` variant per
//! deadline, the earliest of them for `quic_conn_timer`, and the ones that
//! fired for `handle_timer`. The table is read off the parts that own the
//! deadlines each time it is asked for, so it is never stale, and every
//! deadline is acted on when it falls due, not when something else
//! happens to come along.

use super::{CloseError, CloseState, Connection, Termination};
use crate::error::code;
use crate::recovery::{Space, Timeout};

/// One deadline of a connection, in the order `handle_timer` acts on those
/// that fired: what ends the connection first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The closing or draining period ends (RFC 9000 §10.2).
    Close,
    /// The handshake must have completed (no silent stall).
    Handshake,
    /// Nothing heard for the idle timeout (RFC 9000 §10.1).
    Idle,
    /// A keep-alive PING is due (RFC 9000 §10.1.2).
    KeepAlive,
    /// The pacer lets the next packet go (RFC 9002 §7.7).
    Pacing,
    /// An ACK may wait no longer (RFC 9000 §13.2.1).
    AckDelay,
    /// A path challenge is due again, or the path failed (RFC 9000 §8.2).
    PathValidation,
    /// A client's probe of a new path is due again, or it failed (§9.1).
    Probe,
    /// Loss detection: the time threshold or the PTO (RFC 9002 §6).
    LossDetection,
    /// The previous 1-RTT read key is forgotten (RFC 9001 §6.5).
    KeyDiscard,
    /// A client stops waiting for session tickets.
    TicketWait,
    /// A PMTU probe counts as lost, or the search resumes (RFC 8899).
    Pmtud,
}

impl Timer {
    /// Every timer, in declaration order (the table's slots).
    pub(crate) const ALL: [Timer; 12] = [
        Timer::Close,
        Timer::Handshake,
        Timer::Idle,
        Timer::KeepAlive,
        Timer::Pacing,
        Timer::AckDelay,
        Timer::PathValidation,
        Timer::Probe,
        Timer::LossDetection,
        Timer::KeyDiscard,
        Timer::TicketWait,
        Timer::Pmtud,
    ];
}

/// The deadline (ns) of each timer; `u64::MAX` when not armed (a deadline
/// never reached). Plain integers rather than `Option`s: every byte of the
/// table is defined, so no search over it reads an unset payload (valgrind
/// flagged the `Option` form's optimised `min` in `quic_conn_timer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimerTable {
    at: [u64; Timer::ALL.len()],
}

impl Default for TimerTable {
    fn default() -> Self {
        Self {
            at: [u64::MAX; Timer::ALL.len()],
        }
    }
}

impl TimerTable {
    fn set(&mut self, t: Timer, at: Option<u64>) {
        self.at[t as usize] = at.unwrap_or(u64::MAX);
    }

    /// The deadline of `t`.
    #[cfg(test)]
    pub(crate) fn get(&self, t: Timer) -> Option<u64> {
        Some(self.at[t as usize]).filter(|&t| t != u64::MAX)
    }

    /// The earliest deadline of all.
    pub(crate) fn earliest(&self) -> Option<u64> {
        Some(self.at.iter().copied().fold(u64::MAX, u64::min)).filter(|&t| t != u64::MAX)
    }

    /// The timers due by `now`, in `Timer::ALL` order.
    pub(crate) fn fired(&self, now: u64) -> impl Iterator<Item = Timer> + '_ {
        Timer::ALL
            .into_iter()
            .zip(self.at)
            .filter(move |&(_, at)| at != u64::MAX && at <= now)
            .map(|(t, _)| t)
    }
}

impl Connection {
    /// Every deadline the connection keeps now.
    pub(crate) fn timers(&self) -> TimerTable {
        let mut table = TimerTable::default();
        match self.close {
            CloseState::Closing { until, .. } | CloseState::Draining { until } => {
                table.set(Timer::Close, Some(until));
            }
            CloseState::Closed => {}
            CloseState::Open => {
                let app = &self.spaces[Space::Application as usize];
                table.set(Timer::Handshake, self.handshake_deadline);
                table.set(Timer::Idle, self.idle.deadline());
                table.set(
                    Timer::KeepAlive,
                    self.idle.keep_alive_deadline(self.hs.is_complete()),
                );
                table.set(
                    Timer::LossDetection,
                    self.recovery.armed_timer(self.status()),
                );
                table.set(Timer::AckDelay, app.ack.deadline());
                table.set(
                    Timer::Pacing,
                    self.pacing_deadline.filter(|_| self.stream_work_pending()),
                );
                table.set(Timer::PathValidation, self.paths.active.deadline());
                table.set(Timer::Probe, self.paths.deadline());
                table.set(Timer::KeyDiscard, self.key_gens.previous_read_until());
                table.set(Timer::TicketWait, self.ticket_wait_until);
                table.set(Timer::Pmtud, self.paths.active.pmtud.deadline());
            }
        }
        table
    }

    /// The next time `handle_timer` must run (ns), or None.
    pub fn timer(&self) -> Option<u64> {
        self.timers().earliest()
    }

    /// Runs whatever timer expired by `now` (aioquic's `handle_timer`).
    pub fn handle_timer(&mut self, now: u64) {
        self.last_now = self.last_now.max(now);
        let table = self.timers();
        for t in table.fired(now) {
            if matches!(self.close, CloseState::Closed) {
                break;
            }
            self.on_timer(t, now);
        }
        self.qlog_changes();
        self.qlog_hand_over();
    }

    /// Acts on one timer that fired.
    fn on_timer(&mut self, t: Timer, now: u64) {
        match t {
            Timer::Close => self.close = CloseState::Closed,
            Timer::Handshake => {
                // No silent stall: a handshake that cannot finish ends with
                // an event saying so (closed silently, as for the idle
                // timeout).
                let ms = self.config.effective_handshake_timeout() / 1_000_000;
                let reason = format!("Handshake timeout: no handshake within {ms} ms");
                self.time_out(reason.into_bytes(), Termination::HandshakeTimeout);
            }
            // RFC 9000 §10.1: the connection closes silently.
            Timer::Idle => self.time_out(b"Idle timeout".to_vec(), Termination::IdleTimeout),
            Timer::KeepAlive => {
                if self.idle.take_keep_alive(now, self.hs.is_complete()) {
                    // RFC 9000 §10.1.2: an ack-eliciting packet keeps a
                    // quiet connection from the peer's idle timeout; it
                    // goes as one probe would (a PING when nothing else
                    // is due).
                    let s = &mut self.spaces[Space::Application as usize];
                    s.probes = s.probes.max(1);
                }
            }
            Timer::Pacing => self.pacing_deadline = None,
            // Nothing to do: the next send sees the ACK is due.
            Timer::AckDelay => {}
            Timer::PathValidation => self.on_path_timeout(now),
            Timer::Probe => self.on_probe_timer(now),
            Timer::LossDetection => {
                let status = self.status();
                match self.recovery.on_timeout(now, status) {
                    Some(Timeout::Lost(space, lost)) => self.on_packets_lost(space, lost),
                    Some(Timeout::Probe(space)) => self.on_probe_timeout(space),
                    None => {}
                }
            }
            Timer::KeyDiscard => self.key_gens.expire_previous_read(now),
            Timer::TicketWait => self.end_ticket_wait(now),
            Timer::Pmtud => self.paths.active.pmtud.on_timer(now),
        }
    }

    /// Ends the connection silently for a timeout.
    fn time_out(&mut self, reason: Vec<u8>, cause: Termination) {
        let err = CloseError {
            is_app: false,
            code: code::NO_ERROR,
            frame_type: None,
            reason,
        };
        self.close_silently(err, cause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_timer_in_declaration_order() {
        for (i, t) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i, "{t:?}");
        }
    }

    #[test]
    fn the_table_gives_the_earliest_and_the_fired_in_order() {
        let mut t = TimerTable::default();
        assert_eq!(t.earliest(), None);
        t.set(Timer::TicketWait, Some(30));
        t.set(Timer::Idle, Some(50));
        t.set(Timer::LossDetection, Some(10));
        t.set(Timer::KeyDiscard, None);
        assert_eq!(t.earliest(), Some(10));
        assert_eq!(t.get(Timer::Idle), Some(50));
        let fired: Vec<_> = t.fired(30).collect();
        assert_eq!(fired, vec![Timer::LossDetection, Timer::TicketWait]);
        assert_eq!(t.fired(9).count(), 0);
    }
}
