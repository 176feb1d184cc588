//! Streams (RFC 9000 §2-§4): stream ID rules, opening limits, connection-
//! and stream-level flow control, fair scheduling, and forgetting streams
//! whose both halves are done.

mod flow;
mod reading;
mod recv;
mod send;
mod unborn;
mod writing;
pub use writing::SendInfo;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) use flow::RecvWindow;
pub(crate) use recv::RecvStream;
pub(crate) use send::{Chunk, SendStream};

use crate::conn::deferred_data::DeferredData;
use crate::error::{code, TransportError};
use crate::frame::{self, kind};
use crate::side::Side;
use crate::transport_params::TransportParameters;

/// Out-of-order pieces one stream may hold (RFC 9000 §21.9): far more
/// gaps than a 16 MiB window sees at 1% loss, far fewer than a peer
/// sending single bytes could make.
pub(crate) const MAX_OOO_PIECES_PER_STREAM: usize = 1024;
/// Out-of-order pieces all streams of a connection may hold.
pub(crate) const MAX_OOO_PIECES_PER_CONNECTION: usize = 4096;

/// Stream ID helpers (RFC 9000 §2.1).
pub(crate) mod id {
    use crate::side::Side;

    /// The side that opened `id`.
    pub(crate) fn initiator(id: u64) -> Side {
        if id & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// True for a bidirectional stream.
    pub(crate) fn is_bidi(id: u64) -> bool {
        id & 2 == 0
    }

    /// 0 for bidirectional, 1 for unidirectional: an index into per-type
    /// counters.
    pub(crate) fn dir(id: u64) -> usize {
        usize::from(!is_bidi(id))
    }

    /// The stream's number among streams of its type and initiator.
    pub(crate) fn index(id: u64) -> u64 {
        id >> 2
    }

    /// The ID of stream number `index` of a type and initiator.
    pub(crate) fn make(index: u64, initiator: Side, uni: bool) -> u64 {
        (index << 2) | u64::from(initiator == Side::Server) | (u64::from(uni) << 1)
    }
}

/// What became of a STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamIn {
    /// Something new was kept (or counted).
    Stored,
    /// Every byte was here already: the peer repeated itself.
    Repeat,
    /// Refused: one out-of-order piece too many; the packet goes
    /// unacknowledged.
    Refused,
}

/// Why a local stream operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// The peer's stream limit does not allow opening it yet.
    Limit,
    /// The peer's limits are not known yet: its transport parameters come
    /// with the handshake.
    LimitsUnknown,
    /// The stream ID cannot be used this way (wrong direction or initiator,
    /// or never opened).
    Invalid(&'static str),
    /// The send side already ended (FIN or reset).
    Finished,
    /// The stream was reset or asked to stop; it cannot carry data.
    Reset,
}

/// Hashes stream IDs by one multiplication: they are not attacker-chosen
/// beyond what MAX_STREAMS allows, and SipHash showed in profiles.
#[derive(Default)]
pub(crate) struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing: spreads consecutive IDs over the table.
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type StreamMap = HashMap<u64, Stream, BuildHasherDefault<StreamIdHasher>>;

/// What [`Streams::write_next_chunk`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextChunk {
    /// A STREAM frame of this stream carrying this chunk.
    Wrote(u64, Chunk),
    /// The stream whose turn it was had nothing that fits; it keeps its
    /// place in the queue.
    DidNotFit,
    /// No stream can send.
    Idle,
}

/// Both halves of a stream; a unidirectional stream has one.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) send: Option<SendStream>,
    pub(crate) recv: Option<RecvStream>,
    /// In `send_queue`, or taken from it to be served and put back.
    queued: bool,
    /// In `resend_queue`.
    resend_queued: bool,
    /// In `readable`.
    readable: bool,
}

/// Window sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    /// Per-stream window we advertise.
    pub(crate) stream: u64,
    /// Connection window we advertise.
    pub(crate) connection: u64,
    /// How far auto-tuning may grow them.
    pub(crate) max_stream: u64,
    pub(crate) max_connection: u64,
}

/// Every stream of a connection and the limits between them.
#[derive(Debug)]
pub(crate) struct Streams {
    side: Side,
    map: StreamMap,
    windows: Windows,
    /// Next index of a stream we open, per direction.
    next_local: [u64; 2],
    /// How many streams of each direction the peer lets us open.
    peer_max_streams: [u64; 2],
    /// STREAMS_BLOCKED to send for this limit.
    streams_blocked: [Option<u64>; 2],
    /// The peer's transport parameters (and so its stream limits) arrived.
    limits_known: bool,
    /// The application was refused a stream for the limit, per direction:
    /// a raise of that limit is then reported (STREAMS_AVAILABLE).
    app_blocked: [bool; 2],
    streams_blocked_sent: [Option<u64>; 2],
    /// Streams the peer opened (highest index + 1), per direction.
    peer_opened: [u64; 2],
    /// Peer streams below `peer_opened` that no frame named yet: no state.
    unborn: [unborn::Unborn; 2],
    /// Peer streams fully closed and forgotten.
    peer_closed: [u64; 2],
    /// The limits we advertise, the initial ones, and pending MAX_STREAMS.
    local_max_streams: [u64; 2],
    initial_max_streams: [u64; 2],
    max_streams_pending: [bool; 2],
    /// The peer's initial stream limits: bidi streams we open, bidi streams
    /// it opens, uni streams we open.
    peer_stream_data: (u64, u64, u64),
    /// Connection flow control, sending: the peer's MAX_DATA, new bytes sent.
    pub(crate) send_max_data: u64,
    pub(crate) data_sent: u64,
    data_blocked_sent: Option<u64>,
    /// Connection flow control, receiving.
    pub(crate) recv_window: RecvWindow,
    data_received: u64,
    /// Out-of-order pieces held over all streams (capped, RFC 9000 §21.9).
    ooo_pieces: usize,
    /// Round-robin order of streams with data to send (each once: see
    /// `Stream::queued`).
    send_queue: VecDeque<u64>,
    /// Streams with lost data to send again, served before `send_queue`
    /// (each once: see `Stream::resend_queued`).
    resend_queue: VecDeque<u64>,
    /// Streams with pending control frames.
    pub(crate) window_updates: BTreeSet<u64>,
    pub(crate) resets: BTreeSet<u64>,
    pub(crate) stops: BTreeSet<u64>,
    pub(crate) stream_blocked: BTreeSet<u64>,
    /// Streams with data or a reset to report (each once: see
    /// `Stream::readable`).
    readable: VecDeque<u64>,
    /// The application gives receive credit itself (see `reading`).
    credit_on_consume: bool,
    /// The application reads with `read` instead of taking data events.
    read_mode: bool,
    /// Send-buffer level below which a stream is reported writable (0:
    /// never), and the streams that just fell below it (see `writing`).
    writable_level: u64,
    writable: VecDeque<u64>,
    /// Streams opened (true) and closed (false) since the connection last
    /// took them, for its qlog trace; None when nobody asks.
    state_changes: Option<Vec<(u64, bool)>>,
}

impl Streams {
    /// Streams for `side`, allowing the peer `max_streams` (bidi, uni).
    pub(crate) fn new(side: Side, windows: Windows, max_streams: [u64; 2]) -> Self {
        Self {
            side,
            map: StreamMap::default(),
            windows,
            next_local: [0; 2],
            peer_max_streams: [0; 2],
            streams_blocked: [None; 2],
            limits_known: false,
            app_blocked: [false; 2],
            streams_blocked_sent: [None; 2],
            peer_opened: [0; 2],
            unborn: Default::default(),
            peer_closed: [0; 2],
            local_max_streams: max_streams,
            initial_max_streams: max_streams,
            max_streams_pending: [false; 2],
            peer_stream_data: (0, 0, 0),
            send_max_data: 0,
            data_sent: 0,
            data_blocked_sent: None,
            recv_window: RecvWindow::new(windows.connection, windows.max_connection),
            data_received: 0,
            ooo_pieces: 0,
            send_queue: VecDeque::new(),
            resend_queue: VecDeque::new(),
            window_updates: BTreeSet::new(),
            resets: BTreeSet::new(),
            stops: BTreeSet::new(),
            stream_blocked: BTreeSet::new(),
            readable: VecDeque::new(),
            credit_on_consume: false,
            read_mode: false,
            writable_level: 0,
            writable: VecDeque::new(),
            state_changes: None,
        }
    }

    /// Records streams opened and closed from now on, for
    /// [`Streams::take_state_changes`].
    pub(crate) fn record_state_changes(&mut self) {
        self.state_changes.get_or_insert_with(Vec::new);
    }

    /// The streams opened (true) and closed (false) since the last call,
    /// in order, into `out`.
    pub(crate) fn take_state_changes(&mut self, out: &mut Vec<(u64, bool)>) {
        if let Some(c) = &mut self.state_changes {
            out.append(c);
        }
    }

    fn note_state(&mut self, sid: u64, opened: bool) {
        if let Some(c) = &mut self.state_changes {
            c.push((sid, opened));
        }
    }

    /// Number of streams held (open, or closing).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The peer's transport parameters set our sending limits.
    pub(crate) fn on_peer_params(&mut self, tp: &TransportParameters) {
        self.peer_max_streams = [tp.initial_max_streams_bidi, tp.initial_max_streams_uni];
        self.limits_known = true;
        self.send_max_data = tp.initial_max_data;
        self.peer_stream_data = (
            tp.initial_max_stream_data_bidi_remote,
            tp.initial_max_stream_data_bidi_local,
            tp.initial_max_stream_data_uni,
        );
        let ids: Vec<u64> = self.map.keys().copied().collect();
        for sid in ids {
            let limit = self.peer_stream_limit(sid);
            if let Some(s) = self.map.get_mut(&sid).and_then(|s| s.send.as_mut()) {
                s.max_data = s.max_data.max(limit);
            }
            self.queue(sid);
        }
    }

    /// The initial limit the peer gives us on stream `sid`.
    fn peer_stream_limit(&self, sid: u64) -> u64 {
        let (bidi_ours, bidi_theirs, uni) = self.peer_stream_data;
        if !id::is_bidi(sid) {
            uni
        } else if id::initiator(sid) == self.side {
            bidi_ours
        } else {
            bidi_theirs
        }
    }

    fn new_stream(&self, sid: u64) -> Stream {
        let local = id::initiator(sid) == self.side;
        let bidi = id::is_bidi(sid);
        Stream {
            send: (bidi || local).then(|| SendStream::new(self.peer_stream_limit(sid))),
            recv: (bidi || !local)
                .then(|| RecvStream::new(self.windows.stream, self.windows.max_stream)),
            queued: false,
            resend_queued: false,
            readable: false,
        }
    }

    /// The ID `next_stream_id` would give (aioquic's
    /// `get_next_available_stream_id`).
    pub(crate) fn next_stream_id(&self, uni: bool) -> u64 {
        id::make(self.next_local[usize::from(uni)], self.side, uni)
    }

    fn queue(&mut self, sid: u64) {
        if let Some(s) = self.map.get_mut(&sid) {
            if !std::mem::replace(&mut s.queued, true) {
                self.send_queue.push_back(sid);
            }
        }
    }

    /// Queues a stream's data or reset for the application's events.
    fn mark_readable(&mut self, sid: u64) {
        if let Some(s) = self.map.get_mut(&sid) {
            if !std::mem::replace(&mut s.readable, true) {
                self.readable.push_back(sid);
            }
        }
    }

    /// Opens a local stream implicitly for sending (as aioquic does).
    fn local_stream_for_send(&mut self, sid: u64) -> Result<&mut Stream, StreamError> {
        let d = id::dir(sid);
        if id::initiator(sid) != self.side {
            if !id::is_bidi(sid) {
                return Err(StreamError::Invalid(
                    "a peer's unidirectional stream is receive-only",
                ));
            }
            if id::index(sid) >= self.peer_opened[d] {
                return Err(StreamError::Invalid("the peer has not opened this stream"));
            }
            if self.unborn[d].contains(id::index(sid)) {
                self.open_peer_stream(sid);
            }
        } else if !self.map.contains_key(&sid) {
            let index = id::index(sid);
            if index < self.next_local[d] {
                return Err(StreamError::Finished); // opened before and forgotten
            }
            if !self.limits_known {
                return Err(StreamError::LimitsUnknown);
            }
            if index >= self.peer_max_streams[d] {
                // RFC 9000 §4.6: tell the peer we are blocked.
                self.streams_blocked[d] = Some(self.peer_max_streams[d]);
                self.app_blocked[d] = true;
                return Err(StreamError::Limit);
            }
            self.next_local[d] = index + 1;
            let s = self.new_stream(sid);
            self.map.insert(sid, s);
            self.note_state(sid, true);
        }
        self.map.get_mut(&sid).ok_or(StreamError::Finished)
    }

    /// Opens our next stream of a kind now, reserving its ID (quinn's
    /// `open_bi` / `open_uni`): `Limit` while the peer's MAX_STREAMS does
    /// not allow another.
    pub(crate) fn open_local(&mut self, uni: bool) -> Result<u64, StreamError> {
        let sid = self.next_stream_id(uni);
        self.local_stream_for_send(sid)?;
        Ok(sid)
    }

    /// Queues data on a stream (aioquic's `send_stream_data`), copied.
    pub(crate) fn send(&mut self, sid: u64, data: &[u8], fin: bool) -> Result<(), StreamError> {
        self.send_with(sid, |send| send.write_slice(data, fin))
    }

    /// Queues the caller's buffer on a stream, without a copy.
    pub(crate) fn send_bytes(
        &mut self,
        sid: u64,
        data: bytes::Bytes,
        fin: bool,
    ) -> Result<(), StreamError> {
        self.send_with(sid, |send| send.write(data, fin))
    }

    fn send_with(
        &mut self,
        sid: u64,
        write: impl FnOnce(&mut SendStream),
    ) -> Result<(), StreamError> {
        let stream = self.local_stream_for_send(sid)?;
        let Some(send) = stream.send.as_mut() else {
            return Err(StreamError::Invalid("stream has no send side"));
        };
        if send.reset.is_some() || send.stop_code.is_some() {
            return Err(StreamError::Reset);
        }
        if send.is_finished() {
            return Err(StreamError::Finished);
        }
        write(send);
        self.note_written(sid);
        self.queue(sid);
        Ok(())
    }

    /// Resets our send side (aioquic's `reset_stream`).
    pub(crate) fn reset(&mut self, sid: u64, error_code: u64) -> Result<(), StreamError> {
        let stream = self.local_stream_for_send(sid)?;
        let Some(send) = stream.send.as_mut() else {
            return Err(StreamError::Invalid("stream has no send side"));
        };
        if send.reset.is_none() {
            send.reset(error_code);
            self.resets.insert(sid);
        }
        Ok(())
    }

    /// Asks the peer to stop sending (aioquic's `stop_stream`).
    pub(crate) fn stop(&mut self, sid: u64, error_code: u64) -> Result<(), StreamError> {
        let Some(recv) = self.app_recv_half(sid)? else {
            return Ok(()); // already finished and forgotten
        };
        if recv.stop.is_none() && !recv.is_done() {
            recv.stop = Some((error_code, true));
            self.stops.insert(sid);
        }
        Ok(())
    }

    /// The stream a frame from the peer refers to; opens peer streams up to
    /// it. `Ok(None)` for a stream already closed and forgotten.
    /// `for_recv` selects the half the frame acts on.
    fn remote_frame_stream(
        &mut self,
        sid: u64,
        ty: u64,
        for_recv: bool,
    ) -> Result<Option<&mut Stream>, TransportError> {
        let d = id::dir(sid);
        let index = id::index(sid);
        let state = |reason| Err(TransportError::new(code::STREAM_STATE_ERROR, ty, reason));
        if id::initiator(sid) == self.side {
            // RFC 9000 §19.8 etc.: our unidirectional streams have no
            // receive side; our streams must have been opened.
            if for_recv && !id::is_bidi(sid) {
                return state("frame for the receive side of a send-only stream");
            }
            if index >= self.next_local[d] {
                return state("frame for a locally initiated stream not yet opened");
            }
        } else {
            if !for_recv && !id::is_bidi(sid) {
                return state("frame for the send side of a receive-only stream");
            }
            // RFC 9000 §4.6: beyond the limit we advertised.
            if index >= self.local_max_streams[d] {
                return Err(TransportError::new(
                    code::STREAM_LIMIT_ERROR,
                    ty,
                    "stream beyond MAX_STREAMS",
                ));
            }
            self.open_peer_stream(sid);
        }
        Ok(self.map.get_mut(&sid))
    }

    /// A peer stream named by a frame or used by the application: opens
    /// it, and implicitly every lower one of its type (RFC 9000 §3.2),
    /// which get state only once used. A stream that was used and
    /// forgotten stays forgotten.
    fn open_peer_stream(&mut self, sid: u64) {
        let (d, index) = (id::dir(sid), id::index(sid));
        let fresh = if index >= self.peer_opened[d] {
            self.unborn[d].add(self.peer_opened[d], index);
            self.peer_opened[d] = index + 1;
            true
        } else {
            self.unborn[d].take(index)
        };
        if fresh {
            let s = self.new_stream(sid);
            self.map.insert(sid, s);
            self.note_state(sid, true);
        }
    }

    /// Streams with state (for the hostile-peer bounds).
    #[cfg(test)]
    pub(crate) fn stream_count(&self) -> usize {
        self.map.len()
    }

    /// A STREAM frame (RFC 9000 §19.8). Its data may be refused for
    /// holding too many out-of-order pieces: the packet must then go
    /// unacknowledged, and the peer sends it again. Dropping, not closing,
    /// keeps a peer with extreme loss alive, and costs an attacker the same
    /// work as any other frame.
    pub(crate) fn on_stream(
        &mut self,
        sid: u64,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<StreamIn, TransportError> {
        let total = self.ooo_pieces;
        let Some(stream) = self.remote_frame_stream(sid, kind::STREAM, true)? else {
            return Ok(StreamIn::Repeat); // closed and forgotten: all of it came
        };
        let Some(recv) = stream.recv.as_mut() else {
            return Ok(StreamIn::Stored);
        };
        let room = MAX_OOO_PIECES_PER_CONNECTION.saturating_sub(total);
        let cap = MAX_OOO_PIECES_PER_STREAM.min(recv.pieces() + room);
        let got = recv.on_data(offset, data, fin, cap)?;
        // Data behind a mark in the event queue joins it: nothing to do.
        let announced = recv.data_mark.is_some();
        self.ooo_pieces = self.ooo_pieces.saturating_add_signed(got.pieces_delta);
        self.on_received(got.new_highest, kind::STREAM)?;
        if !announced {
            self.mark_readable(sid);
        }
        Ok(if got.refused {
            StreamIn::Refused
        } else if got.repeat {
            StreamIn::Repeat
        } else {
            StreamIn::Stored
        })
    }

    /// Out-of-order pieces held over all streams.
    #[cfg(test)]
    pub(crate) fn ooo_pieces(&self) -> usize {
        self.ooo_pieces
    }

    /// A RESET_STREAM frame (RFC 9000 §19.4).
    pub(crate) fn on_reset_stream(
        &mut self,
        sid: u64,
        error_code: u64,
        final_size: u64,
    ) -> Result<(), TransportError> {
        let Some(stream) = self.remote_frame_stream(sid, kind::RESET_STREAM, true)? else {
            return Ok(());
        };
        let Some(recv) = stream.recv.as_mut() else {
            return Ok(());
        };
        let got = recv.on_reset(error_code, final_size)?;
        self.ooo_pieces = self.ooo_pieces.saturating_add_signed(got.pieces_delta);
        self.on_received(got.new_highest, kind::RESET_STREAM)?;
        self.mark_readable(sid);
        Ok(())
    }

    /// Connection-level flow control of received data (RFC 9000 §4.1).
    fn on_received(&mut self, new_bytes: u64, ty: u64) -> Result<(), TransportError> {
        self.data_received += new_bytes;
        if self.data_received > self.recv_window.limit() {
            return Err(TransportError::new(
                code::FLOW_CONTROL_ERROR,
                ty,
                "data beyond MAX_DATA",
            ));
        }
        Ok(())
    }

    /// A STOP_SENDING frame (RFC 9000 §19.5): returns the code to report,
    /// once. The send side is reset with the same code (§3.5).
    pub(crate) fn on_stop_sending(
        &mut self,
        sid: u64,
        error_code: u64,
    ) -> Result<Option<u64>, TransportError> {
        let Some(stream) = self.remote_frame_stream(sid, kind::STOP_SENDING, false)? else {
            return Ok(None);
        };
        let Some(send) = stream.send.as_mut() else {
            return Ok(None);
        };
        if send.stop_code.is_some() {
            return Ok(None);
        }
        send.stop_code = Some(error_code);
        if send.reset.is_none() && !send.is_done() {
            send.reset(error_code);
            self.resets.insert(sid);
        }
        Ok(Some(error_code))
    }

    /// A MAX_STREAM_DATA frame (RFC 9000 §19.10).
    pub(crate) fn on_max_stream_data(&mut self, sid: u64, max: u64) -> Result<(), TransportError> {
        let Some(stream) = self.remote_frame_stream(sid, kind::MAX_STREAM_DATA, false)? else {
            return Ok(());
        };
        if let Some(send) = stream.send.as_mut() {
            if max > send.max_data {
                send.max_data = max;
                self.queue(sid);
            }
        }
        Ok(())
    }

    /// A STREAM_DATA_BLOCKED frame (RFC 9000 §19.13): only checked.
    pub(crate) fn on_stream_data_blocked(&mut self, sid: u64) -> Result<(), TransportError> {
        self.remote_frame_stream(sid, kind::STREAM_DATA_BLOCKED, true)
            .map(|_| ())
    }

    /// A MAX_DATA frame (RFC 9000 §19.9).
    pub(crate) fn on_max_data(&mut self, max: u64) {
        if max > self.send_max_data {
            self.send_max_data = max;
            // Streams waiting on connection credit may go again.
            let waiting: Vec<u64> = self
                .map
                .iter()
                .filter(|(_, s)| s.send.as_ref().is_some_and(|x| x.buffered() > 0))
                .map(|(id, _)| *id)
                .collect();
            for sid in waiting {
                self.queue(sid);
            }
        }
    }

    /// A MAX_STREAMS frame (RFC 9000 §19.11). Returns the new limit when
    /// it raised one the application had been refused by (once per
    /// refusal, so a peer's stream of frames makes no stream of events).
    pub(crate) fn on_max_streams(&mut self, bidi: bool, max: u64) -> Option<u64> {
        let d = usize::from(!bidi);
        let raised = max > self.peer_max_streams[d];
        self.peer_max_streams[d] = self.peer_max_streams[d].max(max);
        (raised && std::mem::take(&mut self.app_blocked[d])).then_some(max)
    }

    /// Forgets a stream whose both halves are done; a peer stream's slot is
    /// given back with MAX_STREAMS (RFC 9000 §4.6).
    pub(crate) fn maybe_forget(&mut self, sid: u64) {
        let Some(s) = self.map.get(&sid) else { return };
        let send_done = s.send.as_ref().is_none_or(|x| x.is_done());
        let recv_done = s.recv.as_ref().is_none_or(|x| self.recv_done(x));
        if !(send_done && recv_done) {
            return;
        }
        let held = s.recv.as_ref().map_or(0, |r| r.pieces());
        self.ooo_pieces = self.ooo_pieces.saturating_sub(held);
        self.map.remove(&sid);
        self.note_state(sid, false);
        self.window_updates.remove(&sid);
        self.stream_blocked.remove(&sid);
        if id::initiator(sid) != self.side {
            let d = id::dir(sid);
            self.peer_closed[d] += 1;
            let limit = self.peer_closed[d] + self.initial_max_streams[d];
            let step = (self.initial_max_streams[d] / 2).max(1);
            if limit >= self.local_max_streams[d] + step {
                self.local_max_streams[d] = limit;
                self.max_streams_pending[d] = true;
            }
        }
    }

    // ---- sending ----

    /// Early data was refused: our streams' send limits go back to the
    /// peer's initial ones (a MAX_STREAM_DATA it never sent cannot have
    /// raised them).
    pub(crate) fn on_early_data_refused(&mut self) {
        let ids: Vec<u64> = self.map.keys().copied().collect();
        for sid in ids {
            let limit = self.peer_stream_limit(sid);
            if let Some(s) = self.map.get_mut(&sid).and_then(|s| s.send.as_mut()) {
                s.max_data = limit;
            }
        }
    }

    /// True when what was sent goes beyond the peer's limits now: after a
    /// refused 0-RTT, whose limits the server may have lowered.
    pub(crate) fn exceeds_peer_limits(&self) -> bool {
        self.data_sent > self.send_max_data
            || (0..2).any(|d| self.next_local[d] > self.peer_max_streams[d])
            || self
                .map
                .values()
                .filter_map(|s| s.send.as_ref())
                .any(|s| s.sent_offset() > s.max_data)
    }

    /// Connection credit left for new stream data.
    pub(crate) fn conn_credit(&self) -> u64 {
        self.send_max_data.saturating_sub(self.data_sent)
    }

    /// True when stream data or stream control frames wait.
    pub(crate) fn has_pending(&self) -> bool {
        !self.send_queue.is_empty() || self.control_pending()
    }

    /// True when flow-control or stream-state frames wait (rarely: most
    /// packets carry data only).
    pub(crate) fn control_pending(&self) -> bool {
        !self.window_updates.is_empty()
            || !self.resets.is_empty()
            || !self.stops.is_empty()
            || !self.stream_blocked.is_empty()
            || self.recv_window.has_update()
            || self.max_streams_pending.iter().any(|p| *p)
            || self.streams_blocked.iter().any(Option::is_some)
            || self.data_blocked_due()
    }

    fn data_blocked_due(&self) -> bool {
        self.conn_credit() == 0
            && self.data_blocked_sent != Some(self.send_max_data)
            && self.map.values().any(|s| {
                s.send
                    .as_ref()
                    .is_some_and(|x| x.buffered() > 0 && x.reset.is_none())
            })
    }

    /// Writes the next STREAM frame into `out`. Lost data goes first, so
    /// that a hole at the receiver is filled before it waits a round of
    /// every other stream's new data. Then round-robin: the next queued
    /// stream with something to send gives a chunk of at most
    /// `max_len(stream, offset)` bytes (the room left once that frame's
    /// header is written) and goes to the back of the queue. One map
    /// lookup per frame.
    pub(crate) fn write_next_chunk(
        &mut self,
        max_len: impl Fn(u64, u64) -> usize,
        out: &mut Vec<u8>,
        deferred: &mut DeferredData,
    ) -> NextChunk {
        let credit = self.conn_credit();
        while let Some(&sid) = self.resend_queue.front() {
            let Some(stream) = self.map.get_mut(&sid) else {
                self.resend_queue.pop_front();
                continue;
            };
            match stream.send.as_mut().filter(|s| s.has_lost()) {
                Some(send) => {
                    let Some(chunk) = send.next_chunk(max_len(sid, send.next_offset()), credit)
                    else {
                        return NextChunk::DidNotFit;
                    };
                    if !send.has_lost() {
                        stream.resend_queued = false;
                        self.resend_queue.pop_front();
                    }
                    return Self::write_chunk(send, sid, chunk, out, deferred);
                }
                None => {
                    stream.resend_queued = false;
                    self.resend_queue.pop_front();
                }
            }
        }
        while let Some(sid) = self.send_queue.pop_front() {
            let Some(stream) = self.map.get_mut(&sid) else {
                continue;
            };
            let Some(send) = stream.send.as_mut() else {
                stream.queued = false;
                continue;
            };
            if !send.wants_to_send(credit) {
                stream.queued = false;
                // STREAM_DATA_BLOCKED is owed once per limit.
                if send.blocked_by_stream_limit() && send.blocked_at != Some(send.max_data) {
                    self.stream_blocked.insert(sid);
                }
                continue;
            }
            // Served: back in line behind the others.
            self.send_queue.push_back(sid);
            let Some(chunk) = send.next_chunk(max_len(sid, send.next_offset()), credit) else {
                return NextChunk::DidNotFit;
            };
            self.data_sent += chunk.new_bytes;
            return Self::write_chunk(send, sid, chunk, out, deferred);
        }
        NextChunk::Idle
    }

    /// A STREAM frame for `chunk` of `send`, whose bytes are still held
    /// (and read from there when the packet is sealed).
    fn write_chunk(
        send: &mut SendStream,
        sid: u64,
        chunk: Chunk,
        out: &mut Vec<u8>,
        deferred: &mut DeferredData,
    ) -> NextChunk {
        frame::write_stream_header(out, sid, chunk.offset, chunk.len, chunk.fin, true);
        send.put(chunk.offset, chunk.len, out, deferred);
        NextChunk::Wrote(sid, chunk)
    }

    /// True while some stream holds lost data not yet sent again.
    #[cfg(test)]
    pub(crate) fn resend_pending(&self) -> bool {
        !self.resend_queue.is_empty()
    }

    /// The send half of a stream.
    pub(crate) fn send_half(&mut self, sid: u64) -> Option<&mut SendStream> {
        self.map.get_mut(&sid)?.send.as_mut()
    }

    /// The send half of a stream, to read.
    pub(crate) fn send_half_ref(&self, sid: u64) -> Option<&SendStream> {
        self.map.get(&sid)?.send.as_ref()
    }

    /// The receive half of a stream.
    pub(crate) fn recv_half(&mut self, sid: u64) -> Option<&mut RecvStream> {
        self.map.get_mut(&sid)?.recv.as_mut()
    }

    /// A STREAM frame was acknowledged.
    /// One map lookup: this runs for every acknowledged packet of a bulk
    /// transfer.
    pub(crate) fn on_stream_acked(&mut self, sid: u64, offset: u64, len: u64, fin: bool) {
        let Some(stream) = self.map.get_mut(&sid) else {
            return;
        };
        if let Some(send) = stream.send.as_mut() {
            send.on_acked(offset, len, fin);
            if send.fell_below(self.writable_level) {
                self.writable.push_back(sid);
            }
            if !send.is_done() {
                return; // not to be forgotten yet
            }
        }
        self.maybe_forget(sid);
    }

    /// A STREAM frame was lost.
    pub(crate) fn on_stream_lost(&mut self, sid: u64, offset: u64, len: u64, fin: bool) {
        let Some(stream) = self.map.get_mut(&sid) else {
            return;
        };
        let Some(send) = stream.send.as_mut() else {
            return;
        };
        send.on_lost(offset, len, fin);
        if send.has_lost() && !std::mem::replace(&mut stream.resend_queued, true) {
            self.resend_queue.push_back(sid);
        }
        self.queue(sid);
    }

    /// MAX_STREAMS to send: (bidi, limit).
    pub(crate) fn take_max_streams(&mut self) -> Option<(bool, u64)> {
        for d in 0..2 {
            if std::mem::take(&mut self.max_streams_pending[d]) {
                return Some((d == 0, self.local_max_streams[d]));
            }
        }
        None
    }

    /// A MAX_STREAMS frame was lost.
    pub(crate) fn on_max_streams_lost(&mut self, bidi: bool) {
        self.max_streams_pending[usize::from(!bidi)] = true;
    }

    /// STREAMS_BLOCKED to send: (bidi, limit), once per limit.
    pub(crate) fn take_streams_blocked(&mut self) -> Option<(bool, u64)> {
        for d in 0..2 {
            if let Some(limit) = self.streams_blocked[d].take() {
                if self.streams_blocked_sent[d] != Some(limit) && limit == self.peer_max_streams[d]
                {
                    self.streams_blocked_sent[d] = Some(limit);
                    return Some((d == 0, limit));
                }
            }
        }
        None
    }

    /// DATA_BLOCKED to send, once per limit.
    pub(crate) fn take_data_blocked(&mut self) -> Option<u64> {
        if self.data_blocked_due() {
            self.data_blocked_sent = Some(self.send_max_data);
            return Some(self.send_max_data);
        }
        None
    }
}

#[cfg(test)]
mod tests;
