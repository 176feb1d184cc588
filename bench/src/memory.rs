//! Memory per established, idle connection: live heap (the Rust
//! allocator, counted) and resident set size (everything, OpenSSL's C heap
//! included).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live bytes allocated through Rust.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live Rust heap bytes.
pub fn live_heap() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Resident set size in bytes (/proc/self/statm).
pub fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: isize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as isize
}

/// (heap, rss) bytes per connection for `n` pairs made by `make`, kept
/// alive together (two connections per pair).
pub fn per_connection<T>(n: usize, mut make: impl FnMut() -> T) -> (f64, f64) {
    let (h0, r0) = (live_heap(), rss());
    let held: Vec<T> = (0..n).map(|_| make()).collect();
    let (h1, r1) = (live_heap(), rss());
    drop(held);
    let conns = (2 * n) as f64;
    ((h1 - h0) as f64 / conns, (r1 - r0) as f64 / conns)
}
