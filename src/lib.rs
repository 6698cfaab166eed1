//! secsh: encrypted, authenticated, allowlisted remote command execution.
//!
//! Layout (dependencies point downwards):
//!
//! - [`proto`]: pure wire format (frames, messages, error codes, limits)
//! - [`policy`]: pure allowlist (rules, slots, decisions)
//! - [`session`]: pure connection state machines (the engine), one per side
//! - [`config`]: server TOML loading and validation with file:line:column errors
//! - [`tls`], [`pki`]: rustls configurations; CA and certificates with rcgen
//! - [`transport`]: framed reader/writer over any async byte stream
//! - [`auth`]: SSHSIG key authentication bound to the TLS session
//! - [`exec`]: spawning without a shell, streaming, process-group kill
//! - [`server`]: accept loop and per-connection sessions
//! - [`client`]: connect, authenticate, run a command
//! - `cli` (feature `cli`, on by default): clap definitions and `main()` for
//!   both binaries; the library itself does not link clap

pub mod audit;
pub mod auth;
pub mod bufpool;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod config;
pub mod exec;
pub mod gate;
pub mod logtext;
pub mod metrics;
pub mod pki;
pub mod policy;
pub mod proto;
pub mod readahead;
pub mod server;
pub mod session;
pub mod timefmt;
pub mod tls;
pub mod transfer;
pub mod transport;
