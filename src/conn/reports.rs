//! What a connection reports: events for the application to poll, and the
//! qlog trace (when the configuration asks for one).

use super::event_queue::EventQueue;
use crate::qlog::QlogWriter;

/// Events and trace.
#[derive(Debug, Default)]
pub(super) struct Reports {
    /// Events not yet polled.
    pub(super) events: EventQueue,
    /// The qlog trace, if this connection is logged.
    pub(super) qlog: Option<Box<QlogWriter>>,
}
