//! Paths over the C API: per-datagram addresses (`quic_datagram_info`),
//! and a client probing or moving to a new local address (RFC 9000 §9).

use std::net::SocketAddr;

use super::addr::{read_sockaddr, write_sockaddr};
use super::conn::{quic_conn, send_next, with_conn, with_own_conn};
use super::guard::guard;
use super::result::*;
use super::sized::{read_sized, usable_size, write_sized, Growable};
use crate::conn::{Ecn, Transmit};

/// What travels with one datagram, in and out: its local and remote
/// addresses, the GRO / GSO segment size of a coalesced buffer, and the
/// ECN codepoint. A growable struct (the rule in this header's opening
/// comment): fields appended stay past the previous `sizeof`
/// (`segment_size` starts at 280 on LP64, where the struct used to end,
/// `ecn` at 288, `send_time_ns` at 296), so an older caller's padding is
/// never read as one.
///
/// An address whose length is 0 is absent: a `local` the caller does not
/// know, or one the library has no opinion on (send from your one socket).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_datagram_info {
    /// `sizeof(quic_datagram_info)`, set by the caller.
    pub struct_size: usize,
    /// Our address: where the datagram arrived, or where it must leave
    /// from.
    pub local: libc::sockaddr_storage,
    /// Length of `local`; 0 when absent.
    pub local_len: libc::socklen_t,
    /// The peer's address: where it came from, or where it goes.
    pub remote: libc::sockaddr_storage,
    /// Length of `remote`.
    pub remote_len: libc::socklen_t,
    /// Receiving: the segment size of a buffer the kernel coalesced
    /// (`UDP_GRO`): the buffer holds datagrams of this size back to back,
    /// the last one possibly shorter, each received on its own. 0, or
    /// the buffer's length or more: one datagram. Sending: the size of
    /// every datagram but the last of a GSO batch
    /// (`quic_conn_send_batch`, `quic_endpoint_send_batch`; the buffer's
    /// length when it holds one datagram), the value for `UDP_SEGMENT`;
    /// written 0 by the calls that send one datagram.
    pub segment_size: u64,
    /// The ECN codepoint (RFC 3168: 0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE),
    /// as in the low two bits of `IP_TOS` / `IPV6_TCLASS`. Receiving:
    /// what the datagram's IP header carried (from `IP_RECVTOS` /
    /// `IPV6_RECVTCLASS`; 0 when the caller cannot tell). Sending: what
    /// to send it with (an `IP_TOS` / `IPV6_TCLASS` control message),
    /// for every datagram of a batch. A caller that leaves it out either
    /// way just goes without ECN: validation fails and nothing is marked
    /// (`quic_stats.ecn_state`).
    pub ecn: u8,
    /// Sending: when to put the datagram (every datagram of a batch) on
    /// the wire, in the clock of `now_ns`. With a pacing horizon
    /// (`quic_config_set_pacing_horizon`) it may be up to that much
    /// later than the `now_ns` of the call: hold it until then (a timer,
    /// or `SO_TXTIME`). Otherwise, or 0: at once. Receiving: ignored.
    pub send_time_ns: u64,
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after
// `remote_len`, as addresses are what the struct is for.
unsafe impl Growable for quic_datagram_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_datagram_info, remote_len) + 4;
}

impl quic_datagram_info {
    fn zeroed() -> Self {
        // SAFETY: plain data (integers and sockaddr_storage); all-zero is
        // a valid value of each field.
        unsafe { std::mem::zeroed() }
    }
}

/// What the caller's `info` says about a received buffer.
pub(super) struct Received {
    pub(super) local: Option<SocketAddr>,
    pub(super) remote: SocketAddr,
    /// GRO: the segment size (0: one datagram).
    segment_size: u64,
    ecn: Ecn,
}

impl Received {
    /// The datagrams of `buffer`: one, or its GRO segments in order.
    pub(super) fn datagrams<'a>(&self, buffer: &'a [u8]) -> std::slice::Chunks<'a, u8> {
        let size = match usize::try_from(self.segment_size) {
            Ok(s) if s > 0 && s < buffer.len() => s,
            _ => buffer.len().max(1),
        };
        buffer.chunks(size)
    }
}

/// Hands each datagram of the caller's buffer (one, or its GRO segments)
/// to `recv` with the addresses of `info`: what every receiving call
/// does after its handle checks.
///
/// Safety: `data` valid for `len` bytes; `info` NULL or valid for its
/// `struct_size` bytes.
pub(super) unsafe fn each_received(
    data: *const u8,
    len: usize,
    info: *const quic_datagram_info,
    mut recv: impl FnMut(&[u8], Option<SocketAddr>, SocketAddr, Ecn),
) -> quic_result {
    let buffer = try_slice!(data, len);
    // SAFETY: per the contract.
    let received = match unsafe { read_received(info) } {
        Ok(r) => r,
        Err(e) => return e,
    };
    for d in received.datagrams(buffer) {
        recv(d, received.local, received.remote, received.ecn);
    }
    QUIC_RESULT_OK
}

/// The addresses and segment size of the caller's `info`; the remote
/// address is required.
///
/// Safety: `info` NULL or valid for its `struct_size` bytes.
unsafe fn read_received(info: *const quic_datagram_info) -> Result<Received, quic_result> {
    // SAFETY: per the contract.
    let size = unsafe { usable_size(info) }?;
    // SAFETY: per the contract; absent fields stay zero.
    let info = unsafe { read_sized(info, size, quic_datagram_info::zeroed()) };
    let (segment_size, ecn) = (info.segment_size, Ecn::from_bits(info.ecn));
    // SAFETY: the fields are within `info`.
    match unsafe {
        (
            optional_sockaddr(&info.local, info.local_len),
            optional_sockaddr(&info.remote, info.remote_len),
        )
    } {
        (Ok(local), Ok(Some(remote))) => Ok(Received {
            local,
            remote,
            segment_size,
            ecn,
        }),
        (Err(e), _) | (_, Err(e)) => Err(e),
        (_, Ok(None)) => Err(QUIC_RESULT_INVALID_ADDRESS),
    }
}

/// Writes where a datagram goes (`t`) into the caller's `info`, `size`
/// bytes of it.
///
/// Safety: `info` writable for `size` bytes, `size` from `usable_size`.
pub(super) unsafe fn write_info(info: *mut quic_datagram_info, size: usize, t: Transmit) {
    // SAFETY: per the contract.
    unsafe { write_batch_info(info, size, t, 0) }
}

/// [`write_info`] for a GSO batch: also its `segment_size`.
///
/// Safety: as `write_info`.
pub(super) unsafe fn write_batch_info(
    info: *mut quic_datagram_info,
    size: usize,
    t: Transmit,
    segment_size: u64,
) {
    let mut v = quic_datagram_info::zeroed();
    v.segment_size = segment_size;
    v.ecn = t.ecn.bits();
    v.send_time_ns = t.send_at;
    if let Some(l) = t.local {
        write_sockaddr(l, &mut v.local, &mut v.local_len);
    }
    write_sockaddr(t.remote, &mut v.remote, &mut v.remote_len);
    // SAFETY: per the contract.
    unsafe { write_sized(info, &v, size) };
}

/// The address at `addr` of `len` bytes; None when `len` is 0.
///
/// Safety: `addr` valid for `len` bytes.
unsafe fn optional_sockaddr(
    addr: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Result<Option<SocketAddr>, quic_result> {
    if len == 0 {
        return Ok(None);
    }
    if len as usize > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(QUIC_RESULT_INVALID_ADDRESS);
    }
    let p = (addr as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: `len` is within the storage, per the check above.
    unsafe { read_sockaddr(p, len) }.map(Some)
}

/// `quic_conn_recv` with the datagram's addresses in `info`: `remote`
/// (required) and `local` (where it arrived; length 0 if unknown), and
/// for a buffer the kernel coalesced (`UDP_GRO`) its `segment_size`. A
/// client that probes or migrates to other local addresses passes them
/// here, so that answers on a new path are recognised and PATH_RESPONSE
/// goes back out of the socket the challenge came in on.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (`struct_size`);
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `data` valid for `len` bytes;
/// `info` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_recv_info(
    conn: *mut quic_conn,
    data: *const u8,
    len: usize,
    info: *const quic_datagram_info,
    now_ns: u64,
) -> quic_result {
    with_own_conn(conn, |h| {
        // SAFETY: per the contract.
        unsafe {
            each_received(data, len, info, |d, local, remote, ecn| {
                h.conn.recv_marked(d, local, remote, ecn, now_ns)
            })
        }
    })
}

/// `quic_conn_send` that also says which local address the datagram must
/// leave from: `info->remote` is the destination, and `info->local` the
/// local address (length 0: the caller's usual socket). A client probing
/// or migrating gets datagrams for the new path here, with that path's
/// local address. Call until `QUIC_RESULT_DONE`.
///
/// Returns: as `quic_conn_send`, and `QUIC_RESULT_INVALID_ARGUMENT` for a
/// `struct_size` too small.
///
/// Safety: `conn` must be NULL or live; `out` writable for `out_cap`
/// bytes; `out_len` NULL or writable; `info` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_send_info(
    conn: *mut quic_conn,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    info: *mut quic_datagram_info,
    now_ns: u64,
) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(info) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: `info` is writable for `size` bytes (per the contract,
        // capped by usable_size).
        let write = |t: Transmit| unsafe { write_info(info, size, t) };
        // SAFETY: per the contract.
        unsafe { send_next(conn, out, out_cap, out_len, now_ns, write) }
    })
}

/// A client probes the path from another local address `local` to the
/// server (RFC 9000 §9.1), without moving: PATH_CHALLENGE datagrams for it
/// come out of `quic_conn_send_info` with `info->local` set to `local`
/// (send them from a socket bound there, and feed what arrives on it to
/// `quic_conn_recv_info` with that local address). The outcome is a
/// QUIC_EVENT_TYPE_PATH_VALIDATED or QUIC_EVENT_TYPE_PATH_FAILED event
/// with `local_addr` and `remote_addr`; a validated path can be moved to
/// later with `quic_conn_migrate`, at once.
///
/// A probe gives up after three PTOs without an answer (RFC 9000 §8.2.4;
/// about 3 s on a new path); meanwhile the challenge is resent. Each path
/// uses its own connection ID of the server's (§9.5).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_INVALID_STATE` (a server,
/// before the handshake is confirmed, or `local` already in use);
/// `QUIC_RESULT_MIGRATION_DISABLED` (the server sent
/// disable_active_migration); `QUIC_RESULT_NO_CONNECTION_ID` (the server
/// gave no unused connection ID); `QUIC_RESULT_WOULD_BLOCK` (4 paths are
/// being probed already); `QUIC_RESULT_CLOSING`;
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_INVALID_ADDRESS`;
/// `QUIC_RESULT_PANIC`.
///
/// Safety: `conn` must be NULL or live; `local` valid for `local_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_probe_path(
    conn: *mut quic_conn,
    local: *const libc::sockaddr,
    local_len: libc::socklen_t,
    now_ns: u64,
) -> quic_result {
    // SAFETY: per the contract.
    unsafe { probe(conn, local, local_len, false, now_ns) }
}

/// A client moves to the local address `local` (RFC 9000 §9.2): the path
/// from there is probed as with `quic_conn_probe_path`, and once the
/// server answers, the connection switches to it. Until then everything
/// keeps flowing on the old path; after, `quic_conn_send_info` gives
/// `local` for every datagram. Events, in order:
/// QUIC_EVENT_TYPE_PATH_VALIDATED, then QUIC_EVENT_TYPE_MIGRATED; or
/// QUIC_EVENT_TYPE_PATH_FAILED, and the connection stays where it was.
/// The move resets congestion control and the RTT estimate, unless only
/// the port changed (§9.4). Keep the old socket open until MIGRATED
/// (datagrams in flight still arrive there).
///
/// A NAT rebinding needs no call: the server follows the new address by
/// itself. Returns: as `quic_conn_probe_path`.
///
/// Safety: `conn` must be NULL or live; `local` valid for `local_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_migrate(
    conn: *mut quic_conn,
    local: *const libc::sockaddr,
    local_len: libc::socklen_t,
    now_ns: u64,
) -> quic_result {
    // SAFETY: per the contract.
    unsafe { probe(conn, local, local_len, true, now_ns) }
}

/// Safety: as `quic_conn_probe_path`.
unsafe fn probe(
    conn: *mut quic_conn,
    local: *const libc::sockaddr,
    local_len: libc::socklen_t,
    migrate: bool,
    now_ns: u64,
) -> quic_result {
    with_conn(conn, |h| {
        // SAFETY: per the contract.
        let local = match unsafe { read_sockaddr(local, local_len) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        match h.conn.probe_path(local, migrate, now_ns) {
            Ok(()) => QUIC_RESULT_OK,
            Err(e) => api_error_code(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(segment_size: u64) -> Received {
        Received {
            local: None,
            remote: "192.0.2.1:443".parse().unwrap(),
            segment_size,
            ecn: Ecn::NotEct,
        }
    }

    #[test]
    fn a_gro_buffer_splits_into_its_segments_the_last_one_shorter() {
        let buffer = [7u8; 2500];
        let sizes: Vec<usize> = received(1200).datagrams(&buffer).map(<[u8]>::len).collect();
        assert_eq!(sizes, [1200, 1200, 100]);
        for one in [0, 2500, 9999, u64::MAX] {
            assert_eq!(received(one).datagrams(&buffer).count(), 1, "{one}");
        }
        assert_eq!(
            received(1200).datagrams(&[]).count(),
            0,
            "nothing to receive"
        );
    }
}
