//! The connection engine, free of I/O: one state machine per side, in the
//! style of quinn-proto and rustls. No sockets, tasks, processes or clock:
//! callers feed events (a frame arrived, a command produced output or
//! exited, the time now) and drain actions (frames to send, commands to
//! spawn, feed or stop, close) with `poll_action`, then sleep until
//! `poll_timeout`. Every protocol rule lives here: request lifecycles and
//! id reuse, flow control in both directions, limits per state, keepalive,
//! idle and auth deadlines, drain.
//!
//! - [`ServerSession`]: one accepted connection, driven by `server/`.
//! - [`ClientSession`]: one outgoing connection running any number of
//!   requests, driven by `client/`.

mod client;
mod client_types;
mod credit;
mod liveness;
mod server;
mod server_auth;
mod server_flow;
mod server_request;

pub use client::{ClientAction, ClientSession, ClientSettings, ConnEnd, ExecParams, RemoteExit};
pub use credit::{Credit, CreditError};
pub use liveness::{Due, Keepalive, MAX_MISSED};
pub use server::{Action, AuthProof, AuthVerdict, CloseReason, ServerSession, ServerSettings};

use std::time::Duration;

use crate::proto::Stream;

/// Largest size of the frames a server queues between `auth` and its
/// verdict (the client's pipelined first flight).
pub const PRE_AUTH_BUFFER: usize = 64 * 1024;

/// How a command ended, as the process layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
}

/// Why the server stops a command early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The client sent `cancel`.
    Cancelled,
    /// Its time limit passed.
    TimedOut,
    /// The server is shutting down.
    Shutdown,
}

/// What the process layer reports about one request's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// The allowlist permitted it and it was spawned; `timeout` is the
    /// effective time limit.
    Started {
        /// Kill it after this long.
        timeout: Option<Duration>,
    },
    /// The allowlist refused it; nothing ran.
    Denied {
        /// Text for the client (no server details).
        message: String,
    },
    /// Allowed, but could not be started.
    Failed,
    /// Not started, for a reason of the server's (a budget is used up:
    /// `busy`; the audit log cannot be written: `exec_failed`).
    Refused {
        /// The code for the client.
        code: crate::proto::ErrorCode,
        /// Text for the client.
        message: String,
    },
    /// Bytes read from stdout or stderr. The reader waits for
    /// [`Action::OutputTaken`] before it reads that stream again.
    Output {
        /// Which stream.
        stream: Stream,
        /// The bytes.
        data: bytes::Bytes,
    },
    /// The stream ended (or was abandoned after a stop).
    Eof {
        /// Which stream.
        stream: Stream,
    },
    /// `n` bytes of stdin were written into the command's stdin pipe.
    StdinWritten(u64),
    /// The command was reaped; reported after both `Eof`s.
    Exited(ExitStatus),
}

/// Index of an output stream in per-stream arrays (stdout 0, stderr 1).
pub fn out_index(stream: Stream) -> usize {
    match stream {
        Stream::Stderr => 1,
        _ => 0,
    }
}

/// The output streams in the order they are served.
const OUT_STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod server_tests;
