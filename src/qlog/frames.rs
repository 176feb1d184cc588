//! QUIC frames and packet headers as qlog writes them
//! (draft-ietf-quic-qlog-quic-events-13 §8.8, §8.13): the fields of each
//! frame, never its payload bytes.

use super::json::{Arr, Obj};
use crate::error::code;
use crate::frame::{Frame, Frames};

/// What a packet header logs (§8.8).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderInfo<'a> {
    /// qlog's PacketType: "initial", "handshake", "0RTT", "1RTT".
    pub(crate) packet_type: &'static str,
    pub(crate) packet_number: u64,
    /// Long headers: the version, both CIDs; short: the DCID.
    pub(crate) version: Option<u32>,
    pub(crate) dcid: &'a [u8],
    pub(crate) scid: Option<&'a [u8]>,
    /// 1-RTT: the key phase bit.
    pub(crate) key_phase_bit: Option<bool>,
}

/// Writes `header` under "header".
pub(crate) fn header(o: &mut Obj<'_>, h: &HeaderInfo<'_>) {
    let mut w = o.obj("header");
    w.str("packet_type", h.packet_type)
        .u64("packet_number", h.packet_number);
    if let Some(v) = h.version {
        w.str("version", &format!("{v:08x}"));
    }
    if let Some(bit) = h.key_phase_bit {
        w.bool("key_phase_bit", bit);
    }
    if let Some(scid) = h.scid {
        w.u64("scil", scid.len() as u64).hex("scid", scid);
    }
    w.u64("dcil", h.dcid.len() as u64).hex("dcid", h.dcid);
}

/// Writes the frames of a plaintext `payload` under "frames". PADDING runs
/// are one frame each with their length (§8.13.1); a payload that stops
/// parsing ends the list. `ack_delay_exponent` scales ACK delays to ms.
pub(crate) fn frames(o: &mut Obj<'_>, payload: &[u8], ack_delay_exponent: u64) {
    let mut list = o.arr("frames");
    for frame in Frames::new(payload) {
        let Ok(frame) = frame else { break };
        write_frame(&mut list, &frame, ack_delay_exponent);
    }
}

fn write_frame(list: &mut Arr<'_>, frame: &Frame<'_>, ack_delay_exponent: u64) {
    let mut f = list.obj();
    match frame {
        Frame::Padding { len } => {
            f.str("frame_type", "padding");
            f.obj("raw")
                .u64("length", *len as u64)
                .u64("payload_length", *len as u64);
        }
        Frame::Ping => {
            f.str("frame_type", "ping");
        }
        Frame::Ack(a) => {
            f.str("frame_type", "ack");
            let delay_us = a
                .delay
                .checked_shl(ack_delay_exponent as u32)
                .unwrap_or(u64::MAX);
            f.ms("ack_delay", delay_us.saturating_mul(1000));
            {
                let mut ranges = f.arr("acked_ranges");
                for (low, high) in a.ranges() {
                    let mut r = ranges.arr();
                    r.u64(low);
                    if high != low {
                        r.u64(high);
                    }
                }
            }
            if let Some(e) = &a.ecn {
                f.u64("ect0", e.ect0).u64("ect1", e.ect1).u64("ce", e.ce);
            }
        }
        Frame::ResetStream {
            stream_id,
            error_code,
            final_size,
        } => {
            f.str("frame_type", "reset_stream")
                .u64("stream_id", *stream_id)
                .str("error", "unknown")
                .u64("error_code", *error_code)
                .u64("final_size", *final_size);
        }
        Frame::StopSending {
            stream_id,
            error_code,
        } => {
            f.str("frame_type", "stop_sending")
                .u64("stream_id", *stream_id)
                .str("error", "unknown")
                .u64("error_code", *error_code);
        }
        Frame::Crypto { offset, data } => {
            f.str("frame_type", "crypto").u64("offset", *offset);
            f.obj("raw").u64("payload_length", data.len() as u64);
        }
        Frame::NewToken { token } => {
            f.str("frame_type", "new_token");
            f.obj("token")
                .str("type", "resumption")
                .obj("raw")
                .u64("length", token.len() as u64);
        }
        Frame::Stream {
            stream_id,
            offset,
            data,
            fin,
        } => {
            f.str("frame_type", "stream")
                .u64("stream_id", *stream_id)
                .u64("offset", *offset)
                .bool("fin", *fin);
            f.obj("raw").u64("payload_length", data.len() as u64);
        }
        Frame::MaxData(max) => {
            f.str("frame_type", "max_data").u64("maximum", *max);
        }
        Frame::MaxStreamData { stream_id, max } => {
            f.str("frame_type", "max_stream_data")
                .u64("stream_id", *stream_id)
                .u64("maximum", *max);
        }
        Frame::MaxStreams { bidi, max } => {
            f.str("frame_type", "max_streams")
                .str("stream_type", stream_type(*bidi))
                .u64("maximum", *max);
        }
        Frame::DataBlocked(limit) => {
            f.str("frame_type", "data_blocked").u64("limit", *limit);
        }
        Frame::StreamDataBlocked { stream_id, limit } => {
            f.str("frame_type", "stream_data_blocked")
                .u64("stream_id", *stream_id)
                .u64("limit", *limit);
        }
        Frame::StreamsBlocked { bidi, limit } => {
            f.str("frame_type", "streams_blocked")
                .str("stream_type", stream_type(*bidi))
                .u64("limit", *limit);
        }
        Frame::NewConnectionId {
            seq,
            retire_prior_to,
            cid,
            reset_token,
        } => {
            f.str("frame_type", "new_connection_id")
                .u64("sequence_number", *seq)
                .u64("retire_prior_to", *retire_prior_to)
                .u64("connection_id_length", cid.len() as u64)
                .hex("connection_id", cid)
                .hex("stateless_reset_token", reset_token);
        }
        Frame::RetireConnectionId { seq } => {
            f.str("frame_type", "retire_connection_id")
                .u64("sequence_number", *seq);
        }
        Frame::PathChallenge(data) => {
            f.str("frame_type", "path_challenge").hex("data", data);
        }
        Frame::PathResponse(data) => {
            f.str("frame_type", "path_response").hex("data", data);
        }
        Frame::ConnectionClose {
            app,
            error_code,
            frame_type,
            reason,
        } => {
            f.str("frame_type", "connection_close");
            if *app {
                f.str("error_space", "application")
                    .str("error", "unknown")
                    .u64("error_code", *error_code);
            } else {
                f.str("error_space", "transport");
                transport_error(&mut f, "error", *error_code);
                f.u64("trigger_frame_type", *frame_type);
            }
            f.text("reason", reason);
        }
        Frame::HandshakeDone => {
            f.str("frame_type", "handshake_done");
        }
        Frame::Datagram { data, .. } => {
            f.str("frame_type", "datagram");
            f.obj("raw").u64("payload_length", data.len() as u64);
        }
    }
}

fn stream_type(bidi: bool) -> &'static str {
    if bidi {
        "bidirectional"
    } else {
        "unidirectional"
    }
}

/// Writes a transport error code under `key` as qlog names it: its
/// TransportError name (§8.13.24), "crypto_error_0x1XX" for a TLS alert
/// (§8.13.26), or "unknown" with the code in "error_code".
pub(crate) fn transport_error(o: &mut Obj<'_>, key: &str, c: u64) {
    if let Some(name) = transport_error_name(c) {
        o.str(key, name);
    } else if (code::CRYPTO_ERROR_BASE..code::CRYPTO_ERROR_BASE + 0x100).contains(&c) {
        o.str(key, &format!("crypto_error_{c:#05x}"));
    } else {
        o.str(key, "unknown").u64("error_code", c);
    }
}

fn transport_error_name(c: u64) -> Option<&'static str> {
    Some(match c {
        code::NO_ERROR => "no_error",
        code::INTERNAL_ERROR => "internal_error",
        code::CONNECTION_REFUSED => "connection_refused",
        code::FLOW_CONTROL_ERROR => "flow_control_error",
        code::STREAM_LIMIT_ERROR => "stream_limit_error",
        code::STREAM_STATE_ERROR => "stream_state_error",
        code::FINAL_SIZE_ERROR => "final_size_error",
        code::FRAME_ENCODING_ERROR => "frame_encoding_error",
        code::TRANSPORT_PARAMETER_ERROR => "transport_parameter_error",
        code::CONNECTION_ID_LIMIT_ERROR => "connection_id_limit_error",
        code::PROTOCOL_VIOLATION => "protocol_violation",
        code::INVALID_TOKEN => "invalid_token",
        code::APPLICATION_ERROR => "application_error",
        code::CRYPTO_BUFFER_EXCEEDED => "crypto_buffer_exceeded",
        code::KEY_UPDATE_ERROR => "key_update_error",
        code::AEAD_LIMIT_REACHED => "aead_limit_reached",
        code::NO_VIABLE_PATH => "no_viable_path",
        _ => return None,
    })
}
