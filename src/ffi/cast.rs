//! The one place opaque C handles turn into Rust objects and back. Each
//! handle type names the Rust type behind it; handles are always created by
//! `into_handle` (a leaked Box) and destroyed by `free_handle`.

/// Ties an opaque C handle type to the Rust object behind it.
pub(crate) trait Castable {
    /// The Rust object a handle points to.
    type Rust;
}

/// Leaks `obj` as a handle the caller owns.
pub(crate) fn into_handle<C: Castable>(obj: C::Rust) -> *mut C {
    Box::into_raw(Box::new(obj)).cast()
}

/// Borrows the object behind a handle; None for NULL.
///
/// Safety: `p` must be NULL or a live handle of type `C` made by `into_handle`,
/// not used mutably elsewhere during the borrow.
pub(crate) unsafe fn handle_ref<'a, C: Castable>(p: *const C) -> Option<&'a C::Rust> {
    // SAFETY: per the contract, a non-NULL `p` came from Box::into_raw of
    // a C::Rust and is alive.
    unsafe { p.cast::<C::Rust>().as_ref() }
}

/// Borrows the object behind a handle mutably; None for NULL.
///
/// Safety: As `handle_ref`, and no other reference to it may exist meanwhile.
pub(crate) unsafe fn handle_mut<'a, C: Castable>(p: *mut C) -> Option<&'a mut C::Rust> {
    // SAFETY: per the contract, a non-NULL `p` came from Box::into_raw of
    // a C::Rust, is alive, and is not aliased during the call.
    unsafe { p.cast::<C::Rust>().as_mut() }
}

/// Destroys the object behind a handle; NULL is a no-op.
///
/// Safety: `p` must be NULL or a live handle of type `C`, never used again.
pub(crate) unsafe fn free_handle<C: Castable>(p: *mut C) {
    if !p.is_null() {
        // SAFETY: per the contract `p` came from Box::into_raw and is
        // freed exactly once.
        drop(unsafe { Box::from_raw(p.cast::<C::Rust>()) });
    }
}
