//! What the server state machine yields: the actions for its driver and
//! the reasons a connection ends.

use std::time::Duration;

use bytes::Bytes;

use super::{AuthProof, ExitStatus};
use crate::proto::{AuthMethod, ErrorCode, Message, Stream};

/// Why a connection ends (for the server's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection.
    PeerClosed,
    /// The client sent a fatal `error`.
    PeerError(String),
    /// A protocol violation by the client (sent as a fatal error).
    Protocol(String),
    /// Authentication failed (too many failed attempts).
    AuthFailed,
    /// No authentication before the deadline.
    AuthTimeout,
    /// Authenticated but idle past `idle_timeout`.
    Idle,
    /// The client stopped answering keepalives.
    Unresponsive,
    /// The server's drain period is over.
    Shutdown,
    /// Refused after authenticating: the server is at a limit.
    Busy,
    /// A reload took the signed-in identity's access away.
    Revoked,
}

/// How a request ended, as the engine saw it: exactly one per request,
/// in [`Action::Finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command was reaped and all its output and `exit` were sent.
    Exited {
        /// Exit code or signal.
        status: ExitStatus,
        /// Stopped at its time limit.
        timed_out: bool,
        /// Stopped because the client sent `cancel`.
        cancelled: bool,
        /// From `started` to `exit`.
        duration: Duration,
    },
    /// The allowlist (or a transfer's path rules) refused it; nothing ran.
    Denied,
    /// Allowed, but the command could not be started (`exec_failed`).
    FailedToStart,
    /// Ended with this error code sent to the client: refused before it
    /// started (`busy`, `not_found`, ...) or a transfer stopped early
    /// (`cancelled`, `timeout`, `checksum_mismatch`, ...).
    Error(ErrorCode),
    /// A put was stored (`put_ok`) or a get's whole file sent (`end`).
    Transferred {
        /// Bytes in the whole file.
        size: u64,
        /// Its BLAKE3 (hex).
        blake3: String,
    },
    /// A detached job was started (`job_started {detached: true}` sent).
    Detached {
        /// The job id.
        job: String,
    },
    /// The connection ended while the request was live (the client went
    /// away, broke the protocol, or was idle or unresponsive).
    ConnectionLost,
    /// The server's drain period ended while the request was live.
    Shutdown,
    /// A reload revoked the user's access and its grace ran out while the
    /// request was live.
    Revoked,
}

/// Work for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write this frame.
    Send(Message, Bytes),
    /// Check this proof and call [`ServerSession::handle_auth_result`].
    Verify {
        /// The claimed user.
        user: String,
        /// The proof.
        proof: AuthProof,
        /// Methods this user already proved on this connection.
        proven: Vec<AuthMethod>,
    },
    /// The connection is authenticated as `user`.
    Authenticated {
        /// The account.
        user: String,
    },
    /// Check `argv` against the allowlist and spawn it; report with
    /// `ExecEvent::Started`, `Denied` or `Failed`.
    Exec {
        /// Request id.
        id: u64,
        /// The exact argv.
        argv: Vec<String>,
        /// Give the command a stdin pipe.
        stdin: bool,
        /// The client's requested time limit.
        timeout_ms: Option<u64>,
    },
    /// Open the file a `put` names (inside the user's upload roots) and
    /// report `ExecEvent::Ready`, `Denied` or `Refused`; its bytes then
    /// come as `Stdin` actions, then `Commit`.
    Put {
        /// Request id.
        id: u64,
        /// What the client asked for.
        spec: super::PutSpec,
    },
    /// Open the file a `get` names (inside the user's download roots) and
    /// report `Ready`, then its bytes as `Output` of stdout, `Eof`, `Done`.
    Get {
        /// Request id.
        id: u64,
        /// What the client asked for.
        spec: super::GetSpec,
    },
    /// The client's `end` of a put: check the size and hash, store the
    /// file and report `Done` (or `Refused` with `checksum_mismatch`).
    Commit {
        /// Request id.
        id: u64,
        /// The size the client sent.
        size: u64,
        /// The BLAKE3 the client computed.
        blake3: String,
    },
    /// Write these bytes to the command's stdin (a put: to the file).
    Stdin {
        /// Request id.
        id: u64,
        /// The bytes.
        data: Bytes,
    },
    /// Close the command's stdin.
    StdinEof {
        /// Request id.
        id: u64,
    },
    /// The last `Output` chunk of `stream` is gone: read the next.
    OutputTaken {
        /// Request id.
        id: u64,
        /// Which stream.
        stream: Stream,
    },
    /// List the user's commands; answer with
    /// [`ServerSession::handle_listed`].
    List {
        /// The `list` id.
        id: u64,
    },
    /// Check `argv` against the allowlist (and whether it may become a
    /// job) and start it as a job; report `ExecEvent::JobStarted`, then
    /// for one not detached `Started` and the output of a follower of
    /// its spool, or `Denied`/`Refused`/`Failed`.
    Job {
        /// Request id.
        id: u64,
        /// The exact argv.
        argv: Vec<String>,
        /// Give the command a stdin pipe.
        stdin: bool,
        /// The request ends once the job runs.
        detach: bool,
        /// The client's requested time limit.
        timeout_ms: Option<u64>,
    },
    /// Follow the signed-in user's job: report `Started`, its spooled and
    /// live output, `Eof`s and `Exited`, or `Refused` (`not_found`,
    /// `spool_truncated`).
    Attach {
        /// Request id.
        id: u64,
        /// What the client asked for.
        spec: super::AttachSpec,
    },
    /// List the user's jobs; answer with [`ServerSession::handle_jobs`].
    Jobs {
        /// The `jobs` id.
        id: u64,
    },
    /// Stop one of the user's jobs; answer with
    /// [`ServerSession::handle_job_cancelled`].
    CancelJob {
        /// The `cancel_job` id.
        id: u64,
        /// The job id.
        job: String,
    },
    /// Stop the command's process group (TERM, grace, KILL).
    Stop {
        /// Request id.
        id: u64,
        /// Why.
        reason: super::StopReason,
    },
    /// Request `id` ended; its id is free. Exactly one per request, after
    /// the last frame sent for it. The driver writes the request's closing
    /// audit record and metrics from this and drops what it held for it
    /// (which stops a command or transfer still running).
    Finished {
        /// Request id.
        id: u64,
        /// What it was.
        kind: super::Kind,
        /// How it ended.
        outcome: Outcome,
    },
    /// Flush what was sent, close the connection and stop every command.
    /// Every live request has had its `Finished` first.
    Close(CloseReason),
}
