//! File requests on an authenticated server connection: `put` (the file's
//! bytes arrive as stdin under the same credit as a command's stdin, then
//! `end`) and `get` (the bytes leave as stdout under the client's output
//! credit, then `end`). The file layer opens, checks and stores; this
//! file keeps the order of messages and frees the id.

use std::time::Instant;

use super::server::{error, send, ServerSession, REVOKED};
use super::server_request::{Get, GetPhase, Out, Put, PutPhase, Request, StdinTune};
use super::{Action, Credit, GetSpec, Outcome, PutSpec, Ready, StopReason, Violation};
use crate::proto::{ErrorCode, Message};

impl ServerSession {
    pub(super) fn put(&mut self, id: u64, spec: PutSpec) {
        if spec.mode.is_some_and(|m| m > 0o777) {
            return self.protocol(Violation::PutMode);
        }
        if spec.resume && spec.size.is_none() {
            return self.protocol(Violation::ResumeWithoutSize);
        }
        if let Some((_, stdin_allot)) = self.admit(id, Some(spec.size), None) {
            let put = Put {
                phase: PutPhase::Opening { cancelled: false },
                stdin_allot,
                stdin_tune: StdinTune::default(),
            };
            self.requests.insert(id, Request::Put(put));
            self.actions.push_back(Action::Put { id, spec });
        }
    }

    pub(super) fn get(&mut self, id: u64, spec: GetSpec, output_window: Option<u64>) {
        if spec.offset > 0 && spec.prefix_blake3.is_none() {
            return self.protocol(Violation::OffsetWithoutPrefix);
        }
        if let Some((out_credit, _)) = self.admit(id, None, output_window) {
            let get = Get {
                phase: GetPhase::Opening { cancelled: false },
                out_credit,
            };
            self.requests.insert(id, Request::Get(get));
            self.actions.push_back(Action::Get { id, spec });
        }
    }

    /// The client's `end` of a put.
    pub(super) fn put_end(&mut self, id: u64, size: u64, blake3: String) {
        // An `end` for a request that already ended (cancelled) is a race.
        let put = match self.requests.get_mut(&id) {
            None => return,
            Some(Request::Put(p)) => p,
            Some(_) => return self.protocol(Violation::EndNotPut),
        };
        match put.phase {
            PutPhase::Receiving(_) => {}
            PutPhase::Opening { .. } => return self.protocol(Violation::EndBeforeReady),
            PutPhase::Committing => return self.protocol(Violation::SecondEnd),
        }
        put.phase = PutPhase::Committing;
        self.actions.push_back(Action::Commit { id, size, blake3 });
    }

    /// The file layer opened request `id`'s file.
    pub(super) fn ready(&mut self, id: u64, ready: Ready, now: Instant) {
        let (m, cancelled) = match (self.requests.get_mut(&id), ready) {
            (
                Some(Request::Put(put)),
                Ready::Put {
                    offset,
                    prefix_blake3,
                },
            ) => {
                let PutPhase::Opening { cancelled } = put.phase else {
                    return;
                };
                let window = put.stdin_allot;
                let credit = Credit::new(window).unwrap_or_else(|_| Credit::unlimited());
                put.stdin_tune.open(window, now);
                put.phase = PutPhase::Receiving(credit);
                let m = Message::PutReady {
                    id,
                    window,
                    offset,
                    prefix_blake3,
                };
                (m, cancelled)
            }
            (Some(Request::Get(get)), Ready::Get { size, mode, offset }) => {
                let GetPhase::Opening { cancelled } = get.phase else {
                    return;
                };
                let out = Out::new();
                get.phase = GetPhase::Sending { out, done: None };
                let m = Message::File {
                    id,
                    size,
                    mode,
                    offset,
                };
                (m, cancelled)
            }
            (None, _) => return,
            // The file layer answered with the other kind: a bug there;
            // end the request rather than the connection.
            _ => {
                let m = "internal error opening the file";
                send(&mut self.actions, error(Some(id), ErrorCode::Internal, m));
                return self.finish(id, Outcome::Error(ErrorCode::Internal));
            }
        };
        send(&mut self.actions, m);
        if cancelled {
            self.cancel(id, now);
        }
    }

    /// A transfer's last event from the file layer.
    pub(super) fn done(&mut self, id: u64, size: u64, blake3: String, now: Instant) {
        match self.requests.get_mut(&id) {
            Some(Request::Put(Put {
                phase: PutPhase::Receiving(_) | PutPhase::Committing,
                ..
            })) => {
                let ok = Message::PutOk {
                    id,
                    size,
                    blake3: blake3.clone(),
                };
                send(&mut self.actions, ok);
                self.finish(id, Outcome::Transferred { size, blake3 });
            }
            Some(Request::Get(Get {
                phase: GetPhase::Sending { done, .. },
                ..
            })) => {
                *done = Some((size, blake3));
                self.flush(id, now);
            }
            _ => {}
        }
        self.set_idle(now);
    }

    /// Stop a running transfer now: its file layer is told to drop it
    /// (an unfinished put keeps its partial file for a resume), the id is
    /// free and the client hears why.
    pub(super) fn end_transfer(&mut self, id: u64, reason: StopReason) {
        if !matches!(
            self.requests.get(&id),
            Some(Request::Put(_) | Request::Get(_))
        ) {
            return;
        }
        let (code, m) = match reason {
            StopReason::Cancelled => (ErrorCode::Cancelled, "cancelled by the client"),
            StopReason::TimedOut => (ErrorCode::Timeout, "the transfer's time limit passed"),
            StopReason::Shutdown => (ErrorCode::ShuttingDown, "the server is shutting down"),
            StopReason::Revoked => (ErrorCode::AuthFailed, REVOKED),
        };
        send(&mut self.actions, error(Some(id), code, m));
        self.actions.push_back(Action::Stop { id, reason });
        self.finish(id, Outcome::Error(code));
    }
}
