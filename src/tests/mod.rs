//! In-crate protocol tests: two connections in memory over a simulated
//! link (`pair.rs`), with test certificates made on the fly (`pki.rs`).

mod backpressure;
mod batch;
mod client_migration;
mod connection_ids;
mod craft;
mod ecn;
mod endpoint;
mod frames;
mod fuzz_replay;
mod handshake;
mod hostile;
mod key_update;
mod loss_recovery;
mod migration;
pub(crate) mod pair;
pub(crate) mod pki;
mod pmtud;
mod post_handshake;
mod preferred_address;
mod qlog_trace;
mod random_source;
mod read_mode;
mod resumption;
mod retry;
mod streams;
mod termination;
mod tokens;
mod transfer;
mod verify;
mod versions;
mod writable;
mod zero_rtt;
