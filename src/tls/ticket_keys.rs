//! Session ticket encryption keys (RFC 8446 §4.6.1 leaves the ticket's
//! format to the server): the application's own, so that every server of a
//! fleet can open the tickets any of them issued, and keys can be rotated
//! without refusing tickets sealed under the previous one.
//!
//! A ticket is sealed by OpenSSL with AES-256-CBC and HMAC-SHA256 under the
//! first key; a ticket whose 16-byte key name matches a later key is still
//! opened (and the client gets a fresh ticket under the first key); any
//! other ticket is refused, which means a full handshake, not an error.

use std::ffi::{c_char, c_int, c_uchar, c_void};
use std::sync::OnceLock;

use foreign_types::ForeignTypeRef;
use openssl::ex_data::Index;
use openssl::ssl::{SslContext, SslContextBuilder, SslRef};
use openssl_sys as ffi;

/// Bytes of one key as the C API takes it: name, AES key, HMAC key.
pub const TICKET_KEY_LEN: usize = 16 + 32 + 32;

/// One ticket key.
#[derive(Clone, PartialEq, Eq)]
pub struct TicketKey {
    /// Sent in clear in each ticket, to find the key that opens it.
    pub name: [u8; 16],
    /// AES-256-CBC key.
    pub aes: [u8; 32],
    /// HMAC-SHA256 key.
    pub hmac: [u8; 32],
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TicketKey {
    /// A key from its 80-byte form (name, AES key, HMAC key).
    pub fn from_bytes(b: &[u8; TICKET_KEY_LEN]) -> Self {
        let mut k = TicketKey {
            name: [0; 16],
            aes: [0; 32],
            hmac: [0; 32],
        };
        k.name.copy_from_slice(&b[..16]);
        k.aes.copy_from_slice(&b[16..48]);
        k.hmac.copy_from_slice(&b[48..]);
        k
    }
}

// OpenSSL's ticket key callback and the OSSL_PARAM calls it needs; not in
// openssl-sys.
#[repr(C)]
struct OsslParam {
    key: *const c_char,
    data_type: u32,
    data: *mut c_void,
    data_size: usize,
    return_size: usize,
}

#[allow(non_camel_case_types)]
type EVP_MAC_CTX = c_void;

type TicketKeyCb = unsafe extern "C" fn(
    *mut ffi::SSL,
    *mut c_uchar,
    *mut c_uchar,
    *mut ffi::EVP_CIPHER_CTX,
    *mut EVP_MAC_CTX,
    c_int,
) -> c_int;

extern "C" {
    fn SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx: *mut ffi::SSL_CTX, cb: TicketKeyCb) -> c_int;
    fn EVP_MAC_CTX_set_params(ctx: *mut EVP_MAC_CTX, params: *const OsslParam) -> c_int;
    fn OSSL_PARAM_construct_utf8_string(
        key: *const c_char,
        buf: *mut c_char,
        bsize: usize,
    ) -> OsslParam;
    fn OSSL_PARAM_construct_octet_string(
        key: *const c_char,
        buf: *mut c_void,
        bsize: usize,
    ) -> OsslParam;
    fn OSSL_PARAM_construct_end() -> OsslParam;
}

/// The keys of an `SSL_CTX`, found by its callback through ex_data.
fn keys_index() -> Index<SslContext, Vec<TicketKey>> {
    static INDEX: OnceLock<Index<SslContext, Vec<TicketKey>>> = OnceLock::new();
    *INDEX.get_or_init(|| SslContext::new_ex_index().expect("an SSL_CTX ex_data index"))
}

/// Makes the context seal tickets with `keys[0]` and open tickets sealed
/// with any of `keys` (which must not be empty).
pub(super) fn install(b: &mut SslContextBuilder, keys: Vec<TicketKey>) -> bool {
    b.set_ex_data(keys_index(), keys);
    // SAFETY: the context is live; the callback has the exact C signature
    // and finds its keys in the context's ex_data, which lives as long as
    // the context.
    unsafe { SSL_CTX_set_tlsext_ticket_key_evp_cb(b.as_ptr(), ticket_key_cb) == 1 }
}

/// Sets the HMAC-SHA256 key on OpenSSL's MAC context.
///
/// # Safety
/// `hctx` must be the live MAC context OpenSSL passed to the callback.
unsafe fn set_hmac_key(hctx: *mut EVP_MAC_CTX, key: &[u8; 32]) -> bool {
    let mut digest = *b"SHA256\0";
    let mut key = *key;
    // SAFETY: the parameters point at locals that outlive the call;
    // OpenSSL copies the key and the digest name.
    unsafe {
        let params = [
            OSSL_PARAM_construct_utf8_string(c"digest".as_ptr(), digest.as_mut_ptr().cast(), 0),
            OSSL_PARAM_construct_octet_string(c"key".as_ptr(), key.as_mut_ptr().cast(), key.len()),
            OSSL_PARAM_construct_end(),
        ];
        EVP_MAC_CTX_set_params(hctx, params.as_ptr()) == 1
    }
}

/// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)):
/// `enc` 1 seals a new ticket (name and IV out), 0 opens one (name and IV
/// in). Returns 1 (sealed), 2 (opened: send the client a fresh ticket),
/// 0 (no such key: full handshake) or -1 (failure).
///
/// An opened ticket is always renewed: with 1 ("opened, no renewal")
/// OpenSSL sends a TLS 1.3 client that resumed no new ticket, and a
/// ticket is meant for one use (RFC 8446 §C.4), so the client's next
/// connection would be a full handshake.
unsafe extern "C" fn ticket_key_cb(
    s: *mut ffi::SSL,
    key_name: *mut c_uchar,
    iv: *mut c_uchar,
    cctx: *mut ffi::EVP_CIPHER_CTX,
    hctx: *mut EVP_MAC_CTX,
    enc: c_int,
) -> c_int {
    let run = || {
        // SAFETY: OpenSSL passes the live SSL of the handshake.
        let ssl = unsafe { SslRef::from_ptr(s) };
        let Some(keys) = ssl.ssl_context().ex_data(keys_index()) else {
            return -1;
        };
        // SAFETY: OpenSSL passes a 16-byte name buffer and an IV buffer of
        // EVP_MAX_IV_LENGTH (16) bytes.
        let (name, iv) = unsafe {
            (
                std::slice::from_raw_parts_mut(key_name, 16),
                std::slice::from_raw_parts_mut(iv, 16),
            )
        };
        let (key, result) = if enc == 1 {
            let Some(key) = keys.first() else { return -1 };
            name.copy_from_slice(&key.name);
            if openssl::rand::rand_bytes(iv).is_err() {
                return -1;
            }
            (key, 1)
        } else {
            match keys.iter().position(|k| k.name[..] == name[..]) {
                Some(i) => (&keys[i], 2),
                None => return 0,
            }
        };
        // SAFETY: the cipher and MAC contexts are OpenSSL's, live for the
        // call; key and IV are 32 and 16 bytes, as AES-256-CBC takes.
        let ok = unsafe {
            let cipher = ffi::EVP_aes_256_cbc();
            let init = if enc == 1 {
                ffi::EVP_EncryptInit_ex(
                    cctx,
                    cipher,
                    std::ptr::null_mut(),
                    key.aes.as_ptr(),
                    iv.as_ptr(),
                )
            } else {
                ffi::EVP_DecryptInit_ex(
                    cctx,
                    cipher,
                    std::ptr::null_mut(),
                    key.aes.as_ptr(),
                    iv.as_ptr(),
                )
            };
            init == 1 && set_hmac_key(hctx, &key.hmac)
        };
        if ok {
            result
        } else {
            -1
        }
    };
    std::panic::catch_unwind(run).unwrap_or(-1)
}
