//! Packet assembly: one datagram per call, coalescing a packet of each
//! space that has something to send (RFC 9000 §12.2), padded where the
//! rules ask (§14.1), within the anti-amplification limit (§8.1).

use std::net::SocketAddr;

use super::close::CloseState;
use super::deferred_data::DeferredData;
use super::spaces::SentFrame;
use super::{CloseError, Connection, Ecn, Transmit};
use crate::cid::ConnectionId;
use crate::crypto::TAG_LEN;
use crate::error::code;
use crate::frame::{self, Frame};
use crate::packet::header::{self, HeaderLayout, LongHeader};
use crate::packet::{number, protect, MIN_INITIAL_DATAGRAM};
use crate::recovery::{SentPacket, Space};
use crate::side::Side;
use crate::varint;
use crate::version::LongType;

/// Our ack_delay_exponent (the default, 3).
pub(super) const LOCAL_ACK_DELAY_EXPONENT: u32 = 3;

/// Room below which a packet is not worth starting: a long header with two
/// 20-byte CIDs, the tag, and a few frame bytes.
const MIN_PACKET_ROOM: usize = 64 + TAG_LEN;

/// A packet written into the datagram, not yet sealed.
#[derive(Debug)]
pub(super) struct Built {
    space: Space,
    start: usize,
    layout: HeaderLayout,
    pn: u64,
    ack_eliciting: bool,
    padded: bool,
    frames: Vec<SentFrame>,
    /// A 0-RTT packet (Application space, sealed with the 0-RTT keys).
    zero_rtt: bool,
    /// Stream data the packet takes from send buffers when sealed.
    deferred: DeferredData,
}

impl Connection {
    /// Writes the next datagram to send into `out` (cleared first) and
    /// returns where to send it; None when there is nothing to send now
    /// (aioquic's `datagrams_to_send`, one datagram per call).
    pub fn send(&mut self, out: &mut Vec<u8>, now: u64) -> Option<SocketAddr> {
        self.send_on(out, now).map(|t| t.remote)
    }

    /// [`Connection::send`] for a caller with several local addresses: also
    /// says which local address the datagram must leave from (a probed
    /// path's, RFC 9000 §9.1).
    pub fn send_on(&mut self, out: &mut Vec<u8>, now: u64) -> Option<Transmit> {
        self.send_within(out, usize::MAX, now)
    }

    /// [`Connection::send_on`] into a buffer of `cap` bytes: the datagram
    /// (and a PMTU probe) stays within it, whatever size the path allows.
    pub fn send_within(&mut self, out: &mut Vec<u8>, cap: usize, now: u64) -> Option<Transmit> {
        out.clear();
        self.next_datagram(out, cap, None, None, now)
    }

    /// Appends the next datagram, of at most `cap` bytes, to `out`. Only
    /// the first of a batch may be a lone packet for another path (a
    /// PATH_RESPONSE elsewhere, a probe); a later one goes where the
    /// first (`batch`) went, with the same ECN mark, or not at all. With
    /// `dst`, the protected datagram goes there, at the offset it has in
    /// `out` (which keeps the plaintext, but for the stream data sealed
    /// from the send buffers: see `deferred_data`).
    pub(super) fn next_datagram(
        &mut self,
        out: &mut Vec<u8>,
        cap: usize,
        batch: Option<Transmit>,
        dst: Option<&mut [u8]>,
        now: u64,
    ) -> Option<Transmit> {
        let base = out.len();
        self.last_now = self.last_now.max(now);
        let peer = self.paths.active.peer?;
        let closing = match self.close {
            CloseState::Open => false,
            CloseState::Closing { send: true, .. } => self.local_error.is_some(),
            _ => return None,
        };
        // RFC 9001 §6.6: the limits hold from the first 1-RTT packet (an
        // update itself still waits for confirmation, §6.1).
        if !closing && self.spaces[Space::Application as usize].seal.is_some() {
            self.update_keys_if_due(now);
            if !matches!(self.close, CloseState::Open) {
                return None;
            }
        }
        // RFC 9000 §13.4: ECT(0) while the path tests or passed ECN.
        let ecn = if self.recovery.ecn_marking() {
            Ecn::Ect0
        } else {
            Ecn::NotEct
        };
        if batch.is_some_and(|b| b.ecn != ecn) {
            return None;
        }
        if !closing && batch.is_none() {
            // Lone packets, sealed in `out` (rare: copied to `dst`).
            let lone = match self.send_path_response_elsewhere(out, now) {
                Some(t) => Some(t),
                None => match self.send_probe(out, now) {
                    Some(t) => Some(t),
                    None => self.send_pmtu_probe(out, cap, now),
                },
            };
            if let Some(t) = lone {
                if let Some(d) = dst {
                    d.get_mut(..out.len())?.copy_from_slice(out);
                }
                return Some(t);
            }
        }
        // RFC 9002 §7.7: the first datagram of a batch may be released up
        // to the horizon ahead of its pacing time; the rest of the batch
        // only if they may leave with it.
        let horizon = match batch {
            None => self.config.transport.pacing_horizon,
            Some(_) => 0,
        };
        self.recovery.start_datagram(horizon);
        let mut room = self.max_datagram_size().min(cap);
        // RFC 9000 §8.1, §9.3.1: an unproven address gets at most three
        // times what came from it.
        if let Some(budget) = self.paths.active.send_budget() {
            room = room.min(budget.min(usize::MAX as u64) as usize);
        }
        if room < MIN_PACKET_ROOM {
            return None;
        }
        let limit = base + room;
        let mut built = std::mem::take(&mut self.built);
        built.clear();
        for space in Space::ALL {
            if limit - out.len() < MIN_PACKET_ROOM {
                break;
            }
            if let Some(b) = self.build_packet(space, out, limit, now, closing, &built) {
                built.push(b);
            }
        }
        if built.is_empty() {
            self.built = built;
            if let CloseState::Closing { send, .. } = &mut self.close {
                *send = false;
            }
            // Nothing more to send: the end of a round.
            self.qlog_hand_over();
            return None;
        }
        // RFC 9000 §14.1: a client pads every datagram with an Initial; a
        // server pads those with an ack-eliciting Initial.
        let needs_pad = built
            .iter()
            .any(|b| b.space == Space::Initial && (self.side == Side::Client || b.ack_eliciting))
            || std::mem::take(&mut self.pad_datagram);
        let target = base + MIN_INITIAL_DATAGRAM.min(room);
        if needs_pad && out.len() < target {
            out.truncate(out.len() - TAG_LEN);
            out.resize(target, 0);
            if let Some(last) = built.last_mut() {
                last.padded = true;
            }
        }
        if !self.seal_all(out, &mut built, dst) {
            // A packet that could not be protected never leaves: drop the
            // datagram and end the connection (INTERNAL_ERROR).
            out.truncate(base);
            for mut b in built.drain(..) {
                self.reuse_frame_list(std::mem::take(&mut b.frames));
            }
            self.built = built;
            self.fail(
                crate::error::TransportError::new(
                    code::INTERNAL_ERROR,
                    0,
                    "packet protection failed",
                ),
                now,
            );
            return None;
        }
        let size = out.len() - base;
        self.qlog_datagram(true, size, ecn);
        let send_at = self.recovery.datagram_send_time(now);
        let sent_handshake = built.iter().any(|b| b.space == Space::Handshake);
        let any_eliciting = built.iter().any(|b| b.ack_eliciting);
        for i in 0..built.len() {
            let end = built.get(i + 1).map_or(out.len(), |next| next.start);
            let b = &mut built[i];
            self.recovery.on_packet_sent(
                b.space,
                SentPacket {
                    pn: b.pn,
                    time_sent: send_at,
                    size: end - b.start,
                    ack_eliciting: b.ack_eliciting,
                    in_flight: b.ack_eliciting || b.padded,
                    ecn: ecn == Ecn::Ect0,
                    data: std::mem::take(&mut b.frames),
                },
            );
        }
        built.clear();
        self.built = built;
        self.bytes_sent += size as u64;
        self.paths.active.on_sent(peer, size);
        if any_eliciting {
            self.recovery.on_datagram_sent(size as u64);
        }
        if let CloseState::Closing { send, .. } = &mut self.close {
            *send = false;
        }
        // RFC 9001 §4.9.1: a client drops Initial keys once it sends a
        // Handshake packet.
        if self.side == Side::Client && sent_handshake {
            self.discard_space(Space::Initial, now);
        }
        if any_eliciting {
            let pto = self.recovery.pto();
            self.idle.on_sent_eliciting(now, pto);
        }
        self.recovery.defer_timer(now);
        Some(Transmit {
            local: self.paths.active.local,
            remote: peer,
            ecn,
            send_at,
        })
    }

    /// Whether stream data and datagrams may go now: the congestion window
    /// has room (RFC 9002 §7) and the pacer allows (§7.7). When pacing
    /// holds data back, its deadline joins the timer.
    fn data_allowed(&mut self, now: u64) -> bool {
        self.pacing_deadline = None;
        if !self.recovery.can_send(self.max_datagram_size() as u64) {
            return false;
        }
        match self.recovery.pacing_release(now) {
            Ok(_) => true,
            Err(t) => {
                self.pacing_deadline = Some(t);
                false
            }
        }
    }

    /// The largest datagram `send` may write.
    pub fn max_send_size(&self) -> usize {
        self.config.transport.max_datagram_size
    }

    /// The largest datagram the path allows (the peer's limit); ours may be
    /// smaller.
    pub(super) fn path_datagram_limit(&self) -> usize {
        self.peer_params
            .as_ref()
            .map_or(usize::MAX, |p| p.max_udp_payload_size as usize)
    }

    /// The largest datagram we may send: the path's, as PMTU discovery
    /// found it, within the peer's limit.
    pub(super) fn max_datagram_size(&self) -> usize {
        self.paths
            .active
            .pmtud
            .current()
            .min(self.path_datagram_limit())
    }

    /// A PMTU probe (RFC 8899, RFC 9000 §14.4), if one is due: a lone
    /// 1-RTT PING padded to the size tried, once the handshake is
    /// confirmed, on a path the peer proved, within `cap` bytes.
    fn send_pmtu_probe(&mut self, out: &mut Vec<u8>, cap: usize, now: u64) -> Option<Transmit> {
        if !self.hs.is_confirmed() || self.paths.active.send_budget().is_some() {
            return None;
        }
        let limit = cap.min(self.path_datagram_limit());
        let size = self.paths.active.pmtud.probe_due(now, limit)?;
        let peer = self.paths.active.peer?;
        let pn = self.spaces[Space::Application as usize].next_pn;
        let probe = SentFrame::MtuProbe { size };
        if !self.write_lone_packet(out, None, |o| Frame::Ping.write(o), size, Some(probe), now) {
            return None;
        }
        // Lost unless acknowledged within three PTOs (RFC 8899's
        // PROBE_TIMER, scaled to the path).
        let deadline = now.saturating_add(self.recovery.pto().saturating_mul(3));
        self.paths.active.pmtud.on_probe_sent(pn, size, deadline);
        Some(Transmit {
            local: self.paths.active.local,
            remote: peer,
            ecn: Ecn::NotEct,
            send_at: 0,
        })
    }

    /// The space that carries PINGs: the highest one we can send in.
    fn ping_space(&self) -> Option<Space> {
        Space::ALL
            .into_iter()
            .rev()
            .find(|s| self.spaces[*s as usize].seal.is_some())
    }

    /// Writes a packet of `space` into `out` (not sealed), or nothing.
    fn build_packet(
        &mut self,
        space: Space,
        out: &mut Vec<u8>,
        limit: usize,
        now: u64,
        closing: bool,
        earlier: &[Built],
    ) -> Option<Built> {
        let idx = space as usize;
        if space == Space::Application
            && self.spaces[idx].seal.is_none()
            && self.early.sending()
            && !closing
        {
            return self.build_zero_rtt(out, limit, now);
        }
        if self.spaces[idx].seal.is_none() || self.spaces[idx].discarded {
            return None;
        }
        let ping_here = self.ping_space() == Some(space);
        let app = space == Space::Application;
        let has_work = closing
            || self.spaces[idx].ack.should_send(now)
            || self.spaces[idx].crypto_send.has_data()
            || self.spaces[idx].probes > 0
            || (ping_here && !self.pings.is_empty())
            || (app && self.stream_work_pending())
            || (app
                && (self.hs.done_owed()
                    || self.new_token.as_ref().is_some_and(|t| t.1)
                    || self.paths.active.has_response_here()
                    || self.paths.active.challenge_pending()
                    || self.peer_cids.next_retire().is_some()
                    || (self.hs.is_complete()
                        && self.local_cids.active.iter().any(|c| c.announce))));
        if !has_work {
            return None;
        }
        let pn = self.spaces[idx].next_pn;
        let pn_len = number::encoded_len(pn, self.recovery.largest_acked(space));
        let truncated = number::truncate(pn, pn_len);
        let start = out.len();
        let dcid = self.peer_cids.current();
        let scid = self.local_cid();
        let layout = if app {
            header::write_short(
                out,
                &dcid,
                truncated,
                pn_len,
                self.key_gens.write_phase(),
                false,
            )
        } else {
            LongHeader {
                ty: if space == Space::Initial {
                    LongType::Initial
                } else {
                    LongType::Handshake
                },
                version: self.version,
                dcid: &dcid,
                scid: &scid,
                token: if self.side == Side::Client {
                    &self.ids.token
                } else {
                    &[]
                },
            }
            .write(out, truncated, pn_len, limit)
        }
        .ok()?;
        if limit.saturating_sub(out.len()) < TAG_LEN + 8 {
            out.truncate(start);
            return None;
        }
        let room = |out: &Vec<u8>| limit.saturating_sub(out.len() + TAG_LEN);
        let mut frames = self.frame_list();
        let mut ack_eliciting = false;
        let mut wrote_ack = false;
        let mut deferred = DeferredData::default();

        if closing {
            if let Some(err) = &self.local_error {
                write_close(out, err, space, self.hs.is_complete(), room(out));
            }
        } else {
            // ACK first: piggybacked on anything we send.
            let s = &self.spaces[idx];
            if s.ack.has_pending() {
                let mut ranges = [(0, 0); super::ack::MAX_ACK_RANGES];
                let n = s.ack.ranges(&mut ranges);
                let delay = s.ack.delay_us(now) >> LOCAL_ACK_DELAY_EXPONENT;
                let mark = out.len();
                let ecn = s.ack.ecn_counts();
                frame::write_ack(out, &ranges[..n], if app { delay } else { 0 }, ecn);
                if out.len() + TAG_LEN > limit {
                    out.truncate(mark);
                } else {
                    wrote_ack = true;
                    if let Some(&(_, largest)) = ranges[..n].first() {
                        frames.push(SentFrame::Ack { largest });
                    }
                }
            }
            if app {
                self.write_app_control(out, limit, &mut frames, &mut ack_eliciting);
            }
            // CRYPTO: resent ranges first, then new data.
            loop {
                let r = room(out);
                if r < 12 {
                    break;
                }
                let Some((offset, data)) = self.spaces[idx].crypto_send.next_chunk(r - 11) else {
                    break;
                };
                let len = data.len();
                frame::write_crypto_header(out, offset, len);
                out.extend_from_slice(data);
                frames.push(SentFrame::Crypto {
                    offset,
                    len: len as u64,
                });
                ack_eliciting = true;
            }
            if app {
                // RFC 9002 §6.2.4: probes are not blocked by the congestion
                // controller, and should carry new data (or data to resend).
                let allow_data = self.spaces[idx].probes > 0 || self.data_allowed(now);
                self.write_stream_frames(
                    out,
                    limit,
                    allow_data,
                    &mut frames,
                    &mut ack_eliciting,
                    &mut deferred,
                );
            }
            if ping_here {
                while let Some(&uid) = self.pings.last() {
                    if room(out) < 1 {
                        break;
                    }
                    out.push(frame::kind::PING as u8);
                    self.pings.pop();
                    frames.push(SentFrame::Ping { uid });
                    ack_eliciting = true;
                }
            }
            if self.spaces[idx].probes > 0 && !ack_eliciting && room(out) >= 1 {
                out.push(frame::kind::PING as u8);
                ack_eliciting = true;
            }
        }
        let payload_len = out.len() - layout.pn_offset - pn_len;
        let worth_it = closing
            || ack_eliciting
            || (wrote_ack && self.spaces[idx].ack.should_send(now))
            || (wrote_ack && !earlier.is_empty());
        if payload_len == 0 || !worth_it {
            out.truncate(start);
            self.reuse_frame_list(frames);
            return None;
        }
        pad_for_sample_and_tag(out, payload_len, pn_len);
        if wrote_ack && app {
            if let Some(largest) = self.spaces[idx].ack.largest() {
                self.key_gens.on_ack_sent(largest);
            }
        }
        let s = &mut self.spaces[idx];
        s.next_pn += 1;
        if wrote_ack {
            s.ack.on_ack_sent();
        }
        if ack_eliciting && s.probes > 0 {
            s.probes -= 1;
        }
        Some(Built {
            space,
            start,
            layout,
            pn,
            ack_eliciting,
            padded: false,
            frames,
            zero_rtt: false,
            deferred,
        })
    }

    /// Writes a 0-RTT packet (RFC 9000 §17.2.3) of a client's early stream
    /// data and datagrams, or nothing. It takes no ACK, CRYPTO or 1-RTT
    /// control frames (§12.4); its number is in the Application space.
    fn build_zero_rtt(&mut self, out: &mut Vec<u8>, limit: usize, now: u64) -> Option<Built> {
        let space = Space::Application;
        if !self.stream_work_pending() {
            return None;
        }
        let idx = space as usize;
        let pn = self.spaces[idx].next_pn;
        let pn_len = number::encoded_len(pn, self.recovery.largest_acked(space));
        let start = out.len();
        let (dcid, scid) = (self.peer_cids.current(), self.local_cid());
        let layout = LongHeader {
            ty: LongType::ZeroRtt,
            version: self.version,
            dcid: &dcid,
            scid: &scid,
            token: &[],
        }
        .write(out, number::truncate(pn, pn_len), pn_len, limit)
        .ok()?;
        if limit.saturating_sub(out.len()) < TAG_LEN + 8 {
            out.truncate(start);
            return None;
        }
        let mut frames = self.frame_list();
        let mut ack_eliciting = false;
        let mut deferred = DeferredData::default();
        let allow_data = self.data_allowed(now);
        self.write_stream_frames(
            out,
            limit,
            allow_data,
            &mut frames,
            &mut ack_eliciting,
            &mut deferred,
        );
        if !ack_eliciting {
            out.truncate(start);
            self.reuse_frame_list(frames);
            return None;
        }
        pad_for_sample_and_tag(out, out.len() - layout.pn_offset - pn_len, pn_len);
        self.spaces[idx].next_pn += 1;
        Some(Built {
            space,
            start,
            layout,
            pn,
            ack_eliciting,
            padded: false,
            frames,
            zero_rtt: true,
            deferred,
        })
    }

    /// A datagram with one 1-RTT packet answering a PATH_CHALLENGE that
    /// came from another address than the peer's (a probe, RFC 9000 §9.1),
    /// sent back there (§8.2.2), padded as far as that path allows.
    fn send_path_response_elsewhere(&mut self, out: &mut Vec<u8>, now: u64) -> Option<Transmit> {
        if self.spaces[Space::Application as usize].seal.is_none() || !self.hs.is_complete() {
            return None;
        }
        let (resp, pad) = self.paths.active.take_response_elsewhere()?;
        let t = Transmit {
            local: resp.local,
            remote: resp.to,
            ecn: Ecn::NotEct,
            send_at: 0,
        };
        // RFC 9000 §9.5: on a path we probe, with that path's own CID.
        let dcid = self.probe_cid(t);
        self.write_lone_packet(
            out,
            dcid,
            |o| Frame::PathResponse(resp.data).write(o),
            pad,
            None,
            now,
        )
        .then_some(t)
    }

    /// Fuzzing and test hook: a 1-RTT datagram in this connection's name
    /// whose payload is `payload` as it stands (any bytes).
    #[cfg(any(test, fuzzing))]
    pub(crate) fn craft_one_rtt_payload(&mut self, payload: &[u8], now: u64) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.write_lone_packet(
            &mut out,
            None,
            |o| o.extend_from_slice(payload),
            0,
            None,
            now,
        )
        .then_some(out)
    }

    /// Writes a datagram of one 1-RTT packet whose payload `write` puts
    /// down, padded to `pad` bytes, to `dcid` (None: the CID in use). It
    /// stays out of the peer path's congestion control and loss detection:
    /// nothing in it is resent.
    pub(super) fn write_lone_packet(
        &mut self,
        out: &mut Vec<u8>,
        dcid: Option<ConnectionId>,
        write: impl FnOnce(&mut Vec<u8>),
        pad: usize,
        record: Option<SentFrame>,
        now: u64,
    ) -> bool {
        let space = Space::Application;
        out.clear();
        let pn = self.spaces[space as usize].next_pn;
        let pn_len = number::encoded_len(pn, self.recovery.largest_acked(space));
        let dcid = dcid.unwrap_or_else(|| self.peer_cids.current());
        let phase = self.key_gens.write_phase();
        let Ok(layout) = header::write_short(
            out,
            &dcid,
            number::truncate(pn, pn_len),
            pn_len,
            phase,
            false,
        ) else {
            return false;
        };
        write(out);
        let end = pad.max(out.len() + TAG_LEN + protect::min_payload_len(pn_len));
        out.resize(end, 0);
        self.qlog_packet_sent(out, pn, layout.pn_offset + pn_len);
        let Some(keys) = self.spaces[space as usize].seal.as_mut() else {
            out.clear();
            return false;
        };
        if protect::seal(out, layout.pn_offset, pn_len, pn, keys).is_err() {
            out.clear();
            return false;
        }
        self.key_gens.on_sealed(pn);
        self.spaces[space as usize].next_pn += 1;
        let mut frames = self.frame_list();
        // A PMTU probe is ack-eliciting (its acknowledgement is the
        // answer) but not in flight: outside congestion control, its loss
        // is no congestion (RFC 9000 §14.4).
        let ack_eliciting = record.is_some();
        frames.push(record.unwrap_or(SentFrame::NotResent));
        self.recovery.on_packet_sent(
            space,
            SentPacket {
                pn,
                time_sent: now,
                size: out.len(),
                ack_eliciting,
                in_flight: false,
                ecn: false,
                data: frames,
            },
        );
        self.bytes_sent += out.len() as u64;
        self.qlog_datagram(true, out.len(), Ecn::NotEct);
        true
    }

    /// Test hook: a probing packet (PATH_CHALLENGE alone, padded to 1200
    /// bytes), as a client probing a new path sends (RFC 9000 §9.1).
    #[cfg(test)]
    pub(crate) fn probe_packet(&mut self, out: &mut Vec<u8>, data: [u8; 8], now: u64) -> bool {
        self.write_lone_packet(
            out,
            None,
            |o| Frame::PathChallenge(data).write(o),
            MIN_INITIAL_DATAGRAM,
            None,
            now,
        )
    }

    /// HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE and connection ID frames
    /// (1-RTT only).
    fn write_app_control(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        frames: &mut Vec<SentFrame>,
        ack_eliciting: &mut bool,
    ) {
        let fits = |out: &Vec<u8>, n: usize| out.len() + n + TAG_LEN <= limit;
        if self.hs.done_owed() && fits(out, 1) {
            Frame::HandshakeDone.write(out);
            frames.push(SentFrame::HandshakeDone);
            self.hs.set_done_owed(false);
            *ack_eliciting = true;
        }
        if let Some((token, owed)) = &mut self.new_token {
            // type + length (2) + token
            if *owed && fits(out, 3 + token.len()) {
                Frame::NewToken { token }.write(out);
                frames.push(SentFrame::NewToken);
                *owed = false;
                *ack_eliciting = true;
            }
        }
        while fits(out, 9) {
            let Some(data) = self.paths.active.take_response_here() else {
                break;
            };
            Frame::PathResponse(data).write(out);
            *ack_eliciting = true;
        }
        if self.paths.active.challenge_pending() && fits(out, 9) {
            if let Some(data) = self.paths.active.take_challenge() {
                // RFC 9000 §8.2.1: its datagram is padded to 1200 bytes.
                Frame::PathChallenge(data).write(out);
                frames.push(SentFrame::PathChallenge { data });
                self.pad_datagram = true;
                *ack_eliciting = true;
            }
        }
        while let Some(seq) = self.peer_cids.next_retire() {
            if !fits(out, 9) {
                break;
            }
            Frame::RetireConnectionId { seq }.write(out);
            self.peer_cids.retire_sent();
            frames.push(SentFrame::RetireConnectionId { seq });
            *ack_eliciting = true;
        }
        if self.hs.is_complete() {
            let cids = &mut self.local_cids;
            while let Some(i) = cids.active.iter().position(|c| c.announce) {
                let c = &cids.active[i];
                // type + seq + retire_prior_to + len + cid + token
                if !fits(out, 1 + 8 + 8 + 1 + c.cid.len() + 16) {
                    break;
                }
                Frame::NewConnectionId {
                    seq: c.seq,
                    retire_prior_to: cids.retire_prior_to_for(c.seq),
                    cid: &c.cid,
                    reset_token: c.reset_token,
                }
                .write(out);
                frames.push(SentFrame::NewConnectionId { seq: c.seq });
                cids.active[i].announce = false;
                *ack_eliciting = true;
            }
        }
    }

    /// Patches Length fields and protects every packet of the datagram;
    /// false when one could not be protected (nothing may be sent then).
    #[must_use]
    fn seal_all(
        &mut self,
        out: &mut [u8],
        built: &mut [Built],
        mut dst: Option<&mut [u8]>,
    ) -> bool {
        let total = out.len();
        for i in 0..built.len() {
            let end = built.get(i + 1).map_or(total, |n| n.start);
            let b = &built[i];
            b.layout.finish(&mut out[..end - TAG_LEN], TAG_LEN);
            let payload_start = b.layout.pn_offset - b.start + b.layout.pn_len;
            self.qlog_packet_sent(&out[b.start..end], b.pn, payload_start);
            let keys = if b.zero_rtt {
                self.early.seal.as_mut()
            } else {
                self.spaces[b.space as usize].seal.as_mut()
            };
            let Some(keys) = keys else {
                return false;
            };
            if b.space == Space::Application && !b.zero_rtt {
                self.key_gens.on_sealed(b.pn);
            }
            let number = (b.layout.pn_offset - b.start, b.layout.pn_len, b.pn);
            let runs = b.deferred.runs_from(b.start);
            let sealed = match dst.as_deref_mut() {
                Some(d) => match d.get_mut(b.start..end) {
                    Some(d) => {
                        let src = &out[b.start..end];
                        protect::seal_runs(Some(src), d, number, runs.as_slice(), keys)
                    }
                    None => return false,
                },
                None => {
                    let packet = &mut out[b.start..end];
                    protect::seal_runs(None, packet, number, runs.as_slice(), keys)
                }
            };
            if sealed.is_err() {
                return false;
            }
        }
        true
    }
}

/// Ends a packet's payload of `payload_len` bytes: padded to leave room
/// for the header-protection sample (RFC 9001 §5.4.2), then room for the
/// tag.
fn pad_for_sample_and_tag(out: &mut Vec<u8>, payload_len: usize, pn_len: usize) {
    let min = protect::min_payload_len(pn_len);
    if payload_len < min {
        out.resize(out.len() + (min - payload_len), 0);
    }
    out.resize(out.len() + TAG_LEN, 0);
}

/// CONNECTION_CLOSE for `space` (RFC 9000 §10.2.3): before the handshake
/// completes, Initial and Handshake packets carry an application close as a
/// transport APPLICATION_ERROR without its reason.
fn write_close(out: &mut Vec<u8>, err: &CloseError, space: Space, complete: bool, room: usize) {
    let hide_app = err.is_app && (space != Space::Application || !complete);
    let (app, code, reason): (bool, u64, &[u8]) = if hide_app {
        (false, code::APPLICATION_ERROR, &[])
    } else {
        (err.is_app, err.code, &err.reason)
    };
    // Keep the frame within the packet by cutting the reason.
    let fixed = 1 + 8 + 8 + 2;
    let reason = &reason[..reason.len().min(room.saturating_sub(fixed))];
    let frame_type = err.frame_type.unwrap_or(0).min(varint::MAX);
    Frame::ConnectionClose {
        app,
        error_code: code,
        frame_type,
        reason,
    }
    .write(out);
}
