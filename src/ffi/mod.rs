//! The C ABI: the only module with `#[no_mangle]`, raw pointers and
//! `#[repr(C)]` types. It converts and validates arguments, then delegates to
//! the core; it holds no protocol logic.
//!
//! Every exported function runs inside [`guard::guard`], so a panic becomes
//! `QUIC_RESULT_PANIC` instead of unwinding into C.
#![allow(non_camel_case_types)]
// The safety contract of each function is written as a "Safety:" paragraph
// rather than a rustdoc "# Safety" heading, because cbindgen copies these
// comments into quic.h, where C programmers read them.
#![allow(clippy::missing_safety_doc)]

#[macro_use]
mod guard;
pub mod addr;
pub mod batch;
mod cast;
pub mod cid_generator;
pub mod config;
pub mod conn;
pub mod connection_ids;
pub mod endpoint;
pub mod event;
pub mod path;
pub mod qlog;
pub mod quic_lb;
pub mod reading;
pub mod result;
pub mod server;
pub mod shared_register;
mod sized;
pub mod stream;
pub mod token;
pub mod version;

pub use addr::*;
pub use cid_generator::*;
pub use config::*;
pub use conn::*;
pub use connection_ids::*;
pub use endpoint::*;
pub use event::*;
pub use quic_lb::*;
pub use reading::*;
pub use result::*;
pub use server::*;
pub use shared_register::*;
pub use stream::*;
pub use token::*;
pub use version::*;
