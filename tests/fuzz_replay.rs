//! The fuzz targets' bodies (fuzz/src, the same code cargo fuzz runs) over
//! their committed seeds, every regression input a fuzzer ever crashed on
//! (fuzz/regressions/TARGET/), and a few thousand pseudo-random inputs
//! from a fixed seed: their invariants stay part of `cargo test` without
//! the fuzzing toolchain, and a crash once found stays a test.
//!
//! With `SECSH_FUZZ_CORPUS=1`, the local corpus a fuzzing run grew
//! (fuzz/corpus/TARGET, not committed) is replayed too: cargo fuzz builds
//! optimised without overflow checks, this replay runs with them.

#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use std::path::Path;

/// Run `f` on every file under fuzz/seeds/TARGET and
/// fuzz/regressions/TARGET; returns how many ran.
fn replay(target: &str, f: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    let mut kinds = vec!["seeds", "regressions"];
    if std::env::var_os("SECSH_FUZZ_CORPUS").is_some_and(|v| v == "1") {
        kinds.push("corpus");
    }
    for kind in kinds {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            // A running fuzzer may remove corpus files as it reduces them.
            let Ok(data) = std::fs::read(&p) else {
                continue;
            };
            // Which input, should it panic.
            let _guard = Shown(&p);
            f(&data);
            n += 1;
        }
    }
    n
}

/// Prints the input's path if its target panics.
struct Shown<'a>(&'a Path);

impl Drop for Shown<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("input: {}", self.0.display());
        }
    }
}

/// `count` inputs of up to `max_len` bytes from a fixed xorshift stream.
fn random(f: fn(&[u8]), count: usize, max_len: usize) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..count {
        let len = (next() as usize) % max_len;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        f(&data);
    }
}

macro_rules! target {
    ($name:ident, $count:expr, $max:expr) => {
        #[test]
        fn $name() {
            let n = replay(stringify!($name), fuzz::$name);
            assert!(n > 0, "no seeds for {}", stringify!($name));
            random(fuzz::$name, $count, $max);
        }
    };
}

target!(frame_decoder, 2000, 512);
target!(message, 2000, 256);
target!(server_session, 3000, 2048);
target!(client_session, 3000, 2048);
target!(config, 500, 512);
target!(allowlist, 3000, 256);
target!(auth, 300, 512);
target!(transfer, 2000, 256);
target!(pair, 300, 4096);
target!(fleet_targets, 2000, 256);
target!(inventory, 1000, 512);

/// The paired engines (fuzz/src/pair) under 3,000 seeded schedules. A
/// failing schedule is named by its seed; `SECSH_PAIR_SEED=N cargo test
/// --test fuzz_replay pair_schedules` replays just that one (with
/// `SECSH_PAIR_TRACE=1` for a trace of both engines).
#[test]
fn pair_schedules() {
    let only: Option<u64> = std::env::var("SECSH_PAIR_SEED")
        .ok()
        .map(|s| s.parse().expect("SECSH_PAIR_SEED is a number"));
    let seeds = only.map_or(0..3000, |s| s..s + 1);
    for seed in seeds {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let run = std::panic::catch_unwind(|| fuzz::pair(&data));
        assert!(
            run.is_ok(),
            "the paired engines failed on seed {seed}: SECSH_PAIR_SEED={seed} cargo test --test fuzz_replay pair_schedules"
        );
    }
}

/// Resume at every frame boundary (fuzz/src/pair/resume.rs): one
/// resumable job through both engines, its connection cut after each frame
/// in turn and continued with an exact `attach` at the bytes received
/// (with and without stdin, which the attach carries on from the server's
/// count); then every connection cut every few frames. Every run ends with
/// every output byte once, in order, the stdin taken exactly once, and the
/// job's exit code.
#[test]
fn resume_at_every_frame_boundary() {
    let runs = fuzz::resume_at_every_boundary();
    assert!(runs > 100, "only {runs} cut points");
    for every in [6, 7, 9, 13] {
        let connections = fuzz::resume_after_every_few_frames(every);
        assert!(
            connections > 3,
            "cut every {every}: {connections} connections"
        );
    }
}
