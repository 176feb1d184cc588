//! aioquic as a subprocess (bench/aioquic_bench.py): the same workloads
//! through its sans-I/O API; it reports its own CPU time for the workload,
//! so interpreter start-up is not counted.

use std::process::Command;

/// What one aioquic run reported.
pub struct Run {
    pub units: f64,
    pub cpu: f64,
}

/// The number after `"key": ` in the script's one-line JSON.
fn field(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("aioquic: no {key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("aioquic: bad {key} in {json}"))
}

/// Memory per established idle aioquic connection.
pub struct Memory {
    pub heap: f64,
    pub rss: f64,
}

/// Holds `pairs` established pairs in the script and reports bytes per
/// connection.
pub fn memory(certs: &str, pairs: usize) -> Memory {
    let text = script(certs, &["memory".into(), "32".into(), pairs.to_string()]);
    Memory {
        heap: field(&text, "heap"),
        rss: field(&text, "rss"),
    }
}

/// Runs one workload: `args` after the certificate directory are the
/// script's (workload, batch, sizes). Checks the pinned suite and group.
pub fn run(certs: &str, args: &[String]) -> Run {
    let text = script(certs, args);
    Run {
        units: field(&text, "units"),
        cpu: field(&text, "cpu"),
    }
}

/// The script's output line, after checking the pinned suite and group.
fn script(certs: &str, args: &[String]) -> String {
    let python = std::env::var("AIOQUIC_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/aioquic_bench.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(certs)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("aioquic: cannot start {python}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aioquic {args:?} failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        field(&text, "suite"),
        4865.0,
        "aioquic: pinned suite 0x1301"
    );
    assert_eq!(field(&text, "group"), 29.0, "aioquic: pinned group X25519");
    text.into_owned()
}
