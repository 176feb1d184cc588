//! Frame parsing. Every malformation maps to the error RFC 9000 names:
//! FRAME_ENCODING_ERROR for unknown types, truncation and out-of-range
//! values (§12.4, §19), PROTOCOL_VIOLATION for non-minimal type encodings.

use super::ack::{range_below, AckFrame, EcnCounts};
use super::{kind, Frame, MAX_STREAMS_LIMIT};
use crate::codec::Reader;
use crate::error::TransportError;
use crate::packet::MAX_CID_LEN;
use crate::varint;

/// FRAME_ENCODING_ERROR for a truncated frame.
fn truncated(ty: u64) -> TransportError {
    TransportError::frame_encoding(ty, "truncated frame")
}

/// Parses one frame from `r`.
pub fn parse<'a>(r: &mut Reader<'a>) -> Result<Frame<'a>, TransportError> {
    let (ty, ty_len) = r.varint_with_len().ok_or_else(|| truncated(0))?;
    // RFC 9000 §12.4: a frame type MUST use the shortest possible encoding.
    if Some(ty_len) != varint::encoded_len(ty) {
        return Err(TransportError::protocol_violation(
            ty,
            "frame type not minimally encoded",
        ));
    }
    let v = |r: &mut Reader<'a>| r.varint().ok_or_else(|| truncated(ty));
    let frame = match ty {
        kind::PADDING => Frame::Padding {
            len: 1 + r.skip_run(0),
        },
        kind::PING => Frame::Ping,
        kind::ACK | kind::ACK_ECN => Frame::Ack(parse_ack(r, ty)?),
        kind::RESET_STREAM => Frame::ResetStream {
            stream_id: v(r)?,
            error_code: v(r)?,
            final_size: v(r)?,
        },
        kind::STOP_SENDING => Frame::StopSending {
            stream_id: v(r)?,
            error_code: v(r)?,
        },
        kind::CRYPTO => {
            let offset = v(r)?;
            let data = r.varint_prefixed().ok_or_else(|| truncated(ty))?;
            check_end_offset(ty, offset, data.len())?;
            Frame::Crypto { offset, data }
        }
        kind::NEW_TOKEN => {
            let token = r.varint_prefixed().ok_or_else(|| truncated(ty))?;
            // RFC 9000 §19.7: an empty token is a FRAME_ENCODING_ERROR.
            if token.is_empty() {
                return Err(TransportError::frame_encoding(ty, "empty NEW_TOKEN"));
            }
            Frame::NewToken { token }
        }
        0x08..=0x0f => {
            let stream_id = v(r)?;
            let offset = if ty & 0x04 != 0 { v(r)? } else { 0 };
            let data = if ty & 0x02 != 0 {
                r.varint_prefixed().ok_or_else(|| truncated(ty))?
            } else {
                r.rest()
            };
            // RFC 9000 §19.8: the end offset cannot exceed 2^62 - 1.
            check_end_offset(ty, offset, data.len())?;
            Frame::Stream {
                stream_id,
                offset,
                data,
                fin: ty & 0x01 != 0,
            }
        }
        kind::MAX_DATA => Frame::MaxData(v(r)?),
        kind::MAX_STREAM_DATA => Frame::MaxStreamData {
            stream_id: v(r)?,
            max: v(r)?,
        },
        kind::MAX_STREAMS_BIDI | kind::MAX_STREAMS_UNI => {
            let max = v(r)?;
            // RFC 9000 §19.11.
            if max > MAX_STREAMS_LIMIT {
                return Err(TransportError::frame_encoding(ty, "MAX_STREAMS above 2^60"));
            }
            Frame::MaxStreams {
                bidi: ty == kind::MAX_STREAMS_BIDI,
                max,
            }
        }
        kind::DATA_BLOCKED => Frame::DataBlocked(v(r)?),
        kind::STREAM_DATA_BLOCKED => Frame::StreamDataBlocked {
            stream_id: v(r)?,
            limit: v(r)?,
        },
        kind::STREAMS_BLOCKED_BIDI | kind::STREAMS_BLOCKED_UNI => {
            let limit = v(r)?;
            // RFC 9000 §19.14.
            if limit > MAX_STREAMS_LIMIT {
                return Err(TransportError::frame_encoding(
                    ty,
                    "STREAMS_BLOCKED above 2^60",
                ));
            }
            Frame::StreamsBlocked {
                bidi: ty == kind::STREAMS_BLOCKED_BIDI,
                limit,
            }
        }
        kind::NEW_CONNECTION_ID => {
            let seq = v(r)?;
            let retire_prior_to = v(r)?;
            let cid = r.u8_prefixed().ok_or_else(|| truncated(ty))?;
            let reset_token = r.array::<16>().ok_or_else(|| truncated(ty))?;
            // RFC 9000 §19.15: length 1..=20, and Retire Prior To no larger
            // than the sequence number.
            if cid.is_empty() || cid.len() > MAX_CID_LEN {
                return Err(TransportError::frame_encoding(ty, "connection ID length"));
            }
            if retire_prior_to > seq {
                return Err(TransportError::frame_encoding(
                    ty,
                    "retire_prior_to above sequence number",
                ));
            }
            Frame::NewConnectionId {
                seq,
                retire_prior_to,
                cid,
                reset_token,
            }
        }
        kind::RETIRE_CONNECTION_ID => Frame::RetireConnectionId { seq: v(r)? },
        kind::PATH_CHALLENGE => Frame::PathChallenge(r.array().ok_or_else(|| truncated(ty))?),
        kind::PATH_RESPONSE => Frame::PathResponse(r.array().ok_or_else(|| truncated(ty))?),
        kind::CONNECTION_CLOSE | kind::CONNECTION_CLOSE_APP => {
            let app = ty == kind::CONNECTION_CLOSE_APP;
            let error_code = v(r)?;
            let frame_type = if app { 0 } else { v(r)? };
            let reason = r.varint_prefixed().ok_or_else(|| truncated(ty))?;
            Frame::ConnectionClose {
                app,
                error_code,
                frame_type,
                reason,
            }
        }
        kind::HANDSHAKE_DONE => Frame::HandshakeDone,
        kind::DATAGRAM => Frame::Datagram {
            data: r.rest(),
            with_len: false,
        },
        kind::DATAGRAM_LEN => Frame::Datagram {
            data: r.varint_prefixed().ok_or_else(|| truncated(ty))?,
            with_len: true,
        },
        // RFC 9000 §12.4: an unknown frame type is a FRAME_ENCODING_ERROR.
        _ => return Err(TransportError::frame_encoding(ty, "unknown frame type")),
    };
    Ok(frame)
}

/// RFC 9000 §19.6, §19.8: offset + length cannot exceed 2^62 - 1.
fn check_end_offset(ty: u64, offset: u64, len: usize) -> Result<(), TransportError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= varint::MAX => Ok(()),
        _ => Err(TransportError::frame_encoding(
            ty,
            "offset + length above 2^62 - 1",
        )),
    }
}

/// ACK frame body (RFC 9000 §19.3); every range must stay at or above zero.
fn parse_ack<'a>(r: &mut Reader<'a>, ty: u64) -> Result<AckFrame<'a>, TransportError> {
    let v = |r: &mut Reader<'a>| r.varint().ok_or_else(|| truncated(ty));
    let largest = v(r)?;
    let delay = v(r)?;
    let range_count = v(r)?;
    let first_range = v(r)?;
    let Some(mut low) = largest.checked_sub(first_range) else {
        return Err(TransportError::frame_encoding(ty, "ACK range below zero"));
    };
    let ranges_start = r.clone();
    let start_pos = r.position();
    // Each pair takes at least 2 bytes or fails, so the loop is bounded by
    // the packet whatever range_count claims.
    for _ in 0..range_count {
        let (gap, len) = (v(r)?, v(r)?);
        let (lo, _) = range_below(low, gap, len)
            .ok_or_else(|| TransportError::frame_encoding(ty, "ACK range below zero"))?;
        low = lo;
    }
    let ranges_raw = ranges_start
        .clone()
        .bytes(r.position() - start_pos)
        .unwrap_or(&[]);
    let ecn = if ty == super::kind::ACK_ECN {
        Some(EcnCounts {
            ect0: v(r)?,
            ect1: v(r)?,
            ce: v(r)?,
        })
    } else {
        None
    };
    Ok(AckFrame {
        largest,
        delay,
        first_range,
        range_count,
        ranges_raw,
        ecn,
    })
}

/// Iterates over the frames of a decrypted payload, stopping at the first
/// error (after which the connection closes).
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Frames of `payload`.
    pub fn new(payload: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(payload),
            failed: false,
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let item = parse(&mut self.reader);
        self.failed = item.is_err();
        Some(item)
    }
}
