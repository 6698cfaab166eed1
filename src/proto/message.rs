//! Typed messages: the JSON headers of frames, tagged by `type`.

use serde::{Deserialize, Serialize};

use super::{CommandInfo, ErrorCode, JobInfo, Secret};

/// A byte stream of a running command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Client to command.
    Stdin,
    /// Command to client, standard output.
    Stdout,
    /// Command to client, standard error.
    Stderr,
}

/// How an `auth` message proves the user's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// An SSHSIG signature over the session-bound signing message.
    Key,
    /// The account's password, checked against an argon2id hash.
    Password,
}

/// One frame header. Unknown fields are ignored so that later versions can
/// add optional fields; an unknown `type` is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Client, first message: who the user is and the proof.
    Auth {
        /// Account name in the server's configuration.
        user: String,
        /// Proof method.
        method: AuthMethod,
        /// Armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`); required for
        /// `method = key`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// The password; required for `method = password`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Secret>,
        /// An OpenSSH user certificate of the signing key
        /// (`ssh-ed25519-cert-v01@openssh.com AAAA...`), for `method = key`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate: Option<String>,
    },
    /// Server: that `auth` did not complete authentication, but the client
    /// may try again with one of `methods`. Requests sent before this
    /// message were discarded and must be sent again after `auth_ok`.
    AuthContinue {
        /// Methods the client may offer next.
        methods: Vec<AuthMethod>,
        /// The last proof was accepted, and one of `methods` is also
        /// required (the user's `auth` lists several).
        partial: bool,
    },
    /// Server: the connection is authenticated as `user`.
    AuthOk {
        /// The authenticated account.
        user: String,
    },
    /// Client: run `argv` if the allowlist permits it.
    Exec {
        /// Client-chosen request id, unique among the connection's live requests.
        id: u64,
        /// The exact argument vector; `argv[0]` is a bare name or absolute path.
        argv: Vec<String>,
        /// Whether the client will send stdin (`false`: the command reads /dev/null).
        stdin: bool,
        /// Ask the server to kill the command after this many milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        /// Output credit (stdout and stderr together) the server may send
        /// before it receives `window` frames for this id; 1..=MAX_WINDOW.
        /// Absent: no per-request output flow control.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_window: Option<u64>,
    },
    /// Client: which commands may I run? (After `auth`; `id` is not a
    /// request id and never collides with one.)
    List {
        /// Echoed in the answer.
        id: u64,
    },
    /// Server: the signed-in user's commands, in configuration order.
    Commands {
        /// The `list` this answers.
        id: u64,
        /// The commands.
        commands: Vec<CommandInfo>,
    },
    /// Client: store a file at `path` (put). The file's bytes follow as
    /// `data {stream: stdin}` frames within the window of `put_ready`,
    /// closed by `end`.
    Put {
        /// Request id (shares the id space of `exec`).
        id: u64,
        /// Absolute path on the server, or relative to the user's first
        /// upload root. When it names an existing directory, the file is
        /// stored inside it as `name`.
        path: String,
        /// The file's name, used when `path` is a directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Total size when known in advance (required for `resume`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        /// Permission bits (0..=0o777) of the stored file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        /// Continue a partial upload of the same file, if there is one.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resume: bool,
    },
    /// Server: the put may proceed. The client sends the file from byte
    /// `offset` on, at most `window` bytes before `window` credit.
    PutReady {
        /// Request id.
        id: u64,
        /// Initial credit in bytes.
        window: u64,
        /// Bytes the server already holds (a resumed upload), else 0.
        offset: u64,
        /// BLAKE3 (hex) of those `offset` bytes, when `offset` > 0: the
        /// client checks it against its own file before sending more.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix_blake3: Option<String>,
    },
    /// Server, last message of a put: the file is stored under its name,
    /// its hash checked, synced and renamed into place.
    PutOk {
        /// Request id.
        id: u64,
        /// Bytes in the stored file.
        size: u64,
        /// Its BLAKE3 (hex).
        blake3: String,
    },
    /// Client: send me the file at `path` (get).
    Get {
        /// Request id.
        id: u64,
        /// Absolute path on the server, or relative to the user's first
        /// download root.
        path: String,
        /// Continue from this byte, if the first `offset` bytes match
        /// `prefix_blake3`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        /// BLAKE3 (hex) of the first `offset` bytes the client holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix_blake3: Option<String>,
        /// Output credit, as for `exec`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_window: Option<u64>,
    },
    /// Server: the file `get` asked for; its bytes from `offset` follow as
    /// `data {stream: stdout}` frames, then `end`.
    File {
        /// Request id.
        id: u64,
        /// The file's size when it was opened (exactly this many bytes
        /// are sent, from `offset`).
        size: u64,
        /// Its permission bits.
        mode: u32,
        /// Where the data starts: the `offset` asked for when the prefix
        /// matched, else 0.
        offset: u64,
    },
    /// The sender of a file's bytes, after the last `data`: how many
    /// bytes the whole file has and their BLAKE3 (hex). Ends a get; the
    /// client's `end` asks the server to check and store a put.
    End {
        /// Request id.
        id: u64,
        /// Total size of the file.
        size: u64,
        /// BLAKE3 (hex) of the whole file, from byte 0.
        blake3: String,
    },
    /// Server: the command is running. The client may send up to
    /// `stdin_window` bytes of stdin before it receives `window` credit.
    Started {
        /// Request id.
        id: u64,
        /// Initial stdin credit in bytes (0 when the request has no stdin).
        stdin_window: u64,
        /// On an `attach` with `stdin`: the stdin bytes of the job the
        /// server already has; the client sends from the next one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stdin_offset: Option<u64>,
    },
    /// Credit returned for request `id`. Server to client: `bytes` more of
    /// stdin may be sent. Client to server: `bytes` more of output may be
    /// sent (only for requests that set `output_window`).
    Window {
        /// Request id.
        id: u64,
        /// Credit returned, in bytes.
        bytes: u64,
    },
    /// Server: the allowlist refused the request; nothing was run.
    Denied {
        /// Request id.
        id: u64,
        /// Human-readable reason.
        message: String,
    },
    /// Either direction: `len` raw bytes of a stream follow as the body.
    Data {
        /// Request id.
        id: u64,
        /// Which stream the bytes belong to.
        stream: Stream,
        /// Body length in bytes.
        len: u32,
    },
    /// Either direction: the stream is finished.
    Eof {
        /// Request id.
        id: u64,
        /// Which stream ended.
        stream: Stream,
    },
    /// Client: stop the command (its whole process group: TERM, grace, KILL).
    Cancel {
        /// Request id.
        id: u64,
    },
    /// Server, last message of a request: how the command ended.
    Exit {
        /// Request id.
        id: u64,
        /// Exit code, when the command exited normally.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// Signal number, when the command was killed by a signal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// The server killed the command because its time limit passed.
        timed_out: bool,
        /// Wall time from spawn to exit, in milliseconds.
        duration_ms: u64,
    },
    /// Client: run `argv` as a job that outlives this connection (see
    /// docs/PROTOCOL.md, "Jobs"). With `detach`, the server answers
    /// `job_started {detached: true}` as the request's last message (the
    /// command reads /dev/null, so `stdin` must be false); without it the
    /// request runs as an `exec` does, announced by `job_started` before
    /// `started`, and can be continued with `attach` after a drop.
    Job {
        /// Request id (shares the id space of `exec`).
        id: u64,
        /// The exact argument vector.
        argv: Vec<String>,
        /// Whether the client will send stdin (never with `detach`).
        stdin: bool,
        /// Start it detached: the request ends once the job runs.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        detach: bool,
        /// Ask the server to kill the command after this many milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        /// Output credit, as for `exec`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_window: Option<u64>,
    },
    /// Server: request `id` runs as job `job`.
    JobStarted {
        /// Request id.
        id: u64,
        /// The job id.
        job: String,
        /// The request ends here (a `job` with `detach`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        detached: bool,
    },
    /// Client: stream job `job`'s output from these offsets, then live,
    /// then its `exit`. Answered like an `exec`: `started`, `data`, `eof`s,
    /// `exit`; with `stdin`, the request also carries the rest of a
    /// resumable job's stdin.
    Attach {
        /// Request id (shares the id space of `exec`).
        id: u64,
        /// The job id.
        job: String,
        /// First stdout byte wanted (bytes already written locally).
        #[serde(default)]
        stdout_offset: u64,
        /// First stderr byte wanted.
        #[serde(default)]
        stderr_offset: u64,
        /// Refuse (`spool_truncated`) rather than skip bytes the spool
        /// dropped: a resume must be exact or not happen.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        exact: bool,
        /// Take over the stdin of the resumable job this client started
        /// (needs `exact`): `started` says from which byte to send it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stdin: bool,
        /// Output credit, as for `exec`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_window: Option<u64>,
    },
    /// Server, on an `attach`: `bytes` bytes of `stream` are not in the
    /// spool any more (its bound dropped them); the next `data` of the
    /// stream starts after them.
    Skipped {
        /// Request id.
        id: u64,
        /// Which stream.
        stream: Stream,
        /// How many bytes were skipped.
        bytes: u64,
    },
    /// Client: which jobs of mine does this server keep? (After `auth`;
    /// `id` is echoed, as for `list`.)
    Jobs {
        /// Echoed in the answer.
        id: u64,
    },
    /// Server: the signed-in user's jobs, newest first.
    JobList {
        /// The `jobs` this answers.
        id: u64,
        /// The jobs.
        jobs: Vec<JobInfo>,
    },
    /// Client: stop job `job` (its whole process group: TERM, grace, KILL).
    /// Answered by `job_cancelled` or an `error` with this id.
    CancelJob {
        /// Echoed in the answer.
        id: u64,
        /// The job id.
        job: String,
    },
    /// Server: job `job` is stopped (or had already ended).
    JobCancelled {
        /// The `cancel_job` this answers.
        id: u64,
        /// The job id.
        job: String,
        /// It was still running and is now being stopped.
        was_running: bool,
    },
    /// Either direction: keepalive probe.
    Ping,
    /// Answer to `ping`.
    Pong,
    /// Either direction: something failed. Without `id` it is fatal to the
    /// connection, which the sender closes.
    Error {
        /// Request id, when the error concerns one request only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable text; never contains server paths or OS errors.
        message: String,
        /// With `rate_limited`: milliseconds until the source may try again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}
