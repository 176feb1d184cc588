//! Frame codec tests: round trips of every type, and the error RFC 9000
//! names for each malformation.

use super::*;
use crate::codec::Reader;
use crate::error::code;
use crate::test_util::hex;
use crate::varint;

fn parse_one(bytes: &[u8]) -> Result<Frame<'_>, crate::error::TransportError> {
    let mut r = Reader::new(bytes);
    let f = parse(&mut r)?;
    assert!(r.is_empty(), "frame left {} bytes", r.remaining());
    Ok(f)
}

fn ack_bytes(ranges: &[(u64, u64)], ecn: Option<&EcnCounts>) -> Vec<u8> {
    let mut out = Vec::new();
    write_ack(&mut out, ranges, 17, ecn);
    out
}

fn sample_frames(ack: &[u8], ack_ecn: &[u8]) -> Vec<Frame<'static>> {
    let ack = Box::leak(ack.to_vec().into_boxed_slice());
    let ack_ecn = Box::leak(ack_ecn.to_vec().into_boxed_slice());
    vec![
        Frame::Padding { len: 3 },
        Frame::Ping,
        parse_one(ack).unwrap(),
        parse_one(ack_ecn).unwrap(),
        Frame::ResetStream {
            stream_id: 4,
            error_code: 0x100,
            final_size: 1 << 40,
        },
        Frame::StopSending {
            stream_id: 3,
            error_code: 7,
        },
        Frame::Crypto {
            offset: 1000,
            data: b"client hello",
        },
        Frame::NewToken { token: b"tok" },
        Frame::Stream {
            stream_id: 0,
            offset: 0,
            data: b"GET /\r\n",
            fin: true,
        },
        Frame::Stream {
            stream_id: 1 << 50,
            offset: 99_999,
            data: b"",
            fin: false,
        },
        Frame::MaxData(1 << 30),
        Frame::MaxStreamData {
            stream_id: 8,
            max: 65_536,
        },
        Frame::MaxStreams {
            bidi: true,
            max: 100,
        },
        Frame::MaxStreams {
            bidi: false,
            max: MAX_STREAMS_LIMIT,
        },
        Frame::DataBlocked(5),
        Frame::StreamDataBlocked {
            stream_id: 2,
            limit: 6,
        },
        Frame::StreamsBlocked {
            bidi: true,
            limit: 7,
        },
        Frame::StreamsBlocked {
            bidi: false,
            limit: 8,
        },
        Frame::NewConnectionId {
            seq: 3,
            retire_prior_to: 1,
            cid: &[0xab; 20],
            reset_token: [9; 16],
        },
        Frame::RetireConnectionId { seq: 2 },
        Frame::PathChallenge(*b"12345678"),
        Frame::PathResponse(*b"87654321"),
        Frame::ConnectionClose {
            app: false,
            error_code: code::PROTOCOL_VIOLATION,
            frame_type: 0x08,
            reason: b"bad stream",
        },
        Frame::ConnectionClose {
            app: true,
            error_code: 42,
            frame_type: 0,
            reason: b"\xff\xfe not utf-8",
        },
        Frame::HandshakeDone,
        Frame::Datagram {
            data: b"dgram",
            with_len: true,
        },
    ]
}

#[test]
fn every_frame_round_trips() {
    let ack = ack_bytes(&[(90, 100), (50, 80), (0, 10)], None);
    let ecn = EcnCounts {
        ect0: 1,
        ect1: 2,
        ce: 3,
    };
    let ack_ecn = ack_bytes(&[(7, 7)], Some(&ecn));
    let frames = sample_frames(&ack, &ack_ecn);
    // One payload holding all of them, parsed back in order.
    let mut payload = Vec::new();
    for f in &frames {
        let mut one = Vec::new();
        f.write(&mut one);
        assert_eq!(parse_one(&one).as_ref(), Ok(f), "{f:?}");
        payload.extend_from_slice(&one);
    }
    // A DATAGRAM without Length runs to the end of the packet.
    let tail = Frame::Datagram {
        data: b"last",
        with_len: false,
    };
    tail.write(&mut payload);
    let parsed: Vec<_> = Frames::new(&payload).collect::<Result<_, _>>().unwrap();
    assert_eq!(parsed.len(), frames.len() + 1);
    assert_eq!(&parsed[..frames.len()], &frames[..]);
    assert_eq!(parsed[frames.len()], tail);
}

#[test]
fn ack_ranges_iterate_highest_first() {
    let bytes = ack_bytes(&[(90, 100), (50, 80), (0, 10)], None);
    let Frame::Ack(a) = parse_one(&bytes).unwrap() else {
        panic!("not an ACK")
    };
    assert_eq!(a.largest, 100);
    assert_eq!(a.delay, 17);
    assert_eq!(
        a.ranges().collect::<Vec<_>>(),
        vec![(90, 100), (50, 80), (0, 10)]
    );
    assert_eq!(a.smallest(), 0);
}

#[test]
fn ack_ranges_below_zero_are_frame_encoding_errors() {
    // First range larger than the largest acknowledged.
    let mut b = Vec::new();
    for v in [kind::ACK, 5, 0, 0, 6] {
        varint::write(&mut b, v);
    }
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
    // A gap that jumps below zero: largest 10, first range 2 (8..=10),
    // gap 7 puts the next range's top at 8 - 7 - 2 < 0.
    let mut b = Vec::new();
    for v in [kind::ACK, 10, 0, 1, 2, 7, 0] {
        varint::write(&mut b, v);
    }
    let e = parse_one(&b).unwrap_err();
    assert_eq!(
        (e.code, e.frame_type),
        (code::FRAME_ENCODING_ERROR, kind::ACK)
    );
    // A range length that goes below zero.
    let mut b = Vec::new();
    for v in [kind::ACK, 10, 0, 1, 2, 0, 7] {
        varint::write(&mut b, v);
    }
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
    // A huge range count with no ranges behind it is truncation, quickly.
    let mut b = Vec::new();
    for v in [kind::ACK, 10, 0, varint::MAX, 0] {
        varint::write(&mut b, v);
    }
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
}

#[test]
fn every_truncation_is_a_frame_encoding_error() {
    let ack = ack_bytes(&[(90, 100), (50, 80)], None);
    let ack_ecn = ack_bytes(
        &[(1, 2)],
        Some(&EcnCounts {
            ect0: 1,
            ect1: 0,
            ce: 0,
        }),
    );
    for f in sample_frames(&ack, &ack_ecn) {
        // Frames without a body, and those that run to the packet's end,
        // have no truncated form.
        if matches!(
            f,
            Frame::Padding { .. } | Frame::Ping | Frame::HandshakeDone
        ) {
            continue;
        }
        let mut bytes = Vec::new();
        f.write(&mut bytes);
        for n in 1..bytes.len() {
            let mut r = Reader::new(&bytes[..n]);
            let e = parse(&mut r).expect_err(&format!("{f:?} cut at {n}"));
            assert_eq!(e.code, code::FRAME_ENCODING_ERROR, "{f:?} cut at {n}");
        }
    }
}

#[test]
fn unknown_and_non_minimal_types() {
    let e = parse_one(&[0x1f]).unwrap_err();
    assert_eq!((e.code, e.frame_type), (code::FRAME_ENCODING_ERROR, 0x1f));
    let e = parse_one(&hex("4040")).unwrap_err();
    assert_eq!((e.code, e.frame_type), (code::FRAME_ENCODING_ERROR, 0x40));
    // PING encoded in two bytes.
    let e = parse_one(&hex("4001")).unwrap_err();
    assert_eq!(e.code, code::PROTOCOL_VIOLATION);
}

#[test]
fn over_limit_values() {
    let enc = |vals: &[u64]| {
        let mut b = Vec::new();
        for v in vals {
            varint::write(&mut b, *v);
        }
        b
    };
    // STREAM whose end offset passes 2^62 - 1.
    let mut b = enc(&[0x0e, 0, varint::MAX, 1]);
    b.push(b'x');
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
    // Exactly at the limit is fine.
    let b = enc(&[0x0e, 0, varint::MAX, 0]);
    assert!(parse_one(&b).is_ok());
    // CRYPTO likewise.
    let mut b = enc(&[kind::CRYPTO, varint::MAX - 1, 2]);
    b.extend_from_slice(b"ab");
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
    // MAX_STREAMS and STREAMS_BLOCKED above 2^60.
    for ty in [
        kind::MAX_STREAMS_BIDI,
        kind::MAX_STREAMS_UNI,
        kind::STREAMS_BLOCKED_BIDI,
        kind::STREAMS_BLOCKED_UNI,
    ] {
        let e = parse_one(&enc(&[ty, MAX_STREAMS_LIMIT + 1])).unwrap_err();
        assert_eq!((e.code, e.frame_type), (code::FRAME_ENCODING_ERROR, ty));
    }
    // NEW_CONNECTION_ID: empty CID, 21-byte CID, retire_prior_to > seq.
    for (seq, rpt, len) in [(1u64, 0u64, 0usize), (1, 0, 21), (1, 2, 8)] {
        let mut b = enc(&[kind::NEW_CONNECTION_ID, seq, rpt]);
        b.push(len as u8);
        b.extend(std::iter::repeat_n(1u8, len));
        b.extend_from_slice(&[0; 16]);
        let e = parse_one(&b).unwrap_err();
        assert_eq!(
            e.code,
            code::FRAME_ENCODING_ERROR,
            "seq {seq} rpt {rpt} len {len}"
        );
    }
    // NEW_TOKEN with an empty token.
    assert_eq!(
        parse_one(&enc(&[kind::NEW_TOKEN, 0])).unwrap_err().code,
        code::FRAME_ENCODING_ERROR
    );
    // A Length field longer than the packet.
    let mut b = enc(&[kind::DATAGRAM_LEN, 10]);
    b.extend_from_slice(b"short");
    assert_eq!(parse_one(&b).unwrap_err().code, code::FRAME_ENCODING_ERROR);
}

#[test]
fn padding_collapses_and_stops_at_the_next_frame() {
    let payload = [0, 0, 0, 0x01, 0, 0];
    let frames: Vec<_> = Frames::new(&payload).map(Result::unwrap).collect();
    assert_eq!(
        frames,
        vec![
            Frame::Padding { len: 3 },
            Frame::Ping,
            Frame::Padding { len: 2 }
        ]
    );
}

#[test]
fn frames_stop_after_the_first_error() {
    let payload = [0x01, 0x1f, 0x01];
    let items: Vec<_> = Frames::new(&payload).collect();
    assert_eq!(items.len(), 2);
    assert!(items[1].is_err());
}

#[test]
fn packet_type_permissions_follow_table_3() {
    use crate::packet::PacketType::*;
    let crypto = Frame::Crypto {
        offset: 0,
        data: b"",
    };
    let stream = Frame::Stream {
        stream_id: 0,
        offset: 0,
        data: b"",
        fin: false,
    };
    let app_close = Frame::ConnectionClose {
        app: true,
        error_code: 0,
        frame_type: 0,
        reason: b"",
    };
    let transport_close = Frame::ConnectionClose {
        app: false,
        error_code: 0,
        frame_type: 0,
        reason: b"",
    };
    let datagram = Frame::Datagram {
        data: b"",
        with_len: false,
    };
    assert!(crypto.permitted_in(Initial) && crypto.permitted_in(Handshake));
    assert!(!crypto.permitted_in(ZeroRtt) && crypto.permitted_in(OneRtt));
    assert!(!stream.permitted_in(Initial) && stream.permitted_in(ZeroRtt));
    assert!(transport_close.permitted_in(Initial) && !app_close.permitted_in(Handshake));
    assert!(!Frame::HandshakeDone.permitted_in(ZeroRtt));
    assert!(!Frame::HandshakeDone.permitted_in(Handshake));
    assert!(!Frame::PathResponse([0; 8]).permitted_in(ZeroRtt));
    assert!(!Frame::NewToken { token: b"x" }.permitted_in(ZeroRtt));
    assert!(datagram.permitted_in(ZeroRtt) && !datagram.permitted_in(Initial));
    assert!(Frame::Ping.permitted_in(Initial));
    assert!(Frame::Ping.is_ack_eliciting());
    assert!(!transport_close.is_ack_eliciting());
}

#[test]
fn stream_header_length_matches_what_is_written() {
    for (id, off, len, with_len) in [(0u64, 0u64, 5usize, true), (1 << 20, 1 << 35, 70, false)] {
        let mut out = Vec::new();
        write_stream_header(&mut out, id, off, len, false, with_len);
        assert_eq!(out.len(), stream_header_len(id, off, len, with_len));
    }
}
