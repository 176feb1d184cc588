//! QUIC versions this library speaks, and the version-specific constants.

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369 §3.1).
pub const V2: u32 = 0x6b33_43cf;
/// The version field of a Version Negotiation packet (RFC 9000 §17.2.1).
pub const NEGOTIATION: u32 = 0;

/// Versions supported, in order of preference for a new connection.
pub const SUPPORTED: [u32; 2] = [V1, V2];

/// True for v1 and v2.
pub fn is_supported(version: u32) -> bool {
    SUPPORTED.contains(&version)
}

/// RFC 9369 §4: versions 1 and 2 are compatible with each other (and
/// every version with itself); a first flight of one converts to the other.
pub fn compatible(from: u32, to: u32) -> bool {
    from == to || (is_supported(from) && is_supported(to))
}

/// A client's choice after a Version Negotiation packet listing `offered`
/// (RFC 9368 §2.1): the first of our versions, in our order of preference,
/// that the server offers.
pub fn choose_after_negotiation(ours: &[u32], offered: &[u32]) -> Option<u32> {
    ours.iter().copied().find(|v| offered.contains(v))
}

/// A server's compatible version negotiation (RFC 9368 §2.3): the first
/// version of ours, in our order of preference, that the client listed as
/// compatible with its first flight in `original`; `original` itself when
/// the client sent no Version Information or nothing better fits.
pub fn choose_compatible(original: u32, client_available: Option<&[u32]>, ours: &[u32]) -> u32 {
    let Some(available) = client_available else {
        return original;
    };
    ours.iter()
        .copied()
        .find(|v| available.contains(v) && compatible(original, *v))
        .unwrap_or(original)
}

/// True for versions reserved to exercise version negotiation,
/// 0x?a?a?a?a (RFC 9000 §15).
pub fn is_reserved(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// The long-header packet types that carry a version-specific code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry.
    Retry,
}

/// The two type bits of `ty` in `version` (RFC 9000 §17.2, RFC 9369 §3.2).
pub fn long_type_bits(version: u32, ty: LongType) -> u8 {
    let v1 = match ty {
        LongType::Initial => 0,
        LongType::ZeroRtt => 1,
        LongType::Handshake => 2,
        LongType::Retry => 3,
    };
    if version == V2 {
        // RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
        (v1 + 1) & 3
    } else {
        v1
    }
}

/// The packet type that `bits` means in `version`; `None` for versions whose
/// long-header layout we do not know.
pub fn long_type_from_bits(version: u32, bits: u8) -> Option<LongType> {
    let v1_bits = match version {
        V1 => bits & 3,
        V2 => (bits + 3) & 3,
        _ => return None,
    };
    Some(match v1_bits {
        0 => LongType::Initial,
        1 => LongType::ZeroRtt,
        2 => LongType::Handshake,
        _ => LongType::Retry,
    })
}

/// HKDF labels for packet protection keys, which differ between versions
/// (RFC 9369 §3.3.2).
#[derive(Debug, Clone, Copy)]
pub struct Labels {
    /// "quic key" / "quicv2 key"
    pub key: &'static [u8],
    /// "quic iv" / "quicv2 iv"
    pub iv: &'static [u8],
    /// "quic hp" / "quicv2 hp"
    pub hp: &'static [u8],
    /// "quic ku" / "quicv2 ku"
    pub ku: &'static [u8],
}

/// The key-derivation labels of `version` (v1's for anything but v2).
pub fn labels(version: u32) -> Labels {
    if version == V2 {
        Labels {
            key: b"quicv2 key",
            iv: b"quicv2 iv",
            hp: b"quicv2 hp",
            ku: b"quicv2 ku",
        }
    } else {
        Labels {
            key: b"quic key",
            iv: b"quic iv",
            hp: b"quic hp",
            ku: b"quic ku",
        }
    }
}

/// The Initial salt (RFC 9001 §5.2, RFC 9369 §3.3.1); `None` if unknown.
pub fn initial_salt(version: u32) -> Option<&'static [u8; 20]> {
    match version {
        V1 => Some(&[
            0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
        ]),
        V2 => Some(&[
            0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
            0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
        ]),
        _ => None,
    }
}

/// The fixed Retry integrity key and nonce (RFC 9001 §5.8, RFC 9369 §3.3.3).
pub fn retry_key_nonce(version: u32) -> Option<(&'static [u8; 16], &'static [u8; 12])> {
    match version {
        V1 => Some((
            &[
                0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68,
                0xc8, 0x4e,
            ],
            &[
                0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
            ],
        )),
        V2 => Some((
            &[
                0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c,
                0xcc, 0x92,
            ],
            &[
                0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
            ],
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_type_bits_follow_rfc9369() {
        assert_eq!(long_type_bits(V2, LongType::Initial), 0b01);
        assert_eq!(long_type_bits(V2, LongType::ZeroRtt), 0b10);
        assert_eq!(long_type_bits(V2, LongType::Handshake), 0b11);
        assert_eq!(long_type_bits(V2, LongType::Retry), 0b00);
        assert_eq!(long_type_bits(V1, LongType::Retry), 0b11);
        for v in SUPPORTED {
            for ty in [
                LongType::Initial,
                LongType::ZeroRtt,
                LongType::Handshake,
                LongType::Retry,
            ] {
                assert_eq!(long_type_from_bits(v, long_type_bits(v, ty)), Some(ty));
            }
        }
        assert_eq!(long_type_from_bits(0xff00_001d, 0), None);
    }

    #[test]
    fn reserved_versions() {
        assert!(is_reserved(0x1a2a_3a4a));
        assert!(!is_reserved(V1));
        assert!(!is_reserved(V2));
    }

    #[test]
    fn version_choices_follow_rfc9368() {
        // A VN packet: our first preference the server offers.
        assert_eq!(choose_after_negotiation(&[V2, V1], &[V1, V2]), Some(V2));
        assert_eq!(choose_after_negotiation(&[V1], &[V2, 0x1a2a_3a4a]), None);
        // Compatible negotiation: the server's preference among the
        // client's compatible versions; the original without them.
        assert_eq!(choose_compatible(V1, Some(&[V1, V2]), &[V2, V1]), V2);
        assert_eq!(choose_compatible(V1, Some(&[V1]), &[V2, V1]), V1);
        assert_eq!(choose_compatible(V1, None, &[V2, V1]), V1);
        assert_eq!(choose_compatible(V2, Some(&[V2, V1]), &[V1, V2]), V1);
        assert!(!compatible(V1, 0x1a2a_3a4a));
    }
}
