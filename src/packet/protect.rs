//! Packet protection (RFC 9001 §5.3, §5.4): AEAD over the payload with the
//! header as associated data, then header protection over the first byte and
//! the packet number. In place on the packet's bytes, or out of place into
//! another buffer, with runs of the payload read from where they lie.

use crate::crypto::{DirectionalKeys, HeaderKey, PacketKey, SAMPLE_LEN, TAG_LEN};
use crate::error::{CryptoError, PacketError};
use crate::packet::number;

/// Bits of the first byte under header protection: 4 in long headers,
/// 5 in short ones (RFC 9001 §5.4.1).
fn protected_bits(first: u8) -> u8 {
    if first & 0x80 != 0 {
        0x0f
    } else {
        0x1f
    }
}

/// How far past the packet number's offset the header-protection sample
/// ends: what must be read to remove header protection.
pub const SAMPLE_END: usize = 4 + SAMPLE_LEN;

/// The sample starts 4 bytes after the start of the packet number, as if it
/// were 4 bytes long (RFC 9001 §5.4.2).
fn sample(packet: &[u8], pn_offset: usize) -> Option<&[u8; SAMPLE_LEN]> {
    let start = pn_offset + 4;
    packet.get(start..start + SAMPLE_LEN)?.try_into().ok()
}

/// The smallest payload (plaintext) that leaves room for the header
/// protection sample with a `pn_len`-byte packet number.
pub fn min_payload_len(pn_len: usize) -> usize {
    (4 + SAMPLE_LEN).saturating_sub(pn_len + TAG_LEN)
}

/// Protects a packet in place. `packet` holds the header (its packet number
/// of `pn_len` bytes at `pn_offset`), the plaintext payload, and `TAG_LEN`
/// trailing bytes reserved for the tag.
pub fn seal(
    packet: &mut [u8],
    pn_offset: usize,
    pn_len: usize,
    pn: u64,
    keys: &mut DirectionalKeys,
) -> Result<(), CryptoError> {
    seal_runs(None, packet, (pn_offset, pn_len, pn), &[], keys)
}

/// [`seal`] out of place: the packet built in `src` (its header, payload
/// and room for the tag) is protected into `dst`, of the same length, and
/// `src` is left as it was.
pub fn seal_to(
    src: &[u8],
    dst: &mut [u8],
    pn_offset: usize,
    pn_len: usize,
    pn: u64,
    keys: &mut DirectionalKeys,
) -> Result<(), CryptoError> {
    seal_runs(Some(src), dst, (pn_offset, pn_len, pn), &[], keys)
}

/// [`seal`] (`src` None) or [`seal_to`] of a packet some of whose payload
/// lies elsewhere: each run `(offset in the packet, bytes)` is what the
/// packet holds there (its own bytes at that place are ignored). Runs are
/// in order, within the payload. `number` is the packet number's offset,
/// length and value.
pub fn seal_runs(
    src: Option<&[u8]>,
    dst: &mut [u8],
    number: (usize, usize, u64),
    runs: &[(usize, &[u8])],
    keys: &mut DirectionalKeys,
) -> Result<(), CryptoError> {
    let (pn_offset, pn_len, pn) = number;
    let header_len = pn_offset + pn_len;
    let len = dst.len();
    if src.is_some_and(|s| s.len() != len) || len < header_len + TAG_LEN + min_payload_len(pn_len) {
        return Err(CryptoError("packet too short to protect".into()));
    }
    let tag_start = len - TAG_LEN;
    let mut payload_runs = [(0, &[][..]); 8];
    if runs.len() > payload_runs.len() {
        return Err(CryptoError("too many payload runs".into()));
    }
    for (d, (at, run)) in payload_runs.iter_mut().zip(runs) {
        if *at < header_len || at.checked_add(run.len()).is_none_or(|e| e > tag_start) {
            return Err(CryptoError("payload run outside the payload".into()));
        }
        *d = (at - header_len, *run);
    }
    if let Some(src) = src {
        dst[..header_len].copy_from_slice(&src[..header_len]);
    }
    let (header, rest) = dst.split_at_mut(header_len);
    let (payload, tag) = rest.split_at_mut(tag_start - header_len);
    let tag: &mut [u8; TAG_LEN] = tag
        .try_into()
        .expect("TAG_LEN bytes remain by construction");
    let plaintext = src.map(|s| &s[header_len..tag_start]);
    let runs = &payload_runs[..runs.len()];
    keys.packet
        .seal_runs(pn, header, plaintext, payload, runs, tag)?;
    apply_header_protection(dst, pn_offset, pn_len, &mut keys.header)
}

/// XORs the header-protection mask over the first byte and packet number.
fn apply_header_protection(
    packet: &mut [u8],
    pn_offset: usize,
    pn_len: usize,
    hp: &mut HeaderKey,
) -> Result<(), CryptoError> {
    let sample = *sample(packet, pn_offset)
        .ok_or_else(|| CryptoError("no room for the header protection sample".into()))?;
    let mask = hp.mask(&sample)?;
    packet[0] ^= mask[0] & protected_bits(packet[0]);
    for (b, m) in packet[pn_offset..pn_offset + pn_len]
        .iter_mut()
        .zip(&mask[1..])
    {
        *b ^= m;
    }
    Ok(())
}

/// The first byte and packet number of a packet whose header protection was
/// removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnprotectedHeader {
    /// The first byte in clear (reserved bits, key phase, pn length).
    pub first_byte: u8,
    /// Packet number length in bytes (1..=4).
    pub pn_len: usize,
    /// The packet number bits on the wire.
    pub truncated_pn: u32,
}

impl UnprotectedHeader {
    /// The header's length: packet number offset + its length.
    pub fn header_len(&self, pn_offset: usize) -> usize {
        pn_offset + self.pn_len
    }

    /// True when the reserved bits are non-zero, a PROTOCOL_VIOLATION once
    /// the packet decrypts (RFC 9000 §17.2, §17.3.1).
    pub fn reserved_bits_set(&self) -> bool {
        reserved_bits_set(self.first_byte)
    }

    /// The key phase bit of a short header (RFC 9001 §6).
    pub fn key_phase(&self) -> bool {
        self.first_byte & 0x80 == 0 && self.first_byte & 0x04 != 0
    }
}

/// Removes header protection in place. `packet` is one packet (coalesced
/// followers excluded). Fails when the packet is too short to sample.
pub fn remove_header_protection(
    packet: &mut [u8],
    pn_offset: usize,
    hp: &mut HeaderKey,
) -> Result<UnprotectedHeader, PacketError> {
    let sample = *sample(packet, pn_offset).ok_or(PacketError::Truncated)?;
    let mask = hp
        .mask(&sample)
        .map_err(|_| PacketError::DecryptionFailed)?;
    let first_byte = packet[0] ^ (mask[0] & protected_bits(packet[0]));
    let pn_len = usize::from(first_byte & 0x03) + 1;
    let mut truncated_pn = 0u32;
    for (i, m) in mask[1..=pn_len].iter().enumerate() {
        let b = packet[pn_offset + i] ^ m;
        packet[pn_offset + i] = b;
        truncated_pn = (truncated_pn << 8) | u32::from(b);
    }
    packet[0] = first_byte;
    Ok(UnprotectedHeader {
        first_byte,
        pn_len,
        truncated_pn,
    })
}

/// Decrypts the payload of a packet whose header protection was removed, in
/// place; returns the plaintext's length (it starts at `header_len`).
pub fn decrypt_payload(
    packet: &mut [u8],
    header_len: usize,
    pn: u64,
    key: &mut PacketKey,
) -> Result<usize, PacketError> {
    if packet.len() < header_len + TAG_LEN {
        return Err(PacketError::Truncated);
    }
    let tag_start = packet.len() - TAG_LEN;
    let (header, rest) = packet.split_at_mut(header_len);
    let (payload, tag) = rest.split_at_mut(tag_start - header_len);
    if key.open(pn, header, payload, tag) {
        Ok(payload.len())
    } else {
        Err(PacketError::DecryptionFailed)
    }
}

/// [`decrypt_payload`] out of place: the payload and tag are read from
/// `ciphertext` (the packet as received, left as it was) and the plaintext
/// written to `packet`, of the same length, whose header up to
/// `header_len` is already unprotected. A received datagram is then
/// decrypted without being copied first.
pub fn decrypt_payload_from(
    packet: &mut [u8],
    ciphertext: &[u8],
    header_len: usize,
    pn: u64,
    key: &mut PacketKey,
) -> Result<usize, PacketError> {
    if packet.len() < header_len + TAG_LEN || ciphertext.len() != packet.len() {
        return Err(PacketError::Truncated);
    }
    let tag_start = packet.len() - TAG_LEN;
    let (header, rest) = packet.split_at_mut(header_len);
    let payload = &mut rest[..tag_start - header_len];
    let (sealed, tag) = ciphertext[header_len..].split_at(tag_start - header_len);
    if key.open_into(pn, header, sealed, payload, tag) {
        Ok(payload.len())
    } else {
        Err(PacketError::DecryptionFailed)
    }
}

/// True when the reserved bits of an unprotected first byte are non-zero:
/// 0x0c in long headers, 0x18 in short ones.
fn reserved_bits_set(first_byte: u8) -> bool {
    let reserved = if first_byte & 0x80 != 0 { 0x0c } else { 0x18 };
    first_byte & reserved != 0
}

/// A packet opened by [`open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The full packet number.
    pub pn: u64,
    /// The unprotected first byte.
    pub first_byte: u8,
    /// Where the plaintext payload starts.
    pub header_len: usize,
    /// Plaintext payload length.
    pub payload_len: usize,
}

impl Opened {
    /// True when the reserved bits are non-zero, a PROTOCOL_VIOLATION
    /// (RFC 9000 §17.2, §17.3.1).
    pub fn reserved_bits_set(&self) -> bool {
        reserved_bits_set(self.first_byte)
    }
}

/// Removes header protection, recovers the packet number against
/// `largest_pn` (the largest received in this space) and decrypts, in place.
///
/// A packet that fails here is dropped; it never closes the connection
/// (RFC 9001 §5.5 / RFC 9000 §12.2).
pub fn open(
    packet: &mut [u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
    keys: &mut DirectionalKeys,
) -> Result<Opened, PacketError> {
    let hdr = remove_header_protection(packet, pn_offset, &mut keys.header)?;
    let pn = number::decode(hdr.truncated_pn, hdr.pn_len, largest_pn);
    let header_len = hdr.header_len(pn_offset);
    let payload_len = decrypt_payload(packet, header_len, pn, &mut keys.packet)?;
    Ok(Opened {
        pn,
        first_byte: hdr.first_byte,
        header_len,
        payload_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{InitialKeys, Secret, Suite};
    use crate::packet::header::{self, LongHeader};
    use crate::packet::retry;
    use crate::test_util::{hex, vector};
    use crate::version::{LongType, V1, V2};

    const DCID: &str = "8394c8f03e515708";
    const SERVER_CID: &str = "f067a5502a4262b5";

    fn vectors(version: u32) -> [Vec<u8>; 5] {
        if version == V1 {
            [
                vector!("rfc9001_client_initial_payload"),
                vector!("rfc9001_client_initial_protected"),
                vector!("rfc9001_server_initial_payload"),
                vector!("rfc9001_server_initial_protected"),
                vector!("rfc9001_retry"),
            ]
        } else {
            [
                vector!("rfc9369_client_initial_payload"),
                vector!("rfc9369_client_initial_protected"),
                vector!("rfc9369_server_initial_payload"),
                vector!("rfc9369_server_initial_protected"),
                vector!("rfc9369_retry"),
            ]
        }
    }

    /// Builds and seals an Initial exactly as RFC 9001 A.2/A.3 do.
    fn seal_initial(
        version: u32,
        is_client: bool,
        dcid: &[u8],
        scid: &[u8],
        pn: u64,
        pn_len: usize,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut keys = InitialKeys::new(version, &hex(DCID), is_client).unwrap();
        let hdr = LongHeader {
            ty: LongType::Initial,
            version,
            dcid,
            scid,
            token: &[],
        };
        let mut pkt = Vec::new();
        let layout = hdr
            .write(&mut pkt, number::truncate(pn, pn_len), pn_len, 1200)
            .unwrap();
        pkt.extend_from_slice(payload);
        layout.finish(&mut pkt, TAG_LEN);
        pkt.resize(pkt.len() + TAG_LEN, 0);
        seal(&mut pkt, layout.pn_offset, pn_len, pn, &mut keys.seal).unwrap();
        pkt
    }

    #[test]
    fn client_initial_matches_the_rfcs() {
        for version in [V1, V2] {
            let [mut payload, protected, ..] = vectors(version);
            payload.resize(1162, 0);
            let pkt = seal_initial(version, true, &hex(DCID), &[], 2, 4, &payload);
            assert_eq!(pkt, protected, "version {version:#x}");

            // The server opens it and finds the same payload.
            let mut server = InitialKeys::new(version, &hex(DCID), false).unwrap();
            let mut rx = protected.clone();
            let h = header::parse(&rx, 0).unwrap();
            let pn_offset = h.pn_offset;
            let opened = open(&mut rx, pn_offset, None, &mut server.open).unwrap();
            assert_eq!(opened.pn, 2);
            let body = &rx[opened.header_len..opened.header_len + opened.payload_len];
            assert_eq!(body, &payload[..]);
        }
    }

    #[test]
    fn server_initial_matches_the_rfcs() {
        for version in [V1, V2] {
            let [_, _, payload, protected, _] = vectors(version);
            let pkt = seal_initial(version, false, &[], &hex(SERVER_CID), 1, 2, &payload);
            assert_eq!(pkt, protected, "version {version:#x}");
            let mut client = InitialKeys::new(version, &hex(DCID), true).unwrap();
            let mut rx = protected.clone();
            let opened = open(&mut rx, 18, Some(0), &mut client.open).unwrap();
            assert_eq!(opened.pn, 1);
            assert_eq!(&rx[opened.header_len..][..opened.payload_len], &payload[..]);
        }
    }

    #[test]
    fn retry_matches_the_rfcs() {
        for (version, unused) in [(V1, 0x0f), (V2, 0x0f)] {
            let expected = vectors(version)[4].clone();
            let mut out = Vec::new();
            retry::write(
                &mut out,
                version,
                &[],
                &hex(SERVER_CID),
                &hex(DCID),
                b"token",
                unused,
            )
            .unwrap();
            assert_eq!(out, expected, "version {version:#x}");
            assert!(retry::verify(version, &hex(DCID), &out));
            assert!(!retry::verify(version, &hex("8394c8f03e515709"), &out));
            let other = if version == V1 { V2 } else { V1 };
            assert!(!retry::verify(other, &hex(DCID), &out));
        }
    }

    #[test]
    fn chacha20_short_header_matches_the_rfcs() {
        let secret = Secret::new(&hex(
            "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
        ))
        .unwrap();
        for (version, expected) in [
            (V1, "4cfe4189655e5cd55c41f69080575d7999c25a5bfb"),
            (V2, "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba"),
        ] {
            let suite = Suite::ChaCha20Poly1305;
            let mut keys = DirectionalKeys::new(suite, version, &secret, true).unwrap();
            let pn = 654_360_564;
            let mut pkt = Vec::new();
            let layout =
                header::write_short(&mut pkt, &[], number::truncate(pn, 3), 3, false, false)
                    .unwrap();
            pkt.push(0x01); // PING
            pkt.resize(pkt.len() + TAG_LEN, 0);
            seal(&mut pkt, layout.pn_offset, 3, pn, &mut keys).unwrap();
            assert_eq!(pkt, hex(expected), "version {version:#x}");

            let mut rx_keys = DirectionalKeys::new(suite, version, &secret, false).unwrap();
            let opened = open(&mut pkt, 1, Some(pn - 1), &mut rx_keys).unwrap();
            assert_eq!(opened.pn, pn);
            assert_eq!(&pkt[opened.header_len..][..opened.payload_len], &[0x01]);
        }
    }

    /// Out of place, the same bytes as in place (the RFC's sample above),
    /// the source untouched; lengths that differ are refused.
    #[test]
    fn sealing_into_another_buffer_gives_the_same_packet() {
        let secret = Secret::new(&hex(
            "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
        ))
        .unwrap();
        for suite in [Suite::ChaCha20Poly1305, Suite::Aes128Gcm] {
            let mut keys = DirectionalKeys::new(suite, V1, &secret, true).unwrap();
            let pn = 654_360_564;
            let mut pkt = Vec::new();
            let layout =
                header::write_short(&mut pkt, &[7; 8], number::truncate(pn, 3), 3, false, false)
                    .unwrap();
            pkt.extend_from_slice(&[0x01; 300]);
            pkt.resize(pkt.len() + TAG_LEN, 0);
            let plain = pkt.clone();
            let mut out = vec![0xee; pkt.len()];
            seal_to(&plain, &mut out, layout.pn_offset, 3, pn, &mut keys).unwrap();
            seal(&mut pkt, layout.pn_offset, 3, pn, &mut keys).unwrap();
            assert_eq!(out, pkt, "{suite:?}");
            let mut short = vec![0; plain.len() - 1];
            assert!(seal_to(&plain, &mut short, layout.pn_offset, 3, pn, &mut keys).is_err());
        }
    }

    /// A payload some of whose runs are read from elsewhere seals to the
    /// same packet as the whole plaintext in one buffer, in place and out
    /// of place, wherever the runs fall (block-aligned or not, adjacent,
    /// at either end of the payload); runs outside the payload or out of
    /// order are refused.
    #[test]
    fn sealing_with_runs_from_elsewhere_gives_the_same_packet() {
        let secret = Secret::new(&[0x5a; 32]).unwrap();
        let pn = 77_001;
        let mut plain = Vec::new();
        let layout = header::write_short(
            &mut plain,
            &[7; 8],
            number::truncate(pn, 2),
            2,
            false,
            false,
        )
        .unwrap();
        let header_len = layout.pn_offset + 2;
        plain.extend((0..1300u32).map(|i| (i * 31 + 7) as u8));
        plain.resize(plain.len() + TAG_LEN, 0);
        let tag_start = plain.len() - TAG_LEN;
        let layouts: [&[(usize, usize)]; 9] = [
            &[(0, 1300)],
            &[(3, 1297)],
            &[(1290, 10)],
            &[(3, 5), (9, 1000)],
            &[(40, 1255)],
            &[(5, 200), (205, 16), (400, 899)],
            &[(1, 1), (17, 700), (1000, 300)],
            &[(32, 128), (160, 128)],
            &[],
        ];
        for suite in [Suite::ChaCha20Poly1305, Suite::Aes128Gcm] {
            let mut keys = DirectionalKeys::new(suite, V1, &secret, true).unwrap();
            let mut want = plain.clone();
            seal(&mut want, layout.pn_offset, 2, pn, &mut keys).unwrap();
            for runs in layouts {
                // The runs' own bytes, from another buffer; their places in
                // the packet hold garbage.
                let elsewhere: Vec<(usize, Vec<u8>)> = runs
                    .iter()
                    .map(|&(at, len)| {
                        let at = header_len + at;
                        (at, plain[at..at + len].to_vec())
                    })
                    .collect();
                let refs: Vec<(usize, &[u8])> =
                    elsewhere.iter().map(|(at, b)| (*at, &b[..])).collect();
                let mut built = plain.clone();
                for &(at, len) in runs.iter() {
                    built[header_len + at..][..len].fill(0xcc);
                }
                let number = (layout.pn_offset, 2, pn);
                let mut out = vec![0xee; built.len()];
                seal_runs(Some(&built), &mut out, number, &refs, &mut keys).unwrap();
                assert_eq!(out, want, "{suite:?} {runs:?} out of place");
                seal_runs(None, &mut built, number, &refs, &mut keys).unwrap();
                assert_eq!(built, want, "{suite:?} {runs:?} in place");
            }
            let number = (layout.pn_offset, 2, pn);
            let run = [7u8; 20];
            let bad: [&[(usize, &[u8])]; 4] = [
                &[(header_len - 1, &run)],
                &[(tag_start - 19, &run)],
                &[(usize::MAX - 5, &run)],
                &[(header_len + 40, &run), (header_len, &run)],
            ];
            for runs in bad {
                let mut p = plain.clone();
                assert!(seal_runs(None, &mut p, number, runs, &mut keys).is_err());
            }
        }
    }

    #[test]
    fn damaged_packets_fail_without_panicking() {
        let [_, protected, ..] = vectors(V1);
        let mut server = InitialKeys::new(V1, &hex(DCID), false).unwrap();
        // A flipped bit anywhere after the header makes decryption fail.
        for pos in [18usize, 30, 600, 1199] {
            let mut rx = protected.clone();
            rx[pos] ^= 0x10;
            assert!(open(&mut rx, 18, None, &mut server.open).is_err());
        }
        // Too short to sample, or shorter than a tag.
        for len in [0usize, 18, 21, 37] {
            let mut rx = protected[..len].to_vec();
            assert!(open(&mut rx, 18, None, &mut server.open).is_err());
        }
        // Keys for another connection ID.
        let mut wrong = InitialKeys::new(V1, &hex("0000000000000000"), false).unwrap();
        let mut rx = protected.clone();
        assert_eq!(
            open(&mut rx, 18, None, &mut wrong.open),
            Err(PacketError::DecryptionFailed)
        );
    }

    #[test]
    fn seal_refuses_packets_too_short_to_sample() {
        let secret = Secret::new(&[1; 32]).unwrap();
        let mut keys = DirectionalKeys::new(Suite::Aes128Gcm, V1, &secret, true).unwrap();
        let mut pkt = vec![0x40, 0x00];
        pkt.resize(2 + TAG_LEN, 0);
        assert!(seal(&mut pkt, 1, 1, 0, &mut keys).is_err());
        assert_eq!(min_payload_len(1), 3);
        assert_eq!(min_payload_len(4), 0);
    }
}
