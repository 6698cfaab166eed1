//! Requests on an authenticated server connection: each frame a client
//! sends about a request (`exec`, stdin and its credit, output credit,
//! `cancel`) and each event of the process layer, applied to the request's
//! typed lifecycle (server_request.rs). Output leaves through
//! server_output.rs.

use std::time::Instant;

use bytes::Bytes;

use super::server::{error, send, CloseReason, ServerSession};
use super::server_request::{
    Exec, ExecPhase, Get, GetPhase, OutEof, Put, PutPhase, Request, Running, StdinSide, StdinTune,
};
use super::{out_index, Action, Credit, ExecEvent, Outcome, StopReason, Violation, OUT_STREAMS};
use crate::proto::{ErrorCode, Frame, Message, Stream};

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
                if self.admit_exec(id, stdin, output_window) {
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
                prefix_blake3,
                output_window,
            } => {
                let spec = super::GetSpec {
                    path,
                    offset: offset.unwrap_or(0),
                    prefix_blake3,
                };
                self.get(id, spec, output_window);
            }
            Message::End { id, size, blake3 } => self.put_end(id, size, blake3),
            Message::Data {
                id,
                stream: Stream::Stdin,
                len,
            } => {
                self.stdin_arrived(id, now);
                self.stdin_data(id, len, frame.body)
            }
            Message::Eof {
                id,
                stream: Stream::Stdin,
            } => self.stdin_eof(id),
            Message::Window { id, bytes } => self.output_credit(id, bytes, now),
            Message::Cancel { id } => self.cancel(id, now),
            Message::Ping => send(&mut self.actions, Message::Pong),
            Message::List { id } => self.actions.push_back(Action::List { id }),
            m @ (Message::Job { .. }
            | Message::Attach { .. }
            | Message::Jobs { .. }
            | Message::CancelJob { .. }) => self.job_frame(m),
            Message::Pong => {}
            Message::Error {
                id: None, message, ..
            } => self.close(CloseReason::PeerError(message.chars().take(200).collect())),
            other => self.protocol(Violation::Unexpected(other.type_name())),
        }
        self.set_idle(now);
    }

    /// Admit an exec-shaped request (`exec`, `job`, `attach`): checked,
    /// then running with two output streams and perhaps stdin. False when
    /// it was refused (already answered).
    pub(super) fn admit_exec(&mut self, id: u64, stdin: bool, output_window: Option<u64>) -> bool {
        let Some((out_credit, stdin_allot)) = self.admit(id, stdin.then_some(None), output_window)
        else {
            return false;
        };
        let exec = Exec {
            phase: ExecPhase::Checking {
                cancelled: false,
                early_eof: false,
            },
            stdin: if stdin {
                StdinSide::Open(Credit::unlimited())
            } else {
                StdinSide::None
            },
            out_credit,
            stdin_allot,
            stdin_tune: StdinTune::default(),
        };
        self.requests.insert(id, Request::Exec(exec));
        true
    }

    fn stdin_data(&mut self, id: u64, len: u32, body: Bytes) {
        // Stdin for a request that already ended is a normal race.
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let problem = match req {
            Request::Exec(e) => match (&e.phase, &mut e.stdin) {
                (ExecPhase::Checking { .. }, _) => Violation::StdinBeforeStarted,
                (_, StdinSide::None) => Violation::StdinUndeclared,
                (_, StdinSide::Closed) => Violation::StdinAfterEof,
                (ExecPhase::Running(run), StdinSide::Open(credit)) => {
                    match credit.spend(len as u64) {
                        // The command already exited (its output is still
                        // being sent): nothing reads stdin any more; the
                        // client sent it before it heard, so it is
                        // dropped, within the window as before.
                        Ok(()) if run.exit.is_some() => return,
                        Ok(()) => return self.actions.push_back(Action::Stdin { id, data: body }),
                        Err(_) => Violation::StdinPastWindow,
                    }
                }
            },
            Request::Put(p) => match &mut p.phase {
                PutPhase::Opening { .. } => Violation::StdinBeforeStarted,
                PutPhase::Committing => Violation::StdinAfterEof,
                PutPhase::Receiving(credit) => match credit.spend(len as u64) {
                    Ok(()) => return self.actions.push_back(Action::Stdin { id, data: body }),
                    Err(_) => Violation::StdinPastWindow,
                },
            },
            Request::Get(_) => Violation::StdinUndeclared,
        };
        self.protocol(problem);
    }

    fn stdin_eof(&mut self, id: u64) {
        let exec = match self.requests.get_mut(&id) {
            Some(Request::Exec(e)) => e,
            Some(Request::Put(_)) => return self.protocol(Violation::PutEndsWithEof),
            // A get has no stdin; an ended request's eof is a race.
            _ => return,
        };
        if let StdinSide::Open(_) = exec.stdin {
            exec.stdin = StdinSide::Closed;
            match &mut exec.phase {
                ExecPhase::Checking { early_eof, .. } => *early_eof = true,
                ExecPhase::Running(r) if r.exit.is_some() => {}
                ExecPhase::Running(_) => self.actions.push_back(Action::StdinEof { id }),
            }
        }
    }

    fn output_credit(&mut self, id: u64, bytes: u64, now: Instant) {
        let credit = match self.requests.get_mut(&id) {
            None => return,
            Some(Request::Exec(e)) => &mut e.out_credit,
            Some(Request::Get(g)) => &mut g.out_credit,
            Some(Request::Put(_)) => return self.protocol(Violation::WindowWithoutOutputWindow),
        };
        if credit.is_unlimited() {
            return self.protocol(Violation::WindowWithoutOutputWindow);
        }
        if let Err(e) = credit.grant(bytes) {
            return self.protocol(Violation::Window(e));
        }
        self.flush(id, now);
    }

    pub(super) fn cancel(&mut self, id: u64, now: Instant) {
        let run = match self.requests.get_mut(&id) {
            None => return,
            Some(Request::Exec(e)) => match &mut e.phase {
                ExecPhase::Checking { cancelled, .. } => return *cancelled = true,
                ExecPhase::Running(run) => run,
            },
            Some(Request::Put(Put {
                phase: PutPhase::Opening { cancelled },
                ..
            }))
            | Some(Request::Get(Get {
                phase: GetPhase::Opening { cancelled },
                ..
            })) => return *cancelled = true,
            Some(_) => return self.end_transfer(id, StopReason::Cancelled),
        };
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
            if run.out[out_index(stream)].pending.take().is_some() {
                self.actions.push_back(Action::OutputTaken { id, stream });
            }
        }
        self.flush(id, now);
    }

    /// The process layer reports on request `id`.
    pub fn handle_exec_event(&mut self, id: u64, event: ExecEvent, now: Instant) {
        if self.is_closed() || !self.requests.contains_key(&id) {
            return;
        }
        match event {
            // Any kind, at any point: the request ends now.
            ExecEvent::Denied { message } => {
                send(&mut self.actions, Message::Denied { id, message });
                return self.finish(id, Outcome::Denied);
            }
            ExecEvent::Refused { code, message } => {
                send(&mut self.actions, error(Some(id), code, message));
                return self.finish(id, Outcome::Error(code));
            }
            ExecEvent::Failed => {
                let m = "the command could not be started";
                send(&mut self.actions, error(Some(id), ErrorCode::ExecFailed, m));
                return self.finish(id, Outcome::FailedToStart);
            }
            ExecEvent::Ready(ready) => return self.ready(id, ready, now),
            ExecEvent::JobStarted { job, detached } => return self.job_started(id, job, detached),
            ExecEvent::Skipped { stream, bytes } => return self.skipped(id, stream, bytes),
            ExecEvent::Done { size, blake3 } => return self.done(id, size, blake3, now),
            ExecEvent::Started {
                timeout,
                stdin_offset,
            } => self.started(id, timeout, stdin_offset, now),
            ExecEvent::StdinWritten(n) => self.stdin_written(id, n, now),
            ExecEvent::Output { stream, data } => match self.requests.get_mut(&id) {
                Some(Request::Exec(Exec {
                    phase: ExecPhase::Running(run),
                    ..
                })) if run.cancelled => self.actions.push_back(Action::OutputTaken { id, stream }),
                Some(Request::Exec(Exec {
                    phase: ExecPhase::Running(run),
                    ..
                })) => run.out[out_index(stream)].pending = Some(data),
                Some(Request::Get(Get {
                    phase: GetPhase::Sending { out, .. },
                    ..
                })) => out.pending = Some(data),
                _ => {}
            },
            ExecEvent::Eof { stream } => {
                let out = match self.requests.get_mut(&id) {
                    Some(Request::Exec(Exec {
                        phase: ExecPhase::Running(run),
                        ..
                    })) => &mut run.out[out_index(stream)],
                    Some(Request::Get(Get {
                        phase: GetPhase::Sending { out, .. },
                        ..
                    })) => out,
                    _ => return,
                };
                if out.eof == OutEof::Open {
                    out.eof = OutEof::Seen;
                }
            }
            ExecEvent::TimedOut => {
                if let Some(run) = self.requests.get_mut(&id).and_then(Request::running_mut) {
                    run.stop.get_or_insert(StopReason::TimedOut);
                }
            }
            ExecEvent::Exited(status) => {
                if let Some(run) = self.requests.get_mut(&id).and_then(Request::running_mut) {
                    run.exit = Some(status);
                }
            }
        }
        self.flush(id, now);
        self.set_idle(now);
    }

    fn started(
        &mut self,
        id: u64,
        timeout: Option<std::time::Duration>,
        stdin_offset: Option<u64>,
        now: Instant,
    ) {
        let Some(Request::Exec(exec)) = self.requests.get_mut(&id) else {
            return;
        };
        let ExecPhase::Checking {
            cancelled,
            early_eof,
        } = exec.phase
        else {
            return;
        };
        let deadline = timeout.and_then(|t| now.checked_add(t));
        exec.phase = ExecPhase::Running(Box::new(Running::new(now, deadline)));
        let window = match &mut exec.stdin {
            StdinSide::Open(c) => {
                *c = Credit::new(exec.stdin_allot).unwrap_or_else(|_| Credit::unlimited());
                exec.stdin_tune.open(exec.stdin_allot, now);
                exec.stdin_allot
            }
            _ => 0,
        };
        let started = Message::Started {
            id,
            stdin_window: window,
            stdin_offset,
        };
        send(&mut self.actions, started);
        if early_eof {
            self.actions.push_back(Action::StdinEof { id });
        }
        if cancelled {
            self.cancel(id, now);
        }
    }
}
