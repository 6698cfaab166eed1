//! Bodies of secsh's fuzz targets, one public function per target, each
//! taking the fuzzer's bytes. The `fuzz_targets/` entry points call them;
//! `tests/fuzz_replay.rs` in the main crate runs the same functions over
//! the committed seeds and every regression input, so a crash once found
//! stays a test of `cargo test`.
//!
//! A target returns normally on input it rejects; it panics only when an
//! invariant breaks (a round trip differs, the engine sends a frame for a
//! freed id or beyond a granted window, a match executes other than what
//! it matched, a path leaves its root).

mod draw;
mod files;
mod fleet;
mod pair;
mod parsers;
mod sessions;
mod wire;

pub use files::transfer;
pub use fleet::{fleet_targets, inventory};
pub use pair::{pair, resume_after_every_few_frames, resume_at_every_boundary};
pub use parsers::{allowlist, auth, config};
pub use sessions::{client_session, server_session};
pub use wire::{frame_decoder, message};
