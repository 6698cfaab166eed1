//! What the server state machine yields: the actions for its driver and
//! the reasons a connection ends.

use bytes::Bytes;

use super::AuthProof;
use crate::proto::{AuthMethod, Message, Stream};

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
        /// The SHA-256 the client computed.
        sha256: String,
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
    /// Stop the command's process group (TERM, grace, KILL).
    Stop {
        /// Request id.
        id: u64,
        /// Why.
        reason: super::StopReason,
    },
    /// Flush what was sent, close the connection and stop every command.
    Close(CloseReason),
}
