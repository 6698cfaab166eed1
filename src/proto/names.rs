//! Each message type's wire name and the body length a header announces.

use super::Message;

impl Message {
    /// Every message type's wire name.
    pub const TYPE_NAMES: &'static [&'static str] = &[
        "auth",
        "auth_ok",
        "auth_continue",
        "exec",
        "list",
        "commands",
        "put",
        "put_ready",
        "put_ok",
        "get",
        "file",
        "end",
        "started",
        "window",
        "denied",
        "data",
        "eof",
        "cancel",
        "exit",
        "ping",
        "pong",
        "error",
        "job",
        "job_started",
        "attach",
        "skipped",
        "jobs",
        "job_list",
        "cancel_job",
        "job_cancelled",
    ];

    /// The body length this header announces (0 for messages without a body).
    pub fn body_len(&self) -> usize {
        match self {
            Message::Data { len, .. } => *len as usize,
            _ => 0,
        }
    }

    /// The wire name of this message's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Auth { .. } => "auth",
            Message::AuthOk { .. } => "auth_ok",
            Message::AuthContinue { .. } => "auth_continue",
            Message::Exec { .. } => "exec",
            Message::List { .. } => "list",
            Message::Commands { .. } => "commands",
            Message::Put { .. } => "put",
            Message::PutReady { .. } => "put_ready",
            Message::PutOk { .. } => "put_ok",
            Message::Get { .. } => "get",
            Message::File { .. } => "file",
            Message::End { .. } => "end",
            Message::Started { .. } => "started",
            Message::Window { .. } => "window",
            Message::Denied { .. } => "denied",
            Message::Data { .. } => "data",
            Message::Eof { .. } => "eof",
            Message::Cancel { .. } => "cancel",
            Message::Exit { .. } => "exit",
            Message::Ping => "ping",
            Message::Pong => "pong",
            Message::Error { .. } => "error",
            Message::Job { .. } => "job",
            Message::JobStarted { .. } => "job_started",
            Message::Attach { .. } => "attach",
            Message::Skipped { .. } => "skipped",
            Message::Jobs { .. } => "jobs",
            Message::JobList { .. } => "job_list",
            Message::CancelJob { .. } => "cancel_job",
            Message::JobCancelled { .. } => "job_cancelled",
        }
    }
}
