//! QUIC-LB connection IDs through the C API: a server puts its server ID in
//! every connection ID it issues (`quic_config_set_quic_lb`), and a load
//! balancer or a socket steering program reads it back
//! (`quic_lb_server_id`).

use super::config::{quic_config, with_config};
use super::guard::{guard, slice_in, slice_out};
use super::result::*;
use super::sized::{read_sized, usable_size, Growable};
use crate::quic_lb::{decode_server_id, QuicLbConfig};

/// A server's QUIC-LB configuration in plaintext mode
/// (draft-ietf-quic-load-balancers: no key; the server ID is readable by
/// anyone on the path, the nonce after it is random).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct quic_lb_config {
    /// `sizeof(quic_lb_config)`.
    pub struct_size: usize,
    /// Which configuration of the fleet this is: 0 to 6, in the top three
    /// bits of every connection ID's first byte (7 means unroutable).
    pub config_rotation: u8,
    /// This server's ID as the fleet assigned it (`server_id_len` bytes,
    /// copied).
    pub server_id: *const u8,
    /// 1 to 15 bytes.
    pub server_id_len: usize,
    /// Random bytes after the server ID: at least 4, and at most 19 with
    /// the server ID. The connection ID is `1 + server_id_len +
    /// nonce_len` bytes.
    pub nonce_len: usize,
}

// SAFETY: #[repr(C)], struct_size first; the least a caller may pass ends
// after `nonce_len`, its last field.
unsafe impl Growable for quic_lb_config {
    const MIN_SIZE: usize = std::mem::size_of::<quic_lb_config>();
}

/// Makes every connection ID that connections and endpoints from this
/// config issue, and the SCID of their Retry packets, after QUIC-LB's
/// plaintext format: the first byte holds `config_rotation` and the
/// length, then the server ID, then a random nonce. A stateless load
/// balancer that knows the server ID length then finds this server from
/// any packet a client sends, also after the client changes address.
/// Sets the connection ID length (`quic_config_set_connection_id_length`)
/// to `1 + server_id_len + nonce_len`; replaces a generator set with
/// `quic_config_set_cid_generator`. NULL `lb`: random IDs again.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (lengths or rotation out of range; the
/// config's last error says which); `QUIC_RESULT_ALREADY_USED` (the
/// config is frozen).
///
/// Safety: `config` NULL or a live config; `lb` NULL or valid for its
/// `struct_size` bytes, its `server_id` for `server_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_quic_lb(
    config: *mut quic_config,
    lb: *const quic_lb_config,
) -> quic_result {
    with_config(config, "quic_config_set_quic_lb", |h| {
        if lb.is_null() {
            return h.apply(|c| {
                c.set_quic_lb(None);
                Ok(())
            });
        }
        // SAFETY: per the contract, `lb` holds at least a size_t.
        let size = match unsafe { usable_size(lb) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let none = quic_lb_config {
            struct_size: size,
            config_rotation: 0,
            server_id: std::ptr::null(),
            server_id_len: 0,
            nonce_len: 0,
        };
        // SAFETY: `lb` holds `size` readable bytes; every field is an
        // integer or a pointer.
        let p = unsafe { read_sized(lb, size, none) };
        // SAFETY: per the contract, `server_id_len` readable bytes.
        let sid = match unsafe { slice_in(p.server_id, p.server_id_len) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        h.apply(|c| {
            let made = QuicLbConfig::new(p.config_rotation, sid, p.nonce_len)?;
            c.set_quic_lb(Some(made));
            Ok(())
        })
    })
}

/// Reads a QUIC-LB plaintext connection ID (a packet's destination CID),
/// as a load balancer does: its configuration (0 to 6) into
/// `*config_rotation` and `server_id_len` bytes of server ID into
/// `server_id_out`. Which configurations and server IDs are live is the
/// caller's to check.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` when the ID is unroutable (the
/// reserved configuration 7, or too short for the server ID and a
/// 4-byte nonce) or `server_id_len` is 0.
///
/// Safety: `cid` valid for `cid_len` bytes; `server_id_out` for
/// `server_id_len` writable bytes; `config_rotation` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_lb_server_id(
    cid: *const u8,
    cid_len: usize,
    server_id_len: usize,
    config_rotation: *mut u8,
    server_id_out: *mut u8,
) -> quic_result {
    guard(|| {
        let cid = try_slice!(cid, cid_len);
        let Some((rotation, sid)) = decode_server_id(cid, server_id_len) else {
            return QUIC_RESULT_INVALID_ARGUMENT;
        };
        // SAFETY: per the contract, `server_id_len` writable bytes.
        let out = match unsafe { slice_out(server_id_out, server_id_len) } {
            Ok(o) => o,
            Err(e) => return e,
        };
        out.copy_from_slice(sid);
        if !config_rotation.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *config_rotation = rotation };
        }
        QUIC_RESULT_OK
    })
}
