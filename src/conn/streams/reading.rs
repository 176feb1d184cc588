//! How the application reads streams and gives credit back (RFC 9000
//! §4.1-§4.2): data becomes events, and the windows move when it was
//! consumed. By default taking an event is consuming it; an application
//! that opts in says itself how much it consumed (`consume`), and any
//! application may pause a stream, so MAX_STREAM_DATA and MAX_DATA follow
//! its pace and what the peer can make us hold stays within the windows.

use bytes::Bytes;

use super::{id, RecvStream, StreamError, Streams};
use crate::conn::event_queue::EventQueue;
use crate::conn::Event;

impl Streams {
    /// Credit goes back only when the application calls `consume` (true),
    /// or as soon as it takes a data event (false, the default).
    pub(crate) fn set_credit_on_consume(&mut self, on: bool) {
        self.credit_on_consume = on;
    }

    /// Data stays here until `read` (true), or goes out in events (false,
    /// the default). Reading credits what it reads, so credit-on-consume
    /// does not apply.
    pub(crate) fn set_read_mode(&mut self, on: bool) {
        self.read_mode = on;
        if on {
            self.credit_on_consume = false;
        }
    }

    /// True in read mode.
    pub(crate) fn reads(&self) -> bool {
        self.read_mode
    }

    /// True when the application gives credit itself.
    pub(crate) fn credits_on_consume(&self) -> bool {
        self.credit_on_consume
    }

    /// Queues what became deliverable and resets to report, in stream
    /// order: a stream with data gets a mark in the queue (one until it is
    /// polled; see [`Streams::take_marked`]). A paused stream keeps its
    /// data; its reset is still reported (the data is gone anyway), after
    /// the data a mark announced before it.
    pub(crate) fn drain_readable(&mut self, now: u64, rtt: u64, events: &mut EventQueue) {
        while let Some(sid) = self.readable.pop_front() {
            let Some(stream) = self.map.get_mut(&sid) else {
                continue;
            };
            stream.readable = false;
            let Some(recv) = stream.recv.as_mut() else {
                continue;
            };
            if let Some((code, _)) = recv.reset {
                if !recv.reset_reported {
                    // Announced data goes first, unless the application
                    // paused the stream since (its data is dropped then).
                    if let Some(seq) = recv.data_mark.take().filter(|_| !recv.paused) {
                        if let Some(data) = recv.take_before_reset() {
                            events.fill_mark(seq, data_event(sid, data, false));
                        }
                    }
                    recv.discard_ready();
                    self.on_reset_reported(sid, now, rtt);
                    if let Some(recv) = self.recv_half(sid) {
                        recv.reset_reported = true;
                    }
                    events.push(Event::StreamReset {
                        stream_id: sid,
                        error_code: code,
                    });
                }
            } else if self.read_mode {
                // One event per stream until the application reads it.
                if !recv.paused && !recv.readable_announced && recv.has_readable() {
                    recv.readable_announced = true;
                    events.push(Event::StreamReadable { stream_id: sid });
                }
            } else if !recv.paused && recv.data_mark.is_none() && recv.has_readable() {
                recv.data_mark = Some(events.push_stream_data(sid));
            }
            self.maybe_forget(sid);
        }
    }

    /// The data of `sid`'s mark `seq`, polled: the next in-order piece,
    /// whether it ends the stream, and whether more waits (the mark stays
    /// then). None when there is nothing to give (the stream was paused,
    /// reset or forgotten since), and the mark is spent.
    pub(crate) fn take_marked(&mut self, sid: u64, seq: u64) -> Option<(Event, bool)> {
        let recv = self.recv_half(sid)?;
        if recv.data_mark != Some(seq) {
            return None;
        }
        let taken = if recv.paused { None } else { recv.take_ready() };
        let more = taken.is_some() && recv.has_readable();
        if !more {
            recv.data_mark = None;
        }
        let (data, end_stream) = taken?;
        let event = data_event(sid, data, end_stream);
        self.maybe_forget(sid);
        Some((event, more))
    }

    /// The application took an event with `len` bytes of `sid`: that is
    /// consuming them, unless the application gives credit itself.
    pub(crate) fn on_delivered(&mut self, sid: u64, len: u64, now: u64, rtt: u64) {
        if !self.credit_on_consume {
            self.credit(sid, len, now, rtt);
        }
    }

    /// The application consumed `len` more bytes of `sid` (credit on
    /// consume only): no more than it was given and has not consumed yet.
    /// A stream already reset and reported, or forgotten, takes nothing:
    /// its bytes were credited when the reset was reported.
    pub(crate) fn consume(
        &mut self,
        sid: u64,
        len: u64,
        now: u64,
        rtt: u64,
    ) -> Result<(), StreamError> {
        let Some(recv) = self.app_recv_half(sid)? else {
            return Ok(());
        };
        if recv.reset_reported {
            return Ok(());
        }
        if len > recv.unconsumed() {
            return Err(StreamError::Invalid(
                "more consumed than was delivered and not yet consumed",
            ));
        }
        self.credit(sid, len, now, rtt);
        self.maybe_forget(sid);
        Ok(())
    }

    /// Read mode: copies `sid`'s next in-order bytes into `buf` and credits
    /// them to the peer. `Some((n, fin))` when it read bytes or the end,
    /// `None` when nothing is there yet; `Reset` once the peer reset it,
    /// `Finished` once everything, the FIN included, was read.
    pub(crate) fn read(
        &mut self,
        sid: u64,
        buf: &mut [u8],
        now: u64,
        rtt: u64,
    ) -> Result<Option<(usize, bool)>, StreamError> {
        let Some(recv) = self.app_recv_half(sid)? else {
            return Err(StreamError::Finished);
        };
        if recv.reset.is_some() {
            return Err(StreamError::Reset);
        }
        if recv.is_done() {
            return Err(StreamError::Finished);
        }
        recv.readable_announced = false;
        let (n, fin) = recv.read_into(buf);
        if n == 0 && !fin {
            return Ok(None);
        }
        self.credit(sid, n as u64, now, rtt);
        self.maybe_forget(sid);
        Ok(Some((n, fin)))
    }

    /// Pauses (or resumes) delivering `sid`'s data. Resuming queues what
    /// waits for the next `drain_readable`.
    pub(crate) fn set_paused(&mut self, sid: u64, paused: bool) -> Result<(), StreamError> {
        let Some(recv) = self.app_recv_half(sid)? else {
            return Ok(()); // finished and forgotten: nothing left to read
        };
        recv.paused = paused;
        if !paused {
            self.mark_readable(sid);
        }
        Ok(())
    }

    /// Credits `len` bytes of `sid` to the connection window and the
    /// stream's (whose update is owed only while the peer may still send).
    fn credit(&mut self, sid: u64, len: u64, now: u64, rtt: u64) {
        self.recv_window.on_consumed(len, now, rtt);
        if let Some(recv) = self.map.get_mut(&sid).and_then(|s| s.recv.as_mut()) {
            recv.window.on_consumed(len, now, rtt);
            if recv.window.has_update() && recv.final_size().is_none() {
                self.window_updates.insert(sid);
            }
        }
    }

    /// A reset was reported: its bytes not yet credited count as consumed
    /// for the connection window (RFC 9000 §4.5: the final size is
    /// flow-controlled). Data events already queued or taken are credited
    /// as usual when the application takes them (default), but not when it
    /// credits itself: their bytes are credited here instead.
    pub(super) fn on_reset_reported(&mut self, sid: u64, now: u64, rtt: u64) {
        if let Some(recv) = self.map.get(&sid).and_then(|s| s.recv.as_ref()) {
            let credited = if self.credit_on_consume {
                recv.window.consumed()
            } else {
                recv.delivered()
            };
            let rest = recv.highest().saturating_sub(credited);
            self.recv_window.on_consumed(rest, now, rtt);
        }
    }

    /// True when the application is done with a receive half: it saw the
    /// FIN or the reset, and, when it credits itself, consumed everything
    /// (until then the stream holds its slot, so MAX_STREAMS too follows
    /// the application's pace).
    pub(super) fn recv_done(&self, recv: &RecvStream) -> bool {
        recv.reset_reported
            || (recv.is_done() && (!self.credit_on_consume || recv.unconsumed() == 0))
    }

    /// The receive half of a stream the application names: an error for a
    /// stream that has none or was never opened, `None` once forgotten.
    pub(super) fn app_recv_half(
        &mut self,
        sid: u64,
    ) -> Result<Option<&mut RecvStream>, StreamError> {
        let (d, index) = (id::dir(sid), id::index(sid));
        let local = id::initiator(sid) == self.side;
        if local && !id::is_bidi(sid) {
            return Err(StreamError::Invalid(
                "a local unidirectional stream is send-only",
            ));
        }
        if local && index >= self.next_local[d] {
            return Err(StreamError::Invalid("stream not opened"));
        }
        if !local && index >= self.peer_opened[d] {
            return Err(StreamError::Invalid("the peer has not opened this stream"));
        }
        if !local && self.unborn[d].contains(index) {
            self.open_peer_stream(sid);
        }
        Ok(self.map.get_mut(&sid).and_then(|s| s.recv.as_mut()))
    }
}

fn data_event(stream_id: u64, data: Bytes, end_stream: bool) -> Event {
    Event::StreamDataReceived {
        stream_id,
        data,
        end_stream,
    }
}
