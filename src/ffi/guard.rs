//! Panic containment and argument conversion shared by every export.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::result::{
    quic_result, QUIC_RESULT_INVALID_ARGUMENT, QUIC_RESULT_NULL_PARAMETER, QUIC_RESULT_PANIC,
};

/// Runs an exported function's body; a panic becomes `QUIC_RESULT_PANIC`.
pub(crate) fn guard<F: FnOnce() -> quic_result>(f: F) -> quic_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(QUIC_RESULT_PANIC)
}

/// Like [`guard`] for functions that return a plain value: `on_panic` is
/// returned if the body panics.
pub(crate) fn guard_value<T, F: FnOnce() -> T>(on_panic: T, f: F) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// An object behind a handle that a caught panic makes unusable (a
/// connection, an endpoint).
pub(crate) trait Poisonable {
    /// True once a panic was caught inside it.
    fn poisoned(&self) -> bool;
    /// Marks it unusable after a panic, doing what it can for its peers.
    fn poison(&mut self);
}

/// Runs `f` on the object behind a handle (None for NULL): a poisoned
/// object is refused with `QUIC_RESULT_PANIC`, and a panic in `f` poisons
/// it.
pub(crate) fn with_poisonable<T: Poisonable>(
    obj: Option<&mut T>,
    f: impl FnOnce(&mut T) -> quic_result,
) -> quic_result {
    let Some(obj) = obj else {
        return QUIC_RESULT_NULL_PARAMETER;
    };
    if obj.poisoned() {
        return QUIC_RESULT_PANIC;
    }
    let ptr: *mut T = obj;
    match catch_unwind(AssertUnwindSafe(|| f(obj))) {
        Ok(r) => r,
        Err(_) => {
            // SAFETY: `ptr` is the live object; the closure's borrow of it
            // ended with the unwind.
            unsafe { (*ptr).poison() };
            QUIC_RESULT_PANIC
        }
    }
}

/// Borrows `len` bytes at `ptr` for the duration of a call. `(NULL, 0)` is
/// the empty buffer; NULL with a length is `QUIC_RESULT_NULL_PARAMETER`.
///
/// Safety: When `ptr` is non-NULL it must point to `len` readable bytes that stay
/// unchanged for the lifetime `'a` the caller picks (one call).
pub(crate) unsafe fn slice_in<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], quic_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(QUIC_RESULT_NULL_PARAMETER);
    }
    if len > isize::MAX as usize {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, len fits isize, and the caller promises `len`
    // readable bytes that live for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a caller's output buffer of `cap` bytes.
///
/// Safety: When `ptr` is non-NULL it must point to `cap` writable bytes, not
/// aliased by anything else during the call.
pub(crate) unsafe fn slice_out<'a>(ptr: *mut u8, cap: usize) -> Result<&'a mut [u8], quic_result> {
    if ptr.is_null() {
        return Err(QUIC_RESULT_NULL_PARAMETER);
    }
    if cap > isize::MAX as usize {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, cap fits isize, and the caller promises `cap`
    // writable, unaliased bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, cap) })
}

/// `slice_in` or an early return of its error code.
macro_rules! try_slice {
    ($ptr:expr, $len:expr) => {
        // SAFETY: the exported function's contract (documented in quic.h)
        // makes the caller vouch for `$ptr` holding `$len` bytes.
        match unsafe { $crate::ffi::guard::slice_in($ptr, $len) } {
            Ok(s) => s,
            Err(e) => return e,
        }
    };
}

/// A mutable reference to a caller's out-parameter, or an early return of
/// `QUIC_RESULT_NULL_PARAMETER`.
macro_rules! try_out {
    ($ptr:expr) => {
        // SAFETY: the exported function's contract makes the caller vouch
        // for a non-NULL out-pointer being valid and writable.
        match unsafe { $ptr.as_mut() } {
            Some(r) => r,
            None => return $crate::ffi::result::QUIC_RESULT_NULL_PARAMETER,
        }
    };
}
