//! Build script: refuses an OpenSSL without the QUIC-TLS hooks, sets the
//! shared library's SONAME, and regenerates include/quic.h with cbindgen when
//! (and only when) its content changes.

use std::env;
use std::path::{Path, PathBuf};

/// OpenSSL 3.5.1, the first release whose third-party QUIC hooks work
/// (OPENSSL-QUIC.md §7.1).
const MIN_OPENSSL: u64 = 0x3050_0010;

fn check_openssl() {
    let Ok(raw) = env::var("DEP_OPENSSL_VERSION_NUMBER") else {
        return;
    };
    let version = u64::from_str_radix(raw.trim(), 16).unwrap_or(0);
    if version < MIN_OPENSSL {
        panic!(
            "\n\nlibquic needs OpenSSL >= 3.5.1 (its SSL_set_quic_tls_cbs QUIC hooks), \
             but the OpenSSL found is version number 0x{version:x}.\n\
             Either build the bundled copy (the default `vendored` feature; unset \
             OPENSSL_NO_VENDOR), or point OPENSSL_DIR (or OPENSSL_LIB_DIR and \
             OPENSSL_INCLUDE_DIR) at an OpenSSL 3.5.1 or newer.\n\n"
        );
    }
}

fn generate_header(root: &Path) {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap_or_default();
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(format!(
        "\n/* Version of the libquic these declarations come from. */\n\
         #define QUIC_VERSION_MAJOR {major}\n\
         #define QUIC_VERSION_MINOR {minor}\n\
         #define QUIC_VERSION_PATCH {patch}\n\
         #define QUIC_VERSION_STRING \"{major}.{minor}.{patch}\"\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_src(root.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate quic.h");
    // write_to_file leaves the file untouched when the content is the same.
    bindings.write_to_file(root.join("include/quic.h"));
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    check_openssl();

    // SONAME: libquic.so.<ABI number>, from abi/SOVERSION, bumped on every
    // ABI break whatever the release number (README: Versioning).
    let soversion = std::fs::read_to_string(root.join("abi/SOVERSION"))
        .expect("abi/SOVERSION")
        .trim()
        .to_string();
    assert!(
        !soversion.is_empty() && soversion.bytes().all(|b| b.is_ascii_digit()),
        "abi/SOVERSION must be a number"
    );
    println!("cargo:rerun-if-changed=abi/SOVERSION");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libquic.so.{soversion}");
    }

    generate_header(&root);
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OPENSSL_NO_VENDOR");
}
