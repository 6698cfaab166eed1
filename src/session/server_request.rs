//! One request on the server side: its typed lifecycle, stdin credit,
//! output credit and the output chunks waiting for that credit.

use std::time::Instant;

use bytes::Bytes;

use super::{out_index, Credit, ExitStatus, Kind, StopReason};

/// How a request's last message reads, once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ending {
    /// A command was reaped: `exit`.
    Exit(ExitStatus),
    /// A get read its whole file: `end`.
    Sent {
        /// Bytes in the file.
        size: u64,
        /// Its SHA-256.
        sha256: String,
    },
}

/// The stdin side of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StdinSide {
    /// `exec` said `stdin: false`: the command reads /dev/null.
    None,
    /// Open, with the credit the client has left.
    Open(Credit),
    /// The client sent `eof`.
    Closed,
}

/// Where an output stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutEof {
    /// More bytes may come.
    Open,
    /// The process layer reported the end; `eof` not sent yet.
    Seen,
    /// `eof` sent.
    Sent,
}

/// A request's lifecycle.
#[derive(Debug)]
pub(super) enum Phase {
    /// `exec` handed to the process layer (policy check, spawn).
    Checking {
        /// The client cancelled before the verdict.
        cancelled: bool,
    },
    /// The command runs (or ran and its output is still being sent).
    Running(Box<Running>),
}

/// State of a started command.
#[derive(Debug)]
pub(super) struct Running {
    pub started_at: Instant,
    pub deadline: Option<Instant>,
    pub stop: Option<StopReason>,
    /// The client sent `cancel` (perhaps after a time-limit stop): output
    /// not sent by then, and all output after it, is dropped.
    pub cancelled: bool,
    /// Output read but not yet sent, one chunk per stream at most.
    pub pending: [Option<Bytes>; 2],
    pub eof: [OutEof; 2],
    pub ended: Option<Ending>,
}

impl Running {
    pub fn new(now: Instant, deadline: Option<Instant>) -> Self {
        Self {
            started_at: now,
            deadline,
            stop: None,
            cancelled: false,
            pending: [None, None],
            eof: [OutEof::Open; 2],
            ended: None,
        }
    }

    /// Both streams ended and are sent, and the end is known.
    pub fn finished(&self) -> bool {
        self.ended.is_some() && self.eof.iter().all(|e| *e == OutEof::Sent)
    }

    pub fn pending_mut(&mut self, stream: crate::proto::Stream) -> &mut Option<Bytes> {
        &mut self.pending[out_index(stream)]
    }
}

/// One live request.
#[derive(Debug)]
pub(super) struct Request {
    pub kind: Kind,
    pub phase: Phase,
    pub stdin: StdinSide,
    /// The client sent `eof` on stdin before `started`.
    pub early_eof: bool,
    /// What the server may still send of stdout and stderr together.
    pub out_credit: Credit,
    /// The share of the connection's stdin budget this request holds (its
    /// stdin window; 0 without stdin).
    pub stdin_allot: u64,
}

impl Request {
    pub fn new(kind: Kind, stdin: bool, out_credit: Credit, stdin_allot: u64) -> Self {
        Self {
            kind,
            stdin_allot,
            phase: Phase::Checking { cancelled: false },
            stdin: if stdin {
                StdinSide::Open(Credit::unlimited())
            } else {
                StdinSide::None
            },
            early_eof: false,
            out_credit,
        }
    }

    pub fn running_mut(&mut self) -> Option<&mut Running> {
        match &mut self.phase {
            Phase::Running(r) => Some(r),
            Phase::Checking { .. } => None,
        }
    }

    pub fn running(&self) -> Option<&Running> {
        match &self.phase {
            Phase::Running(r) => Some(r),
            Phase::Checking { .. } => None,
        }
    }
}
