//! The audit record schema (docs/AUDIT.md): one JSON object per line,
//! `time` and `event` first, then the event's fields.

use serde::Serialize;

/// Elements of a denied argv kept in full; beyond this the record says how
/// much was left out (an allowed argv is always recorded whole).
pub const DENIED_ARGV_BYTES: usize = 4096;

/// How a connection signed in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Auth {
    /// `key`, `password` or `key+password`.
    pub method: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it, when a key was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The user certificate that admitted the key, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertAudit>,
}

/// A user certificate in a record: what `ssh-keygen -L` shows of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertAudit {
    /// Its key id (`ssh-keygen -I`).
    pub key_id: String,
    /// Its serial (`ssh-keygen -z`).
    pub serial: u64,
    /// The CA's `SHA256:...` fingerprint.
    pub ca: String,
    /// The principal that admitted the user.
    pub principal: String,
}

/// How a command ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ending {
    /// How it ended: `exited`, `signalled`, `timed_out`, `cancelled`, or
    /// stopped with its connection: `connection_lost`, `shutdown` (then
    /// `exit_code` and `signal` are `null`).
    pub ended: &'static str,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// Killed at its time limit.
    pub timed_out: bool,
    /// From start to exit.
    pub duration_ms: u64,
    /// Bytes the client sent to the command.
    pub stdin_bytes: u64,
    /// Bytes sent to the client from stdout.
    pub stdout_bytes: u64,
    /// Bytes sent to the client from stderr.
    pub stderr_bytes: u64,
    /// BLAKE3 (hex) of exactly the stdout bytes sent to the client
    /// (`null` with `output_hashes = false`).
    pub stdout_blake3: Option<String>,
    /// BLAKE3 (hex) of exactly the stderr bytes sent to the client.
    pub stderr_blake3: Option<String>,
}

/// One audited event. Every event carries the connection id and peer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A connection passed admission.
    ConnectionAccepted {
        /// Connection id (unique per daemon run).
        conn: u64,
        /// Peer address.
        peer: String,
    },
    /// A sign-in completed.
    AuthOk {
        /// Connection id.
        conn: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// How.
        #[serde(flatten)]
        auth: Auth,
    },
    /// An `auth` attempt failed.
    AuthFailed {
        /// Connection id.
        conn: u64,
        /// Peer address.
        peer: String,
        /// The claimed account (cut at 256 bytes).
        user: String,
        /// `key` or `password`.
        method: String,
        /// The signing key, when the signature verified.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The real reason (the client only learns that it failed).
        reason: String,
    },
    /// A command was started.
    ExecStarted {
        /// Connection id.
        conn: u64,
        /// Request id on the connection.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// How it signed in.
        #[serde(flatten)]
        auth: Auth,
        /// The exact argv executed.
        argv: Vec<String>,
        /// The matched command name.
        command: String,
        /// The local account it runs as.
        run_as: String,
        /// Process id (and process group id).
        pid: u32,
    },
    /// The allowlist refused a request; nothing ran.
    ExecDenied {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The argv asked for (cut, see `argv_truncated`).
        argv: Vec<String>,
        /// True when `argv` was cut to 4096 bytes.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        argv_truncated: bool,
        /// The closest rule (one for the same program, if any).
        closest: Option<String>,
        /// Why it missed.
        reason: String,
    },
    /// An allowed or unchecked exec that never started: a budget was used
    /// up, the audit log could not be written, or the program could not
    /// be started.
    ExecFailed {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The argv asked for (cut, see `argv_truncated`).
        argv: Vec<String>,
        /// True when `argv` was cut to 4096 bytes.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        argv_truncated: bool,
        /// The matched command, when the allowlist had allowed it.
        command: Option<String>,
        /// `busy`, `audit_unavailable`, `failed_to_start`,
        /// `connection_lost` or `shutdown`.
        result: String,
        /// The server's reason (may name local paths and OS errors: the
        /// client is told only `exec_failed` or `busy`).
        reason: String,
    },
    /// A put or get ended (stored, sent, refused or interrupted).
    Transfer {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// `put` (to the server) or `get` (from it).
        direction: String,
        /// The file it resolved to, else the path asked for (cut).
        path: String,
        /// `ok`, `denied`, `not_found`, `bad_request`, `busy`,
        /// `checksum_mismatch`, `failed`, `cancelled` or `interrupted`.
        result: String,
        /// Bytes in the whole file (when it completed).
        size: Option<u64>,
        /// BLAKE3 (hex) of the whole file (when it completed).
        blake3: Option<String>,
        /// Where this transfer's bytes started (a resume), else 0.
        offset: u64,
        /// Bytes moved on this connection.
        bytes: u64,
        /// From request to end.
        duration_ms: u64,
    },
    /// A started command ended.
    ExecFinished {
        /// Connection id.
        conn: u64,
        /// Request id.
        id: u64,
        /// Peer address.
        peer: String,
        /// The account.
        user: String,
        /// The matched command name.
        command: String,
        /// Process id.
        pid: u32,
        /// How it ended, and what went through it.
        #[serde(flatten)]
        ending: Ending,
    },
    /// A connection ended.
    ConnectionClosed {
        /// Connection id.
        conn: u64,
        /// Peer address.
        peer: String,
        /// The account, if it signed in.
        user: Option<String>,
        /// Why it ended.
        reason: String,
        /// From accept to close.
        duration_ms: u64,
    },
    /// A SIGHUP reload.
    ConfigReloaded {
        /// Whether the new configuration is in force.
        ok: bool,
        /// The file.
        path: String,
        /// Why not, with FILE:LINE:COLUMN.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A job's event (docs/AUDIT.md, "Jobs").
    #[serde(untagged)]
    Job(super::job::JobEvent),
}

/// `argv` cut to [`DENIED_ARGV_BYTES`] in total, and whether it was cut.
pub fn bounded_argv(argv: &[String]) -> (Vec<String>, bool) {
    let mut left = DENIED_ARGV_BYTES;
    let mut out = Vec::new();
    for a in argv {
        if a.len() > left {
            let mut end = left;
            while !a.is_char_boundary(end) {
                end -= 1;
            }
            out.push(a[..end].to_string());
            return (out, true);
        }
        left -= a.len();
        out.push(a.clone());
    }
    (out, false)
}

/// One line of the audit log: the record's JSON and a newline.
pub fn line(time: std::time::SystemTime, event: &Event) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        time: String,
        #[serde(flatten)]
        event: &'a Event,
    }
    let mut s = serde_json::to_string(&Line {
        time: crate::timefmt::rfc3339_ms(time),
        event,
    })
    .unwrap_or_else(|e| format!("{{\"event\":\"unserialisable\",\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
