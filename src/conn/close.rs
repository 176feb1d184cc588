//! Closing (RFC 9000 §10): immediate close with its closing and draining
//! states, the idle timeout, and the connection's timers.

use super::{ApiError, CloseError, Connection, Termination};
use crate::varint;

/// Longest reason phrase we send; longer ones are cut.
pub(crate) const MAX_REASON_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseState {
    Open,
    /// We closed: CONNECTION_CLOSE goes out again when packets arrive.
    Closing {
        until: u64,
        /// A CONNECTION_CLOSE is due.
        send: bool,
        /// Datagrams received while closing, and the count at which the
        /// next CONNECTION_CLOSE answers (doubling, RFC 9000 §10.2.1).
        received: u32,
        next_answer: u32,
    },
    /// The peer closed: we send nothing more (RFC 9000 §10.2.2).
    Draining {
        until: u64,
    },
    Closed,
}

impl Connection {
    /// Closes the connection (aioquic's `close`): sends CONNECTION_CLOSE
    /// with `error_code` (an application code when `is_app`), then waits
    /// three PTOs before it is closed. A second call does nothing.
    pub fn close(
        &mut self,
        is_app: bool,
        error_code: u64,
        frame_type: Option<u64>,
        reason: &[u8],
        now: u64,
    ) -> Result<(), ApiError> {
        // An application close carries no frame type: whatever the caller
        // passed is ignored, not checked.
        let frame_type = if is_app { None } else { frame_type.or(Some(0)) };
        if error_code > varint::MAX || frame_type.is_some_and(|f| f > varint::MAX) {
            return Err(ApiError::InvalidArgument(
                "error code or frame type above 2^62 - 1",
            ));
        }
        let reason = &reason[..reason.len().min(MAX_REASON_LEN)];
        self.close_with(
            CloseError {
                is_app,
                code: error_code,
                frame_type,
                reason: reason.to_vec(),
            },
            Termination::LocalClose,
            now,
        );
        Ok(())
    }

    /// Starts closing with `err` as our error.
    pub(super) fn close_with(&mut self, err: CloseError, cause: Termination, now: u64) {
        if !matches!(self.close, CloseState::Open) {
            return;
        }
        self.push_terminated(&err, cause);
        self.local_error = Some(err);
        if self.paths.active.peer.is_none() || !self.hs.is_started() {
            // Nothing was ever exchanged: there is nobody to tell.
            self.close = CloseState::Closed;
            return;
        }
        self.close = CloseState::Closing {
            until: now.saturating_add(self.recovery.pto().saturating_mul(3)),
            send: true,
            received: 0,
            next_answer: 1,
        };
    }

    /// Ends the connection at once without telling the peer (idle or
    /// handshake timeout, failed version negotiation, keys used up).
    pub(super) fn close_silently(&mut self, err: CloseError, cause: Termination) {
        if !matches!(self.close, CloseState::Open) {
            return;
        }
        self.push_terminated(&err, cause);
        self.local_error = Some(err);
        self.close = CloseState::Closed;
    }

    /// The peer closed with `err` (RFC 9000 §10.2.2), or reset the
    /// connection (`cause` says which): drain.
    pub(super) fn enter_draining(&mut self, err: CloseError, cause: Termination, now: u64) {
        let until = now.saturating_add(self.recovery.pto().saturating_mul(3));
        match self.close {
            CloseState::Open => {
                self.push_terminated(&err, cause);
                self.peer_error = Some(err);
                self.close = CloseState::Draining { until };
            }
            CloseState::Closing { .. } => {
                self.peer_error = Some(err);
                self.close = CloseState::Draining { until };
            }
            CloseState::Draining { .. } | CloseState::Closed => {}
        }
    }

    /// A datagram arrived while closing: answer with CONNECTION_CLOSE on the
    /// 1st, 2nd, 4th, 8th... one.
    pub(super) fn on_datagram_while_closing(&mut self) {
        if let CloseState::Closing {
            send,
            received,
            next_answer,
            ..
        } = &mut self.close
        {
            *received += 1;
            if *received >= *next_answer {
                *send = true;
                *next_answer = next_answer.saturating_mul(2);
            }
        }
    }

    /// Ends the connection at once, without a CONNECTION_CLOSE or a
    /// closing period: for a peer known to be gone (an ICMP "port
    /// unreachable" on a connected socket), where the three PTOs of a
    /// closing period would only send to nobody. The ConnectionTerminated
    /// event says `Abandoned` with `reason`. Does nothing once closing.
    pub fn abandon(&mut self, reason: &[u8]) {
        let err = CloseError {
            is_app: true,
            code: 0,
            frame_type: None,
            reason: reason.to_vec(),
        };
        self.close_silently(err, Termination::Abandoned);
    }

    /// Arms the handshake deadline when the handshake starts.
    pub(super) fn start_handshake_timer(&mut self, now: u64) {
        let t = self.config.effective_handshake_timeout();
        self.handshake_deadline = Some(now.saturating_add(t));
    }

    /// Starts the idle timer and keep-alive from the configuration.
    pub(super) fn start_idle_timer(&mut self, now: u64) {
        let pto = self.recovery.pto();
        let c = &self.config;
        self.idle
            .start(c.transport.idle_timeout, c.transport.keep_alive, now, pto);
    }
}
