//! The queue of events not yet polled. Stream data waits in it as a mark
//! (the stream's ID) and is taken from the stream when the mark is polled:
//! data arriving in many packets before the application polls becomes one
//! event, not one per packet, and a packet costs no event of its own.

use std::collections::VecDeque;

use super::Event;

/// One entry of the queue.
#[derive(Debug)]
pub(super) enum Queued {
    /// An event, complete.
    Event(Event),
    /// The stream's in-order data, as it is when this is polled.
    StreamData(u64),
}

/// Events in the order they happened.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    items: VecDeque<Queued>,
    /// Entries popped so far: an entry's sequence number minus this is its
    /// place in `items` (entries are only pushed at the back and popped at
    /// the front).
    popped: u64,
}

impl EventQueue {
    /// Appends a complete event.
    pub(crate) fn push(&mut self, event: Event) {
        self.items.push_back(Queued::Event(event));
    }

    /// Appends a mark for `sid`'s data; returns its sequence number.
    pub(crate) fn push_stream_data(&mut self, sid: u64) -> u64 {
        let seq = self.popped + self.items.len() as u64;
        self.items.push_back(Queued::StreamData(sid));
        seq
    }

    /// Puts `event` where mark `seq` is (a stream's data taken before its
    /// reset, which follows it). Nothing when the mark is gone.
    pub(crate) fn fill_mark(&mut self, seq: u64, event: Event) {
        let Some(at) = seq.checked_sub(self.popped) else {
            return;
        };
        if let Some(slot @ Queued::StreamData(_)) =
            usize::try_from(at).ok().and_then(|i| self.items.get_mut(i))
        {
            *slot = Queued::Event(event);
        }
    }

    /// The first entry and its sequence number.
    pub(super) fn front(&self) -> Option<(&Queued, u64)> {
        self.items.front().map(|q| (q, self.popped))
    }

    /// Removes the first entry.
    pub(super) fn pop(&mut self) -> Option<Queued> {
        let q = self.items.pop_front()?;
        self.popped += 1;
        Some(q)
    }

    /// Entries queued (a mark counts as one).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset(sid: u64) -> Event {
        Event::StreamReset {
            stream_id: sid,
            error_code: 1,
        }
    }

    /// A mark filled later keeps its place, even after entries before it
    /// were popped; a mark already popped is not filled.
    #[test]
    fn marks_are_filled_in_place() {
        let mut q = EventQueue::default();
        q.push(reset(1));
        let m = q.push_stream_data(4);
        q.push(reset(8));
        assert!(matches!(q.pop(), Some(Queued::Event(_))));
        q.fill_mark(m, reset(4));
        match q.pop() {
            Some(Queued::Event(Event::StreamReset { stream_id: 4, .. })) => {}
            other => panic!("mark not filled in place: {other:?}"),
        }
        let stale = q.push_stream_data(12);
        assert!(matches!(q.pop(), Some(Queued::Event(_))));
        assert!(matches!(q.pop(), Some(Queued::StreamData(12))));
        q.fill_mark(stale, reset(12));
        assert!(q.is_empty());
    }
}
