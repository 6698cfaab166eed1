//! One request on the server side, a typed lifecycle per kind: an exec is
//! checked, then runs with stdin and two output streams until its exit; a
//! put is opened, receives bytes, then commits; a get is opened, then
//! sends one stream until its end. States that cannot happen (a put with
//! output, a get with stdin, output before `started`) cannot be written.

use std::time::Instant;

use bytes::Bytes;

pub(super) use super::server_stdin::StdinTune;
use super::{Credit, ExitStatus, Kind, StopReason};

/// The stdin side of an exec.
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
    /// The process layer reported the end; not passed on yet.
    Seen,
    /// Passed on (`eof` sent, or a get's `end` may follow).
    Sent,
}

/// One output stream: at most one chunk read and not yet sent.
#[derive(Debug)]
pub(super) struct Out {
    pub pending: Option<Bytes>,
    pub eof: OutEof,
}

impl Out {
    pub fn new() -> Self {
        Self {
            pending: None,
            eof: OutEof::Open,
        }
    }

    /// Everything of this stream is out.
    pub fn done(&self) -> bool {
        self.eof == OutEof::Sent
    }
}

/// An `exec`.
#[derive(Debug)]
pub(super) struct Exec {
    pub phase: ExecPhase,
    pub stdin: StdinSide,
    /// What the server may still send of stdout and stderr together.
    pub out_credit: Credit,
    /// The share of the connection's stdin budget it holds.
    pub stdin_allot: u64,
    /// How that share grows on a long link.
    pub stdin_tune: StdinTune,
}

/// An exec's lifecycle.
#[derive(Debug)]
pub(super) enum ExecPhase {
    /// Handed to the process layer (policy check, spawn).
    Checking {
        /// The client cancelled before the verdict.
        cancelled: bool,
        /// The client sent `eof` on stdin before `started`.
        early_eof: bool,
    },
    /// The command runs (or ran and its output is still being sent).
    Running(Box<Running>),
}

/// A started command.
#[derive(Debug)]
pub(super) struct Running {
    pub started_at: Instant,
    pub deadline: Option<Instant>,
    pub stop: Option<StopReason>,
    /// The client sent `cancel` (perhaps after a time-limit stop): output
    /// not sent by then, and all output after it, is dropped.
    pub cancelled: bool,
    /// stdout, stderr.
    pub out: [Out; 2],
    /// Known once the command was reaped.
    pub exit: Option<ExitStatus>,
}

impl Running {
    pub fn new(now: Instant, deadline: Option<Instant>) -> Self {
        Self {
            started_at: now,
            deadline,
            stop: None,
            cancelled: false,
            out: [Out::new(), Out::new()],
            exit: None,
        }
    }
}

/// A `put`: its bytes come as stdin.
#[derive(Debug)]
pub(super) struct Put {
    pub phase: PutPhase,
    /// The share of the connection's stdin budget it holds (its window).
    pub stdin_allot: u64,
    /// How that share grows on a long link.
    pub stdin_tune: StdinTune,
}

/// A put's lifecycle.
#[derive(Debug)]
pub(super) enum PutPhase {
    /// The file layer opens the target.
    Opening {
        /// The client cancelled before `put_ready`.
        cancelled: bool,
    },
    /// `put_ready` sent: bytes arrive within the credit left.
    Receiving(Credit),
    /// `end` arrived: the file layer checks and stores.
    Committing,
}

/// A `get`: its bytes leave as stdout.
#[derive(Debug)]
pub(super) struct Get {
    pub phase: GetPhase,
    /// What the server may still send.
    pub out_credit: Credit,
}

/// A get's lifecycle.
#[derive(Debug)]
pub(super) enum GetPhase {
    /// The file layer opens the file.
    Opening {
        /// The client cancelled before `file`.
        cancelled: bool,
    },
    /// `file` sent: the bytes, then `end` once the file layer is done.
    Sending {
        out: Out,
        /// The whole file's size and BLAKE3, once all was read.
        done: Option<(u64, String)>,
    },
}

/// One live request.
#[derive(Debug)]
pub(super) enum Request {
    Exec(Exec),
    Put(Put),
    Get(Get),
}

impl Request {
    pub fn kind(&self) -> Kind {
        match self {
            Request::Exec(_) => Kind::Exec,
            Request::Put(_) => Kind::Put,
            Request::Get(_) => Kind::Get,
        }
    }

    /// The share of the connection's stdin budget it holds.
    pub fn stdin_allot(&self) -> u64 {
        match self {
            Request::Exec(e) => e.stdin_allot,
            Request::Put(p) => p.stdin_allot,
            Request::Get(_) => 0,
        }
    }

    /// The running command, for an exec past its check.
    pub fn running(&self) -> Option<&Running> {
        match self {
            Request::Exec(Exec {
                phase: ExecPhase::Running(r),
                ..
            }) => Some(r),
            _ => None,
        }
    }

    pub fn running_mut(&mut self) -> Option<&mut Running> {
        match self {
            Request::Exec(Exec {
                phase: ExecPhase::Running(r),
                ..
            }) => Some(r),
            _ => None,
        }
    }
}
