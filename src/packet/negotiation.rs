//! Version Negotiation packets (RFC 9000 §17.2.1, RFC 8999 §6).

/// Longest connection ID the version-invariant header can carry.
pub const MAX_INVARIANT_CID_LEN: usize = 255;

/// Appends a Version Negotiation packet answering a client whose packet had
/// destination `client_dcid` and source `client_scid`: the CIDs are echoed
/// swapped (RFC 9000 §17.2.1). `unused` supplies the 7 arbitrary bits of the
/// first byte; the 0x40 bit is always set so the packet passes for one with
/// the fixed bit.
///
/// Fails (returning `false`, writing nothing) when a CID is over 255 bytes
/// or `versions` is empty.
pub fn write(
    out: &mut Vec<u8>,
    client_dcid: &[u8],
    client_scid: &[u8],
    versions: &[u32],
    unused: u8,
) -> bool {
    if client_dcid.len() > MAX_INVARIANT_CID_LEN
        || client_scid.len() > MAX_INVARIANT_CID_LEN
        || versions.is_empty()
    {
        return false;
    }
    out.push(0xc0 | (unused & 0x3f));
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push(client_scid.len() as u8);
    out.extend_from_slice(client_scid);
    out.push(client_dcid.len() as u8);
    out.extend_from_slice(client_dcid);
    for v in versions {
        out.extend_from_slice(&v.to_be_bytes());
    }
    true
}

/// The size of the packet [`write`] produces.
pub fn encoded_len(client_dcid: &[u8], client_scid: &[u8], n_versions: usize) -> usize {
    1 + 4 + 1 + client_scid.len() + 1 + client_dcid.len() + 4 * n_versions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::header::{parse, PacketType};
    use crate::version::{V1, V2};

    #[test]
    fn echoes_the_connection_ids_swapped() {
        let mut out = Vec::new();
        assert!(write(&mut out, &[1; 8], &[2; 5], &[V1, V2], 0x55));
        assert_eq!(out.len(), encoded_len(&[1; 8], &[2; 5], 2));
        let h = parse(&out, 0).unwrap();
        assert_eq!(h.packet_type, PacketType::VersionNegotiation);
        assert_eq!(h.dcid, &[2; 5]);
        assert_eq!(h.scid, &[1; 8]);
        assert_eq!(h.versions().collect::<Vec<_>>(), vec![V1, V2]);
        assert_eq!(out[0] & 0xc0, 0xc0);
    }

    #[test]
    fn long_invariant_cids_and_bad_input() {
        let mut out = Vec::new();
        assert!(write(&mut out, &[3; 255], &[], &[V1], 0));
        assert_eq!(parse(&out, 0).unwrap().scid.len(), 255);
        out.clear();
        assert!(!write(&mut out, &[3; 256], &[], &[V1], 0));
        assert!(!write(&mut out, &[3; 4], &[], &[], 0));
        assert!(out.is_empty());
    }
}
