//! Stateless server helpers: header parsing for routing, Version
//! Negotiation and Retry packets.

use super::result::*;
use super::sized::{usable_size, write_sized, Growable};
use crate::packet::{negotiation, retry, PacketType, MAX_CID_LEN};
use crate::{server, version};

/// The kind of a packet, as its header tells it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum quic_packet_type {
    /// Initial (long header).
    Initial = 0,
    /// 0-RTT (long header).
    ZeroRtt = 1,
    /// Handshake (long header).
    Handshake = 2,
    /// Retry (long header).
    Retry = 3,
    /// Version Negotiation (long header, version 0).
    VersionNegotiation = 4,
    /// 1-RTT (short header).
    OneRtt = 5,
    /// A long header of a version libquic does not implement; only
    /// `version`, `dcid` and `scid` are set. Answer it with
    /// `quic_version_negotiation_encode`.
    UnknownVersion = 6,
}

impl From<PacketType> for quic_packet_type {
    fn from(t: PacketType) -> Self {
        match t {
            PacketType::Initial => Self::Initial,
            PacketType::ZeroRtt => Self::ZeroRtt,
            PacketType::Handshake => Self::Handshake,
            PacketType::Retry => Self::Retry,
            PacketType::VersionNegotiation => Self::VersionNegotiation,
            PacketType::OneRtt => Self::OneRtt,
            PacketType::UnknownVersion => Self::UnknownVersion,
        }
    }
}

/// The header of the first packet in a datagram, as `quic_header_parse`
/// fills it. Every pointer points into the datagram passed to
/// `quic_header_parse` and is valid as long as that buffer is. Set
/// `struct_size` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct quic_header_info {
    /// `sizeof(quic_header_info)`, set by the caller: the library writes no
    /// further.
    pub struct_size: usize,
    /// Packet type.
    pub packet_type: quic_packet_type,
    /// True for a long header.
    pub is_long: bool,
    /// The fixed bit (0x40) of the first byte; 0 is only valid when the
    /// connection advertised grease_quic_bit (RFC 9287).
    pub fixed_bit: bool,
    /// Version field; 0 for Version Negotiation and short headers.
    pub version: u32,
    /// Destination connection ID.
    pub dcid: *const u8,
    /// Its length: 0..=20, up to 255 for `QUIC_PACKET_TYPE_UNKNOWN_VERSION`.
    pub dcid_len: usize,
    /// Source connection ID (long headers).
    pub scid: *const u8,
    /// Its length.
    pub scid_len: usize,
    /// Token of an Initial, or Retry token of a Retry; NULL when empty.
    pub token: *const u8,
    /// Its length.
    pub token_len: usize,
    /// Version Negotiation: the supported versions, as 4-byte big-endian
    /// words; read them with `quic_header_supported_version`.
    pub supported_versions: *const u8,
    /// Number of versions at `supported_versions`.
    pub supported_versions_count: usize,
    /// Bytes of the datagram this packet takes; coalesced packets follow.
    pub packet_len: usize,
}

// SAFETY: #[repr(C)], struct_size first; the minimum ends after
// `packet_type` (a u32 enum).
unsafe impl Growable for quic_header_info {
    const MIN_SIZE: usize = std::mem::offset_of!(quic_header_info, packet_type) + 4;
}

fn ptr_or_null(s: &[u8]) -> *const u8 {
    if s.is_empty() {
        std::ptr::null()
    } else {
        s.as_ptr()
    }
}

/// Parses the header of the first packet in `datagram`, without keys or a
/// connection: what a server needs to route a datagram, answer an unknown
/// version, or decide to send Retry (aioquic's `pull_quic_header`).
///
/// - `datagram`, `datagram_len`: the received UDP payload; must not be NULL
///   unless `datagram_len` is 0.
/// - `short_dcid_len`: the length of the connection IDs this endpoint
///   issues (short headers do not carry it); at most 20.
/// - `out_info`: filled on success as far as its `struct_size` (set by the
///   caller) reaches; its pointers point into `datagram`.
///
/// The fixed bit is reported, not enforced (see `fixed_bit`).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER` (NULL `out_info`,
/// or NULL `datagram` with a length); `QUIC_RESULT_PACKET_TRUNCATED` (empty,
/// or ends inside the header or before the Length field's end);
/// `QUIC_RESULT_PACKET_MALFORMED` (a Version Negotiation version list that
/// is empty or not a multiple of 4, a zero Length);
/// `QUIC_RESULT_CONNECTION_ID_TOO_LONG` (a v1/v2 CID over 20 bytes);
/// `QUIC_RESULT_INVALID_ARGUMENT` (`short_dcid_len` over 20, or a
/// `struct_size` too small). On error the datagram should be dropped.
///
/// Safety: `datagram` must point to `datagram_len` readable bytes; `out_info` must
/// be NULL or writable for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_header_parse(
    datagram: *const u8,
    datagram_len: usize,
    short_dcid_len: usize,
    out_info: *mut quic_header_info,
) -> quic_result {
    super::guard::guard(|| {
        // SAFETY: per the contract.
        let size = match unsafe { usable_size(out_info) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let buf = try_slice!(datagram, datagram_len);
        if short_dcid_len > MAX_CID_LEN {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let h = match server::parse_header(buf, short_dcid_len) {
            Ok(h) => h,
            Err(e) => return packet_error_code(e),
        };
        let info = quic_header_info {
            struct_size: size,
            packet_type: h.packet_type.into(),
            is_long: h.is_long(),
            fixed_bit: h.first_byte & 0x40 != 0,
            version: h.version,
            dcid: ptr_or_null(h.dcid),
            dcid_len: h.dcid.len(),
            scid: ptr_or_null(h.scid),
            scid_len: h.scid.len(),
            token: ptr_or_null(h.token),
            token_len: h.token.len(),
            supported_versions: ptr_or_null(h.supported_versions),
            supported_versions_count: h.supported_versions.len() / 4,
            packet_len: h.packet_len,
        };
        // SAFETY: `out_info` holds `size` writable bytes.
        unsafe { write_sized(out_info, &info, size) };
        QUIC_RESULT_OK
    })
}

/// Reads version number `index` of a Version Negotiation header filled by
/// `quic_header_parse`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER` (NULL `info` or
/// `out_version`, or a NULL list with a count); `QUIC_RESULT_INVALID_ARGUMENT`
/// (`index` not below `supported_versions_count`, or a `struct_size` that
/// does not reach `supported_versions_count`).
///
/// Safety: `info` must be as `quic_header_parse` filled it, and the datagram it
/// points into still valid; `out_version` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn quic_header_supported_version(
    info: *const quic_header_info,
    index: usize,
    out_version: *mut u32,
) -> quic_result {
    super::guard::guard(|| {
        // SAFETY: the caller vouches that a non-NULL `info` is readable
        // for its struct_size bytes.
        let size = match unsafe { usable_size(info) } {
            Ok(s) => s,
            Err(e) => return e,
        };
        let out = try_out!(out_version);
        // Only the two fields needed are read, and only if the caller's
        // struct has them.
        let count_at = std::mem::offset_of!(quic_header_info, supported_versions_count);
        let list_at = std::mem::offset_of!(quic_header_info, supported_versions);
        if size < count_at + std::mem::size_of::<usize>() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        // SAFETY: both fields lie within the caller's `size` bytes.
        let (versions, count) = unsafe {
            let base = info.cast::<u8>();
            (
                std::ptr::read_unaligned(base.add(list_at).cast::<*const u8>()),
                std::ptr::read_unaligned(base.add(count_at).cast::<usize>()),
            )
        };
        let Some(len) = count.checked_mul(4) else {
            return QUIC_RESULT_INVALID_ARGUMENT;
        };
        let list = try_slice!(versions, len);
        let Some(word) = list.chunks_exact(4).nth(index) else {
            return QUIC_RESULT_INVALID_ARGUMENT;
        };
        *out = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        QUIC_RESULT_OK
    })
}

/// Copies `packet` into the caller's buffer and reports its length.
pub(super) fn deliver(
    packet: &[u8],
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> quic_result {
    let out_len = try_out!(out_len);
    // SAFETY: the exported function's contract makes the caller vouch for
    // `out` holding `out_cap` writable bytes.
    let buf = match unsafe { super::guard::slice_out(out, out_cap) } {
        Ok(b) => b,
        Err(e) => return e,
    };
    if buf.len() < packet.len() {
        return QUIC_RESULT_BUFFER_TOO_SMALL;
    }
    buf[..packet.len()].copy_from_slice(packet);
    *out_len = packet.len();
    QUIC_RESULT_OK
}

/// Writes a Version Negotiation packet (RFC 9000 §17.2.1) answering a
/// packet whose header `quic_header_parse` reported with an unsupported
/// version: pass that packet's `dcid` and `scid` as they came; they are
/// echoed swapped.
///
/// - `versions`, `versions_count`: the versions to offer; `(NULL, 0)` offers
///   every version libquic supports (1 and 2).
/// - `out`, `out_cap`: the buffer for the packet (`7 + dcid_len + scid_len
///   + 4 * versions` bytes); `out_len` receives its length.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (over 65536 versions, or `versions` not
/// aligned for `uint32_t`); `QUIC_RESULT_CONNECTION_ID_TOO_LONG` (a CID
/// over 255 bytes); `QUIC_RESULT_BUFFER_TOO_SMALL` (nothing written).
///
/// Safety: Each pointer must be NULL or valid for its length (`versions` for
/// `versions_count` `uint32_t`s); `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_version_negotiation_encode(
    client_dcid: *const u8,
    client_dcid_len: usize,
    client_scid: *const u8,
    client_scid_len: usize,
    versions: *const u32,
    versions_count: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> quic_result {
    super::guard::guard(|| {
        let dcid = try_slice!(client_dcid, client_dcid_len);
        let scid = try_slice!(client_scid, client_scid_len);
        let versions: &[u32] = if versions_count == 0 {
            &[]
        } else if versions.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        } else if versions_count > 1 << 16 || !versions.is_aligned() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        } else {
            // SAFETY: non-NULL, aligned, and the caller vouches for
            // `versions_count` readable u32s.
            unsafe { std::slice::from_raw_parts(versions, versions_count) }
        };
        if dcid.len() > negotiation::MAX_INVARIANT_CID_LEN
            || scid.len() > negotiation::MAX_INVARIANT_CID_LEN
        {
            return QUIC_RESULT_CONNECTION_ID_TOO_LONG;
        }
        let mut packet =
            Vec::with_capacity(negotiation::encoded_len(dcid, scid, versions.len().max(2)));
        if let Err(e) = server::version_negotiation(&mut packet, dcid, scid, versions) {
            return packet_error_code(e);
        }
        deliver(&packet, out, out_cap, out_len)
    })
}

/// Writes a Retry packet with its integrity tag (RFC 9000 §17.2.5,
/// RFC 9001 §5.8) in answer to a client Initial.
///
/// - `version`: the version of the client's Initial (1 or 2).
/// - `client_dcid`: the DCID of the client's Initial (it becomes the
///   original_destination_connection_id the server must later announce).
/// - `client_scid`: the SCID of the client's Initial (the Retry's DCID).
/// - `new_scid`: the connection ID the client must use next (at most 20
///   bytes, different from `client_dcid`).
/// - `token`, `token_len`: the Retry token (non-empty), returned by the
///   client in its next Initial.
/// - `out`, `out_cap`, `out_len`: as for `quic_version_negotiation_encode`.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_UNSUPPORTED_VERSION`; `QUIC_RESULT_CONNECTION_ID_TOO_LONG`;
/// `QUIC_RESULT_INVALID_ARGUMENT` (empty `token`, or `new_scid` equal to
/// `client_dcid`);
/// `QUIC_RESULT_BUFFER_TOO_SMALL` (nothing written);
/// `QUIC_RESULT_CRYPTO_FAILURE`.
///
/// Safety: Each pointer must be NULL or valid for its length; `out` writable for
/// `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_retry_encode(
    version: u32,
    client_dcid: *const u8,
    client_dcid_len: usize,
    client_scid: *const u8,
    client_scid_len: usize,
    new_scid: *const u8,
    new_scid_len: usize,
    token: *const u8,
    token_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> quic_result {
    super::guard::guard(|| {
        let odcid = try_slice!(client_dcid, client_dcid_len);
        let dcid = try_slice!(client_scid, client_scid_len);
        let scid = try_slice!(new_scid, new_scid_len);
        let token = try_slice!(token, token_len);
        if !version::is_supported(version) {
            return QUIC_RESULT_UNSUPPORTED_VERSION;
        }
        if [odcid, dcid, scid].iter().any(|c| c.len() > MAX_CID_LEN) {
            return QUIC_RESULT_CONNECTION_ID_TOO_LONG;
        }
        // RFC 9000 §17.2.5.1: the new SCID MUST NOT equal the client's DCID;
        // §17.2.5.2: a client discards a Retry with an empty token.
        if scid == odcid || token.is_empty() {
            return QUIC_RESULT_INVALID_ARGUMENT;
        }
        let mut packet = Vec::with_capacity(retry::encoded_len(dcid, scid, token));
        if let Err(e) = server::retry_packet(&mut packet, version, odcid, dcid, scid, token) {
            return crypto_error_code(e);
        }
        deliver(&packet, out, out_cap, out_len)
    })
}

/// Checks the integrity tag of a received Retry packet (RFC 9001 §5.8):
/// what a client does before it trusts a Retry.
///
/// - `version`: the packet's version (1 or 2).
/// - `odcid`: the DCID of the client's first Initial.
/// - `packet`, `packet_len`: the whole Retry packet, tag included.
///
/// Returns: `QUIC_RESULT_OK` when the tag verifies;
/// `QUIC_RESULT_RETRY_TAG_MISMATCH` when it does not (drop the packet);
/// `QUIC_RESULT_NULL_PARAMETER`; `QUIC_RESULT_UNSUPPORTED_VERSION`;
/// `QUIC_RESULT_CONNECTION_ID_TOO_LONG` (`odcid` over 20 bytes);
/// `QUIC_RESULT_PACKET_TRUNCATED` (shorter than a tag).
///
/// Safety: Each pointer must be NULL or valid for its length.
#[no_mangle]
pub unsafe extern "C" fn quic_retry_verify(
    version: u32,
    odcid: *const u8,
    odcid_len: usize,
    packet: *const u8,
    packet_len: usize,
) -> quic_result {
    super::guard::guard(|| {
        let odcid = try_slice!(odcid, odcid_len);
        let packet = try_slice!(packet, packet_len);
        if !version::is_supported(version) {
            return QUIC_RESULT_UNSUPPORTED_VERSION;
        }
        if odcid.len() > MAX_CID_LEN {
            return QUIC_RESULT_CONNECTION_ID_TOO_LONG;
        }
        if packet.len() < crate::crypto::TAG_LEN {
            return QUIC_RESULT_PACKET_TRUNCATED;
        }
        if retry::verify(version, odcid, packet) {
            QUIC_RESULT_OK
        } else {
            QUIC_RESULT_RETRY_TAG_MISMATCH
        }
    })
}
