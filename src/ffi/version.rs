//! Library version.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::guard::guard_value;

/// Returns a static, NUL-terminated description of this library and the
/// OpenSSL it runs on, such as "libquic 0.1.0 (OpenSSL 3.6.1 ...)". Never
/// NULL; the string lives as long as the process. The compile-time version
/// is in `QUIC_VERSION_MAJOR` / `_MINOR` / `_PATCH`.
#[no_mangle]
pub extern "C" fn quic_version_string() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    guard_value(c"libquic".as_ptr(), || {
        TEXT.get_or_init(|| {
            let s = format!(
                "libquic {} ({})",
                env!("CARGO_PKG_VERSION"),
                crate::crypto::library_version()
            );
            CString::new(s.replace('\0', " ")).unwrap_or_default()
        })
        .as_ptr()
    })
}
