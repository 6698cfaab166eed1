//! File requests on the client side: `put` (the file's bytes go out as
//! stdin under the server's credit, then `end` with the size and hash) and
//! `get` (the bytes come in as stdout under our output credit, then the
//! server's `end`).

use std::time::Instant;

use super::autotune::RecvWindow;
use super::client::{ClientSession, Req, Stdin};
use super::client_types::{ClientAction, GetParams, UsageError};
use super::PutSpec;
use super::{Credit, Kind};
use crate::proto::{Message, MAX_WINDOW};

impl ClientSession {
    /// Start a put: its bytes go with [`push_stdin`](Self::push_stdin)
    /// after [`ClientAction::PutReady`], then
    /// [`finish_put`](Self::finish_put).
    pub fn put(&mut self, params: PutSpec) -> u64 {
        let req = Req {
            kind: Kind::Put,
            started: false,
            stdin: Some(Stdin::new()),
            out_credit: Credit::new(0).expect("zero window"),
            window: RecvWindow::new(0),
            sent: None,
            eof: [true; 2],
        };
        self.start_request(Some(req), |id| Message::Put {
            id,
            path: params.path,
            name: params.name,
            size: params.size,
            mode: params.mode,
            resume: params.resume,
        })
    }

    /// The put's bytes are all queued: send `end` with the file's total
    /// size and BLAKE3 after them.
    pub fn finish_put(&mut self, id: u64, size: u64, blake3: String) -> Result<(), UsageError> {
        if self.requests.get(&id).map(|r| r.kind) != Some(Kind::Put) {
            return Err(UsageError::NoStdin(id));
        }
        let stdin = self.stdin_mut(id)?;
        stdin.end = Some((size, blake3));
        stdin.eof_queued = true;
        self.flush_stdin(id);
        Ok(())
    }

    /// Start a get; the file arrives as [`ClientAction::FileOpened`],
    /// `Output` on stdout (hand the credit back with `consumed`), then
    /// [`ClientAction::FileEnd`]. `now`: when it is sent.
    pub fn get(&mut self, params: GetParams, now: Instant) -> u64 {
        let window = params.output_window.clamp(1, MAX_WINDOW);
        let req = Req {
            kind: Kind::Get,
            started: false,
            stdin: None,
            out_credit: Credit::new(window).expect("clamped window"),
            window: RecvWindow::new(window),
            sent: Some(now),
            eof: [false, true],
        };
        let (offset, prefix_blake3) = match params.resume_from {
            Some((n, sha)) if n > 0 => (Some(n), Some(sha)),
            _ => (None, None),
        };
        self.start_request(Some(req), |id| Message::Get {
            id,
            path: params.path,
            offset,
            prefix_blake3,
            output_window: Some(window),
        })
    }

    /// `put_ready`, `put_ok`, `file` or `end` from the server at `now`.
    pub(super) fn file_frame(&mut self, m: Message, now: Instant) {
        let (id, kind) = match &m {
            Message::PutReady { id, .. } | Message::PutOk { id, .. } => (*id, Kind::Put),
            Message::File { id, .. } | Message::End { id, .. } => (*id, Kind::Get),
            _ => return,
        };
        let Some(req) = self.requests.get_mut(&id).filter(|r| r.kind == kind) else {
            return self.protocol(format!("{} for unknown request {id}", m.type_name()));
        };
        let opening = matches!(m, Message::PutReady { .. } | Message::File { .. });
        if opening == req.started {
            return self.protocol(format!("{} out of order on request {id}", m.type_name()));
        }
        match m {
            Message::PutReady {
                id,
                window,
                offset,
                prefix_blake3,
            } => {
                req.started = true;
                if let Some(stdin) = &mut req.stdin {
                    match Credit::new(window) {
                        Ok(c) => stdin.credit = c,
                        Err(e) => return self.protocol(format!("put window: {e}")),
                    }
                }
                self.actions.push_back(ClientAction::PutReady {
                    id,
                    offset,
                    prefix_blake3,
                });
                self.flush_stdin(id);
            }
            Message::PutOk { id, size, blake3 } => {
                if req.stdin.as_ref().is_some_and(|s| !s.closed) {
                    return self.protocol(format!("put_ok before end on request {id}"));
                }
                self.requests.remove(&id);
                let a = ClientAction::Stored { id, size, blake3 };
                self.actions.push_back(a);
            }
            Message::File {
                id,
                size,
                mode,
                offset,
            } => {
                if offset > size {
                    return self.protocol(format!("file offset past its size on request {id}"));
                }
                req.started = true;
                if let Some(sent) = req.sent.take() {
                    self.rtt.sample(now.saturating_duration_since(sent));
                }
                let a = ClientAction::FileOpened {
                    id,
                    size,
                    mode,
                    offset,
                };
                self.actions.push_back(a);
            }
            Message::End { id, size, blake3 } => {
                self.requests.remove(&id);
                let a = ClientAction::FileEnd { id, size, blake3 };
                self.actions.push_back(a);
            }
            _ => {}
        }
    }
}
