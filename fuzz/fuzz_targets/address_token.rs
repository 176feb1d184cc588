//! libFuzzer target: see `quic::fuzz::address_token` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::address_token(data));
