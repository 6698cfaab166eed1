//! cargo-fuzz entry point; the body is `secsh_fuzz::transfer` (fuzz/src), which
//! tests/fuzz_replay.rs also runs on the seeds and regression inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| secsh_fuzz::transfer(data));
