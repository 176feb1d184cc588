//! A hint to the CPU to start loading memory the next packet will read.
//!
//! A bulk sender seals each packet's stream data straight from the send
//! buffer, which the application filled long before (megabytes earlier, so
//! out of the cache by then). Asking for the next packet's bytes while this
//! one is built lets the loads overlap the work in between, instead of
//! stalling the cipher on them.

/// Bytes a prefetch asks for at most: about one packet's payload.
pub(crate) const AHEAD: usize = 1536;

/// Starts loading `data` into the cache; a hint only (no effect on
/// results, and none at all on targets without a prefetch instruction).
#[inline]
pub(crate) fn read(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(64) {
        // SAFETY: a prefetch never faults and changes no memory; SSE, which
        // provides it, is part of every x86_64 target.
        unsafe {
            core::arch::x86_64::_mm_prefetch(line.as_ptr().cast(), core::arch::x86_64::_MM_HINT_T0)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
