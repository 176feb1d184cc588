//! Streams and datagrams at the connection: the application calls, the
//! stream frames received, and the stream and datagram frames written into
//! 1-RTT packets (control frames first, then round-robin data).

use bytes::Bytes;

use super::close::CloseState;
use super::deferred_data::DeferredData;
use super::spaces::SentFrame;
use super::streams::{NextChunk, StreamError, StreamIn};
use super::{ApiError, Connection, Event};
use crate::crypto::TAG_LEN;
use crate::error::TransportError;
use crate::frame::{self, Frame};
use crate::varint;

/// DATAGRAM payloads queued at most, to send and to deliver.
const MAX_QUEUED_DATAGRAMS: usize = 256;

/// A short header with a 20-byte CID and a 4-byte packet number, plus tag.
const SHORT_OVERHEAD: usize = 1 + 20 + 4 + TAG_LEN;

fn stream_error(e: StreamError) -> ApiError {
    match e {
        StreamError::Limit => ApiError::StreamLimit,
        StreamError::LimitsUnknown => ApiError::HandshakePending,
        StreamError::Invalid(why) => ApiError::InvalidStream(why),
        StreamError::Finished => ApiError::StreamFinished,
        StreamError::Reset => ApiError::StreamReset,
    }
}

fn check_stream_id(stream_id: u64) -> Result<(), ApiError> {
    if stream_id > varint::MAX {
        return Err(ApiError::InvalidStream("stream ID above 2^62 - 1"));
    }
    Ok(())
}

impl Connection {
    fn check_open(&self) -> Result<(), ApiError> {
        if matches!(self.close, CloseState::Open) {
            Ok(())
        } else {
            Err(ApiError::Closing)
        }
    }

    /// Queues `data` on a stream, opening a local stream implicitly
    /// (aioquic's `send_stream_data`). The data is copied.
    pub fn stream_send(&mut self, stream_id: u64, data: &[u8], fin: bool) -> Result<(), ApiError> {
        self.check_open()?;
        check_stream_id(stream_id)?;
        self.streams
            .send(stream_id, data, fin)
            .map_err(stream_error)
    }

    /// Like [`Connection::stream_send`], taking the caller's buffer as it
    /// is: no copy (for Rust callers that already hold `Bytes`).
    pub fn stream_send_bytes(
        &mut self,
        stream_id: u64,
        data: bytes::Bytes,
        fin: bool,
    ) -> Result<(), ApiError> {
        self.check_open()?;
        check_stream_id(stream_id)?;
        self.streams
            .send_bytes(stream_id, data, fin)
            .map_err(stream_error)
    }

    /// Abandons our sending on a stream with RESET_STREAM.
    pub fn stream_reset(&mut self, stream_id: u64, error_code: u64) -> Result<(), ApiError> {
        self.check_open()?;
        if stream_id > varint::MAX || error_code > varint::MAX {
            return Err(ApiError::InvalidArgument("value above 2^62 - 1"));
        }
        self.streams
            .reset(stream_id, error_code)
            .map_err(stream_error)
    }

    /// Asks the peer to stop sending on a stream (STOP_SENDING).
    pub fn stream_stop(&mut self, stream_id: u64, error_code: u64) -> Result<(), ApiError> {
        self.check_open()?;
        if stream_id > varint::MAX || error_code > varint::MAX {
            return Err(ApiError::InvalidArgument("value above 2^62 - 1"));
        }
        self.streams
            .stop(stream_id, error_code)
            .map_err(stream_error)
    }

    /// Credits `len` bytes of a stream back to the peer, when the
    /// configuration says [`ReceiveCredit::OnConsume`]: bytes of data
    /// events taken and now done with. The peer's windows move (and may
    /// grow) at this pace; a stream is kept until its FIN was delivered
    /// and all of it consumed. `InvalidStream` for more than was delivered
    /// and not consumed yet; nothing happens for a stream whose reset was
    /// reported (its bytes were credited then).
    ///
    /// [`ReceiveCredit::OnConsume`]: crate::config::ReceiveCredit::OnConsume
    pub fn stream_consumed(&mut self, stream_id: u64, len: u64) -> Result<(), ApiError> {
        self.check_open()?;
        check_stream_id(stream_id)?;
        if !self.streams.credits_on_consume() {
            return Err(ApiError::InvalidState(
                "credit is given when events are taken; configure ReceiveCredit::OnConsume",
            ));
        }
        let rtt = self.recovery.path.rtt.smoothed();
        self.streams
            .consume(stream_id, len, self.last_now, rtt)
            .map_err(stream_error)
    }

    /// Read mode ([`ReceiveMode::Read`]): copies up to `buf.len()` of the
    /// stream's next in-order bytes and gives them back to the peer as
    /// credit. `Some((n, fin))`: `n` bytes, and whether the stream ends
    /// with them (`0, true` for a bare FIN); `None`: nothing yet (a
    /// StreamReadable event comes when there is). `StreamFinished` once it
    /// was read to its end or its reset was reported (a StreamReset event;
    /// the stream is then forgotten), `StreamReset` before that. Data
    /// that arrived before the connection closed can still be read.
    ///
    /// [`ReceiveMode::Read`]: crate::config::ReceiveMode::Read
    pub fn stream_read(
        &mut self,
        stream_id: u64,
        buf: &mut [u8],
    ) -> Result<Option<(usize, bool)>, ApiError> {
        // No check that the connection is open: what arrived before it
        // closed can still be read, as queued events can still be polled.
        check_stream_id(stream_id)?;
        if !self.streams.reads() {
            return Err(ApiError::InvalidState(
                "stream data comes in events; configure ReceiveMode::Read",
            ));
        }
        let rtt = self.recovery.path.rtt.smoothed();
        self.streams
            .read(stream_id, buf, self.last_now, rtt)
            .map_err(stream_error)
    }

    /// Stops delivering a stream's data: it stays in the library, is not
    /// credited, and the peer stops when the stream's window is full. A
    /// reset of the stream is still reported.
    pub fn stream_pause_reading(&mut self, stream_id: u64) -> Result<(), ApiError> {
        self.check_open()?;
        check_stream_id(stream_id)?;
        self.streams
            .set_paused(stream_id, true)
            .map_err(stream_error)
    }

    /// Delivers a paused stream's data again; what waited is queued as
    /// events at once.
    pub fn stream_resume_reading(&mut self, stream_id: u64) -> Result<(), ApiError> {
        self.check_open()?;
        check_stream_id(stream_id)?;
        self.streams
            .set_paused(stream_id, false)
            .map_err(stream_error)?;
        self.collect_stream_events();
        Ok(())
    }

    /// Opens our next stream of a kind and returns its ID, reserved: the
    /// next call opens another (quinn's `open_bi` / `open_uni`).
    /// `StreamLimit` while the peer's MAX_STREAMS does not allow one more
    /// (including before the handshake has told us its limits).
    pub fn open_stream(&mut self, unidirectional: bool) -> Result<u64, ApiError> {
        self.check_open()?;
        self.streams
            .open_local(unidirectional)
            .map_err(stream_error)
    }

    /// The next stream ID of ours not used yet (aioquic's
    /// `get_next_available_stream_id`): a peek, nothing is reserved, so two
    /// calls give the same ID until that stream is used.
    pub fn next_stream_id(&self, unidirectional: bool) -> u64 {
        self.streams.next_stream_id(unidirectional)
    }

    /// Bytes queued on a stream and not yet acknowledged by the peer: the
    /// memory the stream's sending holds. An application that sends more
    /// than it wants to buffer waits for this to drop before sending more.
    /// 0 for a stream with no send state (never used, or done and
    /// forgotten).
    pub fn stream_send_buffered(&self, stream_id: u64) -> u64 {
        self.streams
            .send_half_ref(stream_id)
            .map_or(0, |s| s.buffered())
    }

    /// How a stream's sending stands: bytes never sent, bytes sent and not
    /// acknowledged, and whether new data waits for the peer's flow
    /// control. `None` for a stream with no send state (never used, or
    /// done and forgotten).
    pub fn stream_send_info(&self, stream_id: u64) -> Option<crate::conn::SendInfo> {
        self.streams.send_info(stream_id)
    }

    /// Number of streams the connection holds state for.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The largest DATAGRAM payload the peer accepts in one packet now.
    pub fn max_datagram_payload(&self) -> Option<usize> {
        let peer = self.peer_limits()?.max_datagram_frame_size? as usize;
        // Frame type and a 2-byte length come out of the peer's frame limit.
        let by_peer = peer.saturating_sub(3);
        let by_packet = self.max_send_size().min(self.path_datagram_limit()) - SHORT_OVERHEAD - 3;
        Some(by_peer.min(by_packet))
    }

    /// Queues an unreliable DATAGRAM frame (RFC 9221).
    pub fn send_datagram(&mut self, data: &[u8]) -> Result<(), ApiError> {
        self.check_open()?;
        if self.peer_limits().is_none() {
            return Err(ApiError::InvalidState("the handshake has not completed"));
        }
        let Some(max) = self.max_datagram_payload() else {
            return Err(ApiError::DatagramUnsupported);
        };
        if data.len() > max {
            return Err(ApiError::DatagramTooLarge);
        }
        if self.datagrams.len() >= MAX_QUEUED_DATAGRAMS {
            return Err(ApiError::WouldBlock);
        }
        self.datagrams.push_back(Bytes::copy_from_slice(data));
        Ok(())
    }

    /// A STREAM frame from the peer; false when it only repeated data we
    /// have (for the acknowledgement of repeats, see `AckState`).
    pub(super) fn on_stream_data(
        &mut self,
        stream_id: u64,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<bool, TransportError> {
        Ok(
            match self.streams.on_stream(stream_id, offset, data, fin)? {
                StreamIn::Stored => true,
                StreamIn::Repeat => false,
                StreamIn::Refused => {
                    self.drop_packet = true;
                    true
                }
            },
        )
    }

    /// Acts on a stream-related (but STREAM) or DATAGRAM frame from the
    /// peer.
    pub(super) fn on_stream_frame(&mut self, f: Frame<'_>) -> Result<(), TransportError> {
        match f {
            Frame::ResetStream {
                stream_id,
                error_code,
                final_size,
            } => self
                .streams
                .on_reset_stream(stream_id, error_code, final_size),
            Frame::StopSending {
                stream_id,
                error_code,
            } => {
                if let Some(code) = self.streams.on_stop_sending(stream_id, error_code)? {
                    self.reports.events.push(Event::StopSendingReceived {
                        stream_id,
                        error_code: code,
                    });
                }
                Ok(())
            }
            Frame::MaxData(max) => {
                self.streams.on_max_data(max);
                Ok(())
            }
            Frame::MaxStreamData { stream_id, max } => {
                self.streams.on_max_stream_data(stream_id, max)
            }
            Frame::MaxStreams { bidi, max } => {
                if let Some(limit) = self.streams.on_max_streams(bidi, max) {
                    self.reports.events.push(Event::StreamsAvailable {
                        unidirectional: !bidi,
                        max_streams: limit,
                    });
                }
                Ok(())
            }
            Frame::StreamDataBlocked { stream_id, .. } => {
                self.streams.on_stream_data_blocked(stream_id)
            }
            Frame::DataBlocked(_) | Frame::StreamsBlocked { .. } => Ok(()),
            Frame::Datagram { data, with_len } => {
                // RFC 9221 §3: without our offer, or over our limit, it is a
                // PROTOCOL_VIOLATION.
                let ty = if with_len {
                    frame::kind::DATAGRAM_LEN
                } else {
                    frame::kind::DATAGRAM
                };
                let Some(max) = self.config.transport.max_datagram_frame_size else {
                    return Err(TransportError::protocol_violation(
                        ty,
                        "DATAGRAM frames were not offered",
                    ));
                };
                let size = 1
                    + data.len()
                    + if with_len {
                        varint::encoded_len(data.len() as u64).unwrap_or(8)
                    } else {
                        0
                    };
                if size as u64 > max {
                    return Err(TransportError::protocol_violation(
                        ty,
                        "DATAGRAM frame too large",
                    ));
                }
                // Unread datagrams are bounded: past the limit new ones are
                // dropped, which RFC 9221 §5 allows for unreliable data.
                if self.datagrams_undelivered < MAX_QUEUED_DATAGRAMS {
                    self.datagrams_undelivered += 1;
                    self.reports.events.push(Event::DatagramFrameReceived {
                        data: Bytes::copy_from_slice(data),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Turns newly deliverable stream data and resets into events.
    pub(super) fn collect_stream_events(&mut self) {
        let rtt = self.recovery.path.rtt.smoothed();
        self.streams
            .drain_readable(self.last_now, rtt, &mut self.reports.events);
        self.streams.drain_writable(&mut self.reports.events);
    }

    /// True when 1-RTT stream or datagram frames wait.
    pub(super) fn stream_work_pending(&self) -> bool {
        self.streams.has_pending() || !self.datagrams.is_empty()
    }

    /// Writes flow-control and stream-state frames, then datagrams, then
    /// stream data round-robin, while they fit below `limit` (minus the
    /// tag). Data frames are written only when `allow_data`.
    pub(super) fn write_stream_frames(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        allow_data: bool,
        frames: &mut Vec<SentFrame>,
        ack_eliciting: &mut bool,
        deferred: &mut DeferredData,
    ) {
        if self.streams.control_pending() {
            self.write_stream_control(out, limit, frames, ack_eliciting);
        }
        if allow_data {
            self.write_stream_data(out, limit, frames, ack_eliciting, deferred);
        }
    }

    /// Flow-control and stream-state frames (RFC 9000 §4 limits, §3.5
    /// stream states).
    fn write_stream_control(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        frames: &mut Vec<SentFrame>,
        ack_eliciting: &mut bool,
    ) {
        let mut put = |out: &mut Vec<u8>,
                       f: Frame<'_>,
                       sent: SentFrame,
                       frames: &mut Vec<SentFrame>|
         -> bool {
            let mark = out.len();
            f.write(out);
            if out.len() + TAG_LEN > limit {
                out.truncate(mark);
                return false;
            }
            frames.push(sent);
            *ack_eliciting = true;
            true
        };
        if let Some(max) = self.streams.recv_window.take_update() {
            if !put(out, Frame::MaxData(max), SentFrame::MaxData, frames) {
                self.streams.recv_window.on_update_lost();
            }
        }
        for sid in std::mem::take(&mut self.streams.window_updates) {
            let Some(max) = self
                .streams
                .recv_half(sid)
                .and_then(|r| r.window.take_update())
            else {
                continue;
            };
            if !put(
                out,
                Frame::MaxStreamData {
                    stream_id: sid,
                    max,
                },
                SentFrame::MaxStreamData { id: sid },
                frames,
            ) {
                if let Some(r) = self.streams.recv_half(sid) {
                    r.window.on_update_lost();
                }
                self.streams.window_updates.insert(sid);
            }
        }
        while let Some((bidi, max)) = self.streams.take_max_streams() {
            if !put(
                out,
                Frame::MaxStreams { bidi, max },
                SentFrame::MaxStreams { bidi },
                frames,
            ) {
                self.streams.on_max_streams_lost(bidi);
                break;
            }
        }
        for sid in std::mem::take(&mut self.streams.resets) {
            let Some(r) = self.streams.send_half(sid).and_then(|s| s.reset) else {
                continue;
            };
            let f = Frame::ResetStream {
                stream_id: sid,
                error_code: r.code,
                final_size: r.final_size,
            };
            if put(out, f, SentFrame::ResetStream { id: sid }, frames) {
                if let Some(reset) = self.streams.send_half(sid).and_then(|s| s.reset.as_mut()) {
                    reset.pending = false;
                }
            } else {
                self.streams.resets.insert(sid);
            }
        }
        for sid in std::mem::take(&mut self.streams.stops) {
            let Some((code, true)) = self.streams.recv_half(sid).and_then(|r| r.stop) else {
                continue;
            };
            let f = Frame::StopSending {
                stream_id: sid,
                error_code: code,
            };
            if put(out, f, SentFrame::StopSending { id: sid }, frames) {
                if let Some(r) = self.streams.recv_half(sid) {
                    r.stop = Some((code, false));
                }
            } else {
                self.streams.stops.insert(sid);
            }
        }
        if let Some(limit_now) = self.streams.take_data_blocked() {
            put(
                out,
                Frame::DataBlocked(limit_now),
                SentFrame::NotResent,
                frames,
            );
        }
        while let Some((bidi, l)) = self.streams.take_streams_blocked() {
            put(
                out,
                Frame::StreamsBlocked { bidi, limit: l },
                SentFrame::NotResent,
                frames,
            );
        }
        for sid in std::mem::take(&mut self.streams.stream_blocked) {
            let Some(send) = self.streams.send_half(sid) else {
                continue;
            };
            if send.blocked_at == Some(send.max_data) {
                continue;
            }
            let l = send.max_data;
            send.blocked_at = Some(l);
            put(
                out,
                Frame::StreamDataBlocked {
                    stream_id: sid,
                    limit: l,
                },
                SentFrame::NotResent,
                frames,
            );
        }
    }

    /// Datagrams, then stream data round-robin, one chunk per stream per
    /// turn.
    fn write_stream_data(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        frames: &mut Vec<SentFrame>,
        ack_eliciting: &mut bool,
        deferred: &mut DeferredData,
    ) {
        let room = |out: &Vec<u8>| limit.saturating_sub(out.len() + TAG_LEN);
        // Datagrams: unreliable, so they go before stream data.
        while let Some(d) = self.datagrams.front() {
            let size = 1 + 2 + d.len();
            if size > room(out) {
                break;
            }
            frame::write_datagram_header(out, d.len(), true);
            out.extend_from_slice(d);
            self.datagrams.pop_front();
            frames.push(SentFrame::NotResent);
            *ack_eliciting = true;
        }
        // Stream data, one chunk per stream per turn.
        let mut tried = 0;
        while room(out) > 24 {
            let r = room(out);
            // The frame's own header, so that the data fills the packet.
            let max_len =
                |sid, offset| r.saturating_sub(frame::stream_header_len(sid, offset, r, true));
            let mark = out.len();
            let (sid, chunk) = match self.streams.write_next_chunk(max_len, out, deferred) {
                NextChunk::Wrote(sid, chunk) => (sid, chunk),
                NextChunk::DidNotFit if tried < 64 => {
                    tried += 1;
                    continue;
                }
                NextChunk::DidNotFit | NextChunk::Idle => break,
            };
            debug_assert!(
                out.len() + TAG_LEN <= limit,
                "{} > {limit}",
                out.len() - mark
            );
            frames.push(SentFrame::Stream {
                id: sid,
                offset: chunk.offset,
                len: chunk.len as u64,
                fin: chunk.fin,
            });
            *ack_eliciting = true;
        }
    }

    /// A frame of ours about streams was acknowledged.
    pub(super) fn on_stream_frame_acked(&mut self, f: SentFrame) {
        if let SentFrame::Stream {
            id,
            offset,
            len,
            fin,
        } = f
        {
            self.streams.on_stream_acked(id, offset, len, fin);
        } else if let SentFrame::ResetStream { id } = f {
            if let Some(r) = self.streams.send_half(id).and_then(|s| s.reset.as_mut()) {
                r.acked = true;
            }
            self.streams.maybe_forget(id);
        }
    }

    /// A frame of ours about streams was lost: send it (or its current
    /// value) again.
    pub(super) fn on_stream_frame_lost(&mut self, f: SentFrame) {
        match f {
            SentFrame::Stream {
                id,
                offset,
                len,
                fin,
            } => self.streams.on_stream_lost(id, offset, len, fin),
            SentFrame::ResetStream { id }
                if self
                    .streams
                    .send_half(id)
                    .and_then(|s| s.reset)
                    .is_some_and(|r| !r.acked) =>
            {
                self.streams.resets.insert(id);
            }
            SentFrame::StopSending { id } => {
                if let Some(r) = self.streams.recv_half(id) {
                    if let Some((code, _)) = r.stop {
                        if !r.is_done() {
                            r.stop = Some((code, true));
                            self.streams.stops.insert(id);
                        }
                    }
                }
            }
            SentFrame::MaxData => self.streams.recv_window.on_update_lost(),
            SentFrame::MaxStreamData { id } => {
                if let Some(r) = self.streams.recv_half(id) {
                    if r.final_size().is_none() {
                        r.window.on_update_lost();
                        self.streams.window_updates.insert(id);
                    }
                }
            }
            SentFrame::MaxStreams { bidi } => self.streams.on_max_streams_lost(bidi),
            _ => {}
        }
    }
}
