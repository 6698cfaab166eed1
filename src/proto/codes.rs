//! Stable error codes carried in `error` frames.

use serde::{Deserialize, Serialize};

/// The machine-readable reason in an `error` frame. The strings are part of
/// the protocol and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The peer sent bytes that are not a valid frame or message.
    Protocol,
    /// A header or body length exceeded the protocol limits.
    TooLarge,
    /// The header's `type` is not one this peer knows.
    UnknownType,
    /// A message arrived that is not valid at this point of the conversation.
    UnexpectedMessage,
    /// Authentication failed; deliberately says nothing more.
    AuthFailed,
    /// The authentication deadline passed.
    Timeout,
    /// A request named an id that is already in use, or is otherwise invalid.
    BadRequest,
    /// An allowed command could not be started on the server.
    ExecFailed,
    /// The server is at a configured limit; retry later.
    Busy,
    /// The server is shutting down and stopped this connection's commands.
    ShuttingDown,
    /// The client's source address is penalised (repeated failures); the
    /// `error` carries `retry_after_ms`.
    RateLimited,
    /// Something went wrong inside the server; details are in its log only.
    Internal,
    /// The file asked for does not exist (or is not a regular file).
    NotFound,
    /// A transferred file's bytes do not match the size or BLAKE3 its
    /// sender announced; nothing was stored.
    ChecksumMismatch,
    /// The request was cancelled by the client.
    Cancelled,
    /// The server could not read or store the file (disk full, I/O
    /// error); details are in its log only.
    TransferFailed,
    /// An exact `attach` asked for output the job's spool no longer holds
    /// (its bound dropped it): resuming would lose bytes.
    SpoolTruncated,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Protocol,
        ErrorCode::TooLarge,
        ErrorCode::UnknownType,
        ErrorCode::UnexpectedMessage,
        ErrorCode::AuthFailed,
        ErrorCode::Timeout,
        ErrorCode::BadRequest,
        ErrorCode::ExecFailed,
        ErrorCode::Busy,
        ErrorCode::ShuttingDown,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::NotFound,
        ErrorCode::ChecksumMismatch,
        ErrorCode::Cancelled,
        ErrorCode::TransferFailed,
        ErrorCode::SpoolTruncated,
    ];

    /// The wire spelling of this code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Protocol => "protocol",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnexpectedMessage => "unexpected_message",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::ExecFailed => "exec_failed",
            ErrorCode::Busy => "busy",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::TransferFailed => "transfer_failed",
            ErrorCode::SpoolTruncated => "spool_truncated",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_has_its_own_wire_name_and_round_trips() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for c in ErrorCode::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
