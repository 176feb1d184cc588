//! qlog through the C API: a directory of `.sqlog` files, or a callback
//! that receives each record.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::config::{c_str, with_config, UserData};
use super::result::*;
use crate::config::ConfigError;
use crate::ffi::config::quic_config;
use crate::qlog::{self, QlogOutput, QlogTrace};

/// JSON-SEQ's record separator, which starts every record.
const RS: u8 = 0x1e;

/// Writes a qlog trace of every connection made from this config into
/// the directory `path`, one JSON-SEQ file per connection named
/// `<original DCID in hex>_<client|server>.sqlog` (what the interop
/// runner's QLOGDIR and qvis take). Pass NULL to stop. Records are written
/// at the end of each `quic_conn_recv`, timer and send round; a file that
/// cannot be created leaves its connection unlogged.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER`;
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen);
/// `QUIC_RESULT_INVALID_ARGUMENT` (a path that is not UTF-8);
/// `QUIC_RESULT_FILE_UNREADABLE` (not an existing directory).
///
/// Safety: `path` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_qlog_dir(
    config: *mut quic_config,
    path: *const c_char,
) -> quic_result {
    with_config(config, "quic_config_set_qlog_dir", |h| {
        // SAFETY: per the contract.
        let path = match unsafe { c_str(path) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Some(path) = path else {
            return h.apply(|c| {
                c.set_qlog(None);
                Ok(())
            });
        };
        if !std::path::Path::new(path).is_dir() {
            return h.fail(ConfigError::Io {
                path: path.into(),
                reason: "not a directory".into(),
            });
        }
        h.apply(|c| {
            c.set_qlog(Some(qlog::dir_sink(std::path::Path::new(path))));
            Ok(())
        })
    })
}

/// Receives one qlog record: `record` holds `record_len` bytes, an RS byte
/// (0x1e), one JSON text and a newline, so records written one after the
/// other make a `.sqlog` file; the first record of a connection is its
/// header. `odcid` (`odcid_len` bytes) names the connection. Return true
/// when the record was taken; false keeps it (and the ones after it) to
/// be offered again later, within a bound past which records are dropped
/// and counted (`quic_stats.qlog_records_dropped`).
pub type quic_qlog_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        odcid: *const u8,
        odcid_len: usize,
        is_server: bool,
        record: *const u8,
        record_len: usize,
    ) -> bool,
>;

/// Calls `callback` with every qlog record of every connection made from
/// this config, on the thread that drives the connection, at the end of
/// each `quic_conn_recv`, timer and send round. Pass a NULL callback to
/// stop.
///
/// Returns: `QUIC_RESULT_OK`; `QUIC_RESULT_NULL_PARAMETER` (NULL config);
/// `QUIC_RESULT_ALREADY_USED` (the config is frozen).
///
/// Safety: `callback` must be safe to call with `userdata` from any thread
/// that drives a connection made from this config, as long as such
/// connections live.
#[no_mangle]
pub unsafe extern "C" fn quic_config_set_qlog_callback(
    config: *mut quic_config,
    callback: quic_qlog_fn,
    userdata: *mut c_void,
) -> quic_result {
    with_config(config, "quic_config_set_qlog_callback", |h| {
        let Some(cb) = callback else {
            return h.apply(|c| {
                c.set_qlog(None);
                Ok(())
            });
        };
        let ud = Arc::new(UserData(userdata));
        h.apply(|c| {
            c.set_qlog(Some(Arc::new(move |trace: &QlogTrace<'_>| {
                let (ud, odcid, server) = (ud.clone(), trace.odcid.to_vec(), trace.server);
                let out: QlogOutput = Box::new(move |records: &[u8]| {
                    let mut taken = 0;
                    for record in split_records(records) {
                        // SAFETY: the caller vouched for `cb` and
                        // `userdata`; both buffers live for the call.
                        let took = unsafe {
                            cb(
                                ud.ptr(),
                                odcid.as_ptr(),
                                odcid.len(),
                                server,
                                record.as_ptr(),
                                record.len(),
                            )
                        };
                        if !took {
                            break;
                        }
                        taken += record.len();
                    }
                    taken
                });
                Some(out)
            })));
            Ok(())
        })
    })
}

/// The records of `bytes` (each starts with RS; JSON escapes RS inside
/// strings, so it only ever starts a record).
fn split_records(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest[1..]
            .iter()
            .position(|b| *b == RS)
            .map_or(rest.len(), |p| p + 1);
        let (record, tail) = rest.split_at(end);
        rest = tail;
        Some(record)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_at_each_separator() {
        let bytes = b"\x1e{\"a\":1}\n\x1e{}\n\x1e{\"b\":\"x\"}\n";
        let got: Vec<&[u8]> = split_records(bytes).collect();
        assert_eq!(
            got,
            vec![&b"\x1e{\"a\":1}\n"[..], b"\x1e{}\n", b"\x1e{\"b\":\"x\"}\n"]
        );
        assert_eq!(split_records(b"").count(), 0);
    }
}
