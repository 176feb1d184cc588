//! When a stream can take more data: a level the application sets for
//! each stream's send buffer (bytes written and not yet acknowledged). A
//! stream whose buffer reached the level is reported writable once, when
//! acknowledgements bring it below again, so an application that stops
//! writing at the level needs no polling to know when to go on.

use super::Streams;
use crate::conn::event_queue::EventQueue;
use crate::conn::Event;

/// How a stream's sending stands (`Connection::stream_send_info`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendInfo {
    /// Written by the application and never sent.
    pub unsent: u64,
    /// Sent and not acknowledged yet, lost data waiting to go again
    /// included.
    pub unacked: u64,
    /// New data waits for the peer's flow control (its MAX_STREAM_DATA or
    /// MAX_DATA), not for the congestion window.
    pub flow_blocked: bool,
}

impl Streams {
    /// Reports a stream writable when its send buffer falls below `level`
    /// bytes after reaching it (0: never).
    pub(crate) fn set_writable_level(&mut self, level: u64) {
        self.writable_level = level;
    }

    /// The application wrote to `sid`: note when its buffer reaches the
    /// level.
    pub(super) fn note_written(&mut self, sid: u64) {
        let level = self.writable_level;
        if level == 0 {
            return;
        }
        if let Some(send) = self.send_half(sid) {
            if send.buffered() >= level {
                send.above_level = true;
            }
        }
    }

    /// Queues the writable events noted since the last call.
    pub(crate) fn drain_writable(&mut self, events: &mut EventQueue) {
        for stream_id in self.writable.drain(..) {
            events.push(Event::StreamWritable { stream_id });
        }
    }

    /// How `sid`'s sending stands; `None` for a stream with no send state
    /// (never used, or done and forgotten).
    pub(crate) fn send_info(&self, sid: u64) -> Option<SendInfo> {
        let send = self.send_half_ref(sid)?;
        let unsent = send.unsent();
        Some(SendInfo {
            unsent,
            unacked: send.unacked(),
            flow_blocked: unsent > 0 && (send.blocked_by_stream_limit() || self.conn_credit() == 0),
        })
    }
}
