//! Memory per established, idle connection: live heap (the Rust
//! allocator, counted) and resident set size (everything, OpenSSL's C heap
//! included).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Counts live bytes allocated through Rust.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Off until [`start_counting`]: the timed rows run with the allocator's
/// cost alone (a relaxed load), the memory rows' child counts.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Counts allocations from now on (the memory rows' child only).
pub fn start_counting() {
    COUNTING.store(true, Ordering::Relaxed);
}

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live bytes OpenSSL allocated (counted through its memory hooks).
static OPENSSL_LIVE: AtomicIsize = AtomicIsize::new(0);

/// Every OpenSSL allocation carries its size in a 16-byte header.
const HEADER: usize = 16;

extern "C" {
    fn CRYPTO_set_mem_functions(
        m: unsafe extern "C" fn(usize, *const libc::c_char, libc::c_int) -> *mut libc::c_void,
        r: unsafe extern "C" fn(
            *mut libc::c_void,
            usize,
            *const libc::c_char,
            libc::c_int,
        ) -> *mut libc::c_void,
        f: unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char, libc::c_int),
    ) -> libc::c_int;
}

unsafe extern "C" fn ossl_malloc(
    n: usize,
    _: *const libc::c_char,
    _: libc::c_int,
) -> *mut libc::c_void {
    // SAFETY: plain malloc; the header stays inside the block.
    unsafe {
        let p = libc::malloc(n + HEADER).cast::<usize>();
        if p.is_null() {
            return p.cast();
        }
        *p = n;
        OPENSSL_LIVE.fetch_add(n as isize, Ordering::Relaxed);
        p.cast::<u8>().add(HEADER).cast()
    }
}

unsafe extern "C" fn ossl_free(ptr: *mut libc::c_void, _: *const libc::c_char, _: libc::c_int) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from ossl_malloc/ossl_realloc: the header precedes it.
    unsafe {
        let p = ptr.cast::<u8>().sub(HEADER).cast::<usize>();
        OPENSSL_LIVE.fetch_sub(*p as isize, Ordering::Relaxed);
        libc::free(p.cast());
    }
}

unsafe extern "C" fn ossl_realloc(
    ptr: *mut libc::c_void,
    n: usize,
    file: *const libc::c_char,
    line: libc::c_int,
) -> *mut libc::c_void {
    // SAFETY: as above; realloc keeps the header at the block start.
    unsafe {
        if ptr.is_null() {
            return ossl_malloc(n, file, line);
        }
        let p = ptr.cast::<u8>().sub(HEADER).cast::<usize>();
        let old = *p;
        let q = libc::realloc(p.cast(), n + HEADER).cast::<usize>();
        if q.is_null() {
            return q.cast();
        }
        *q = n;
        OPENSSL_LIVE.fetch_add(n as isize - old as isize, Ordering::Relaxed);
        q.cast::<u8>().add(HEADER).cast()
    }
}

/// Routes OpenSSL's allocations through counting hooks. Must run before
/// OpenSSL allocates anything (first thing in main).
pub fn count_openssl() -> bool {
    // SAFETY: called before any OpenSSL allocation; the hooks are valid
    // for the life of the process.
    unsafe { CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1 }
}

/// Live heap bytes: Rust's and OpenSSL's.
pub fn live_heap() -> isize {
    LIVE.load(Ordering::Relaxed) + OPENSSL_LIVE.load(Ordering::Relaxed)
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
    per_connection_of(n, || (0..n).map(|_| make()).collect::<Vec<T>>())
}

/// Heap and RSS per connection (bytes) of `n` connection pairs that
/// `make` establishes together (through endpoints) and holds.
pub fn per_connection_of<T>(n: usize, make: impl FnOnce() -> T) -> (f64, f64) {
    let (heap, rss, held) = holding(n, make);
    drop(held);
    (heap, rss)
}

/// [`per_connection_of`], handing back what `make` made, still held.
pub fn holding<T>(n: usize, make: impl FnOnce() -> T) -> (f64, f64, T) {
    let (h0, r0) = (live_heap(), rss());
    let held = make();
    let (h1, r1) = (live_heap(), rss());
    let conns = (2 * n) as f64;
    ((h1 - h0) as f64 / conns, (r1 - r0) as f64 / conns, held)
}
