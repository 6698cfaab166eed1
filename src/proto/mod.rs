//! The secsh wire format, free of I/O: frame codec, typed messages, error
//! codes and limits. Nothing here touches sockets, TLS or the filesystem, so
//! it can be unit-tested and fuzzed on plain byte slices.
//!
//! A frame is `header_len: u32 BE | header: JSON object | body`, where the
//! body is exactly `header.len` raw bytes (0 when the message carries none).
//! docs/PROTOCOL.md is the normative description.

mod codes;
mod frame;
mod message;
mod names;
mod types;

pub use codes::ErrorCode;
pub use frame::{encode_header, parse_header, Decoder, Frame, FrameError};
pub use message::{AuthMethod, Message, Stream};
pub use types::{CommandInfo, JobInfo, Secret};

/// Length of the big-endian `u32` that starts every frame.
pub const PREFIX_LEN: usize = 4;
/// Largest JSON header accepted, checked from the prefix before allocating.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// Largest body accepted, checked from the header before allocating.
pub const MAX_BODY_LEN: usize = 1024 * 1024;
/// ALPN protocol identifier negotiated in the TLS handshake.
pub const ALPN: &[u8] = b"secsh/1";
/// Default stdin credit the server grants each request with stdin
/// (configurable on the server as `limits.stdin_window_kib`).
pub const STDIN_WINDOW: u64 = 16 * 1024 * 1024;
/// Largest flow-control window either side may grant for one request: the
/// initial window plus unused credit returned may never exceed it.
pub const MAX_WINDOW: u64 = 1 << 30;
/// Largest `data` body a secsh sender puts in one frame.
pub const DATA_CHUNK: usize = 256 * 1024;
/// TCP port used when none is given.
pub const DEFAULT_PORT: u16 = 7022;
