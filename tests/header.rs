//! include/quic.h keeps its promises: every exported function is documented
//! (with its result codes), every quic_ symbol in the library is declared,
//! and the version macros match Cargo.toml.

use std::fs;

fn header() -> String {
    fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/quic.h"))
        .expect("include/quic.h exists (build.rs writes it)")
}

/// (name, doc comment block) of every function prototype.
fn prototypes(h: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = h.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("//") || line.starts_with(' ') || line.starts_with('#') {
            continue;
        }
        let Some(paren) = line.find('(') else {
            continue;
        };
        let name = line[..paren]
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("")
            .to_string();
        if !name.starts_with("quic_") {
            continue;
        }
        let mut doc = Vec::new();
        for prev in lines[..i].iter().rev() {
            match prev.strip_prefix("//") {
                Some(d) => doc.push(d.trim().to_string()),
                None => break,
            }
        }
        doc.reverse();
        out.push((name, doc.join("\n")));
    }
    out
}

#[test]
fn every_function_is_documented_with_its_results() {
    let h = header();
    let protos = prototypes(&h);
    assert!(protos.len() >= 8, "found only {protos:?}");
    for (name, doc) in &protos {
        assert!(!doc.is_empty(), "{name} has no doc comment in quic.h");
        let returns_result = h.contains(&format!("quic_result {name}("));
        if returns_result {
            assert!(
                doc.contains("Returns:"),
                "{name} does not list its result codes"
            );
        }
    }
}

#[test]
fn every_exported_symbol_is_declared() {
    let h = header();
    let declared: Vec<String> = prototypes(&h).into_iter().map(|(n, _)| n).collect();
    let lib = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi");
    let mut exported = Vec::new();
    for entry in fs::read_dir(lib).unwrap() {
        let src = fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in src.lines() {
            if let Some(rest) = line.split("extern \"C\" fn ").nth(1) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                exported.push(name);
            }
        }
    }
    assert!(!exported.is_empty());
    for name in exported {
        assert!(name.starts_with("quic_"), "{name} lacks the quic_ prefix");
        assert!(declared.contains(&name), "{name} is not declared in quic.h");
    }
}

#[test]
fn version_macros_match_cargo() {
    let h = header();
    for (macro_name, value) in [
        ("QUIC_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("QUIC_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("QUIC_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define {macro_name} {value}\n");
        assert!(h.contains(&line), "missing {line:?}");
    }
    assert!(h.contains(&format!(
        "#define QUIC_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn only_ffi_items_reach_the_header() {
    let h = header();
    for line in h.lines().filter(|l| l.starts_with("#define ")) {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(
            name.starts_with("QUIC_"),
            "{name} in quic.h is not a QUIC_ macro"
        );
    }
}
