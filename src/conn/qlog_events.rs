//! The connection's qlog events (draft-ietf-quic-qlog-quic-events-13):
//! each hook does nothing unless the connection is logged, and formats its
//! record straight into the trace's buffer.

use std::net::SocketAddr;

use super::{CloseError, Connection, Ecn, Termination};
use crate::cid::ConnectionId;
use crate::config::Config;
use crate::packet::{header, PacketType};
use crate::qlog::frames::{self, HeaderInfo};
use crate::qlog::{Obj, QlogTrace, QlogWriter};
use crate::recovery::Space;
use crate::side::Side;
use crate::transport_params::TransportParameters;

/// Why a received packet was dropped (§5.7's triggers).
#[derive(Debug, Clone, Copy)]
pub(super) enum DropReason {
    /// For another connection ID.
    ConnectionUnknown,
    /// No keys (yet, or any more) for its packet number space.
    KeyUnavailable,
    /// It did not authenticate.
    DecryptionFailure,
    /// Its number was seen before.
    Duplicate,
    /// A version we do not speak in this connection.
    Unsupported,
    /// Refused by a rule: a small Initial datagram, a token where none
    /// belongs, a frame we would not hold.
    Rejected,
}

impl DropReason {
    fn trigger(self) -> &'static str {
        match self {
            Self::ConnectionUnknown => "connection_unknown",
            Self::KeyUnavailable => "key_unavailable",
            Self::DecryptionFailure => "decryption_failure",
            Self::Duplicate => "duplicate",
            Self::Unsupported => "unsupported",
            Self::Rejected => "rejected",
        }
    }
}

/// qlog's PacketType name (§8.6).
pub(super) fn packet_type_name(t: PacketType) -> &'static str {
    match t {
        PacketType::Initial => "initial",
        PacketType::Handshake => "handshake",
        PacketType::ZeroRtt => "0RTT",
        PacketType::OneRtt => "1RTT",
        PacketType::Retry => "retry",
        PacketType::VersionNegotiation => "version_negotiation",
        PacketType::UnknownVersion => "unknown",
    }
}

/// The packet type a space's packets have (0-RTT aside).
fn space_packet_type(space: Space) -> &'static str {
    match space {
        Space::Initial => "initial",
        Space::Handshake => "handshake",
        Space::Application => "1RTT",
    }
}

/// The trace of a new connection, if the configuration logs them.
pub(super) fn open_trace(
    config: &Config,
    side: Side,
    odcid: &ConnectionId,
) -> Option<Box<QlogWriter>> {
    let sink = config.endpoint.qlog.as_ref()?;
    QlogWriter::start(
        sink,
        QlogTrace {
            odcid: &odcid[..],
            server: side == Side::Server,
        },
    )
}

pub(super) fn endpoint_info(
    o: &mut Obj<'_>,
    key: &str,
    addr: Option<SocketAddr>,
    cid: Option<&[u8]>,
) {
    let mut e = o.obj(key);
    match addr {
        Some(SocketAddr::V4(a)) => {
            e.str("ip_v4", &a.ip().to_string())
                .u64("port_v4", u64::from(a.port()));
        }
        Some(SocketAddr::V6(a)) => {
            e.str("ip_v6", &a.ip().to_string())
                .u64("port_v6", u64::from(a.port()));
        }
        None => {}
    }
    if let Some(cid) = cid {
        e.arr("connection_ids").hex(cid);
    }
}

fn parameters(o: &mut Obj<'_>, tp: &TransportParameters, initiator: &str) {
    o.str("initiator", initiator);
    if let Some(c) = &tp.original_destination_connection_id {
        o.hex("original_destination_connection_id", &c[..]);
    }
    if let Some(c) = &tp.initial_source_connection_id {
        o.hex("initial_source_connection_id", &c[..]);
    }
    if let Some(c) = &tp.retry_source_connection_id {
        o.hex("retry_source_connection_id", &c[..]);
    }
    if let Some(t) = &tp.stateless_reset_token {
        o.hex("stateless_reset_token", t);
    }
    o.bool("disable_active_migration", tp.disable_active_migration)
        .u64("max_idle_timeout", tp.max_idle_timeout)
        .u64("max_udp_payload_size", tp.max_udp_payload_size)
        .u64("ack_delay_exponent", tp.ack_delay_exponent)
        .u64("max_ack_delay", tp.max_ack_delay)
        .u64("active_connection_id_limit", tp.active_connection_id_limit)
        .u64("initial_max_data", tp.initial_max_data)
        .u64(
            "initial_max_stream_data_bidi_local",
            tp.initial_max_stream_data_bidi_local,
        )
        .u64(
            "initial_max_stream_data_bidi_remote",
            tp.initial_max_stream_data_bidi_remote,
        )
        .u64(
            "initial_max_stream_data_uni",
            tp.initial_max_stream_data_uni,
        )
        .u64("initial_max_streams_bidi", tp.initial_max_streams_bidi)
        .u64("initial_max_streams_uni", tp.initial_max_streams_uni);
    if let Some(m) = tp.max_datagram_frame_size {
        o.u64("max_datagram_frame_size", m);
    }
    o.bool("grease_quic_bit", tp.grease_quic_bit);
    // Parameters we do not know are skipped when decoded, not kept.
    o.arr("unknown_parameters");
}

fn ecn_name(ecn: Ecn) -> &'static str {
    match ecn {
        Ecn::NotEct => "Not-ECT",
        Ecn::Ect1 => "ECT(1)",
        Ecn::Ect0 => "ECT(0)",
        Ecn::Ce => "CE",
    }
}

impl Connection {
    /// True when this connection writes a trace: hooks that would do work
    /// before formatting check it first.
    #[inline]
    pub(super) fn qlog_on(&self) -> bool {
        self.reports.qlog.is_some()
    }

    /// Hands the records waiting to the application's output (the end of
    /// a round of receiving, sending or timers).
    #[inline]
    pub(super) fn qlog_hand_over(&mut self) {
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.hand_over();
        }
    }

    /// Records dropped because the output fell behind.
    pub(super) fn qlog_dropped_records(&self) -> u64 {
        self.reports.qlog.as_deref().map_or(0, QlogWriter::dropped)
    }

    /// connection_started and our parameters_set (§4.2, §5.3): the
    /// handshake starts with `peer`.
    pub(super) fn qlog_started(&mut self, now: u64) {
        if !self.qlog_on() {
            return;
        }
        let tp = self.local_params();
        let local = self.local_cid();
        let remote = self.peer_cids.current();
        let (local_addr, peer_addr) = (self.paths.active.local, self.paths.active.peer);
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        q.event(now, "connection_started", |d| {
            endpoint_info(d, "local", local_addr, Some(&local[..]));
            endpoint_info(d, "remote", peer_addr, Some(&remote[..]));
        });
        q.event(now, "parameters_set", |d| parameters(d, &tp, "local"));
    }

    /// The peer's parameters_set (§5.3).
    pub(super) fn qlog_peer_params(&mut self, tp: &TransportParameters) {
        let now = self.last_now;
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.event(now, "parameters_set", |d| parameters(d, tp, "remote"));
        }
    }

    /// version_information and alpn_information (§5.1, §5.2) once the
    /// handshake settled them.
    pub(super) fn qlog_negotiated(&mut self, alpn: Option<&[u8]>) {
        if !self.qlog_on() {
            return;
        }
        let (now, version, server) = (self.last_now, self.version, self.side == Side::Server);
        let ours = self.available_versions();
        let alpns = self.config.tls.alpn_protocols.clone();
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        q.event(now, "version_information", |d| {
            {
                let mut list = d.arr(if server {
                    "server_versions"
                } else {
                    "client_versions"
                });
                for v in &ours {
                    list.str(&format!("{v:08x}"));
                }
            }
            d.str("chosen_version", &format!("{version:08x}"));
        });
        q.event(now, "alpn_information", |d| {
            {
                let mut list = d.arr(if server {
                    "server_alpns"
                } else {
                    "client_alpns"
                });
                for a in &alpns {
                    list.obj().text("string_value", a);
                }
            }
            if let Some(a) = alpn {
                d.obj("chosen_alpn").text("string_value", a);
            }
        });
    }

    /// packet_sent (§5.5) for a packet built in `packet` (plaintext, its
    /// tag room at the end), about to be sealed.
    #[inline]
    pub(super) fn qlog_packet_sent(&mut self, packet: &[u8], pn: u64, payload_start: usize) {
        if self.qlog_on() {
            self.qlog_packet_sent_now(packet, pn, payload_start);
        }
    }

    #[cold]
    fn qlog_packet_sent_now(&mut self, packet: &[u8], pn: u64, payload_start: usize) {
        let cid_len = self.config.endpoint.connection_id_length;
        let now = self.last_now;
        let exponent = u64::from(super::send::LOCAL_ACK_DELAY_EXPONENT);
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        let Ok(h) = header::parse(packet, cid_len) else {
            return;
        };
        let long = h.is_long();
        let info = HeaderInfo {
            packet_type: packet_type_name(h.packet_type),
            packet_number: pn,
            version: long.then_some(h.version),
            dcid: h.dcid,
            scid: long.then_some(h.scid),
            key_phase_bit: (!long).then_some(packet[0] & 0x04 != 0),
        };
        let end = packet.len().saturating_sub(crate::crypto::TAG_LEN);
        let payload = packet.get(payload_start..end).unwrap_or(&[]);
        let mtu_probe = h.packet_type == PacketType::OneRtt && is_lone_padded_ping(payload);
        q.event(now, "packet_sent", |d| {
            frames::header(d, &info);
            frames::frames(d, payload, exponent);
            d.obj("raw")
                .u64("length", packet.len() as u64)
                .u64("payload_length", payload.len() as u64);
            if mtu_probe {
                d.bool("is_mtu_probe_packet", true);
            }
        });
    }

    /// packet_received (§5.6): an authenticated packet and its frames.
    pub(super) fn qlog_packet_received(
        &mut self,
        info: &HeaderInfo<'_>,
        payload: &[u8],
        len: usize,
    ) {
        let now = self.last_now;
        let exponent = self
            .peer_params
            .as_ref()
            .map_or(3, |p| p.ack_delay_exponent);
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.event(now, "packet_received", |d| {
                frames::header(d, info);
                frames::frames(d, payload, exponent);
                d.obj("raw")
                    .u64("length", len as u64)
                    .u64("payload_length", payload.len() as u64);
            });
        }
    }

    /// A received packet of `len` bytes is dropped: logged, and the
    /// length returned to skip it.
    pub(super) fn dropped(
        &mut self,
        ptype: PacketType,
        len: usize,
        why: DropReason,
    ) -> Option<usize> {
        self.qlog_packet_dropped(ptype, len, why);
        Some(len)
    }

    /// packet_dropped (§5.7).
    pub(super) fn qlog_packet_dropped(&mut self, ptype: PacketType, len: usize, why: DropReason) {
        let now = self.last_now;
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.event(now, "packet_dropped", |d| {
                d.obj("header").str("packet_type", packet_type_name(ptype));
                d.obj("raw").u64("length", len as u64);
                d.str("trigger", why.trigger());
            });
        }
    }

    /// udp_datagrams_sent / udp_datagrams_received (§5.10, §5.11).
    #[inline]
    pub(super) fn qlog_datagram(&mut self, sent: bool, len: usize, ecn: Ecn) {
        if self.qlog_on() {
            self.qlog_datagram_now(sent, len, ecn);
        }
    }

    #[cold]
    fn qlog_datagram_now(&mut self, sent: bool, len: usize, ecn: Ecn) {
        let now = self.last_now;
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            let name = if sent {
                "udp_datagrams_sent"
            } else {
                "udp_datagrams_received"
            };
            q.event(now, name, |d| {
                d.u64("count", 1);
                d.arr("raw").obj().u64("length", len as u64);
                d.arr("ecn").str(ecn_name(ecn));
            });
        }
    }

    /// packet_lost (§7.4).
    pub(super) fn qlog_packet_lost(&mut self, space: Space, pn: u64, mtu_probe: bool) {
        let now = self.last_now;
        // Which threshold found it (RFC 9002 §6.1): loss detection only
        // declares packets below the largest acknowledged lost (0-RTT
        // packets a server refused are not, and get no trigger).
        let trigger = self.recovery.largest_acked(space).and_then(|largest| {
            let threshold = self.recovery.packet_threshold();
            if largest >= pn.saturating_add(threshold) {
                Some("reordering_threshold")
            } else if largest > pn {
                Some("time_threshold")
            } else {
                None
            }
        });
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.event(now, "packet_lost", |d| {
                d.obj("header")
                    .str("packet_type", space_packet_type(space))
                    .u64("packet_number", pn);
                if mtu_probe {
                    d.bool("is_mtu_probe_packet", true);
                }
                if let Some(t) = trigger {
                    d.str("trigger", t);
                }
            });
        }
    }

    /// key_updated or key_discarded (§6.1, §6.2) for the keys of
    /// `level` ("initial", "handshake", "0rtt", "1rtt"): ours (the ones we
    /// write with), the peer's, or None for both; with the 1-RTT key phase
    /// and what caused it.
    pub(super) fn qlog_keys(
        &mut self,
        updated: bool,
        level: &str,
        ours: Option<bool>,
        key_phase: Option<u64>,
        trigger: &str,
    ) {
        let now = self.last_now;
        let server = self.side == Side::Server;
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        let name = if updated {
            "key_updated"
        } else {
            "key_discarded"
        };
        // Which side's secret: ours is the server's when we are one.
        let sides: &[bool] = match ours {
            Some(o) => &[o == server],
            None => &[false, true],
        };
        for &server_side in sides {
            let side = if server_side { "server" } else { "client" };
            q.event(now, name, |d| {
                d.str("key_type", &format!("{side}_{level}_secret"));
                if let Some(p) = key_phase {
                    d.u64("key_phase", p);
                }
                d.str("trigger", trigger);
            });
        }
    }

    /// mtu_updated (§4.8): PMTU discovery raised the datagram size or fell
    /// back after a black hole.
    pub(super) fn qlog_mtu(&mut self, new: usize) {
        let now = self.last_now;
        if let Some(q) = self.reports.qlog.as_deref_mut() {
            q.event(now, "mtu_updated", |d| {
                d.u64("new", new as u64);
            });
        }
    }

    /// connection_closed (§4.3): how the connection ended.
    pub(super) fn qlog_closed(&mut self, err: &CloseError, cause: Termination) {
        let now = self.last_now;
        let Some(q) = self.reports.qlog.as_deref_mut() else {
            return;
        };
        let (initiator, trigger) = match cause {
            Termination::LocalError => ("local", "error"),
            Termination::LocalClose => ("local", "application"),
            Termination::PeerTransport => ("remote", "error"),
            Termination::PeerApplication => ("remote", "application"),
            Termination::IdleTimeout => ("local", "idle_timeout"),
            Termination::HandshakeTimeout => ("local", "unspecified"),
            Termination::StatelessReset => ("remote", "stateless_reset"),
            Termination::VersionNegotiation => ("local", "version_mismatch"),
            Termination::Abandoned => ("local", "aborted"),
        };
        q.event(now, "connection_closed", |d| {
            d.str("initiator", initiator);
            if err.is_app {
                d.str("application_error", "unknown")
                    .u64("error_code", err.code);
            } else {
                frames::transport_error(d, "connection_error", err.code);
            }
            d.text("reason", &err.reason).str("trigger", trigger);
        });
    }
}

/// A PMTU probe's payload: one PING, then only PADDING.
fn is_lone_padded_ping(payload: &[u8]) -> bool {
    payload.first() == Some(&(crate::frame::kind::PING as u8))
        && payload.len() > 1
        && payload[1..].iter().all(|b| *b == 0)
}
