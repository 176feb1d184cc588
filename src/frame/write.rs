//! Frame encoding. Values come from our own state, which keeps them inside
//! varint range; packet assembly uses the header helpers to write frame data
//! straight after its header without an intermediate copy.

use super::ack::{AckFrame, EcnCounts};
use super::{kind, Frame};
use crate::varint;

impl Frame<'_> {
    /// Appends the frame's encoding. STREAM is written with its Length field.
    pub fn write(&self, out: &mut Vec<u8>) {
        let w = |out: &mut Vec<u8>, v: u64| varint::write(out, v);
        match self {
            Frame::Padding { len } => out.resize(out.len() + len, 0),
            Frame::Ack(a) => write_ack_frame(out, a),
            Frame::ResetStream {
                stream_id,
                error_code,
                final_size,
            } => {
                w(out, kind::RESET_STREAM);
                w(out, *stream_id);
                w(out, *error_code);
                w(out, *final_size);
            }
            Frame::StopSending {
                stream_id,
                error_code,
            } => {
                w(out, kind::STOP_SENDING);
                w(out, *stream_id);
                w(out, *error_code);
            }
            Frame::Crypto { offset, data } => {
                write_crypto_header(out, *offset, data.len());
                out.extend_from_slice(data);
            }
            Frame::NewToken { token } => {
                w(out, kind::NEW_TOKEN);
                w(out, token.len() as u64);
                out.extend_from_slice(token);
            }
            Frame::Stream {
                stream_id,
                offset,
                data,
                fin,
            } => {
                write_stream_header(out, *stream_id, *offset, data.len(), *fin, true);
                out.extend_from_slice(data);
            }
            Frame::MaxData(v) | Frame::DataBlocked(v) => {
                w(out, self.kind());
                w(out, *v);
            }
            Frame::MaxStreamData { stream_id, max: v }
            | Frame::StreamDataBlocked {
                stream_id,
                limit: v,
            } => {
                w(out, self.kind());
                w(out, *stream_id);
                w(out, *v);
            }
            Frame::MaxStreams { max: v, .. } | Frame::StreamsBlocked { limit: v, .. } => {
                w(out, self.kind());
                w(out, *v);
            }
            Frame::NewConnectionId {
                seq,
                retire_prior_to,
                cid,
                reset_token,
            } => {
                w(out, kind::NEW_CONNECTION_ID);
                w(out, *seq);
                w(out, *retire_prior_to);
                out.push(cid.len() as u8);
                out.extend_from_slice(cid);
                out.extend_from_slice(reset_token);
            }
            Frame::RetireConnectionId { seq } => {
                w(out, kind::RETIRE_CONNECTION_ID);
                w(out, *seq);
            }
            Frame::PathChallenge(data) | Frame::PathResponse(data) => {
                w(out, self.kind());
                out.extend_from_slice(data);
            }
            Frame::ConnectionClose {
                app,
                error_code,
                frame_type,
                reason,
            } => {
                w(out, self.kind());
                w(out, *error_code);
                if !app {
                    w(out, *frame_type);
                }
                w(out, reason.len() as u64);
                out.extend_from_slice(reason);
            }
            Frame::Ping | Frame::HandshakeDone => w(out, self.kind()),
            Frame::Datagram { data, with_len } => {
                write_datagram_header(out, data.len(), *with_len);
                out.extend_from_slice(data);
            }
        }
    }
}

fn write_ack_frame(out: &mut Vec<u8>, a: &AckFrame<'_>) {
    varint::write(
        out,
        if a.ecn.is_some() {
            kind::ACK_ECN
        } else {
            kind::ACK
        },
    );
    varint::write(out, a.largest);
    varint::write(out, a.delay);
    varint::write(out, a.range_count);
    varint::write(out, a.first_range);
    out.extend_from_slice(a.ranges_raw);
    if let Some(ecn) = &a.ecn {
        write_ecn(out, ecn);
    }
}

fn write_ecn(out: &mut Vec<u8>, ecn: &EcnCounts) {
    varint::write(out, ecn.ect0);
    varint::write(out, ecn.ect1);
    varint::write(out, ecn.ce);
}

/// Appends an ACK frame for `ranges`: inclusive (low, high) pairs, highest
/// first, disjoint and not adjacent. `delay` is already scaled by our
/// ack_delay_exponent. Does nothing for an empty range list.
pub fn write_ack(out: &mut Vec<u8>, ranges: &[(u64, u64)], delay: u64, ecn: Option<&EcnCounts>) {
    let Some(&(first_low, largest)) = ranges.first() else {
        return;
    };
    varint::write(
        out,
        if ecn.is_some() {
            kind::ACK_ECN
        } else {
            kind::ACK
        },
    );
    varint::write(out, largest);
    varint::write(out, delay);
    varint::write(out, ranges.len() as u64 - 1);
    varint::write(out, largest - first_low);
    let mut prev_low = first_low;
    for &(low, high) in &ranges[1..] {
        debug_assert!(high + 2 <= prev_low, "ranges must be sorted and disjoint");
        varint::write(out, prev_low - high - 2);
        varint::write(out, high - low);
        prev_low = low;
    }
    if let Some(ecn) = ecn {
        write_ecn(out, ecn);
    }
}

/// Appends the header of a STREAM frame carrying `len` bytes at `offset`;
/// the data follows. Without `with_len` the data runs to the packet's end.
pub fn write_stream_header(
    out: &mut Vec<u8>,
    stream_id: u64,
    offset: u64,
    len: usize,
    fin: bool,
    with_len: bool,
) {
    let ty =
        kind::STREAM | (u64::from(offset != 0) << 2) | (u64::from(with_len) << 1) | u64::from(fin);
    varint::write(out, ty);
    varint::write(out, stream_id);
    if offset != 0 {
        varint::write(out, offset);
    }
    if with_len {
        varint::write(out, len as u64);
    }
}

/// Size of the header [`write_stream_header`] writes.
pub fn stream_header_len(stream_id: u64, offset: u64, len: usize, with_len: bool) -> usize {
    let vl = |v: u64| varint::encoded_len(v).unwrap_or(8);
    1 + vl(stream_id)
        + if offset != 0 { vl(offset) } else { 0 }
        + if with_len { vl(len as u64) } else { 0 }
}

/// Appends the header of a CRYPTO frame carrying `len` bytes at `offset`.
pub fn write_crypto_header(out: &mut Vec<u8>, offset: u64, len: usize) {
    varint::write(out, kind::CRYPTO);
    varint::write(out, offset);
    varint::write(out, len as u64);
}

/// Appends the header of a DATAGRAM frame of `len` bytes.
pub fn write_datagram_header(out: &mut Vec<u8>, len: usize, with_len: bool) {
    if with_len {
        varint::write(out, kind::DATAGRAM_LEN);
        varint::write(out, len as u64);
    } else {
        varint::write(out, kind::DATAGRAM);
    }
}
