//! What the client state machine takes and yields: its settings, request
//! parameters, events for the application and the ways a connection ends.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::proto::{ErrorCode, Message, Stream};

/// Timers of one client connection.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `auth_ok` must arrive before this instant.
    pub auth_deadline: Instant,
    /// Ping after this much silence from the server (`None`: never).
    pub keepalive: Option<Duration>,
    /// Bound on the sum of this connection's output windows: autotuning
    /// grows a request's window only while the sum stays within it (0:
    /// windows keep their initial size).
    pub output_budget: u64,
    /// A first round-trip estimate (the TLS handshake's duration), until
    /// requests give better ones.
    pub rtt_hint: Option<Duration>,
}

/// One command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecParams {
    /// The exact argv.
    pub argv: Vec<String>,
    /// The client will send stdin.
    pub stdin: bool,
    /// Ask the server to stop the command after this long.
    pub timeout_ms: Option<u64>,
    /// Output credit granted up front (1..=MAX_WINDOW).
    pub output_window: u64,
}

/// A job to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachParams {
    /// The job id.
    pub job: String,
    /// First stdout and stderr bytes wanted (what the caller already holds).
    pub offsets: [u64; 2],
    /// Refuse rather than skip bytes the spool dropped (a resume).
    pub exact: bool,
    /// Carry the rest of the job's stdin (a resume of a run with stdin;
    /// needs `exact`). [`ClientAction::Started`] says from which byte.
    pub stdin: bool,
    /// Output credit granted up front (1..=MAX_WINDOW).
    pub output_window: u64,
}

/// One file to fetch from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetParams {
    /// Where (absolute, or relative to the first download root).
    pub path: String,
    /// Bytes already held locally (a resume), with their BLAKE3.
    pub resume_from: Option<(u64, String)>,
    /// Output credit granted up front (1..=MAX_WINDOW).
    pub output_window: u64,
}

/// How a remote command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteExit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// The server stopped it at its time limit.
    TimedOut,
}

/// Why a connection ended before its work was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnEnd {
    /// The server sent a fatal `error`.
    Server {
        /// Its code.
        code: ErrorCode,
        /// Its text.
        message: String,
        /// With `rate_limited`: when the source may try again.
        retry_after_ms: Option<u64>,
    },
    /// The server broke the protocol (we sent a fatal `error`).
    Protocol(String),
    /// The server stopped answering.
    Timeout(String),
    /// The server closed the connection with work outstanding.
    Closed(String),
}

/// Frames to send and events for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAction {
    /// Write this frame.
    Send(Message, Bytes),
    /// The answer to [`ClientSession::list`](super::ClientSession::list).
    Listed {
        /// The list id.
        id: u64,
        /// The user's commands.
        commands: Vec<crate::proto::CommandInfo>,
    },
    /// The server wants another proof: answer with
    /// [`ClientSession::retry_auth`](super::ClientSession::retry_auth) or
    /// [`give_up_auth`](super::ClientSession::give_up_auth).
    AuthContinue {
        /// Methods it accepts next.
        methods: Vec<crate::proto::AuthMethod>,
        /// The last proof held and one more is required.
        partial: bool,
    },
    /// `auth_ok` arrived.
    Authenticated {
        /// The account.
        user: String,
    },
    /// The command runs.
    Started {
        /// Request id.
        id: u64,
        /// On an attach with stdin: the stdin bytes the job already has.
        stdin_offset: Option<u64>,
    },
    /// The allowlist refused it.
    Denied {
        /// Request id.
        id: u64,
        /// The server's text.
        message: String,
    },
    /// The request failed (`error` with its id).
    Failed {
        /// Request id.
        id: u64,
        /// Code.
        code: ErrorCode,
        /// Text.
        message: String,
    },
    /// Output bytes; hand the count back with [`ClientSession::consumed`].
    Output {
        /// Request id.
        id: u64,
        /// stdout or stderr.
        stream: Stream,
        /// The bytes.
        data: Bytes,
    },
    /// An output stream ended.
    Eof {
        /// Request id.
        id: u64,
        /// Which.
        stream: Stream,
    },
    /// The last event of a request.
    Exited {
        /// Request id.
        id: u64,
        /// How it ended.
        exit: RemoteExit,
    },
    /// A put may send its bytes from `offset` on.
    PutReady {
        /// Request id.
        id: u64,
        /// Bytes the server already holds.
        offset: u64,
        /// Their BLAKE3, to compare with the local file's prefix.
        prefix_blake3: Option<String>,
    },
    /// A put is stored (the last event of the request).
    Stored {
        /// Request id.
        id: u64,
        /// Bytes stored.
        size: u64,
        /// Their BLAKE3 as the server computed it.
        blake3: String,
    },
    /// A get's file is open; its bytes follow as `Output` on stdout.
    FileOpened {
        /// Request id.
        id: u64,
        /// Its size.
        size: u64,
        /// Its permission bits.
        mode: u32,
        /// Where its bytes start.
        offset: u64,
    },
    /// A get's bytes are all sent (the last event of the request).
    FileEnd {
        /// Request id.
        id: u64,
        /// The file's size.
        size: u64,
        /// Its BLAKE3 as the server computed it.
        blake3: String,
    },
    /// The stdin chunk given to [`ClientSession::push_stdin`] is all sent.
    StdinTaken {
        /// Request id.
        id: u64,
    },
    /// A `job` runs as job `job`; with `detached` this is the request's
    /// last event.
    JobStarted {
        /// Request id.
        id: u64,
        /// The job id.
        job: String,
        /// The request ended.
        detached: bool,
    },
    /// An attach passed over `bytes` bytes of `stream` the job's spool
    /// no longer holds.
    Skipped {
        /// Request id.
        id: u64,
        /// Which stream.
        stream: Stream,
        /// How many.
        bytes: u64,
    },
    /// The answer to [`ClientSession::jobs`](super::ClientSession::jobs).
    JobList {
        /// The query id.
        id: u64,
        /// The user's jobs, newest first.
        jobs: Vec<crate::proto::JobInfo>,
    },
    /// The answer to
    /// [`ClientSession::cancel_job`](super::ClientSession::cancel_job).
    JobCancelled {
        /// The query id.
        id: u64,
        /// The job id.
        job: String,
        /// It was running and is being stopped.
        was_running: bool,
    },
    /// The connection is over; every request still open failed with it.
    Closed(ConnEnd),
}

/// Errors in the application's use of the session (not the peer's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// No such live request, or it has no stdin.
    #[error("request {0} has no open stdin")]
    NoStdin(u64),
}
