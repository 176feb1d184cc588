//! GSO batches over the C API: one call fills the caller's buffer with a
//! run of equal-size datagrams for one destination, ready for one
//! `sendmsg` with `UDP_SEGMENT`, so that a bulk sender makes one system
//! call per batch instead of one per datagram.

use super::conn::{quic_conn, send_batch_with};
use super::endpoint::{endpoint_send_with, quic_endpoint};
use super::guard::guard;
use super::path::{quic_datagram_info, write_batch_info};
use super::result::*;
use super::sized::usable_size;
use crate::conn::{Batch, Connection};
use crate::endpoint::Endpoint;

/// The most datagrams in one batch: Linux's `UDP_MAX_SEGMENTS`, the most
/// one `UDP_SEGMENT` send takes.
pub const QUIC_MAX_BATCH_SEGMENTS: usize = 64;

/// Like `quic_conn_send_info`, but writes a GSO batch: as many datagrams
/// as are ready (at most `QUIC_MAX_BATCH_SEGMENTS`, and `out_cap` bytes),
/// all for the destination and from the local address in `info`, back to
/// back in `out`, each `info->segment_size` bytes but the last, which may
/// be shorter. Send the `*out_len` bytes with one `sendmsg` carrying
/// `UDP_SEGMENT` = `info->segment_size` (when it is below `*out_len`), or
/// split them yourself. Every datagram is built as `quic_conn_send` builds
/// it: a batch never goes past the congestion window, the pacer or the
/// anti-amplification limit. A datagram that is not full-size, or one for
/// another path, comes alone. For `UDP_SEGMENT` over IPv4 keep `out_cap`
/// at most 65507 (the largest UDP payload). Call until
/// `QUIC_RESULT_DONE`.
///
/// Returns: as `quic_conn_send_info`.
///
/// Safety: `conn` must be NULL or live; `out` writable for `out_cap`
/// bytes; `out_len` NULL or writable; `info` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_conn_send_batch(
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
        // Sealed straight into the caller's buffer: no copy afterwards.
        let write = |c: &mut Connection, scratch: &mut Vec<u8>, buf: &mut [u8]| {
            let b = c.send_batch_into(scratch, buf, QUIC_MAX_BATCH_SEGMENTS, now_ns)?;
            Some((b, scratch.len()))
        };
        // SAFETY: `info` is writable for `size` bytes (per the contract,
        // capped by usable_size).
        let dest =
            |b: Batch| unsafe { write_batch_info(info, size, b.transmit, b.segment_size as u64) };
        // SAFETY: per the contract.
        unsafe { send_batch_with(conn, out, out_cap, out_len, write, dest) }
    })
}

/// `quic_endpoint_send` in GSO batches: a stateless answer alone, or a
/// batch of one connection's datagrams as `quic_conn_send_batch` writes
/// them; connections take turns, one batch each. `info->segment_size`
/// says the size of every datagram but the last. Call until
/// `QUIC_RESULT_DONE`.
///
/// Returns: as `quic_endpoint_send`.
///
/// Safety: `ep` NULL or live; `out` writable for `out_cap` bytes;
/// `out_len` NULL or writable; `info` NULL or writable for its
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_endpoint_send_batch(
    ep: *mut quic_endpoint,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    info: *mut quic_datagram_info,
    now_ns: u64,
) -> quic_result {
    let write =
        |e: &mut Endpoint<super::conn::ConnHandle>, scratch: &mut Vec<u8>, buf: &mut [u8]| {
            e.send_batch_into(scratch, buf, QUIC_MAX_BATCH_SEGMENTS, now_ns)
        };
    // SAFETY: per the contract.
    unsafe { endpoint_send_with(ep, out, out_cap, out_len, info, write) }
}
