//! The growth rule for structs that cross the C boundary: each begins with
//! `size_t struct_size`, which the caller sets to `sizeof` the struct as it
//! was compiled. The library reads and writes only that many bytes, so a
//! struct can gain fields at its end without breaking programs built
//! against an older header (their smaller struct is never written past),
//! and a newer program's larger struct is accepted by an older library.

use super::result::{quic_result, QUIC_RESULT_INVALID_ARGUMENT, QUIC_RESULT_NULL_PARAMETER};

/// A `#[repr(C)]` struct whose first field is `struct_size: usize`.
///
/// Safety: Implementors must be `#[repr(C)]` with `struct_size: usize` first, and
/// `MIN_SIZE` must end on a field boundary within the struct.
pub(crate) unsafe trait Growable: Copy {
    /// The fewest bytes a caller's struct may have: through the first
    /// field after `struct_size`.
    const MIN_SIZE: usize;
}

/// How many bytes of the caller's struct at `p` the library may use: its
/// `struct_size`, capped at this library's size of `T`.
///
/// Safety: `p` must be NULL or point to at least a readable `size_t`.
pub(crate) unsafe fn usable_size<T: Growable>(p: *const T) -> Result<usize, quic_result> {
    if p.is_null() {
        return Err(QUIC_RESULT_NULL_PARAMETER);
    }
    // SAFETY: every version of the struct starts with a size_t.
    let size = unsafe { std::ptr::read_unaligned(p.cast::<usize>()) };
    if size < T::MIN_SIZE {
        return Err(QUIC_RESULT_INVALID_ARGUMENT);
    }
    Ok(size.min(std::mem::size_of::<T>()))
}

/// Writes `value` into the caller's struct at `out`, `size` bytes of it
/// (from [`usable_size`]), leaving its `struct_size` as the caller set it.
///
/// Safety: `out` must be valid for writing `size` bytes, with
/// `size <= size_of::<T>()`.
pub(crate) unsafe fn write_sized<T: Growable>(out: *mut T, value: &T, size: usize) {
    let skip = std::mem::size_of::<usize>();
    if size > skip {
        // SAFETY: both ranges hold `size` bytes (value: size_of::<T>() >=
        // size; out: per the contract) and do not overlap; a bytewise copy
        // may carry the value's padding, as memcpy does.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (value as *const T).cast::<u8>().add(skip),
                out.cast::<u8>().add(skip),
                size - skip,
            );
        }
    }
}

/// A field of a caller's struct whose type not every bit pattern is valid
/// for (a Rust `bool`, a C enum): what values it may hold.
pub(crate) enum Checked {
    /// A `bool`, one byte: 0 or 1.
    Bool,
    /// A 32-bit enum: below this many discriminants (0, 1, ...).
    Enum(u32),
}

/// Checks the fields of the caller's struct at `p` (within its `size`)
/// that would not be valid Rust values for any bytes, before
/// [`read_sized`] copies them: a C caller can store 2 in a `bool` or 99 in
/// an enum, and such a Rust value is undefined behaviour. A `size` that
/// ends inside one of these fields is refused too (no `sizeof` does).
///
/// Safety: `p` must be valid for reading `size` bytes.
pub(crate) unsafe fn check_fields<T: Growable>(
    p: *const T,
    size: usize,
    fields: &[(usize, Checked)],
) -> Result<(), quic_result> {
    for (offset, kind) in fields {
        let width = match kind {
            Checked::Bool => 1,
            Checked::Enum(_) => 4,
        };
        if size <= *offset {
            continue; // an older caller's struct ends before it
        }
        if size < offset + width {
            return Err(QUIC_RESULT_INVALID_ARGUMENT);
        }
        // SAFETY: offset + width <= size bytes are readable at `p`.
        let valid = unsafe {
            let at = p.cast::<u8>().add(*offset);
            match kind {
                Checked::Bool => std::ptr::read(at) <= 1,
                Checked::Enum(n) => std::ptr::read_unaligned(at.cast::<u32>()) < *n,
            }
        };
        if !valid {
            return Err(QUIC_RESULT_INVALID_ARGUMENT);
        }
    }
    Ok(())
}

/// Reads the caller's struct at `p` as far as `size` (from
/// [`usable_size`]) reaches; later fields come from `defaults`. Fields
/// that not every bit pattern is valid for must have passed
/// [`check_fields`] first.
///
/// Safety: `p` must be valid for reading `size` bytes, `size <= size_of::<T>()`.
pub(crate) unsafe fn read_sized<T: Growable>(p: *const T, size: usize, defaults: T) -> T {
    let mut out = defaults;
    // SAFETY: `out` has size_of::<T>() >= size bytes; `p` has `size`
    // readable bytes per the contract; the ranges are distinct objects.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut out as *mut T).cast::<u8>(), size);
    }
    out
}
