//! libFuzzer target: see `quic::fuzz::transport_params` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::transport_params(data));
