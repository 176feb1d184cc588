//! Packets a test writes in a peer's name with the library's own packet
//! protection: a hostile peer's, or one that behaves like another stack.

use crate::crypto::{InitialKeys, TAG_LEN};
use crate::packet::header::LongHeader;
use crate::packet::{number, protect};
use crate::version::LongType;

/// A client Initial datagram of 1200 bytes carrying `payload` (padded),
/// sealed with `keys` (a client's Initial keys for `version`).
pub(crate) fn client_initial(
    keys: &mut InitialKeys,
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    pn: u64,
    payload: &[u8],
) -> Vec<u8> {
    let hdr = LongHeader {
        ty: LongType::Initial,
        version,
        dcid,
        scid,
        token: &[],
    };
    let mut pkt = Vec::new();
    let layout = hdr
        .write(&mut pkt, number::truncate(pn, 4), 4, 1200)
        .unwrap();
    pkt.extend_from_slice(payload);
    pkt.resize(1200 - TAG_LEN, 0);
    layout.finish(&mut pkt, TAG_LEN);
    pkt.resize(1200, 0);
    protect::seal(&mut pkt, layout.pn_offset, 4, pn, &mut keys.seal).unwrap();
    pkt
}
