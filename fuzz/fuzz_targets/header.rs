//! libFuzzer target: see `quic::fuzz::header` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::header(data));
