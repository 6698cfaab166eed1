//! Every way a client can break the protocol, and the one table that maps
//! each to the fatal error's wire code. The text is what the client reads
//! in the `error` message and what the log's close reason says.

use super::CreditError;
use crate::proto::{ErrorCode, MAX_WINDOW};

/// A client's protocol violation: fatal to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// `auth` without the member its method needs.
    #[error("auth with method {method} needs a {field}")]
    AuthWithoutProof {
        /// `key` or `password`.
        method: &'static str,
        /// `signature` or `password`.
        field: &'static str,
    },
    /// A first message other than `auth`.
    #[error("the first message must be auth, not {0}")]
    FirstNotAuth(&'static str),
    /// Frames queued behind a pending `auth` past the pre-auth bound.
    #[error("too much data before authentication")]
    TooMuchBeforeAuth,
    /// A message a client never sends, or not at this point.
    #[error("unexpected {0} message from a client")]
    Unexpected(&'static str),
    /// `output_window` outside 1..=MAX_WINDOW.
    #[error("output_window must be between 1 and {MAX_WINDOW}")]
    OutputWindowRange,
    /// A put's mode with more than permission bits.
    #[error("put mode must be permission bits between 0 and 0o777")]
    PutMode,
    /// `resume` without `size`.
    #[error("a put with resume must announce its size")]
    ResumeWithoutSize,
    /// A get's `offset` without `prefix_blake3`.
    #[error("a get with an offset must send prefix_blake3")]
    OffsetWithoutPrefix,
    /// `end` before `put_ready`.
    #[error("end before put_ready")]
    EndBeforeReady,
    /// A second `end` for one put.
    #[error("a second end for one put")]
    SecondEnd,
    /// `end` for an exec or a get.
    #[error("end for a request that is not a put")]
    EndNotPut,
    /// `eof` on a put's stdin.
    #[error("a put ends with end, not eof")]
    PutEndsWithEof,
    /// Stdin before `started` (or `put_ready`).
    #[error("stdin before started (no window yet)")]
    StdinBeforeStarted,
    /// Stdin for an exec with `stdin: false`.
    #[error("stdin for a request that declared none")]
    StdinUndeclared,
    /// Stdin after the client's `eof` (or `end`).
    #[error("stdin after eof")]
    StdinAfterEof,
    /// Stdin beyond the credit the server granted.
    #[error("stdin exceeds the flow-control window")]
    StdinPastWindow,
    /// `window` for a request opened without `output_window`.
    #[error("window for a request without output_window")]
    WindowWithoutOutputWindow,
    /// A `window` that takes the credit past its limit.
    #[error("{0}")]
    Window(CreditError),
}

impl Violation {
    /// The wire code of the fatal `error` that answers it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Violation::FirstNotAuth(_) | Violation::Unexpected(_) => ErrorCode::UnexpectedMessage,
            Violation::TooMuchBeforeAuth => ErrorCode::TooLarge,
            _ => ErrorCode::Protocol,
        }
    }
}
