//! Address-validation tokens through the C ABI: a server checks the token
//! of an Initial and answers with a Retry whose token the library mints
//! (RFC 9000 §8.1).

use super::addr::read_sockaddr;
use super::cast::handle_ref;
use super::config::quic_config;
use super::guard::guard;
use super::result::*;
use super::server::quic_header_info;
use super::sized::{check_fields, read_sized, usable_size, write_sized, Checked, Growable};
use crate::config::Config;
use crate::packet::MAX_CID_LEN;
use crate::server::{self, InitialToken};
use std::net::SocketAddr;
use std::sync::Arc;

/// What the token of a client's Initial proves (`quic_token_check`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_token_kind {
    /// The Initial carries no token.
    None = 0,
    /// A token that proves nothing: not this server's (or fleet's), damaged,
    /// expired, for another address, or a Retry token sent to another
    /// connection ID. Go on as for a client without a token (RFC 9000
    /// §8.1.3): accept it unvalidated, or send a Retry.
    Invalid = 1,
    /// The token of our Retry: the address is validated. Make the
    /// connection with `original_dcid` and `retry_scid` in
    /// `quic_conn_params`.
    Retry = 2,
    /// A NEW_TOKEN token an earlier connection gave this client, presented
    /// for the first time (or again by the same attempt: the same DCID and
    /// port): the address is validated. Make the connection with
    /// `quic_conn_params.address_validated` set. A token another attempt
    /// presented before, to this config or (by the word of
    /// `quic_config_set_shared_register`) to another server of the fleet,
    /// is INVALID (RFC 9000 §8.1.4: one use).
    NewToken = 3,
}

/// The result of `quic_token_check` (output; growth rule: set
/// `struct_size`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct quic_token_info {
    /// `sizeof(quic_token_info)`, set by the caller.
    pub struct_size: usize,
    /// What the token proves.
    pub kind: quic_token_kind,
    /// RETRY: the DCID of the client's very first Initial.
    pub original_dcid: [u8; 20],
    /// Its length.
    pub original_dcid_len: usize,
    /// RETRY: the SCID of the Retry (the DCID this Initial was sent to).
    pub retry_scid: [u8; 20],
    /// Its length.
    pub retry_scid_len: usize,
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after `kind`.
unsafe impl Growable for quic_token_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_token_info, kind) + 4;
}

/// The parts of a parsed Initial header these calls need.
struct Initial<'a> {
    version: u32,
    dcid: &'a [u8],
    scid: &'a [u8],
    token: &'a [u8],
}

/// Reads the caller's `quic_header_info` (from `quic_header_parse`).
///
/// Safety: `h` must be NULL or valid for its `struct_size` bytes, its
/// pointers valid for their lengths.
unsafe fn read_initial<'a>(h: *const quic_header_info) -> Result<Initial<'a>, quic_result> {
    if h.is_null() {
        return Err(QUIC_RESULT_NULL_PARAMETER);
    }
    // SAFETY: per the contract.
    let size = unsafe { usable_size(h) }?;
    let fields = [
        (
            std::mem::offset_of!(quic_header_info, packet_type),
            Checked::Enum(super::server::quic_packet_type::UnknownVersion as u32 + 1),
        ),
        (
            std::mem::offset_of!(quic_header_info, is_long),
            Checked::Bool,
        ),
        (
            std::mem::offset_of!(quic_header_info, fixed_bit),
            Checked::Bool,
        ),
    ];
    // SAFETY: `h` holds `size` readable bytes.
    unsafe { check_fields(h, size, &fields) }?;
    // SAFETY: `h` holds `size` readable bytes, its enum and bools checked;
    // the defaults stand in for fields an older caller's struct lacks.
    let info = unsafe {
        read_sized(
            h,
            size,
            quic_header_info {
                struct_size: size,
                packet_type: super::server::quic_packet_type::Initial,
                is_long: false,
                fixed_bit: false,
                version: 0,
                dcid: std::ptr::null(),
                dcid_len: 0,
                scid: std::ptr::null(),
                scid_len: 0,
                token: std::ptr::null(),
                token_len: 0,
                supported_versions: std::ptr::null(),
                supported_versions_count: 0,
                packet_len: 0,
            },
        )
    };
    if info.packet_type != super::server::quic_packet_type::Initial {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    let slice = |p: *const u8, n: usize| -> Result<&'a [u8], quic_result> {
        if n == 0 {
            Ok(&[])
        } else if p.is_null() {
            Err(QUIC_RESULT_NULL_PARAMETER)
        } else {
            // SAFETY: per the contract, the header's pointers are valid for
            // their lengths.
            Ok(unsafe { std::slice::from_raw_parts(p, n) })
        }
    };
    let (dcid, scid) = (
        slice(info.dcid, info.dcid_len)?,
        slice(info.scid, info.scid_len)?,
    );
    if dcid.len() > MAX_CID_LEN || scid.len() > MAX_CID_LEN {
        return Err(QUIC_RESULT_CONNECTION_ID_TOO_LONG);
    }
    Ok(Initial {
        version: info.version,
        dcid,
        scid,
        token: slice(info.token, info.token_len)?,
    })
}

/// The frozen settings behind a server's config.
fn server_config(config: *const quic_config) -> Result<Arc<Config>, quic_result> {
    // SAFETY: the caller passes NULL or a live config.
    let h = unsafe { handle_ref(config) }.ok_or(QUIC_RESULT_NULL_PARAMETER)?;
    if h.is_client() {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    h.snapshot().map(|(c, _)| c)
}

/// Reads the peer address and the settings for both calls.
///
/// Safety: as for the calls.
unsafe fn inputs<'a>(
    config: *const quic_config,
    initial: *const quic_header_info,
    peer: *const libc::sockaddr,
    peer_len: libc::socklen_t,
) -> Result<(Arc<Config>, Initial<'a>, SocketAddr), quic_result> {
    // SAFETY: per the callers' contracts.
    let (initial, peer) = unsafe { (read_initial(initial)?, read_sockaddr(peer, peer_len)?) };
    Ok((server_config(config)?, initial, peer))
}

/// Checks the token of a client's Initial packet (RFC 9000 §8.1) with the
/// server config's token key (`quic_config_set_token_key`): what a server
/// does before it makes a connection, to decide whether the client's
/// address is validated or needs a Retry (`quic_retry_with_token`).
///
/// - `config`: the server's config (frozen by the call, as by a connection).
/// - `initial`: the datagram's header from `quic_header_parse` (an Initial).
/// - `peer`, `peer_len`: the address the datagram came from.
/// - `out`: filled as far as its `struct_size` reaches.
///
/// Returns: `QUIC_RESULT_OK` (see `out->kind`); `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a client config, not an Initial, a
/// `struct_size` too small or ending inside a field, a `bool` field
/// neither 0 nor 1, a `packet_type` that is no `quic_packet_type`);
/// `QUIC_RESULT_INVALID_ADDRESS`;
/// `QUIC_RESULT_CONNECTION_ID_TOO_LONG`; the config's TLS setup errors (as
/// for `quic_conn_new`).
///
/// Safety: `config` NULL or live; `initial` NULL or a filled
/// `quic_header_info` whose datagram is still alive; `peer` valid for
/// `peer_len` bytes; `out` NULL or writable for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_token_check(
    config: *const quic_config,
    initial: *const quic_header_info,
    peer: *const libc::sockaddr,
    peer_len: libc::socklen_t,
    out: *mut quic_token_info,
) -> quic_result {
    guard(|| {
        if out.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        // SAFETY: per the contract.
        let (config, initial, peer) = match unsafe { inputs(config, initial, peer, peer_len) } {
            Ok(v) => v,
            Err(e) => return e,
        };
        let mut info = quic_token_info {
            struct_size: size,
            kind: quic_token_kind::None,
            original_dcid: [0; 20],
            original_dcid_len: 0,
            retry_scid: [0; 20],
            retry_scid_len: 0,
        };
        info.kind = match server::check_initial_token(&config, initial.token, initial.dcid, peer) {
            InitialToken::None => quic_token_kind::None,
            InitialToken::Invalid => quic_token_kind::Invalid,
            InitialToken::NewToken => quic_token_kind::NewToken,
            InitialToken::Retry {
                original_dcid,
                retry_scid,
            } => {
                info.original_dcid[..original_dcid.len()].copy_from_slice(&original_dcid);
                info.original_dcid_len = original_dcid.len();
                info.retry_scid[..retry_scid.len()].copy_from_slice(&retry_scid);
                info.retry_scid_len = retry_scid.len();
                quic_token_kind::Retry
            }
        };
        // SAFETY: `out` is writable for `size` bytes.
        unsafe { write_sized(out, &info, size) };
        QUIC_RESULT_OK
    })
}

/// Writes a Retry packet (RFC 9000 §8.1.2) answering a client's Initial,
/// with a token minted by the library with the server config's token key:
/// bound to the client's address and port and to the connection IDs,
/// valid for 10 seconds. Its SCID is random, as long as the config's
/// connection IDs (at least 8 bytes). When the client's next Initial
/// arrives, `quic_token_check` says RETRY and gives both connection IDs.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (a client config, not an Initial, or `initial`
/// as `quic_token_check` refuses it);
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_UNSUPPORTED_VERSION`;
/// `QUIC_RESULT_CONNECTION_ID_TOO_LONG`; `QUIC_RESULT_BUFFER_TOO_SMALL`
/// (nothing written); `QUIC_RESULT_CRYPTO_FAILURE`.
///
/// Safety: as for `quic_token_check`; `out` writable for `out_cap` bytes,
/// `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn quic_retry_with_token(
    config: *const quic_config,
    initial: *const quic_header_info,
    peer: *const libc::sockaddr,
    peer_len: libc::socklen_t,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        let (config, initial, peer) = match unsafe { inputs(config, initial, peer, peer_len) } {
            Ok(v) => v,
            Err(e) => return e,
        };
        if !crate::version::is_supported(initial.version) {
            return QUIC_RESULT_UNSUPPORTED_VERSION;
        }
        let mut packet = Vec::new();
        if let Err(e) = server::retry_with_token(
            &config,
            initial.version,
            initial.dcid,
            initial.scid,
            peer,
            &mut packet,
        ) {
            return crypto_error_code(e);
        }
        super::server::deliver(&packet, out, out_cap, out_len)
    })
}
