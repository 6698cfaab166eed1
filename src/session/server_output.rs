//! The server's output path: what a command or a get has read goes to
//! the client within the credit the client granted, in frames of at most
//! `DATA_CHUNK`, then each stream's end, then the request's last message
//! once everything before it is out.

use std::collections::VecDeque;
use std::time::Instant;

use super::server::{send, ServerSession};
use super::server_request::{Exec, ExecPhase, Get, GetPhase, Out, OutEof, Request};
use super::{out_index, Action, Credit, Outcome, StopReason, OUT_STREAMS};
use crate::proto::{Message, Stream, DATA_CHUNK};

impl ServerSession {
    /// Send what credit allows of `id`'s output, its `eof`s, and its last
    /// message once everything before it is out; the id is free after.
    pub(super) fn flush(&mut self, id: u64, now: Instant) {
        let actions = &mut self.actions;
        let end = match self.requests.get_mut(&id) {
            Some(Request::Exec(Exec {
                phase: ExecPhase::Running(run),
                out_credit,
                ..
            })) => {
                for stream in OUT_STREAMS {
                    let out = &mut run.out[out_index(stream)];
                    if drain(actions, id, stream, out, out_credit) {
                        send(actions, Message::Eof { id, stream });
                    }
                }
                match run.exit {
                    Some(status) if run.out.iter().all(Out::done) => {
                        let timed_out = run.stop == Some(StopReason::TimedOut);
                        let duration = now.saturating_duration_since(run.started_at);
                        let exit = Message::Exit {
                            id,
                            code: status.code,
                            signal: status.signal,
                            timed_out,
                            duration_ms: duration.as_millis() as u64,
                        };
                        send(actions, exit);
                        Outcome::Exited {
                            status,
                            timed_out,
                            cancelled: run.cancelled,
                            duration,
                        }
                    }
                    _ => return,
                }
            }
            Some(Request::Get(Get {
                phase: GetPhase::Sending { out, done },
                out_credit,
            })) => {
                // A get's `end` stands for its `eof`.
                drain(actions, id, Stream::Stdout, out, out_credit);
                match done.take() {
                    Some((size, blake3)) if out.done() => {
                        let end = Message::End {
                            id,
                            size,
                            blake3: blake3.clone(),
                        };
                        send(actions, end);
                        Outcome::Transferred { size, blake3 }
                    }
                    other => return *done = other,
                }
            }
            _ => return,
        };
        self.finish(id, end);
    }
}

/// Send what `credit` allows of `out`'s pending chunk, in frames of at
/// most [`DATA_CHUNK`]; `OutputTaken` once the chunk is all out. True when
/// the stream's end was seen and everything before it is out: the caller
/// passes the end on (once).
fn drain(
    actions: &mut VecDeque<Action>,
    id: u64,
    stream: Stream,
    out: &mut Out,
    credit: &mut Credit,
) -> bool {
    while let Some(chunk) = &mut out.pending {
        let n = (credit.available().min(DATA_CHUNK as u64) as usize).min(chunk.len());
        if n == 0 {
            break;
        }
        let body = chunk.split_to(n);
        let _ = credit.spend(n as u64);
        let m = Message::Data {
            id,
            stream,
            len: n as u32,
        };
        actions.push_back(Action::Send(m, body));
        if chunk.is_empty() {
            out.pending = None;
            actions.push_back(Action::OutputTaken { id, stream });
        }
    }
    if out.pending.is_none() && out.eof == OutEof::Seen {
        out.eof = OutEof::Sent;
        return true;
    }
    false
}
