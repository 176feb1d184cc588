//! The receive path: a datagram is split into its coalesced packets, each
//! is authenticated and decrypted, and its frames are acted on.

use std::net::SocketAddr;

use super::close::CloseState;
use super::crypto_stream::CryptoIn;
use super::qlog_events::{packet_type_name, DropReason};
use super::spaces::PacketSpace;
use super::{Connection, Ecn, Event, Termination};
use crate::cid::ConnectionId;
use crate::crypto::InitialKeys;
use crate::error::{code, TransportError};
use crate::frame::{kind, AckFrame, Frame, Frames};
use crate::packet::{header, protect, retry, PacketType, MIN_INITIAL_DATAGRAM};
use crate::qlog::frames::HeaderInfo;
use crate::recovery::Space;
use crate::side::Side;
use crate::version;

/// Our max_ack_delay (the transport parameter default, 25 ms).
pub(super) const LOCAL_MAX_ACK_DELAY: u64 = 25_000_000;

/// A pause between two repeating packets that starts a new run of them
/// (`AckState::acknowledge_repeat`): longer than the ACK pacing, so a peer
/// answering each paced ACK at once stays in its run.
const REPEAT_GAP: u64 = 4 * LOCAL_MAX_ACK_DELAY;

impl Connection {
    /// Processes one received UDP datagram (aioquic's `receive_datagram`).
    /// Anything malformed, undecryptable or unexpected is dropped; a peer
    /// that breaks the protocol gets the connection closed with the error
    /// RFC 9000 names.
    pub fn recv(&mut self, datagram: &[u8], from: SocketAddr, now: u64) {
        self.recv_on(datagram, None, from, now);
    }

    /// [`Connection::recv`] for a caller with several local addresses:
    /// `local` is where the datagram arrived (None: unknown, the one
    /// socket). A path is both addresses; a client probing a new path
    /// learns its answers this way (RFC 9000 §9.1).
    pub fn recv_on(
        &mut self,
        datagram: &[u8],
        local: Option<SocketAddr>,
        from: SocketAddr,
        now: u64,
    ) {
        self.recv_marked(datagram, local, from, Ecn::NotEct, now);
    }

    /// [`Connection::recv_on`] with the ECN codepoint of the datagram's
    /// IP header (`IP_RECVTOS`), which is counted for the peer's ECN
    /// validation and congestion control (RFC 9000 §13.4.1).
    pub fn recv_marked(
        &mut self,
        datagram: &[u8],
        local: Option<SocketAddr>,
        from: SocketAddr,
        ecn: Ecn,
        now: u64,
    ) {
        self.last_now = self.last_now.max(now);
        match self.close {
            CloseState::Open => {}
            CloseState::Closing { .. } => return self.on_datagram_while_closing(),
            CloseState::Draining { .. } | CloseState::Closed => return,
        }
        if self.side == Side::Server && !self.hs.is_started() {
            // RFC 9000 §14.1: a server drops Initial datagrams under 1200
            // bytes; nothing else can start a connection.
            if datagram.len() < MIN_INITIAL_DATAGRAM {
                return;
            }
        } else if self.paths.active.peer.is_none() {
            return; // a client that has not connected
        }
        let local = self.paths.arrived_on(local);
        self.qlog_datagram(false, datagram.len(), ecn);
        self.bytes_received += datagram.len() as u64;
        self.paths.active.on_datagram(from, datagram.len());
        // Packets are opened into this scratch buffer, the datagram left
        // as it arrived.
        let mut scratch = std::mem::take(&mut self.recv_buf);
        let mut offset = 0;
        let arrival = Arrival {
            from,
            local,
            datagram_len: datagram.len(),
            ecn,
        };
        self.opened_in_datagram = false;
        while offset < datagram.len() && matches!(self.close, CloseState::Open) {
            match self.recv_packet(&datagram[offset..], &mut scratch, arrival, now) {
                Some(n) => offset += n,
                None => break,
            }
            // Keys for the next coalesced packet may come from this one's
            // CRYPTO data (a ServerHello, a client Finished).
            if std::mem::take(&mut self.tls_fed) {
                self.drive_tls(now);
            }
        }
        if !self.opened_in_datagram && matches!(self.close, CloseState::Open) {
            self.check_stateless_reset(datagram, now);
        }
        self.recv_buf = scratch;
        if matches!(self.close, CloseState::Open) {
            self.collect_stream_events();
            self.drive_tls(now);
            self.end_ticket_wait(now);
            self.recovery.defer_timer(now);
        }
        self.qlog_changes();
        self.qlog_hand_over();
    }

    /// RFC 9000 §10.3.1: a datagram none of whose packets could be
    /// processed, that starts like a short-header packet and ends with the
    /// peer's stateless reset token, ends the connection: drain, send
    /// nothing more.
    fn check_stateless_reset(&mut self, datagram: &[u8], now: u64) {
        // §10.3: a reset is at least 21 bytes and looks like a short
        // header (first bit 0).
        const MIN_RESET_LEN: usize = 21;
        let short = datagram.first().is_some_and(|b| b & 0x80 == 0);
        if !short || datagram.len() < MIN_RESET_LEN || !self.hs.is_complete() {
            return;
        }
        if self
            .peer_cids
            .is_stateless_reset(&datagram[datagram.len() - 16..])
        {
            let err = super::CloseError {
                is_app: false,
                code: crate::error::code::NO_ERROR,
                frame_type: None,
                reason: b"Stateless reset from the peer".to_vec(),
            };
            self.enter_draining(err, Termination::StatelessReset, now);
        }
    }

    /// One packet at the start of `received` (the rest of a datagram),
    /// opened in `scratch`; returns its length, or None when the rest of
    /// the datagram cannot be used.
    fn recv_packet(
        &mut self,
        received: &[u8],
        scratch: &mut Vec<u8>,
        arrival: Arrival,
        now: u64,
    ) -> Option<usize> {
        let Arrival {
            from,
            local,
            datagram_len,
            ecn,
        } = arrival;
        let hdr = header::parse(received, self.config.endpoint.connection_id_length).ok()?;
        let len = hdr.packet_len;
        let ptype = hdr.packet_type;
        // RFC 9000 §14.1: a server discards Initial packets in datagrams
        // smaller than 1200 bytes.
        if self.side == Side::Server
            && ptype == PacketType::Initial
            && datagram_len < MIN_INITIAL_DATAGRAM
        {
            return self.dropped(ptype, len, DropReason::Rejected);
        }
        match ptype {
            PacketType::VersionNegotiation => {
                let versions: Vec<u32> = hdr.versions().collect();
                let (dcid, scid) = (hdr.dcid.to_vec(), hdr.scid.to_vec());
                self.on_version_negotiation(&versions, &dcid, &scid, now);
                return None;
            }
            PacketType::Retry => {
                let (version, dcid, scid, token) = (
                    hdr.version,
                    hdr.dcid.to_vec(),
                    hdr.scid.to_vec(),
                    hdr.token.to_vec(),
                );
                self.on_retry(version, &dcid, &scid, &token, &received[..len], now);
                return None;
            }
            PacketType::UnknownVersion => return None,
            _ => {}
        }
        let space = match ptype {
            PacketType::Initial => Space::Initial,
            PacketType::Handshake => Space::Handshake,
            // RFC 9001 §4.6: 0-RTT is read only by a server whose TLS took
            // the client's early data (its keys are there); otherwise it is
            // dropped, and the client sends it again in 1-RTT.
            PacketType::ZeroRtt if self.side == Side::Client || self.early.open.is_none() => {
                return self.dropped(ptype, len, DropReason::KeyUnavailable)
            }
            _ => Space::Application,
        };
        let other_version = hdr.is_long() && hdr.version != self.version && self.hs.is_started();
        if other_version && !self.may_open_version(ptype, hdr.version) {
            // RFC 9369 §4.1: other versions are dropped.
            return self.dropped(ptype, len, DropReason::Unsupported);
        }
        let dcid = ConnectionId::new(hdr.dcid).unwrap_or_default();
        let scid = ConnectionId::new(hdr.scid).unwrap_or_default();
        let token_len = hdr.token.len();
        let pn_offset = hdr.pn_offset;
        let version = hdr.version;

        // RFC 9000 §5.2: packets for other connection IDs are not ours.
        let for_us = self.local_cids.contains(&dcid)
            || (self.side == Side::Server && dcid == self.ids.initial_dcid && hdr.is_long())
            || (self.side == Side::Server && !self.hs.is_started());
        if !for_us {
            return self.dropped(ptype, len, DropReason::ConnectionUnknown);
        }
        if self.side == Side::Server && !self.hs.is_started() {
            if ptype != PacketType::Initial
                || !self.config.transport.supported_versions.contains(&version)
            {
                return self.dropped(ptype, len, DropReason::Unsupported);
            }
            if let Err(e) = self.accept(version, &dcid, &scid, from, now) {
                self.fail(e, now);
                return None;
            }
        }
        if self.side == Side::Client && hdr.is_long() {
            // RFC 9000 §17.2.2: a server Initial carries no token.
            if ptype == PacketType::Initial && token_len > 0 {
                return self.dropped(ptype, len, DropReason::Rejected);
            }
            // RFC 9000 §7.2: the first server packet sets our DCID; later
            // long-header packets with another SCID are dropped.
            if self.ids.peer_cid_set && scid != self.ids.peer_initial_scid {
                return self.dropped(ptype, len, DropReason::ConnectionUnknown);
            }
        }

        // A 1-RTT packet's payload is decrypted straight from `received`:
        // only its header and header-protection sample are copied. Other
        // packets (handshake, 0-RTT: few) are copied whole and opened in
        // place.
        let received = received.get(..len)?;
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        let one_rtt = space == Space::Application && ptype != PacketType::ZeroRtt;
        let copied = if one_rtt {
            len.min(pn_offset + protect::SAMPLE_END)
        } else {
            len
        };
        scratch[..copied].copy_from_slice(&received[..copied]);
        let packet = &mut scratch[..len];
        let opened = if ptype == PacketType::ZeroRtt {
            let largest = self.spaces[space as usize].ack.largest();
            let keys = self.early.open.as_mut()?;
            let Ok(opened) = protect::open(packet, pn_offset, largest, keys) else {
                self.qlog_packet_dropped(ptype, len, DropReason::DecryptionFailure);
                return self.after_authentication_failure(len, now);
            };
            opened
        } else if space == Space::Application {
            match self.open_one_rtt(packet, received, pn_offset, now) {
                Ok(Some(o)) => o,
                Ok(None) => {
                    let why = match self.spaces[space as usize].open {
                        None => DropReason::KeyUnavailable,
                        Some(_) => DropReason::DecryptionFailure,
                    };
                    return self.dropped(ptype, len, why);
                }
                Err(e) => {
                    self.fail(e, now);
                    return None;
                }
            }
        } else if other_version {
            match self.open_other_version(packet, pn_offset, version) {
                Some(o) => o,
                None => return self.dropped(ptype, len, DropReason::Unsupported),
            }
        } else {
            let s = &mut self.spaces[space as usize];
            let Some(keys) = s.open.as_mut() else {
                return self.dropped(ptype, len, DropReason::KeyUnavailable);
            };
            let largest = s.ack.largest();
            let Ok(opened) = protect::open(packet, pn_offset, largest, keys) else {
                // RFC 9001 §5.5: undecryptable packets are dropped; those
                // under the negotiated AEAD count towards its limit.
                if space == Space::Handshake {
                    self.qlog_packet_dropped(ptype, len, DropReason::DecryptionFailure);
                    return self.after_authentication_failure(len, now);
                }
                return self.dropped(ptype, len, DropReason::DecryptionFailure);
            };
            opened
        };
        self.opened_in_datagram = true;
        if self.side == Side::Client && hdr_is_long(opened.first_byte) && !self.ids.peer_cid_set {
            self.peer_cids.set_initial(scid);
            self.ids.peer_initial_scid = scid;
            self.ids.peer_cid_set = true;
        }
        if opened.reserved_bits_set() {
            // RFC 9000 §17.2/§17.3.1: non-zero reserved bits after removing
            // protection are a PROTOCOL_VIOLATION.
            self.fail(
                TransportError::protocol_violation(0, "reserved bits set"),
                now,
            );
            return None;
        }
        if self.spaces[space as usize].ack.is_duplicate(opened.pn) {
            return self.dropped(ptype, len, DropReason::Duplicate);
        }
        let payload = &packet[opened.header_len..opened.header_len + opened.payload_len];
        if self.qlog_on() {
            let long = hdr_is_long(opened.first_byte);
            let info = HeaderInfo {
                packet_type: packet_type_name(ptype),
                packet_number: opened.pn,
                version: long.then_some(version),
                dcid: &dcid,
                scid: long.then_some(&scid[..]),
                key_phase_bit: (!long).then_some(opened.first_byte & 0x04 != 0),
            };
            self.qlog_packet_received(&info, payload, len);
        }
        let largest = self.spaces[space as usize]
            .ack
            .largest()
            .is_none_or(|l| opened.pn > l);
        let kinds = match self.process_frames(space, ptype, payload, &dcid, arrival, now) {
            Ok(k) => k,
            Err(e) => {
                self.fail(e, now);
                return None;
            }
        };
        let eliciting = kinds.eliciting;
        // RFC 9000 §13.2.1 forbids a peer to make every packet
        // ack-eliciting in answer to our ACKs, as that never ends; one that
        // does anyway (a PING, or data we hold, for every ACK) gets paced
        // ACKs once its run of repeats is long and quick (`AckState`).
        let mut paced = false;
        if eliciting {
            let ack = &mut self.spaces[space as usize].ack;
            if kinds.news {
                ack.end_repeats();
            } else {
                paced = !ack.acknowledge_repeat(now, REPEAT_GAP);
            }
        }
        if kinds.repeated_crypto {
            // After the whole packet: an ACK in it must not cancel this.
            self.on_repeated_crypto(space);
        }
        if std::mem::take(&mut self.drop_packet) {
            // A frame was refused (too fragmented): not acknowledged, so
            // the peer sends it again.
            return self.dropped(ptype, len, DropReason::Rejected);
        }
        if space == Space::Application && matches!(self.close, CloseState::Open) {
            self.on_packet_from(from, local, datagram_len, kinds.non_probing, largest, now);
        }
        let ack = &mut self.spaces[space as usize].ack;
        ack.on_ecn(ecn, eliciting);
        if paced {
            ack.on_paced_packet(opened.pn, now, LOCAL_MAX_ACK_DELAY);
        } else {
            ack.on_packet(
                opened.pn,
                eliciting,
                now,
                space != Space::Application,
                LOCAL_MAX_ACK_DELAY,
            );
        }
        if self.side == Side::Server && space == Space::Handshake {
            // RFC 9000 §8.1: a Handshake packet proves the client's address;
            // RFC 9001 §4.9.1: the server drops Initial keys now.
            self.paths.active.mark_handshake_validated();
            self.discard_space(Space::Initial, now);
        }
        let pto = self.recovery.pto();
        self.idle.on_received(now, pto);
        Some(len)
    }

    /// A packet under the negotiated AEAD failed authentication: dropped,
    /// and counted (RFC 9001 §6.6); past the limit the connection ends.
    fn after_authentication_failure(&mut self, len: usize, now: u64) -> Option<usize> {
        match self.on_authentication_failure() {
            Ok(()) => Some(len),
            Err(e) => {
                self.fail(e, now);
                None
            }
        }
    }

    /// Test and fuzzing hook: processes a decrypted payload as if it arrived
    /// in a packet of `ptype`, closing the connection on error as the
    /// receive path does.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn inject_payload(&mut self, ptype: PacketType, payload: &[u8], now: u64) {
        let space = match ptype {
            PacketType::Initial => Space::Initial,
            PacketType::Handshake => Space::Handshake,
            _ => Space::Application,
        };
        let dcid = self.local_cid();
        let arrival = Arrival {
            from: self
                .paths
                .active
                .peer
                .unwrap_or_else(|| ([0, 0, 0, 0], 0).into()),
            local: self.paths.active.local,
            datagram_len: payload.len(),
            ecn: Ecn::NotEct,
        };
        if let Err(e) = self.process_frames(space, ptype, payload, &dcid, arrival, now) {
            self.fail(e, now);
        }
        if std::mem::take(&mut self.tls_fed) && matches!(self.close, CloseState::Open) {
            self.drive_tls(now);
        }
    }

    /// Acts on the frames of one packet; says what kinds it held.
    fn process_frames(
        &mut self,
        space: Space,
        ptype: PacketType,
        payload: &[u8],
        packet_dcid: &[u8],
        arrival: Arrival,
        now: u64,
    ) -> Result<FrameKinds, TransportError> {
        // RFC 9000 §12.4: a packet without frames is a PROTOCOL_VIOLATION.
        if payload.is_empty() {
            return Err(TransportError::protocol_violation(
                0,
                "packet without frames",
            ));
        }
        self.drop_packet = false;
        let mut eliciting = false;
        let mut non_probing = false;
        let mut news = false;
        let mut repeated_crypto = false;
        let mut last_challenge = None;
        for frame in Frames::new(payload) {
            let frame = frame?;
            if !frame.permitted_in(ptype) {
                return Err(TransportError::protocol_violation(
                    frame.kind(),
                    "frame not allowed in this packet type",
                ));
            }
            eliciting |= frame.is_ack_eliciting();
            non_probing |= !super::path::is_probing(&frame);
            news |= !matches!(
                frame,
                Frame::Padding { .. }
                    | Frame::Ping
                    | Frame::Ack(_)
                    | Frame::Crypto { .. }
                    | Frame::Stream { .. }
            );
            let ty = frame.kind();
            match frame {
                Frame::Padding { .. } | Frame::Ping => {}
                Frame::Ack(ack) => self.on_ack_frame(space, &ack, now)?,
                Frame::Crypto { offset, data } => {
                    // RFC 9369 §4.1: the server's CRYPTO in our version
                    // means it kept it.
                    if space == Space::Initial && self.side == Side::Client {
                        self.vneg.learned = true;
                    }
                    match self.spaces[space as usize]
                        .crypto_recv
                        .insert(offset, data)?
                    {
                        CryptoIn::Ready(bytes) if !bytes.is_empty() => {
                            news = true;
                            self.feed_tls(PacketSpace::level(space), &bytes)
                        }
                        CryptoIn::Ready(_) => news = true,
                        CryptoIn::Refused => self.drop_packet = true,
                        CryptoIn::Duplicate => repeated_crypto = true,
                    }
                }
                Frame::ConnectionClose {
                    app,
                    error_code,
                    frame_type,
                    reason,
                } => {
                    self.on_peer_close(app, error_code, frame_type, reason, now);
                    return Ok(FrameKinds {
                        eliciting,
                        non_probing,
                        news: true,
                        repeated_crypto,
                    });
                }
                Frame::HandshakeDone => {
                    // RFC 9000 §19.20: only servers send HANDSHAKE_DONE.
                    if self.side == Side::Server {
                        return Err(TransportError::protocol_violation(
                            kind::HANDSHAKE_DONE,
                            "HANDSHAKE_DONE from a client",
                        ));
                    }
                    // A server sends it only after our Finished, which we
                    // send as our handshake completes: one that comes
                    // sooner is a server breaking the protocol.
                    if !self.hs.is_complete() {
                        return Err(TransportError::protocol_violation(
                            kind::HANDSHAKE_DONE,
                            "HANDSHAKE_DONE before the handshake completed",
                        ));
                    }
                    self.confirm_handshake(now);
                }
                Frame::NewToken { token } => {
                    // RFC 9000 §19.7: only servers send NEW_TOKEN.
                    if self.side == Side::Server {
                        return Err(TransportError::protocol_violation(
                            kind::NEW_TOKEN,
                            "NEW_TOKEN from a client",
                        ));
                    }
                    self.on_new_token(token);
                }
                Frame::NewConnectionId {
                    seq,
                    retire_prior_to,
                    cid,
                    reset_token,
                } => {
                    // RFC 9000 §19.15: not for a peer using zero-length CIDs.
                    if self.peer_cids.current().is_empty() {
                        return Err(TransportError::protocol_violation(
                            kind::NEW_CONNECTION_ID,
                            "NEW_CONNECTION_ID with a zero-length connection ID",
                        ));
                    }
                    self.peer_cids.on_new(
                        seq,
                        retire_prior_to,
                        cid,
                        reset_token,
                        super::cid::LOCAL_ACTIVE_CID_LIMIT,
                    )?;
                }
                Frame::RetireConnectionId { seq } => {
                    if let Some(cid) = self.local_cids.retire(seq, packet_dcid)? {
                        self.reports.events.push(Event::ConnectionIdRetired { cid });
                        self.replenish_cids();
                    }
                }
                // RFC 9000 §8.2.2: only the last challenge of a packet is
                // answered (a 1-RTT packet ends its datagram), so what one
                // datagram makes us send stays within three times it.
                Frame::PathChallenge(data) => last_challenge = Some(data),
                Frame::PathResponse(data) => self.on_path_response(data),
                Frame::Stream {
                    stream_id,
                    offset,
                    data,
                    fin,
                } => news |= self.on_stream_data(stream_id, offset, data, fin)?,
                Frame::Datagram { .. }
                | Frame::MaxData(_)
                | Frame::MaxStreams { .. }
                | Frame::DataBlocked(_)
                | Frame::StreamsBlocked { .. }
                | Frame::ResetStream { .. }
                | Frame::StopSending { .. }
                | Frame::MaxStreamData { .. }
                | Frame::StreamDataBlocked { .. } => {
                    let _ = ty;
                    self.on_stream_frame(frame)?;
                }
            }
        }
        if let Some(data) = last_challenge {
            self.on_path_challenge(arrival.from, arrival.local, data, arrival.datagram_len);
        }
        Ok(FrameKinds {
            eliciting,
            non_probing,
            news,
            repeated_crypto,
        })
    }

    fn on_ack_frame(
        &mut self,
        space: Space,
        ack: &AckFrame<'_>,
        now: u64,
    ) -> Result<(), TransportError> {
        // RFC 9000 §13.1: acknowledging a packet we never sent.
        if ack.largest >= self.spaces[space as usize].next_pn {
            return Err(TransportError::protocol_violation(
                kind::ACK,
                "acknowledgement of an unsent packet",
            ));
        }
        let exponent = self
            .peer_params
            .as_ref()
            .map_or(3, |p| p.ack_delay_exponent);
        let delay_us = ack.delay.checked_shl(exponent as u32).unwrap_or(u64::MAX);
        let delay = delay_us.saturating_mul(1000);
        if space == Space::Application {
            self.key_gens.on_ack(ack.largest, now);
        }
        let status = self.status();
        let outcome = self
            .recovery
            .on_ack_received(space, ack.ranges(), delay, now, status);
        self.recovery
            .on_ack_ecn(space, ack.ecn.as_ref(), &outcome.acked, now);
        self.on_packets_acked(space, outcome.acked);
        self.on_packets_lost(space, outcome.lost);
        // RFC 9001 §4.1.2: a client may take an acknowledged 1-RTT packet
        // as confirmation (the server has its 1-RTT read keys only once it
        // verified our Finished), without waiting for HANDSHAKE_DONE.
        if space == Space::Application
            && self.side == Side::Client
            && self.hs.is_complete()
            && !self.hs.is_confirmed()
            && self.key_gens.one_rtt_acked()
        {
            self.confirm_handshake(now);
        }
        Ok(())
    }

    /// Whether a long-header packet of `version`, not the one in use, may
    /// be opened: a client's first Initial from a server that switched by
    /// compatible negotiation, or a server's Initial of the original
    /// version while it keeps those keys (RFC 9369 §4.1).
    fn may_open_version(&self, ptype: PacketType, version: u32) -> bool {
        if ptype != PacketType::Initial {
            return false;
        }
        match self.side {
            Side::Client => {
                !self.vneg.learned
                    && self.available_versions().contains(&version)
                    && version::compatible(self.version, version)
            }
            Side::Server => {
                version == self.vneg.original && self.vneg.initial_open_original.is_some()
            }
        }
    }

    /// Opens an Initial of another version (see `may_open_version`). A
    /// client switches to that version only once a packet of it opened.
    fn open_other_version(
        &mut self,
        packet: &mut [u8],
        pn_offset: usize,
        version: u32,
    ) -> Option<protect::Opened> {
        let largest = self.spaces[Space::Initial as usize].ack.largest();
        if self.side == Side::Server {
            let keys = self.vneg.initial_open_original.as_mut()?;
            return protect::open(packet, pn_offset, largest, keys).ok();
        }
        let mut keys = InitialKeys::new(version, &self.ids.initial_dcid, true).ok()?;
        let opened = protect::open(packet, pn_offset, largest, &mut keys.open).ok()?;
        self.version = version;
        self.vneg.learned = true;
        let s = &mut self.spaces[Space::Initial as usize];
        s.seal = Some(keys.seal);
        s.open = Some(keys.open);
        Some(opened)
    }

    /// A client's reaction to Version Negotiation (RFC 9000 §6.2,
    /// RFC 9368 §2.1, §4): a new attempt in the first version of ours the
    /// server offers, or the end with VERSION_NEGOTIATION_ERROR.
    fn on_version_negotiation(&mut self, versions: &[u32], dcid: &[u8], scid: &[u8], now: u64) {
        // Only before any server packet, and once: a VN answering an
        // attempt made after a VN is ignored.
        if self.side != Side::Client
            || self.ids.peer_cid_set
            || self.ids.retry_accepted.is_some()
            || self.vneg.reacted
        {
            return;
        }
        // It must answer our packet: CIDs echoed swapped.
        if dcid != &*self.local_cid() || scid != &*self.ids.original_dcid {
            return;
        }
        // RFC 9368 §4: a VN listing the version we use is ignored.
        if versions.contains(&self.vneg.original) {
            return;
        }
        let ours = self.available_versions();
        let Some(v) = version::choose_after_negotiation(&ours, versions) else {
            let offered: Vec<String> = versions
                .iter()
                .filter(|v| !version::is_reserved(**v))
                .map(|v| format!("{v:#x}"))
                .collect();
            let mine: Vec<String> = ours.iter().map(|v| format!("{v:#x}")).collect();
            let err = super::CloseError {
                is_app: false,
                code: code::VERSION_NEGOTIATION_ERROR,
                frame_type: None,
                reason: format!(
                    "no common QUIC version: the server offers [{}], we support [{}]",
                    offered.join(", "),
                    mine.join(", ")
                )
                .into_bytes(),
            };
            return self.close_silently(err, Termination::VersionNegotiation);
        };
        if let Err(e) = self.restart_in_version(v, now) {
            self.fail(e, now);
        }
    }

    /// A new first flight in `version` after Version Negotiation: new
    /// Initial keys and a new ClientHello; packet numbers go on.
    fn restart_in_version(&mut self, version: u32, now: u64) -> Result<(), TransportError> {
        self.vneg.reacted = true;
        self.version = version;
        let status = self.status();
        self.recovery.discard_space(Space::Initial, now, status);
        let next_pn = self.spaces[Space::Initial as usize].next_pn;
        self.spaces[Space::Initial as usize] = PacketSpace {
            next_pn,
            ..Default::default()
        };
        self.tls = None;
        // 0-RTT sent in the old version is gone; its frames wait for the
        // new handshake (which tells whether they go early again or in
        // 1-RTT).
        self.resend_early_packets();
        self.early.seal = None;
        let dcid = self.ids.initial_dcid;
        self.install_initial_keys(&dcid)?;
        self.start_tls(now)
            .map_err(|_| TransportError::new(code::INTERNAL_ERROR, 0, "TLS setup failed"))
    }

    /// A client's reaction to Retry (RFC 9000 §17.2.5.2).
    fn on_retry(
        &mut self,
        version: u32,
        dcid: &[u8],
        scid: &[u8],
        token: &[u8],
        packet: &[u8],
        now: u64,
    ) {
        if self.side != Side::Client
            || self.ids.retry_accepted.is_some()
            || self.ids.peer_cid_set
            || version != self.version
            || dcid != &*self.local_cid()
            || token.is_empty()
            || scid == &*self.ids.original_dcid
        {
            return;
        }
        if !retry::verify(version, &self.ids.original_dcid, packet) {
            return;
        }
        let Some(new_dcid) = ConnectionId::new(scid) else {
            return;
        };
        self.ids.retry_accepted = Some(new_dcid);
        self.ids.token = token.to_vec();
        self.peer_cids.set_initial(new_dcid);
        self.ids.initial_dcid = new_dcid;
        if let Err(e) = self.install_initial_keys(&new_dcid) {
            return self.fail(e, now);
        }
        // Everything sent in Initial packets goes again, with the token;
        // packet numbers continue (RFC 9000 §17.2.5.3).
        let status = self.status();
        self.recovery.discard_space(Space::Initial, now, status);
        self.spaces[Space::Initial as usize]
            .crypto_send
            .requeue_unacked();
        // The server dropped our 0-RTT packets with the first Initial; their
        // frames go again, to the new connection ID (RFC 9000 §17.2.5.3).
        self.resend_early_packets();
    }
}

fn hdr_is_long(first_byte: u8) -> bool {
    first_byte & 0x80 != 0
}

/// Where a packet came from, for path handling.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    from: SocketAddr,
    /// The local address it arrived on, when known.
    local: Option<SocketAddr>,
    datagram_len: usize,
    /// The ECN codepoint of its IP header.
    ecn: Ecn,
}

/// What kinds of frames a packet held.
#[derive(Debug, Clone, Copy)]
struct FrameKinds {
    eliciting: bool,
    /// Anything but PING, PADDING, ACK, and CRYPTO or STREAM data we hold
    /// already: a packet without it only repeats itself (see `AckState`).
    news: bool,
    /// A CRYPTO frame held only bytes TLS has already (RFC 9002 §6.2.3).
    repeated_crypto: bool,
    /// Anything but PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and
    /// PADDING (RFC 9000 §9.1).
    non_probing: bool,
}
