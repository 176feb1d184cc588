//! libFuzzer target: see `quic::fuzz::established_payload` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::established_payload(data));
