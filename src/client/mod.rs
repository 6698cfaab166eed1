//! The client side: resolve and connect (TCP_NODELAY, TLS 1.3 with the
//! host name or IP checked against the certificate), authenticate with an
//! OpenSSH identity, and run requests on the connection: a [`Session`] runs
//! any number at once; [`run_exec`] runs the CLI's one command.

mod agent;
pub mod config;
mod connect;
mod credentials;
mod exec;
pub mod fleet;
mod identity;
pub mod job;
mod reach;
mod session;
mod sink;
mod stdin_feed;
mod target;
pub mod transfer;

pub use connect::{connect, connect_with, ClientStream, Connection};
pub use credentials::{has_terminal, read_password_file, Ask, Credentials};
pub use exec::{run_exec, ExecRequest, LocalIo, Outcome, StdinSource};
pub use identity::{Identity, IdentitySource};
pub use reach::{seconds, ConnOptions, Reached, Redial};
pub use session::{
    Ended, OutputCredit, Request, RequestEvent, Session, SessionOptions, StdinSink, OUTPUT_WINDOW,
};
pub use sink::{stdin_reader, STDIN_CHUNK};
pub use target::Target;

use crate::proto::ErrorCode;

/// Exit status: the server is at a limit (budget); retry later.
pub const EXIT_BUSY: i32 = 250;
/// Exit status: the server refuses this source for a while (penalty).
pub const EXIT_RATE_LIMITED: i32 = 251;
/// Exit status: the server killed the command at its time limit.
pub const EXIT_TIMED_OUT: i32 = 252;
/// Exit status: the allowlist refused the command.
pub const EXIT_DENIED: i32 = 253;
/// Exit status: authentication failed.
pub const EXIT_AUTH_FAILED: i32 = 254;
/// Exit status: connection, TLS or protocol failure.
pub const EXIT_CONNECTION: i32 = 255;
/// Exit status: a transfer failed (no such file, checksum mismatch, a
/// local or remote I/O error).
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad command line.
pub const EXIT_USAGE: i32 = 2;

/// Errors on the client side, each mapped to a documented exit status.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {detail}")]
    Resolve {
        /// The host as given.
        host: String,
        /// What the resolver said.
        detail: String,
    },
    /// No address accepted a TCP connection.
    #[error("cannot connect to {target}: {detail}")]
    Connect {
        /// host:port.
        target: String,
        /// The last OS error.
        detail: String,
    },
    /// The TLS handshake failed (unknown CA, wrong host name, ...).
    #[error("TLS handshake with {target} failed: {detail}")]
    Tls {
        /// host:port.
        target: String,
        /// rustls's reason.
        detail: String,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// Local TLS configuration (CA bundle) could not be loaded.
    #[error(transparent)]
    TlsConfig(#[from] crate::tls::TlsError),
    /// The command line or environment does not say enough (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The identity could not be loaded or used.
    #[error("identity: {0}")]
    Identity(String),
    /// The server refused the authentication.
    #[error("authentication failed")]
    AuthFailed,
    /// The server refuses connections from this source for a while.
    #[error("rate limited by the server after repeated failures from this address; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// The server reported an error.
    #[error("server error ({code}): {message}")]
    Server {
        /// Stable code.
        code: ErrorCode,
        /// The server's text.
        message: String,
    },
    /// The server broke the protocol or the connection dropped.
    #[error("{0}")]
    Protocol(String),
    /// A transfer's path is outside the user's roots (or crosses a
    /// symlink); nothing was transferred.
    #[error("denied: {0}")]
    Denied(String),
    /// A transfer failed on this side (a local file could not be read or
    /// written, or the bytes did not check out).
    #[error("{0}")]
    Transfer(String),
}

impl ClientError {
    /// The outcome this error stands for: the row of README's outcome
    /// table that gives both its single-host exit status and its fleet
    /// status.
    pub fn status(&self) -> fleet::Status {
        use fleet::Status;
        match self {
            ClientError::AuthFailed
            | ClientError::Server {
                code: ErrorCode::AuthFailed,
                ..
            } => Status::AuthFailed,
            ClientError::RateLimited { .. }
            | ClientError::Server {
                code: ErrorCode::RateLimited,
                ..
            } => Status::RateLimited,
            ClientError::Server {
                code: ErrorCode::Busy,
                ..
            } => Status::Busy,
            ClientError::Denied(_) => Status::Denied,
            ClientError::Transfer(_) => Status::Failed(EXIT_FAILED),
            ClientError::Resolve { .. }
            | ClientError::Connect { .. }
            | ClientError::ConnectTimeout(_) => Status::Unreachable,
            _ => Status::ProtocolError,
        }
    }

    /// The process exit status for this error (usage is 2; every other
    /// error as its [`ClientError::status`] says).
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Usage(_) => EXIT_USAGE,
            other => other.status().single_host_code(),
        }
    }
}

impl From<crate::transport::TransportError> for ClientError {
    fn from(e: crate::transport::TransportError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}
