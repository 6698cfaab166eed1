//! cargo-fuzz entry point; the body is `secsh_fuzz::pair` (fuzz/src), which
//! tests/fuzz_replay.rs and tests/pair.rs also run.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| secsh_fuzz::pair(data));
