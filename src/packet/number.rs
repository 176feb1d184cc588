//! Packet number encoding and decoding (RFC 9000 §17.1, Appendix A.2/A.3).

/// The largest packet number, 2^62 - 1 (RFC 9000 §12.3).
pub const MAX: u64 = (1 << 62) - 1;

/// How many bytes (1..=4) to encode `full_pn` with, given the largest packet
/// number the peer acknowledged in this space (RFC 9000 Appendix A.2).
pub fn encoded_len(full_pn: u64, largest_acked: Option<u64>) -> usize {
    // The number of packets in flight, doubled to leave room for reordering.
    let num_unacked = match largest_acked {
        Some(acked) => full_pn.saturating_sub(acked),
        None => full_pn + 1,
    };
    let range = u128::from(num_unacked) * 2;
    match range {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    }
}

/// The low `pn_len` bytes of `full_pn`, as they go on the wire.
pub fn truncate(full_pn: u64, pn_len: usize) -> u32 {
    let bits = 8 * pn_len.clamp(1, 4) as u32;
    (full_pn & ((1u64 << bits) - 1)) as u32
}

/// Recovers a full packet number from `truncated` (`pn_len` bytes on the
/// wire), given the largest packet number processed in this space
/// (RFC 9000 Appendix A.3).
pub fn decode(truncated: u32, pn_len: usize, largest_pn: Option<u64>) -> u64 {
    let pn_nbits = 8 * pn_len.clamp(1, 4) as u32;
    let expected_pn = largest_pn.map_or(0, |l| l + 1);
    let pn_win = 1u64 << pn_nbits;
    let pn_hwin = pn_win / 2;
    let pn_mask = pn_win - 1;
    let truncated = u64::from(truncated) & pn_mask;
    // The candidate closest to the expected number, in one of three windows.
    let candidate = (expected_pn & !pn_mask) | truncated;
    if candidate + pn_hwin <= expected_pn && candidate + pn_win <= MAX {
        candidate + pn_win
    } else if candidate > expected_pn + pn_hwin && candidate >= pn_win {
        candidate - pn_win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 Appendix A.2 (as corrected in the RFC): 0xac5c02 with
    /// 0xabe8b3 acknowledged needs 16 bits; 0xace8fe needs 24.
    #[test]
    fn rfc9000_a2_encoding_examples() {
        assert_eq!(encoded_len(0xac5c02, Some(0xabe8b3)), 2);
        assert_eq!(encoded_len(0xace8fe, Some(0xabe8b3)), 3);
        assert_eq!(truncate(0xac5c02, 2), 0x5c02);
    }

    /// RFC 9000 Appendix A.3: 0x9b32 with 0xa82f30ea processed is 0xa82f9b32.
    #[test]
    fn rfc9000_a3_decoding_example() {
        assert_eq!(decode(0x9b32, 2, Some(0xa82f30ea)), 0xa82f9b32);
    }

    #[test]
    fn decoding_inverts_encoding_around_the_window() {
        for largest in [0u64, 1, 200, 255, 256, 65_000, 1 << 30, (1 << 40) + 7] {
            for delta in [1u64, 2, 100, 127, 1000, 30_000] {
                let pn = largest + delta;
                let len = encoded_len(pn, Some(largest));
                assert_eq!(
                    decode(truncate(pn, len), len, Some(largest)),
                    pn,
                    "pn {pn} largest {largest}"
                );
            }
        }
        // The first packet of a space.
        assert_eq!(encoded_len(0, None), 1);
        assert_eq!(decode(0, 1, None), 0);
        // RFC 9001 A.5 packet number 654360564 in 3 bytes (49140 encoded).
        assert_eq!(truncate(654_360_564, 3), 0x00bff4);
        assert_eq!(decode(0xbff4, 3, Some(654_360_563)), 654_360_564);
    }

    #[test]
    fn never_exceeds_the_maximum() {
        assert!(decode(0xffff_ffff, 4, Some(MAX - 1)) <= MAX);
    }
}
