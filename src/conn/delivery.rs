//! What happens to the frames of a packet once it is acknowledged or
//! declared lost: frames are resent, not packets (RFC 9000 §13.3).

use super::spaces::SentFrame;
use super::{Connection, Event};
use crate::recovery::{SentPacket, Space};
use crate::side::Side;

/// How often a server resends its flight early because the client
/// repeated its Initial CRYPTO data (RFC 9002 §6.2.3: "for a limited
/// number of times per connection"; once covers one lost datagram).
const MAX_EARLY_RESENDS: u8 = 2;

/// Emptied frame lists kept for the next packets, at most this many.
const FRAME_LIST_POOL: usize = 64;

impl Connection {
    /// A list to record the frames of a packet being built in.
    pub(super) fn frame_list(&mut self) -> Vec<SentFrame> {
        self.frame_lists.pop().unwrap_or_default()
    }

    /// Takes back the (emptied) frame list of a packet that is done with.
    pub(super) fn reuse_frame_list(&mut self, mut list: Vec<SentFrame>) {
        if self.frame_lists.len() < FRAME_LIST_POOL && list.capacity() > 0 {
            list.clear();
            self.frame_lists.push(list);
        }
    }

    pub(super) fn on_packets_acked(
        &mut self,
        space: Space,
        mut packets: Vec<SentPacket<Vec<SentFrame>>>,
    ) {
        let now = self.last_now;
        for mut p in packets.drain(..) {
            if space == Space::Handshake && self.side == Side::Client {
                // RFC 9002 A.6: the server has validated our address.
                self.hs.on_handshake_acked();
            }
            for f in p.data.drain(..) {
                match f {
                    SentFrame::MtuProbe { size } => {
                        let change = self.paths.active.pmtud.on_probe_acked(p.pn, size, now);
                        self.on_pmtu_change(change);
                    }
                    SentFrame::Crypto { offset, len } => self.spaces[space as usize]
                        .crypto_send
                        .on_acked(offset, len),
                    SentFrame::Ping { uid } => {
                        self.reports.events.push(Event::PingAcknowledged { uid })
                    }
                    SentFrame::NewToken => self.new_token = None,
                    SentFrame::Ack { largest } => {
                        self.spaces[space as usize].ack.on_ack_frame_acked(largest)
                    }
                    SentFrame::HandshakeDone
                    | SentFrame::PathChallenge { .. }
                    | SentFrame::NewConnectionId { .. }
                    | SentFrame::RetireConnectionId { .. } => {}
                    other => self.on_stream_frame_acked(other),
                }
            }
            self.reuse_frame_list(p.data);
        }
        self.recovery.recycle(packets);
    }

    pub(super) fn on_packets_lost(
        &mut self,
        space: Space,
        packets: Vec<SentPacket<Vec<SentFrame>>>,
    ) {
        let now = self.last_now;
        for mut p in packets {
            if self.qlog_on() {
                let probe = p
                    .data
                    .iter()
                    .any(|f| matches!(f, SentFrame::MtuProbe { .. }));
                self.qlog_packet_lost(space, p.pn, probe);
            }
            for f in p.data.drain(..) {
                match f {
                    SentFrame::MtuProbe { .. } => self.paths.active.pmtud.on_probe_lost(p.pn, now),
                    SentFrame::Crypto { offset, len } => {
                        let s = &mut self.spaces[space as usize];
                        if !s.discarded {
                            s.crypto_send.on_lost(offset, len);
                        }
                    }
                    SentFrame::Ping { uid } => self.pings.push(uid),
                    SentFrame::HandshakeDone => self.hs.set_done_owed(true),
                    SentFrame::NewToken => {
                        if let Some(t) = &mut self.new_token {
                            t.1 = true;
                        }
                    }
                    SentFrame::PathChallenge { data } => self.paths.active.on_challenge_lost(data),
                    SentFrame::NewConnectionId { seq } => {
                        if let Some(c) = self.local_cids.active.iter_mut().find(|c| c.seq == seq) {
                            c.announce = true;
                        }
                    }
                    SentFrame::RetireConnectionId { seq } => self.peer_cids.retire_lost(seq),
                    other => self.on_stream_frame_lost(other),
                }
            }
            self.reuse_frame_list(p.data);
        }
    }

    /// RFC 9002 §6.2.3: a client that repeats Initial CRYPTO data we hold
    /// already has not processed our Initial flight (had it, our ACK of its
    /// ClientHello would have stopped it), so a server sends that flight
    /// again now rather than at the probe timeout: all its Initial CRYPTO,
    /// acknowledged or not, and what of its Handshake CRYPTO is
    /// unacknowledged. Called once the whole packet was processed.
    ///
    /// "Acknowledged or not", because a client that switches to the
    /// negotiated version (RFC 9368) may act on our first packet's version
    /// alone, drop the packet, acknowledge it all the same and repeat its
    /// ClientHello in the new version (picoquic does). Resending only what
    /// is unacknowledged would leave it waiting for a ServerHello forever.
    pub(super) fn on_repeated_crypto(&mut self, space: Space) {
        if self.side != Side::Server || space != Space::Initial {
            return;
        }
        let initial = &mut self.spaces[Space::Initial as usize];
        if initial.discarded || initial.early_resends >= MAX_EARLY_RESENDS {
            return;
        }
        initial.early_resends += 1;
        initial.crypto_send.requeue_all();
        let handshake = &mut self.spaces[Space::Handshake as usize];
        if !handshake.discarded {
            handshake.crypto_send.requeue_unacked();
        }
    }

    /// With no new data for the probes to carry (the tail of a transfer),
    /// the stream data of the two oldest packets in flight goes in them
    /// (RFC 9002 §6.2.4: previously sent data MAY be sent). If that flight
    /// was lost, the probes repair it a round trip sooner than a PING
    /// whose acknowledgement must first reveal the loss. The packets stay
    /// in flight; what either copy gets acknowledged is not sent again.
    fn resend_oldest_stream_data(&mut self) {
        let mut frames = Vec::new();
        for p in self.recovery.oldest_in_flight(Space::Application, 2) {
            frames.extend(
                p.data
                    .iter()
                    .filter(|f| matches!(f, SentFrame::Stream { .. }))
                    .cloned(),
            );
        }
        for f in frames {
            self.on_stream_frame_lost(f);
        }
    }

    /// A probe timeout (RFC 9002 §6.2.4): owe probe packets, and before the
    /// handshake is confirmed resend every unacknowledged CRYPTO byte, as
    /// the flight may have been lost whole.
    ///
    /// A client that has no byte of the server's Initial CRYPTO data yet
    /// resends its whole ClientHello, acknowledged parts included. A
    /// server that takes the datagrams of a ClientHello spanning several
    /// of them as separate connections (quiche 0.18 behind
    /// @matrixai/quic 2.0.9 does, when they arrive back to back) has
    /// acknowledged every byte yet holds only part of the message; the
    /// repeat lets the surviving connection complete it. A correct server
    /// drops the repeat as duplicate CRYPTO data, and the probe is no
    /// larger than the ClientHello itself.
    pub(super) fn on_probe_timeout(&mut self, space: Space) {
        if space == Space::Application {
            // RFC 8899 §4.3: in a black hole nothing comes back, and
            // probe timeouts follow one another.
            let consecutive = self.recovery.pto_count();
            let largest = self
                .recovery
                .unacked(space)
                .filter(|p| p.in_flight)
                .map(|p| p.size)
                .max();
            if let Some(largest) = largest {
                let change = self.paths.active.pmtud.on_timeouts(consecutive, largest);
                self.on_pmtu_change(change);
            }
        }
        let s = &mut self.spaces[space as usize];
        s.probes = if space == Space::Application { 2 } else { 1 };
        if space == Space::Application && !self.stream_work_pending() {
            self.resend_oldest_stream_data();
        }
        if !self.hs.is_confirmed() {
            for sp in [Space::Initial, Space::Handshake] {
                let s = &mut self.spaces[sp as usize];
                if !s.discarded {
                    s.crypto_send.requeue_unacked();
                }
            }
        }
        let initial = &mut self.spaces[Space::Initial as usize];
        if self.side == Side::Client && !initial.discarded && !initial.crypto_recv.received_any() {
            initial.crypto_send.requeue_all();
        }
    }
}
