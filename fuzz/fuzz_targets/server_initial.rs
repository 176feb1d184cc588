//! libFuzzer target: see `quic::fuzz::server_initial` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::server_initial(data));
