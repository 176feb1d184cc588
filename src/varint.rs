//! QUIC variable-length integers (RFC 9000 §16).
//!
//! The two most significant bits of the first byte give the length (1, 2, 4
//! or 8 bytes); the rest is the value in network byte order.

/// The largest value a varint can carry, 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// How many bytes `v` needs; `None` above [`MAX`].
pub fn encoded_len(v: u64) -> Option<usize> {
    match v {
        0..=63 => Some(1),
        64..=16_383 => Some(2),
        16_384..=1_073_741_823 => Some(4),
        1_073_741_824..=MAX => Some(8),
        _ => None,
    }
}

/// The encoded length announced by a first byte.
pub fn encoded_len_from_first_byte(first: u8) -> usize {
    1 << (first >> 6)
}

/// Decodes a varint whose bytes are exactly `raw` (1, 2, 4 or 8 bytes, the
/// length already taken from the first byte).
pub(crate) fn decode_exact(raw: &[u8]) -> u64 {
    let mut v = u64::from(raw[0] & 0x3f);
    for b in &raw[1..] {
        v = (v << 8) | u64::from(*b);
    }
    v
}

/// Appends `v` in its shortest encoding.
///
/// Values above [`MAX`] cannot be encoded; callers validate values that come
/// from outside before they get here, so this is a logic error.
pub fn write(out: &mut Vec<u8>, v: u64) {
    let len = encoded_len(v).unwrap_or_else(|| {
        debug_assert!(false, "varint {v} out of range");
        8
    });
    write_with_len(out, v, len);
}

/// Appends `v` using exactly `len` bytes (1, 2, 4 or 8), e.g. a Length field
/// reserved before its value is known. `v` must fit.
pub fn write_with_len(out: &mut Vec<u8>, v: u64, len: usize) {
    debug_assert!(
        encoded_len(v).is_some_and(|n| n <= len),
        "{v} does not fit in {len}"
    );
    // Each length its own fixed-size store: this runs several times for
    // every packet, where a variable-length copy costs a memcpy call.
    let v = v & MAX;
    match len {
        1 => out.push(v as u8),
        2 => out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// Writes `v` with exactly `len` bytes (1, 2, 4 or 8) into `out[..len]`; used
/// to patch a Length field in place. `v` must fit and `out` be long enough.
pub fn put_with_len(out: &mut [u8], v: u64, len: usize) {
    debug_assert!(
        encoded_len(v).is_some_and(|n| n <= len),
        "{v} does not fit in {len}"
    );
    let v = v & MAX;
    match len {
        1 => out[0] = v as u8,
        2 => out[..2].copy_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        4 => out[..4].copy_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out[..8].copy_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Reader;
    use crate::test_util::hex;

    /// RFC 9000 Appendix A.1 sample values.
    #[test]
    fn rfc9000_a1_samples() {
        for (bytes, value) in [
            ("c2197c5eff14e88c", 151_288_809_941_952_652u64),
            ("9d7f3e7d", 494_878_333),
            ("7bbd", 15_293),
            ("25", 37),
            ("4025", 37),
        ] {
            let raw = hex(bytes);
            let mut r = Reader::new(&raw);
            assert_eq!(r.varint(), Some(value), "{bytes}");
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        write(&mut out, 151_288_809_941_952_652);
        assert_eq!(out, hex("c2197c5eff14e88c"));
    }

    #[test]
    fn boundaries_round_trip() {
        for v in [0, 63, 64, 16_383, 16_384, 1_073_741_823, 1_073_741_824, MAX] {
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(out.len(), encoded_len(v).unwrap());
            assert_eq!(Reader::new(&out).varint(), Some(v));
        }
        assert_eq!(encoded_len(MAX + 1), None);
    }

    #[test]
    fn maximum_is_eight_bytes_of_ones() {
        let raw = [0xff; 8];
        assert_eq!(Reader::new(&raw).varint(), Some(MAX));
    }

    #[test]
    fn truncated_is_none() {
        assert_eq!(Reader::new(&[0xc0, 0, 0]).varint(), None);
        assert_eq!(Reader::new(&[]).varint(), None);
    }

    #[test]
    fn fixed_length_encoding() {
        let mut out = Vec::new();
        write_with_len(&mut out, 37, 2);
        assert_eq!(out, hex("4025"));
        let mut buf = [0u8; 4];
        put_with_len(&mut buf, 1182, 2);
        assert_eq!(&buf[..2], &hex("449e")[..]);
    }
}
