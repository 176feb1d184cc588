//! Packets a test writes in a peer's name with the library's own packet
//! protection: a hostile peer's, or one that behaves like another stack.

use std::sync::Arc;

use crate::config::Config;
use crate::conn::Connection;
use crate::crypto::{InitialKeys, TAG_LEN};
use crate::packet::header;
use crate::packet::header::LongHeader;
use crate::packet::{number, protect};
use crate::tls::TlsContext;
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

/// A client that connected at time 0, the datagrams of its first flight,
/// and a server connection made for them (fed nothing yet): the start of
/// a handshake a test drives by hand.
pub(crate) struct FirstFlight {
    pub(crate) client: Connection,
    pub(crate) server: Connection,
    pub(crate) datagrams: Vec<Vec<u8>>,
    /// The DCID of the client's first Initial, and the client's SCID.
    pub(crate) odcid: Vec<u8>,
    pub(crate) client_scid: Vec<u8>,
}

/// See [`FirstFlight`].
pub(crate) fn first_flight(client: Config, server: Config) -> FirstFlight {
    let ctls = TlsContext::new(&client).unwrap();
    let mut c = Connection::new_client(Arc::new(client), ctls).unwrap();
    c.connect(super::pair::server_addr(), 0).unwrap();
    let (mut buf, mut datagrams) = (Vec::new(), Vec::new());
    while c.send(&mut buf, 0).is_some() {
        datagrams.push(buf.clone());
    }
    let h = header::parse(&datagrams[0], 8).unwrap();
    let (odcid, client_scid) = (h.dcid.to_vec(), h.scid.to_vec());
    let stls = TlsContext::new(&server).unwrap();
    let s = Connection::new_server(Arc::new(server), stls, &odcid, None).unwrap();
    FirstFlight {
        client: c,
        server: s,
        datagrams,
        odcid,
        client_scid,
    }
}
