//! libFuzzer target: see `quic::fuzz::path_frames` (src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quic::fuzz::path_frames(data));
