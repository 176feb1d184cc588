//! The C ABI: the only module with `#[no_mangle]`, raw pointers and
//! `#[repr(C)]` types. It converts and validates arguments, then delegates to
//! the core; it holds no protocol logic.
//!
//! Every exported function runs inside [`guard::guard`], so a panic becomes
//! `QUIC_RESULT_PANIC` instead of unwinding into C.
#![allow(non_camel_case_types)]

#[macro_use]
mod guard;
pub mod addr;
mod cast;
pub mod config;
pub mod conn;
pub mod event;
pub mod result;
pub mod server;
mod sized;
pub mod version;

pub use addr::*;
pub use config::*;
pub use conn::*;
pub use event::*;
pub use result::*;
pub use server::*;
pub use version::*;
