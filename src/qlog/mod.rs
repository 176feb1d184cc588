//! qlog: a trace of what each connection did, in the qlog format
//! (draft-ietf-quic-qlog-main-schema-14, QUIC events in
//! draft-ietf-quic-qlog-quic-events-13), as JSON Text Sequences (RFC 7464,
//! `.sqlog`): every record starts with an RS byte and ends with a newline,
//! the header record first.
//!
//! The application chooses where records go ([`QlogSink`]); the library
//! does no I/O of its own beyond calling the sink. Logging off costs one
//! branch per event: nothing is formatted or allocated. Records wait in a
//! bounded buffer until the connection hands them over (at the end of
//! each receive, timer and send round); a sink that refuses them or falls
//! behind makes later records drop, and the drops are counted
//! ([`crate::conn::Stats::qlog_records_dropped`]).

pub(crate) mod frames;
mod json;
mod writer;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use json::Obj;
pub(crate) use writer::QlogWriter;

/// Which connection a trace belongs to.
#[derive(Debug, Clone, Copy)]
pub struct QlogTrace<'a> {
    /// The original destination connection ID: the DCID of the client's
    /// first Initial, which both sides know (qlog's `group_id`).
    pub odcid: &'a [u8],
    /// The trace is the server's.
    pub server: bool,
}

impl QlogTrace<'_> {
    /// `<odcid in hex>_<client|server>.sqlog`: the name a trace gets in a
    /// directory (client and server traces of one connection can share
    /// it).
    pub fn file_name(&self) -> String {
        let mut name = String::with_capacity(self.odcid.len() * 2 + 14);
        for b in self.odcid {
            name.push_str(&format!("{b:02x}"));
        }
        name.push_str(if self.server {
            "_server.sqlog"
        } else {
            "_client.sqlog"
        });
        name
    }
}

/// Receives one connection's records: one or more complete JSON-SEQ
/// records (each an RS byte, the JSON text, a newline), in order, as they
/// are handed over. Returns how many bytes it took, a prefix of whole
/// records; the rest is kept (within a bound) and offered again later.
/// Split the bytes on RS (0x1e, which JSON escapes inside strings) for
/// one record at a time.
pub type QlogOutput = Box<dyn FnMut(&[u8]) -> usize + Send>;

/// Makes the output of each new connection's trace; None leaves that
/// connection unlogged.
pub type QlogSink = Arc<dyn Fn(&QlogTrace<'_>) -> Option<QlogOutput> + Send + Sync>;

/// A sink writing one `.sqlog` file per connection into `dir` (named by
/// [`QlogTrace::file_name`], as aioquic's `QuicFileLogger` and the interop
/// runner's `QLOGDIR` expect). A file that cannot be created leaves its
/// connection unlogged; a write that fails stops that file.
pub fn dir_sink(dir: &Path) -> QlogSink {
    let dir: PathBuf = dir.to_path_buf();
    Arc::new(move |trace: &QlogTrace<'_>| {
        let mut file = std::fs::File::create(dir.join(trace.file_name())).ok()?;
        let mut failed = false;
        let out: QlogOutput = Box::new(move |records: &[u8]| {
            // A failed write is not retried: the records are taken (and
            // lost) rather than kept forever.
            if !failed && file.write_all(records).is_err() {
                failed = true;
            }
            records.len()
        });
        Some(out)
    })
}
