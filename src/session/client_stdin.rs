//! The client's side of stdin (and of a put's bytes): chunks queued by the
//! application leave in `data` frames that fit the server's credit, then
//! `eof`, or a put's `end`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::autotune::RecvWindow;
use super::client::{send, ClientSession};
use super::client_types::{ClientAction, UsageError};
use super::{Credit, Kind};
use crate::proto::{Message, Stream, DATA_CHUNK};

#[derive(Debug)]
pub(super) struct Stdin {
    pub credit: Credit,
    pub pending: VecDeque<Bytes>,
    pub eof_queued: bool,
    /// A put's `end` (size, BLAKE3), sent instead of `eof`.
    pub end: Option<(u64, String)>,
    pub closed: bool,
}

impl Stdin {
    pub fn new() -> Self {
        Self {
            credit: Credit::new(0).expect("zero window"),
            pending: VecDeque::new(),
            eof_queued: false,
            end: None,
            closed: false,
        }
    }
}

#[derive(Debug)]
pub(super) struct Req {
    pub kind: Kind,
    pub started: bool,
    pub stdin: Option<Stdin>,
    /// What the server may still send us.
    pub out_credit: Credit,
    /// The size that credit is topped up to, grown by autotuning.
    pub window: RecvWindow,
    /// When the request went out (until its first answer: an RTT sample).
    pub sent: Option<Instant>,
    pub eof: [bool; 2],
}

impl ClientSession {
    /// Queue one chunk of stdin; it leaves in frames that fit the server's
    /// credit. [`ClientAction::StdinTaken`] says when each chunk is all
    /// sent; the caller bounds how many it queues.
    pub fn push_stdin(&mut self, id: u64, data: Bytes) -> Result<(), UsageError> {
        self.stdin_mut(id)?.pending.push_back(data);
        self.flush_stdin(id);
        Ok(())
    }

    /// No more stdin for `id` (sent after any queued chunk).
    pub fn close_stdin(&mut self, id: u64) -> Result<(), UsageError> {
        self.stdin_mut(id)?.eof_queued = true;
        self.flush_stdin(id);
        Ok(())
    }

    pub(super) fn stdin_mut(&mut self, id: u64) -> Result<&mut Stdin, UsageError> {
        self.requests
            .get_mut(&id)
            .and_then(|r| r.stdin.as_mut())
            .filter(|s| !s.closed && !s.eof_queued)
            .ok_or(UsageError::NoStdin(id))
    }

    pub(super) fn flush_stdin(&mut self, id: u64) {
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let (true, Some(stdin)) = (req.started, req.stdin.as_mut()) else {
            return;
        };
        while let Some(chunk) = stdin.pending.front_mut() {
            let n = (stdin.credit.available().min(DATA_CHUNK as u64) as usize).min(chunk.len());
            if n == 0 && !chunk.is_empty() {
                return;
            }
            let body = chunk.split_to(n);
            let _ = stdin.credit.spend(n as u64);
            if n > 0 {
                let stream = Stream::Stdin;
                let m = Message::Data {
                    id,
                    stream,
                    len: n as u32,
                };
                self.actions.push_back(ClientAction::Send(m, body));
            }
            if chunk.is_empty() {
                stdin.pending.pop_front();
                self.actions.push_back(ClientAction::StdinTaken { id });
            }
        }
        if stdin.eof_queued && !stdin.closed {
            stdin.closed = true;
            let m = match stdin.end.take() {
                Some((size, blake3)) => Message::End { id, size, blake3 },
                None => Message::Eof {
                    id,
                    stream: Stream::Stdin,
                },
            };
            send(&mut self.actions, m);
        }
    }
}
