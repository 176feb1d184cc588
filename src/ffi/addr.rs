//! Socket addresses as C passes them (`struct sockaddr *` + `socklen_t`),
//! and string helpers for callers without the C structs.

use std::ffi::{c_char, CStr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::guard::guard;
use super::result::*;

/// Reads an IPv4 or IPv6 address.
///
/// Safety: `addr` must be NULL or point to `len` readable bytes.
pub(crate) unsafe fn read_sockaddr(
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> Result<SocketAddr, quic_result> {
    if addr.is_null() {
        return Err(QUIC_RESULT_NULL_PARAMETER);
    }
    let len = len as usize;
    if len < std::mem::size_of::<libc::sa_family_t>() {
        return Err(QUIC_RESULT_INVALID_ADDRESS);
    }
    // SAFETY: at least the family field is readable; read_unaligned copes
    // with callers' arbitrary alignment.
    let family = unsafe { std::ptr::read_unaligned(std::ptr::addr_of!((*addr).sa_family)) };
    match i32::from(family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: `len` covers a sockaddr_in.
            let a = unsafe { std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in>()) };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: `len` covers a sockaddr_in6.
            let a = unsafe { std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in6>()) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => Err(QUIC_RESULT_INVALID_ADDRESS),
    }
}

/// Writes `addr` as a sockaddr_in or sockaddr_in6 into `out`.
pub(crate) fn write_sockaddr(
    addr: SocketAddr,
    out: &mut libc::sockaddr_storage,
    out_len: &mut libc::socklen_t,
) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    *out = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for any
            // sockaddr_in.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            *out_len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            // SAFETY: sockaddr_storage is larger than and aligned for any
            // sockaddr_in6.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            *out_len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        }
    }
}

/// Parses "a.b.c.d:port" or "[v6]:port" into a socket address, for callers
/// (Go, Node, Python) that do not build `struct sockaddr` themselves.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ADDRESS` (not an IP address with a port; host names
/// are not resolved).
///
/// Safety: `text` must be NULL or a NUL-terminated string; the outputs NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn quic_sockaddr_parse(
    text: *const c_char,
    out_addr: *mut libc::sockaddr_storage,
    out_addrlen: *mut libc::socklen_t,
) -> quic_result {
    guard(|| {
        if text.is_null() {
            return QUIC_RESULT_NULL_PARAMETER;
        }
        let out = try_out!(out_addr);
        let out_len = try_out!(out_addrlen);
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let s = unsafe { CStr::from_ptr(text) };
        let Some(addr) = s.to_str().ok().and_then(|s| s.parse::<SocketAddr>().ok()) else {
            return QUIC_RESULT_INVALID_ADDRESS;
        };
        write_sockaddr(addr, out, out_len);
        QUIC_RESULT_OK
    })
}

/// Formats a socket address as "a.b.c.d:port" or "[v6]:port" into `out`
/// (NUL-terminated; 64 bytes always suffice).
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_INVALID_ADDRESS`; `QUIC_RESULT_BUFFER_TOO_SMALL`.
///
/// Safety: `addr` must be NULL or valid for `addrlen` bytes; `out` writable for
/// `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn quic_sockaddr_format(
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
    out: *mut c_char,
    out_cap: usize,
) -> quic_result {
    guard(|| {
        // SAFETY: per the contract.
        let a = match unsafe { read_sockaddr(addr, addrlen) } {
            Ok(a) => a,
            Err(e) => return e,
        };
        // SAFETY: per the contract.
        let buf = match unsafe { super::guard::slice_out(out.cast(), out_cap) } {
            Ok(b) => b,
            Err(e) => return e,
        };
        let text = match a.ip() {
            IpAddr::V4(_) | IpAddr::V6(_) => a.to_string(),
        };
        if buf.len() < text.len() + 1 {
            return QUIC_RESULT_BUFFER_TOO_SMALL;
        }
        buf[..text.len()].copy_from_slice(text.as_bytes());
        buf[text.len()] = 0;
        QUIC_RESULT_OK
    })
}
