//! Packet header parsing and encoding (RFC 9000 §17, RFC 8999, RFC 9369 §3.2).
//!
//! Parsing stops at the packet number: it is under header protection, so only
//! the fields readable without keys are returned, plus where the packet number
//! starts and where this packet ends inside a datagram of coalesced packets.

use crate::codec::Reader;
use crate::error::PacketError;
use crate::packet::MAX_CID_LEN;
use crate::varint;
use crate::version::{self, LongType};

/// The kind of a packet, as far as the header tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Initial (long header).
    Initial,
    /// 0-RTT (long header).
    ZeroRtt,
    /// Handshake (long header).
    Handshake,
    /// Retry (long header).
    Retry,
    /// Version Negotiation (long header, version 0).
    VersionNegotiation,
    /// 1-RTT (short header).
    OneRtt,
    /// A long header of a version whose layout we do not know; only the
    /// version-invariant fields (RFC 8999 §5.1) were parsed.
    UnknownVersion,
}

impl From<LongType> for PacketType {
    fn from(t: LongType) -> Self {
        match t {
            LongType::Initial => PacketType::Initial,
            LongType::ZeroRtt => PacketType::ZeroRtt,
            LongType::Handshake => PacketType::Handshake,
            LongType::Retry => PacketType::Retry,
        }
    }
}

/// The fields of one packet header, borrowed from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// What the header says the packet is.
    pub packet_type: PacketType,
    /// The first byte as received (still under header protection).
    pub first_byte: u8,
    /// The version; 0 for Version Negotiation and for short headers.
    pub version: u32,
    /// Destination connection ID.
    pub dcid: &'a [u8],
    /// Source connection ID (empty for short headers).
    pub scid: &'a [u8],
    /// Initial token, or the Retry token of a Retry packet.
    pub token: &'a [u8],
    /// The Retry Integrity Tag of a Retry packet.
    pub retry_tag: &'a [u8],
    /// The raw version list of a Version Negotiation packet (4 bytes each).
    pub supported_versions: &'a [u8],
    /// Offset of the (protected) packet number; 0 for packets without one.
    pub pn_offset: usize,
    /// Bytes of the datagram taken by this packet (coalesced packets follow).
    pub packet_len: usize,
}

impl Header<'_> {
    /// True for the long header form.
    pub fn is_long(&self) -> bool {
        self.first_byte & 0x80 != 0
    }

    /// The versions a Version Negotiation packet lists.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.supported_versions
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// How strictly the fixed bit is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedBit {
    /// The fixed bit must be 1 (RFC 9000 §17.2).
    Required,
    /// We advertised grease_quic_bit, so the peer may send 0 (RFC 9287 §3).
    MayBeGreased,
}

/// Parses the first packet header of `datagram`, with the strict fixed-bit
/// rule. `short_dcid_len` is the length of our connection IDs, needed because
/// short headers do not carry it.
pub fn parse(datagram: &[u8], short_dcid_len: usize) -> Result<Header<'_>, PacketError> {
    parse_with(datagram, short_dcid_len, FixedBit::Required)
}

/// Parses the first packet header of `datagram`.
pub fn parse_with(
    datagram: &[u8],
    short_dcid_len: usize,
    fixed_bit: FixedBit,
) -> Result<Header<'_>, PacketError> {
    let mut r = Reader::new(datagram);
    let first = r.u8().ok_or(PacketError::Truncated)?;
    let mut h = Header {
        packet_type: PacketType::OneRtt,
        first_byte: first,
        version: 0,
        dcid: &[],
        scid: &[],
        token: &[],
        retry_tag: &[],
        supported_versions: &[],
        pn_offset: 0,
        packet_len: datagram.len(),
    };
    let fixed_ok = first & 0x40 != 0 || fixed_bit == FixedBit::MayBeGreased;

    if first & 0x80 == 0 {
        // RFC 9000 §17.3.1: short header.
        if !fixed_ok {
            return Err(PacketError::FixedBitZero);
        }
        if short_dcid_len > MAX_CID_LEN {
            return Err(PacketError::ConnectionIdTooLong);
        }
        h.dcid = r.bytes(short_dcid_len).ok_or(PacketError::Truncated)?;
        h.pn_offset = r.position();
        if r.is_empty() {
            return Err(PacketError::Truncated);
        }
        return Ok(h);
    }

    // RFC 8999 §5.1: the version-invariant part of a long header.
    h.version = r.u32().ok_or(PacketError::Truncated)?;
    h.dcid = r.u8_prefixed().ok_or(PacketError::Truncated)?;
    h.scid = r.u8_prefixed().ok_or(PacketError::Truncated)?;

    if h.version == version::NEGOTIATION {
        // RFC 9000 §17.2.1: the rest is a list of 32-bit versions.
        h.packet_type = PacketType::VersionNegotiation;
        let list = r.rest();
        if list.is_empty() || list.len() % 4 != 0 {
            return Err(PacketError::Malformed("version list length"));
        }
        h.supported_versions = list;
        return Ok(h);
    }

    let Some(long_type) = version::long_type_from_bits(h.version, (first >> 4) & 3) else {
        // Unknown version: CIDs may be up to 255 bytes (RFC 8999 §5.1); the
        // caller answers with Version Negotiation or drops it.
        h.packet_type = PacketType::UnknownVersion;
        return Ok(h);
    };
    h.packet_type = long_type.into();
    // RFC 9000 §17.2: "endpoints that receive a version 1 long header with a
    // value larger than 20 MUST drop the packet".
    if h.dcid.len() > MAX_CID_LEN || h.scid.len() > MAX_CID_LEN {
        return Err(PacketError::ConnectionIdTooLong);
    }
    if !fixed_ok {
        return Err(PacketError::FixedBitZero);
    }

    match long_type {
        LongType::Retry => {
            // RFC 9000 §17.2.5: token, then a 16-byte integrity tag.
            let rest = r.rest();
            if rest.len() < 16 {
                return Err(PacketError::Truncated);
            }
            let (token, tag) = rest.split_at(rest.len() - 16);
            h.token = token;
            h.retry_tag = tag;
        }
        LongType::Initial | LongType::ZeroRtt | LongType::Handshake => {
            if long_type == LongType::Initial {
                h.token = r.varint_prefixed().ok_or(PacketError::Truncated)?;
            }
            let length = r.varint().ok_or(PacketError::Truncated)?;
            h.pn_offset = r.position();
            let length = usize::try_from(length).map_err(|_| PacketError::Truncated)?;
            if length > r.remaining() {
                return Err(PacketError::Truncated);
            }
            if length == 0 {
                return Err(PacketError::Malformed("zero length"));
            }
            h.packet_len = h.pn_offset + length;
        }
    }
    Ok(h)
}

/// A long header to write (Initial, 0-RTT or Handshake).
#[derive(Debug, Clone, Copy)]
pub struct LongHeader<'a> {
    /// Packet type.
    pub ty: LongType,
    /// Version on the wire.
    pub version: u32,
    /// Destination connection ID.
    pub dcid: &'a [u8],
    /// Source connection ID.
    pub scid: &'a [u8],
    /// Token (Initial only; ignored otherwise).
    pub token: &'a [u8],
}

/// Where the variable parts of a written header sit, so the Length field can
/// be patched once the payload is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLayout {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset of the Length field, when the packet has one.
    pub length_offset: Option<usize>,
    /// Offset of the packet number.
    pub pn_offset: usize,
    /// Size of the packet number field (1..=4).
    pub pn_len: usize,
}

/// Bytes reserved for the Length field of long headers: 2 bytes cover
/// packets up to 16383 bytes; larger ones take 4.
fn length_field_len(max_packet: usize) -> usize {
    if max_packet < 16_384 {
        2
    } else {
        4
    }
}

impl LongHeader<'_> {
    /// Appends this header with packet number `truncated_pn` in `pn_len`
    /// bytes, reserving a Length field for a packet of at most `max_packet`
    /// bytes. Fails on connection IDs over 20 bytes.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        truncated_pn: u32,
        pn_len: usize,
        max_packet: usize,
    ) -> Result<HeaderLayout, PacketError> {
        if self.dcid.len() > MAX_CID_LEN || self.scid.len() > MAX_CID_LEN {
            return Err(PacketError::ConnectionIdTooLong);
        }
        if !(1..=4).contains(&pn_len) {
            return Err(PacketError::Malformed("packet number length"));
        }
        let start = out.len();
        let type_bits = version::long_type_bits(self.version, self.ty);
        out.push(0xc0 | (type_bits << 4) | (pn_len as u8 - 1));
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.dcid.len() as u8);
        out.extend_from_slice(self.dcid);
        out.push(self.scid.len() as u8);
        out.extend_from_slice(self.scid);
        if self.ty == LongType::Initial {
            varint::write(out, self.token.len() as u64);
            out.extend_from_slice(self.token);
        }
        let length_offset = out.len();
        varint::write_with_len(out, 0, length_field_len(max_packet));
        let pn_offset = out.len();
        write_truncated_pn(out, truncated_pn, pn_len);
        Ok(HeaderLayout {
            start,
            length_offset: Some(length_offset),
            pn_offset,
            pn_len,
        })
    }
}

/// Appends a short header (RFC 9000 §17.3.1).
pub fn write_short(
    out: &mut Vec<u8>,
    dcid: &[u8],
    truncated_pn: u32,
    pn_len: usize,
    key_phase: bool,
    spin: bool,
) -> Result<HeaderLayout, PacketError> {
    if dcid.len() > MAX_CID_LEN {
        return Err(PacketError::ConnectionIdTooLong);
    }
    if !(1..=4).contains(&pn_len) {
        return Err(PacketError::Malformed("packet number length"));
    }
    let start = out.len();
    out.push(0x40 | (u8::from(spin) << 5) | (u8::from(key_phase) << 2) | (pn_len as u8 - 1));
    out.extend_from_slice(dcid);
    let pn_offset = out.len();
    write_truncated_pn(out, truncated_pn, pn_len);
    Ok(HeaderLayout {
        start,
        length_offset: None,
        pn_offset,
        pn_len,
    })
}

fn write_truncated_pn(out: &mut Vec<u8>, truncated_pn: u32, pn_len: usize) {
    out.extend_from_slice(&truncated_pn.to_be_bytes()[4 - pn_len..]);
}

impl HeaderLayout {
    /// Writes the Length field: everything after it, including the AEAD tag
    /// of `tag_len` bytes still to be appended.
    pub fn finish(&self, packet: &mut [u8], tag_len: usize) {
        if let Some(off) = self.length_offset {
            let len_field = self.pn_offset - off;
            let length = packet.len() - self.pn_offset + tag_len;
            varint::put_with_len(&mut packet[off..], length as u64, len_field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;
    use crate::version::{V1, V2};

    #[test]
    fn rfc9001_client_initial_header() {
        // RFC 9001 A.2 unprotected header, followed by a payload to fill Length.
        let mut pkt = hex("c300000001088394c8f03e5157080000449e00000002");
        pkt.resize(22 + 1178, 0);
        let h = parse(&pkt, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::Initial);
        assert_eq!(h.version, V1);
        assert_eq!(h.dcid, hex("8394c8f03e515708"));
        assert!(h.scid.is_empty() && h.token.is_empty());
        assert_eq!(h.pn_offset, 18);
        assert_eq!(h.packet_len, 18 + 1182);
        // One byte short of the Length field's promise.
        assert_eq!(parse(&pkt[..pkt.len() - 1], 0), Err(PacketError::Truncated));
    }

    #[test]
    fn writes_the_rfc9001_header_byte_for_byte() {
        for (version, expected) in [
            (V1, "c300000001088394c8f03e5157080000449e00000002"),
            (V2, "d36b3343cf088394c8f03e5157080000449e00000002"),
        ] {
            let dcid = hex("8394c8f03e515708");
            let hdr = LongHeader {
                ty: LongType::Initial,
                version,
                dcid: &dcid,
                scid: &[],
                token: &[],
            };
            let mut out = Vec::new();
            let layout = hdr.write(&mut out, 2, 4, 1200).unwrap();
            out.resize(out.len() + 1162, 0);
            layout.finish(&mut out, 16);
            assert_eq!(&out[..22], &hex(expected)[..]);
        }
    }

    #[test]
    fn v2_types_parse() {
        let mut pkt = hex("d16b3343cf0008f067a5502a4262b50040750001");
        pkt.resize(18 + 0x75, 0);
        let h = parse(&pkt, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::Initial);
        assert_eq!(h.version, V2);
        assert_eq!(h.scid, hex("f067a5502a4262b5"));
        // The same type bits mean 0-RTT in v1 (which carries no token).
        let mut v1 = hex("d100000001 00 08 f067a5502a4262b5 4075 0001");
        v1.resize(17 + 0x75, 0);
        assert_eq!(parse(&v1, 0).unwrap().packet_type, PacketType::ZeroRtt);
    }

    #[test]
    fn retry_and_version_negotiation() {
        let retry = hex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
        let h = parse(&retry, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::Retry);
        assert_eq!(h.token, b"token");
        assert_eq!(h.retry_tag.len(), 16);
        assert_eq!(
            parse(&retry[..retry.len() - 12], 0),
            Err(PacketError::Truncated)
        );

        let vn = hex("80 00000000 01 aa 02 bbcc 00000001 6b3343cf");
        let h = parse(&vn, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::VersionNegotiation);
        assert_eq!(h.versions().collect::<Vec<_>>(), vec![V1, V2]);
        assert!(parse(&vn[..vn.len() - 1], 0).is_err());
        assert!(matches!(
            parse(&vn[..12], 0),
            Err(PacketError::Malformed(_))
        ));
    }

    #[test]
    fn short_header() {
        let pkt = hex("41 0102030405060708 aa bb");
        let h = parse(&pkt, 8).unwrap();
        assert_eq!(h.packet_type, PacketType::OneRtt);
        assert_eq!(h.dcid, hex("0102030405060708"));
        assert_eq!(h.pn_offset, 9);
        assert_eq!(parse(&pkt[..9], 8), Err(PacketError::Truncated));
        let zero_fixed = hex("01 0102030405060708 aa");
        assert_eq!(parse(&zero_fixed, 8), Err(PacketError::FixedBitZero));
        assert!(parse_with(&zero_fixed, 8, FixedBit::MayBeGreased).is_ok());
    }

    #[test]
    fn rejects_malformed_long_headers() {
        // A 21-byte DCID in v1.
        let mut pkt = vec![0xc0, 0, 0, 0, 1, 21];
        pkt.extend_from_slice(&[7; 21]);
        pkt.extend_from_slice(&[0, 0, 1, 0]);
        assert_eq!(parse(&pkt, 0), Err(PacketError::ConnectionIdTooLong));
        // An unknown version keeps long CIDs: only the invariants are parsed.
        pkt[1..5].copy_from_slice(&0x1a2a_3a4au32.to_be_bytes());
        let h = parse(&pkt, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::UnknownVersion);
        assert_eq!(h.dcid.len(), 21);
        // Every truncation of a valid Initial is an error, never a panic.
        let mut init = hex("c300000001088394c8f03e515708 04 0a0b0c0d 00 4005 0000000000");
        init[0] = 0xc3;
        assert!(parse(&init, 0).is_ok());
        for n in 0..init.len() {
            assert!(parse(&init[..n], 0).is_err(), "prefix {n}");
        }
        // A zero fixed bit in a v1 Initial.
        init[0] = 0x83;
        assert_eq!(parse(&init, 0), Err(PacketError::FixedBitZero));
    }

    #[test]
    fn short_header_write_and_parse() {
        let mut out = Vec::new();
        let l = write_short(&mut out, &[9; 8], 0x1234, 2, true, false).unwrap();
        out.push(0);
        assert_eq!(l.pn_offset, 9);
        assert_eq!(out[0] & 0x04, 0x04, "key phase bit");
        let h = parse(&out, 8).unwrap();
        assert_eq!(h.dcid, &[9; 8]);
        assert!(write_short(&mut out, &[0; 21], 0, 1, false, false).is_err());
    }
}
