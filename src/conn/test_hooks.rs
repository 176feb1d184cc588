//! Test-only views of what a connection holds, for the hostile-peer
//! bounds (src/tests/hostile.rs).

use super::Connection;
use crate::packet::PacketType;
use crate::recovery::Space;

/// What a connection holds that a peer controls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// Out-of-order CRYPTO pieces and heap bytes, at the given level.
    pub(crate) crypto_pieces: usize,
    pub(crate) crypto_memory: usize,
    /// Streams with state.
    pub(crate) streams: usize,
    /// Out-of-order STREAM pieces over all streams.
    pub(crate) stream_pieces: usize,
    /// PATH_RESPONSE frames owed.
    pub(crate) path_responses: usize,
    /// Events waiting to be polled.
    pub(crate) events: usize,
}

impl Connection {
    /// Whether this connection writes a qlog trace.
    pub(crate) fn qlog_enabled_for_test(&self) -> bool {
        self.qlog_on()
    }

    /// What the connection holds now; CRYPTO figures for `space`.
    pub(crate) fn held(&self, space: Space) -> Held {
        let c = &self.spaces[space as usize].crypto_recv;
        Held {
            crypto_pieces: c.pieces(),
            crypto_memory: c.memory(),
            streams: self.streams.stream_count(),
            stream_pieces: self.streams.ooo_pieces(),
            path_responses: self.paths.active.responses_pending(),
            events: self.reports.events.len(),
        }
    }

    /// Out-of-order pieces and heap bytes of one stream's received data.
    pub(crate) fn stream_held(&mut self, sid: u64) -> Option<(usize, usize)> {
        self.streams
            .recv_half(sid)
            .map(|r| (r.pieces(), r.memory()))
    }

    /// The probe timeout now, before any backoff (RFC 9002 §6.2.1).
    pub(crate) fn probe_timeout(&self) -> u64 {
        self.recovery.pto()
    }

    /// Probe packets owed in the application space after a PTO.
    pub(crate) fn app_probes_owed(&self) -> u32 {
        u32::from(self.spaces[Space::Application as usize].probes)
    }

    /// The transport parameters we send.
    pub(crate) fn local_params_for_test(&self) -> crate::transport_params::TransportParameters {
        self.local_params()
    }

    /// The peer's connection ID we send with.
    pub(crate) fn peer_cid_in_use(&self) -> crate::cid::ConnectionId {
        self.peer_cids.current()
    }

    /// True while lost stream data waits to be sent again.
    pub(crate) fn stream_resend_pending(&self) -> bool {
        self.streams.resend_pending()
    }

    /// New stream bytes sent so far (retransmissions not counted).
    pub(crate) fn stream_bytes_sent(&self) -> u64 {
        self.streams.data_sent
    }

    /// Received bytes a stream holds: in order not yet read, and out of
    /// order.
    pub(crate) fn stream_recv_buffered(&mut self, sid: u64) -> usize {
        self.streams.recv_half(sid).map_or(0, |r| r.buffered())
    }

    /// The per-stream receive window we advertise.
    pub(crate) fn config_max_stream_data(&self) -> u64 {
        self.config.transport.max_stream_data
    }

    /// The next packet number of `space`.
    pub(crate) fn next_packet_number(&self, space: Space) -> u64 {
        self.spaces[space as usize].next_pn
    }

    /// A 1-RTT datagram holding `frames`, in this connection's name (a
    /// test writing what a misbehaving peer would send).
    pub(crate) fn craft_one_rtt(
        &mut self,
        frames: &[crate::frame::Frame<'_>],
        now: u64,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(
            self.write_lone_packet(
                &mut out,
                None,
                |o| frames.iter().for_each(|f| f.write(o)),
                0,
                None,
                now
            ),
            "no 1-RTT keys"
        );
        out
    }

    /// A server that does not send the HANDSHAKE_DONE it owes (a test of
    /// the client's other way to confirm).
    pub(crate) fn withhold_handshake_done(&mut self) {
        self.hs.set_done_owed(false);
    }

    /// Moves our 1-RTT write keys to the next generation now, whether or
    /// not an update may start (a test playing a peer that does not wait).
    pub(crate) fn force_key_update(&mut self) {
        self.initiate_key_update().unwrap();
    }

    /// Skips packet numbers of `space` up to `next` (a packet the test
    /// crafted in this connection's name stands in for one it sent).
    pub(crate) fn skip_packet_numbers(&mut self, space: Space, next: u64) {
        let s = &mut self.spaces[space as usize];
        s.next_pn = s.next_pn.max(next);
    }

    /// Like `inject_payload`, then turns stream data into events as the
    /// receive path does.
    pub(crate) fn inject_and_collect(&mut self, ptype: PacketType, payload: &[u8], now: u64) {
        self.inject_payload(ptype, payload, now);
        self.collect_stream_events();
    }
}

impl Connection {
    /// The TLS library's state was let go after the handshake.
    pub(crate) fn tls_retired(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_retired())
    }
}

impl Connection {
    /// The stateless reset token of our connection ID with sequence `seq`.
    pub(crate) fn local_reset_token(&self, seq: u64) -> Option<[u8; 16]> {
        self.local_cids
            .active
            .iter()
            .find(|c| c.seq == seq)
            .map(|c| c.reset_token)
    }

    /// Our connection IDs the peer may still use.
    pub(crate) fn local_cid_list(&self) -> Vec<crate::cid::ConnectionId> {
        self.local_cids.active.iter().map(|c| c.cid).collect()
    }
}
