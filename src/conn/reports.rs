//! What a connection reports: events for the application to poll, and the
//! qlog trace (when the configuration asks for one).

use std::collections::VecDeque;

use super::Event;
use crate::qlog::QlogWriter;

/// Events and trace.
#[derive(Debug, Default)]
pub(super) struct Reports {
    /// Events not yet polled.
    pub(super) events: VecDeque<Event>,
    /// The qlog trace, if this connection is logged.
    pub(super) qlog: Option<Box<QlogWriter>>,
}
