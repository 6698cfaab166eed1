//! The audit records of jobs (docs/AUDIT.md, "Jobs"): a job's start, each
//! client that follows it (attach, resume) and stops following (detach),
//! a cancel, and its end with the size and BLAKE3 of all its output,
//! however many clients read it.

use serde::Serialize;

use super::Auth;

/// One audited job event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// A `job` request started a command as job `job`.
    JobStarted {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// How it signed in (`method`, `key`, `cert`, as in `exec_started`).
        #[serde(flatten)]
        auth: Auth,
        /// The job id.
        job: String,
        /// `detached` or `resumable`.
        mode: &'static str,
        /// The exact argv executed.
        argv: Vec<String>,
        /// The matched command name.
        command: String,
        /// The account the command runs as.
        run_as: String,
        /// Process id (and process group).
        pid: u32,
    },
    /// A request follows the job's output (`attach`; `resume` when the
    /// client continues at offsets it already holds).
    JobAttached {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The job id.
        job: String,
        /// Continued from the client's offsets after a drop.
        resume: bool,
        /// First stdout byte sent.
        stdout_offset: u64,
        /// First stderr byte sent.
        stderr_offset: u64,
        /// The attach took over the job's stdin: the bytes the server had
        /// already taken (the client sent from the next one).
        #[serde(skip_serializing_if = "Option::is_none")]
        stdin_offset: Option<u64>,
    },
    /// A request that followed the job ended (the closing record of a
    /// resumable `job` and of every `attach`).
    JobDetached {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The job id.
        job: String,
        /// `exit_sent`, `cancelled`, `connection_lost`, `shutdown`,
        /// `revoked`, `spool_truncated` or `error`.
        reason: String,
        /// The job still runs.
        job_running: bool,
        /// stdout bytes sent on this request.
        stdout_bytes: u64,
        /// stderr bytes sent on this request.
        stderr_bytes: u64,
    },
    /// An `attach` or `cancel_job` named no job of the user's.
    JobRefused {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The job id asked for (cut to 64 characters).
        job: String,
        /// `attach` or `cancel`.
        request: &'static str,
        /// Why.
        reason: String,
    },
    /// A running job is being stopped (TERM, grace, KILL).
    JobCancelled {
        /// The account that owns the job.
        user: String,
        /// The job id.
        job: String,
        /// `client` (`cancel_job` or a resumable run's `cancel`),
        /// `grace_expired` (its client did not come back), `revoked` (a
        /// reload removed the user) or `shutdown`.
        by: &'static str,
        /// The connection that asked, for `client`.
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        /// Its peer address.
        #[serde(skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    /// A job's command ended; its output is complete in the spool (but
    /// for `dropped_bytes`).
    JobEnded {
        /// The account.
        user: String,
        /// The job id.
        job: String,
        /// The matched command name.
        command: String,
        /// Process id.
        pid: u32,
        /// `exited`, `signalled`, `timed_out`, `cancelled` or `abandoned`.
        ended: &'static str,
        /// Exit code, when it exited.
        exit_code: Option<i32>,
        /// Signal number, when a signal killed it.
        signal: Option<i32>,
        /// From start to exit.
        duration_ms: u64,
        /// Bytes the command wrote to stdout.
        stdout_bytes: u64,
        /// Bytes the command wrote to stderr.
        stderr_bytes: u64,
        /// BLAKE3 (hex) of all of stdout (`null` with `output_hashes =
        /// false`).
        stdout_blake3: Option<String>,
        /// BLAKE3 (hex) of all of stderr.
        stderr_blake3: Option<String>,
        /// Bytes the spool bound dropped (the middle of a stream); 0 when
        /// every byte can be replayed.
        dropped_bytes: u64,
    },
}
