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

mod autotune;
mod client;
mod client_files;
mod client_jobs;
mod client_output;
mod client_stdin;
mod client_types;
mod credit;
mod liveness;
mod server;
mod server_admit;
mod server_auth;
mod server_files;
mod server_flow;
mod server_jobs;
mod server_output;
mod server_request;
mod server_stdin;
mod server_types;
mod violation;

pub use autotune::{initial_window, Rtt};
pub use client::{
    AttachParams, ClientAction, ClientSession, ClientSettings, ConnEnd, ExecParams, GetParams,
    RemoteExit,
};
pub use client_types::UsageError;
pub use credit::{Credit, CreditError};
pub use liveness::{Due, Keepalive, MAX_MISSED};
pub use server::{
    Action, AuthProof, AuthVerdict, CloseReason, Grant, Outcome, ServerSession, ServerSettings,
};
pub use violation::Violation;

use std::time::Duration;

use crate::proto::Stream;

/// Largest total of the frames a server queues between `auth` and its
/// verdict (the client's pipelined first flight), counted in wire bytes
/// (see `queued_cost`).
pub const PRE_AUTH_BUFFER: usize = 64 * 1024;

/// What each argv element of a queued `exec` adds to its wire bytes.
pub const ARGV_ELEMENT_COST: usize = 32;

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
    /// The user's access was revoked.
    Revoked,
}

/// What the process layer reports about one request's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// The allowlist permitted it and it was spawned; `timeout` is the
    /// effective time limit.
    Started {
        /// Kill it after this long.
        timeout: Option<Duration>,
        /// An attach that took over a job's stdin: the stdin bytes the
        /// job already has (sent to the client in `started`).
        stdin_offset: Option<u64>,
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
    /// The job an attach follows was stopped at its time limit (reported
    /// before its `Exited`, so that `exit` says `timed_out`).
    TimedOut,
    /// A `job` runs as job `job`: for a detached one this ends the
    /// request; otherwise `Started` follows.
    JobStarted {
        /// The job id.
        job: String,
        /// The request ends here.
        detached: bool,
    },
    /// An attach passed over `bytes` bytes of `stream` that the job's
    /// spool no longer holds; reported after the stream's last `Output`
    /// before them was taken.
    Skipped {
        /// Which stream.
        stream: Stream,
        /// How many bytes.
        bytes: u64,
    },
    /// A put or get is open and may start moving bytes.
    Ready(Ready),
    /// A transfer's last event. Put: the file is verified and in place.
    /// Get: every byte was read (reported after `Eof` of stdout).
    Done {
        /// Bytes in the whole file.
        size: u64,
        /// BLAKE3 (hex) of the whole file.
        blake3: String,
    },
}

/// What kind of request an id carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `exec`: a command.
    Exec,
    /// `put`: a file to the server (its bytes travel as stdin).
    Put,
    /// `get`: a file from the server (its bytes travel as stdout).
    Get,
}

/// A transfer opened by the file layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// A put: where the client continues.
    Put {
        /// Bytes already held (resumed), else 0.
        offset: u64,
        /// BLAKE3 (hex) of those bytes when `offset` > 0.
        prefix_blake3: Option<String>,
    },
    /// A get: the file.
    Get {
        /// Its size when opened.
        size: u64,
        /// Its permission bits.
        mode: u32,
        /// Where the data starts.
        offset: u64,
    },
}

/// What a `put` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutSpec {
    /// The path as the client sent it.
    pub path: String,
    /// The file name to use when `path` is a directory.
    pub name: Option<String>,
    /// Total size, when announced.
    pub size: Option<u64>,
    /// Permission bits asked for.
    pub mode: Option<u32>,
    /// Continue a partial upload.
    pub resume: bool,
}

/// What a `get` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetSpec {
    /// The path as the client sent it.
    pub path: String,
    /// Bytes the client already holds.
    pub offset: u64,
    /// Their BLAKE3 (hex).
    pub prefix_blake3: Option<String>,
}

/// What an `attach` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    /// The job id as the client sent it.
    pub job: String,
    /// First stdout and stderr bytes wanted.
    pub offsets: [u64; 2],
    /// Refuse rather than skip dropped bytes.
    pub exact: bool,
    /// Take over the job's stdin (a resume of the run that started it).
    pub stdin: bool,
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
mod client_files_tests;
#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod server_end_tests;
#[cfg(test)]
mod server_files_tests;
#[cfg(test)]
mod server_race_tests;
#[cfg(test)]
mod server_stdin_tests;
#[cfg(test)]
mod server_tests;
