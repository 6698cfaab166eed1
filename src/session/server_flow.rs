//! Requests on an authenticated server connection: `exec`, stdin and its
//! credit, output credit, `cancel`, the process layer's events, and the
//! ordered flush of each request's output, `eof`s and `exit`.

use std::time::Instant;

use bytes::Bytes;

use super::server::{error, send, CloseReason, ServerSession};
use super::server_request::{Ending, OutEof, Phase, Running, StdinSide};
use super::{
    out_index, Action, Credit, ExecEvent, Kind, Outcome, StopReason, Violation, OUT_STREAMS,
};
use crate::proto::{ErrorCode, Frame, Message, Stream, DATA_CHUNK};

impl ServerSession {
    pub(super) fn request_frame(&mut self, frame: Frame, now: Instant) {
        if self.is_closed() {
            return;
        }
        match frame.message {
            Message::Exec {
                id,
                argv,
                stdin,
                timeout_ms,
                output_window,
            } => {
                if self.admit(id, Kind::Exec, (stdin, None), output_window) {
                    let exec = Action::Exec {
                        id,
                        argv,
                        stdin,
                        timeout_ms,
                    };
                    self.actions.push_back(exec);
                }
            }
            Message::Put {
                id,
                path,
                name,
                size,
                mode,
                resume,
            } => {
                let spec = super::PutSpec {
                    path,
                    name,
                    size,
                    mode,
                    resume,
                };
                self.put(id, spec);
            }
            Message::Get {
                id,
                path,
                offset,
                prefix_sha256,
                output_window,
            } => {
                let spec = super::GetSpec {
                    path,
                    offset: offset.unwrap_or(0),
                    prefix_sha256,
                };
                self.get(id, spec, output_window);
            }
            Message::End { id, size, sha256 } => self.put_end(id, size, sha256),
            Message::Data {
                id,
                stream: Stream::Stdin,
                len,
            } => self.stdin_data(id, len, frame.body),
            Message::Eof {
                id,
                stream: Stream::Stdin,
            } => self.stdin_eof(id),
            Message::Window { id, bytes } => self.output_credit(id, bytes, now),
            Message::Cancel { id } => self.cancel(id, now),
            Message::Ping => send(&mut self.actions, Message::Pong),
            Message::List { id } => self.actions.push_back(Action::List { id }),
            Message::Pong => {}
            Message::Error {
                id: None, message, ..
            } => self.close(CloseReason::PeerError(message.chars().take(200).collect())),
            other => self.protocol(Violation::Unexpected(other.type_name())),
        }
        self.set_idle(now);
    }

    fn stdin_data(&mut self, id: u64, len: u32, body: Bytes) {
        // Stdin for a request that already ended is a normal race.
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        // The command already exited (its output is still being sent):
        // nothing reads stdin any more; the client sent it before it
        // heard, so it is dropped, within the window as before.
        let exited = matches!(&req.phase, Phase::Running(r) if r.ended.is_some());
        let problem = match (&mut req.phase, &mut req.stdin) {
            (Phase::Checking { .. }, _) => Violation::StdinBeforeStarted,
            (_, StdinSide::None) => Violation::StdinUndeclared,
            (_, StdinSide::Closed) => Violation::StdinAfterEof,
            (_, StdinSide::Open(credit)) => match credit.spend(len as u64) {
                Ok(()) => {
                    if !exited {
                        self.actions.push_back(Action::Stdin { id, data: body });
                    }
                    return;
                }
                Err(_) => Violation::StdinPastWindow,
            },
        };
        self.protocol(problem);
    }

    fn stdin_eof(&mut self, id: u64) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        if req.kind == Kind::Put {
            return self.protocol(Violation::PutEndsWithEof);
        }
        if let StdinSide::Open(_) = req.stdin {
            req.stdin = StdinSide::Closed;
            match &req.phase {
                Phase::Checking { .. } => req.early_eof = true,
                Phase::Running(r) if r.ended.is_some() => {}
                Phase::Running(_) => self.actions.push_back(Action::StdinEof { id }),
            }
        }
    }

    fn output_credit(&mut self, id: u64, bytes: u64, now: Instant) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        if req.out_credit.is_unlimited() {
            return self.protocol(Violation::WindowWithoutOutputWindow);
        }
        if let Err(e) = req.out_credit.grant(bytes) {
            return self.protocol(Violation::Window(e));
        }
        self.flush(id, now);
    }

    pub(super) fn cancel(&mut self, id: u64, now: Instant) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        if req.kind != Kind::Exec && matches!(req.phase, Phase::Running(_)) {
            return self.end_transfer(id, StopReason::Cancelled);
        }
        match &mut req.phase {
            Phase::Checking { cancelled } => *cancelled = true,
            Phase::Running(run) => {
                run.cancelled = true;
                if run.stop.is_none() {
                    run.stop = Some(StopReason::Cancelled);
                    self.actions.push_back(Action::Stop {
                        id,
                        reason: StopReason::Cancelled,
                    });
                }
                // The client asked to stop: output not yet sent is dropped.
                for stream in OUT_STREAMS {
                    if run.pending_mut(stream).take().is_some() {
                        self.actions.push_back(Action::OutputTaken { id, stream });
                    }
                }
                self.flush(id, now);
            }
        }
    }

    /// The process layer reports on request `id`.
    pub fn handle_exec_event(&mut self, id: u64, event: ExecEvent, now: Instant) {
        if self.is_closed() {
            return;
        }
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        match event {
            ExecEvent::Started { timeout } => {
                let Phase::Checking { cancelled } = req.phase else {
                    return;
                };
                let deadline = timeout.and_then(|t| now.checked_add(t));
                req.phase = Phase::Running(Box::new(Running::new(now, deadline)));
                let window = match &mut req.stdin {
                    StdinSide::Open(c) => {
                        *c = Credit::new(req.stdin_allot).unwrap_or_else(|_| Credit::unlimited());
                        req.stdin_allot
                    }
                    _ => 0,
                };
                send(
                    &mut self.actions,
                    Message::Started {
                        id,
                        stdin_window: window,
                    },
                );
                if req.early_eof {
                    self.actions.push_back(Action::StdinEof { id });
                }
                if cancelled {
                    self.cancel(id, now);
                }
            }
            ExecEvent::Denied { message } => {
                send(&mut self.actions, Message::Denied { id, message });
                self.finish(id, Outcome::Denied);
            }
            ExecEvent::Refused { code, message } => {
                send(&mut self.actions, error(Some(id), code, message));
                self.finish(id, Outcome::Error(code));
            }
            ExecEvent::Failed => {
                let m = "the command could not be started";
                send(&mut self.actions, error(Some(id), ErrorCode::ExecFailed, m));
                self.finish(id, Outcome::FailedToStart);
            }
            ExecEvent::Output { stream, data } => {
                let Some(run) = req.running_mut() else { return };
                if run.cancelled {
                    self.actions.push_back(Action::OutputTaken { id, stream });
                } else {
                    *run.pending_mut(stream) = Some(data);
                }
            }
            ExecEvent::Eof { stream } => {
                let Some(run) = req.running_mut() else { return };
                if run.eof[out_index(stream)] == OutEof::Open {
                    run.eof[out_index(stream)] = OutEof::Seen;
                }
            }
            ExecEvent::StdinWritten(n) => {
                if let StdinSide::Open(credit) = &mut req.stdin {
                    if credit.grant(n).is_ok() {
                        send(&mut self.actions, Message::Window { id, bytes: n });
                    }
                }
            }
            ExecEvent::Exited(status) => {
                let Some(run) = req.running_mut() else { return };
                run.ended = Some(Ending::Exit(status));
            }
            ExecEvent::Ready(ready) => return self.ready(id, ready, now),
            ExecEvent::Done { size, sha256 } => return self.done(id, size, sha256, now),
        }
        self.flush(id, now);
        self.set_idle(now);
    }

    /// Send what credit allows of `id`'s output, its `eof`s, and its
    /// `exit` once everything before it is out. The id is free after that.
    pub(super) fn flush(&mut self, id: u64, now: Instant) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let (credit, kind) = (&mut req.out_credit, req.kind);
        let Phase::Running(run) = &mut req.phase else {
            return;
        };
        for stream in OUT_STREAMS {
            let i = out_index(stream);
            while let Some(chunk) = &mut run.pending[i] {
                let n = (credit.available().min(DATA_CHUNK as u64) as usize).min(chunk.len());
                if n == 0 {
                    break;
                }
                let body = chunk.split_to(n);
                let _ = credit.spend(n as u64);
                let len = n as u32;
                let m = Message::Data { id, stream, len };
                self.actions.push_back(Action::Send(m, body));
                if chunk.is_empty() {
                    run.pending[i] = None;
                    self.actions.push_back(Action::OutputTaken { id, stream });
                }
            }
            if run.pending[i].is_none() && run.eof[i] == OutEof::Seen {
                run.eof[i] = OutEof::Sent;
                // A get's `end` stands for its `eof`.
                if kind == Kind::Exec {
                    send(&mut self.actions, Message::Eof { id, stream });
                }
            }
        }
        if !run.finished() {
            return;
        }
        let status = match run.ended.take() {
            Some(Ending::Exit(status)) => status,
            Some(Ending::Sent { size, sha256 }) => {
                let end = Message::End {
                    id,
                    size,
                    sha256: sha256.clone(),
                };
                send(&mut self.actions, end);
                return self.finish(id, Outcome::Transferred { size, sha256 });
            }
            None => return,
        };
        let duration = now.saturating_duration_since(run.started_at);
        let timed_out = run.stop == Some(StopReason::TimedOut);
        let exit = Message::Exit {
            id,
            code: status.code,
            signal: status.signal,
            timed_out,
            duration_ms: duration.as_millis() as u64,
        };
        let cancelled = run.cancelled;
        send(&mut self.actions, exit);
        let outcome = Outcome::Exited {
            status,
            timed_out,
            cancelled,
            duration,
        };
        self.finish(id, outcome);
    }
}
