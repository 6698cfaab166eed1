//! File requests on an authenticated server connection: `put` (the file's
//! bytes arrive as stdin under the same credit as a command's stdin, then
//! `end`) and `get` (the bytes leave as stdout under the client's output
//! credit, then `end`). The file layer opens, checks and stores; this
//! file keeps the order of messages and frees the id.

use std::time::Instant;

use super::server::{error, send, ServerSession};
use super::server_request::{Ending, OutEof, Phase, Running, StdinSide};
use super::{Action, Credit, GetSpec, Kind, Outcome, PutSpec, Ready, StopReason, Violation};
use crate::proto::{ErrorCode, Message};

impl ServerSession {
    pub(super) fn put(&mut self, id: u64, spec: PutSpec) {
        if spec.mode.is_some_and(|m| m > 0o777) {
            return self.protocol(Violation::PutMode);
        }
        if spec.resume && spec.size.is_none() {
            return self.protocol(Violation::ResumeWithoutSize);
        }
        if self.admit(id, Kind::Put, (true, spec.size), None) {
            self.actions.push_back(Action::Put { id, spec });
        }
    }

    pub(super) fn get(&mut self, id: u64, spec: GetSpec, output_window: Option<u64>) {
        if spec.offset > 0 && spec.prefix_sha256.is_none() {
            return self.protocol(Violation::OffsetWithoutPrefix);
        }
        if self.admit(id, Kind::Get, (false, None), output_window) {
            self.actions.push_back(Action::Get { id, spec });
        }
    }

    /// The client's `end` of a put.
    pub(super) fn put_end(&mut self, id: u64, size: u64, sha256: String) {
        // An `end` for a request that already ended (cancelled) is a race.
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let problem = match (&req.kind, &req.phase, &req.stdin) {
            (Kind::Put, Phase::Running(_), StdinSide::Open(_)) => None,
            (Kind::Put, Phase::Checking { .. }, _) => Some(Violation::EndBeforeReady),
            (Kind::Put, _, _) => Some(Violation::SecondEnd),
            _ => Some(Violation::EndNotPut),
        };
        if let Some(v) = problem {
            return self.protocol(v);
        }
        req.stdin = StdinSide::Closed;
        self.actions.push_back(Action::Commit { id, size, sha256 });
    }

    /// The file layer opened request `id`'s file.
    pub(super) fn ready(&mut self, id: u64, ready: Ready, now: Instant) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let Phase::Checking { cancelled } = req.phase else {
            return;
        };
        let mut run = Running::new(now, None);
        let m = match (req.kind, ready) {
            (
                Kind::Put,
                Ready::Put {
                    offset,
                    prefix_sha256,
                },
            ) => {
                run.eof = [OutEof::Sent; 2];
                let window = req.stdin_allot;
                req.stdin =
                    StdinSide::Open(Credit::new(window).unwrap_or_else(|_| Credit::unlimited()));
                Message::PutReady {
                    id,
                    window,
                    offset,
                    prefix_sha256,
                }
            }
            (Kind::Get, Ready::Get { size, mode, offset }) => {
                run.eof[1] = OutEof::Sent;
                Message::File {
                    id,
                    size,
                    mode,
                    offset,
                }
            }
            // The file layer answered with the other kind: a bug there;
            // end the request rather than the connection.
            _ => {
                let m = "internal error opening the file";
                send(&mut self.actions, error(Some(id), ErrorCode::Internal, m));
                return self.finish(id, Outcome::Error(ErrorCode::Internal));
            }
        };
        req.phase = Phase::Running(Box::new(run));
        send(&mut self.actions, m);
        if cancelled {
            self.cancel(id, now);
        }
    }

    /// A transfer's last event from the file layer.
    pub(super) fn done(&mut self, id: u64, size: u64, sha256: String, now: Instant) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let kind = req.kind;
        let Some(run) = req.running_mut() else {
            return;
        };
        match kind {
            Kind::Put => {
                let ok = Message::PutOk {
                    id,
                    size,
                    sha256: sha256.clone(),
                };
                send(&mut self.actions, ok);
                self.finish(id, Outcome::Transferred { size, sha256 });
            }
            Kind::Get => {
                run.ended = Some(Ending::Sent { size, sha256 });
                self.flush(id, now);
            }
            Kind::Exec => {}
        }
        self.set_idle(now);
    }

    /// Stop a running transfer now: its file layer is told to drop it
    /// (an unfinished put keeps its partial file for a resume), the id is
    /// free and the client hears why.
    pub(super) fn end_transfer(&mut self, id: u64, reason: StopReason) {
        if !self.requests.contains_key(&id) {
            return;
        }
        let (code, m) = match reason {
            StopReason::Cancelled => (ErrorCode::Cancelled, "cancelled by the client"),
            StopReason::TimedOut => (ErrorCode::Timeout, "the transfer's time limit passed"),
            StopReason::Shutdown => (ErrorCode::ShuttingDown, "the server is shutting down"),
        };
        send(&mut self.actions, error(Some(id), code, m));
        self.actions.push_back(Action::Stop { id, reason });
        self.finish(id, Outcome::Error(code));
    }
}
