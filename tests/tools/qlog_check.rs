//! qlog-check: loads every `.sqlog` file of a directory with quiche's qlog
//! reader (the `qlog` crate, a dev-dependency: this example is a test
//! tool, not part of the library) and checks each record.
//!
//!     cargo run --release --example qlog-check -- DIR
//!
//! (Declared as an example in Cargo.toml so that it may use the
//! dev-dependencies; it lives with the tests.)
//!
//! Each file must start with a QlogFileSeq header record; every record
//! must be JSON with `time`, `name` and `data`, times never going back;
//! events whose name quiche's data model shares with
//! draft-ietf-quic-qlog-quic-events-13 must parse as that typed event.
//! Prints one line per file; exits 1 on the first file that fails.

use std::io::Cursor;
use std::process::ExitCode;

include!("qlog_typed.rs");

fn check(bytes: &[u8]) -> Result<(String, usize), String> {
    let reader = qlog::reader::QlogSeqReader::new(Box::new(Cursor::new(bytes.to_vec())))
        .map_err(|e| format!("header: {e}"))?;
    if reader.qlog.file_schema != "urn:ietf:params:qlog:file:sequential" {
        return Err(format!("file_schema {}", reader.qlog.file_schema));
    }
    let side = reader
        .qlog
        .trace
        .vantage_point
        .as_ref()
        .map(|v| format!("{:?}", v.ty))
        .unwrap_or_default();
    let read = reader.count();
    let mut last = f64::MIN;
    let mut n = 0;
    for raw in bytes.split(|b| *b == 0x1e).skip(2) {
        let v: serde_json::Value =
            serde_json::from_slice(raw).map_err(|e| format!("record {n}: {e}"))?;
        let time = v["time"].as_f64().ok_or(format!("record {n}: no time"))?;
        if time < last {
            return Err(format!("record {n}: time {time} after {last}"));
        }
        last = time;
        let name = v["name"].as_str().ok_or(format!("record {n}: no name"))?;
        if !v["data"].is_object() {
            return Err(format!("record {n} ({name}): data is not an object"));
        }
        if TYPED.contains(&name) {
            serde_json::from_slice::<qlog::events::Event>(raw)
                .map_err(|e| format!("record {n} ({name}): {e}"))?;
        }
        n += 1;
    }
    if n != read {
        return Err(format!("the reader read {read} records of {n}"));
    }
    Ok((side, n))
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: qlog-check DIR");
        return ExitCode::from(2);
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("qlog-check: cannot read {dir}");
        return ExitCode::from(2);
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sqlog"))
        .collect();
    files.sort();
    if files.is_empty() {
        eprintln!("qlog-check: no .sqlog file in {dir}");
        return ExitCode::from(1);
    }
    for f in files {
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("qlog-check: {}: {e}", f.display());
                return ExitCode::from(1);
            }
        };
        match check(&bytes) {
            Ok((side, n)) => println!("{}: {side}, {n} events, loads", f.display()),
            Err(e) => {
                eprintln!("qlog-check: {}: {e}", f.display());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
