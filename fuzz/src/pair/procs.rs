//! The process layer behind the server engine, as the real one behaves: a
//! command is checked, then started (or denied, or fails to start), makes a
//! planned amount of output on each stream one chunk at a time (the next
//! only after the last was taken), reports stdin as written, ends each
//! stream, and exits after both. It checks every stdin byte it is handed
//! and that each request finishes exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use secsh::proto::{ErrorCode, Stream};
use secsh::session::{Action, ExecEvent, ExitStatus, Kind, Outcome, Ready};

/// Byte `at` of stream `s` (0 stdout, 1 stderr) of request `id`'s command.
pub fn out_byte(id: u64, s: usize, at: u64) -> u8 {
    (id.wrapping_mul(31) ^ at.wrapping_mul(7) ^ (s as u64 * 101)) as u8
}

/// Byte `at` of the stdin the application sends to request `id`.
pub fn stdin_byte(id: u64, at: u64) -> u8 {
    (id.wrapping_mul(17) ^ at.wrapping_mul(3)) as u8
}

#[derive(Debug)]
struct Proc {
    kind: Kind,
    answered: bool,
    planned: [u64; 2],
    made: [u64; 2],
    in_flight: [bool; 2],
    eof: [bool; 2],
    stdin: bool,
    unwritten: u64,
    got: u64,
    stdin_eof: bool,
    stopped: bool,
    exited: bool,
    /// A put's `end`: the size and hash the client sent.
    commit: Option<(u64, String)>,
}

impl Proc {
    fn new(kind: Kind, stdin: bool, planned: [u64; 2]) -> Self {
        Self {
            kind,
            answered: false,
            planned,
            made: [0; 2],
            in_flight: [false; 2],
            eof: [false; 2],
            stdin,
            unwritten: 0,
            got: 0,
            stdin_eof: false,
            stopped: false,
            exited: false,
            commit: None,
        }
    }
}

/// The commands the engine started, and how each request finished.
#[derive(Debug, Default)]
pub struct Procs {
    live: BTreeMap<u64, Proc>,
    finished: BTreeMap<u64, (Outcome, [u64; 2])>,
}

fn stream(s: usize) -> Stream {
    [Stream::Stdout, Stream::Stderr][s]
}

impl Procs {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Each finished request's outcome and the output its command made.
    pub fn finished(&self) -> &BTreeMap<u64, (Outcome, [u64; 2])> {
        &self.finished
    }

    /// Follow one of the engine's actions.
    pub fn action(&mut self, a: Action) {
        match a {
            Action::Exec { id, stdin, .. } => {
                let planned = [(id * 40_503) % 12_001, (id * 9_973) % 3_001];
                let p = Proc::new(Kind::Exec, stdin, planned);
                assert!(self.live.insert(id, p).is_none(), "exec under live id {id}");
            }
            Action::Put { id, .. } => {
                let p = Proc::new(Kind::Put, true, [0; 2]);
                assert!(self.live.insert(id, p).is_none(), "put under live id {id}");
            }
            Action::Get { id, .. } => {
                let p = Proc::new(Kind::Get, false, [(id * 40_503) % 12_001, 0]);
                assert!(self.live.insert(id, p).is_none(), "get under live id {id}");
            }
            Action::Commit { id, size, blake3 } => {
                let p = self.live.get_mut(&id).expect("commit for no put");
                assert!(
                    p.kind == Kind::Put && p.commit.is_none(),
                    "commit {id}: {p:?}"
                );
                p.commit = Some((size, blake3));
            }
            Action::Stdin { id, data } => {
                let p = self.live.get_mut(&id).expect("stdin for no command");
                assert!(
                    p.stdin && !p.stdin_eof,
                    "stdin request {id} did not ask for"
                );
                for (i, b) in data.iter().enumerate() {
                    let at = p.got + i as u64;
                    assert_eq!(*b, stdin_byte(id, at), "request {id} stdin byte {at}");
                }
                p.got += data.len() as u64;
                p.unwritten += data.len() as u64;
            }
            Action::StdinEof { id } => {
                let p = self.live.get_mut(&id).expect("eof for no command");
                assert!(!p.stdin_eof, "stdin eof twice for {id}");
                p.stdin_eof = true;
            }
            Action::OutputTaken { id, stream } => {
                let p = self.live.get_mut(&id).expect("output taken for no command");
                let s = usize::from(stream == Stream::Stderr);
                assert!(p.in_flight[s], "{id}: taken without a chunk in flight");
                p.in_flight[s] = false;
            }
            Action::Stop { id, .. } => {
                if let Some(p) = self.live.get_mut(&id) {
                    p.stopped = true;
                }
            }
            Action::Finished { id, outcome, .. } => {
                let made = self.live.remove(&id).map_or([0; 2], |p| p.made);
                let old = self.finished.insert(id, (outcome, made));
                assert!(old.is_none(), "request {id} finished twice");
            }
            Action::Authenticated { .. } => {}
            other => panic!("the server engine asked an exec-only layer for {other:?}"),
        }
    }

    /// The connection closed: every request had its `Finished` before.
    pub fn close(&mut self) {
        assert!(
            self.live.is_empty(),
            "closed with work live: {:?}",
            self.live
        );
    }

    /// One event a command could report now, chosen by `u`.
    pub fn event(&mut self, u: &mut Unstructured) -> Result<Option<(u64, ExecEvent)>> {
        if self.live.is_empty() {
            return Ok(None);
        }
        let n = u.choose_index(self.live.len())?;
        let (&id, p) = self.live.iter_mut().nth(n).expect("in range");
        if !p.answered {
            p.answered = true;
            let ev = match (u.int_in_range(0u8..=9)?, p.kind) {
                (0, _) => ExecEvent::Denied {
                    message: "no".into(),
                },
                (1, Kind::Exec) => ExecEvent::Failed,
                (1, _) => ExecEvent::Refused {
                    code: ErrorCode::NotFound,
                    message: "no such file".into(),
                },
                (2, _) => ExecEvent::Refused {
                    code: ErrorCode::Busy,
                    message: "busy".into(),
                },
                (3, Kind::Exec) => ExecEvent::Started {
                    timeout: Some(Duration::from_millis(u.int_in_range(1..=5000)?)),
                    stdin_offset: None,
                },
                _ => p.ready(),
            };
            return Ok(Some((id, ev)));
        }
        let s = match p.kind {
            Kind::Exec => usize::from(u.arbitrary::<bool>()?),
            _ => 0,
        };
        let ev = match u.int_in_range(0u8..=4)? {
            0 | 1 => {
                let max = u.int_in_range(1..=70_000)?;
                p.output(id, s, max)
            }
            2 => p.eof(s),
            3 => p.written(u.int_in_range(1..=p.unwritten.max(1))?),
            _ => p.exit(),
        };
        Ok(ev.map(|e| (id, e)))
    }

    /// What each live command does next when it has the CPU: one event
    /// each, in id order.
    pub fn next_events(&mut self) -> Vec<(u64, ExecEvent)> {
        let mut out = Vec::new();
        for (&id, p) in self.live.iter_mut() {
            let ev = if !p.answered {
                p.answered = true;
                Some(p.ready())
            } else {
                p.written(p.unwritten)
                    .or_else(|| p.output(id, 0, 65536))
                    .or_else(|| p.output(id, 1, 65536))
                    // Like `cat`, it ends its output only after its stdin.
                    .or_else(|| {
                        (!p.stdin || p.stdin_eof || p.stopped)
                            .then(|| p.eof(0))
                            .flatten()
                    })
                    .or_else(|| {
                        (!p.stdin || p.stdin_eof || p.stopped)
                            .then(|| p.eof(1))
                            .flatten()
                    })
                    .or_else(|| p.exit())
            };
            if let Some(ev) = ev {
                out.push((id, ev));
            }
        }
        out
    }
}

impl Proc {
    /// The command started, or the transfer's file is open.
    fn ready(&self) -> ExecEvent {
        match self.kind {
            Kind::Exec => ExecEvent::Started {
                timeout: None,
                stdin_offset: None,
            },
            Kind::Put => ExecEvent::Ready(Ready::Put {
                offset: 0,
                prefix_blake3: None,
            }),
            Kind::Get => ExecEvent::Ready(Ready::Get {
                size: self.planned[0],
                mode: 0o644,
                offset: 0,
            }),
        }
    }

    fn output(&mut self, id: u64, s: usize, max: u64) -> Option<ExecEvent> {
        let left = self.planned[s] - self.made[s];
        if self.kind == Kind::Put || (self.kind == Kind::Get && s == 1) {
            return None;
        }
        if self.exited || self.eof[s] || self.in_flight[s] || left == 0 {
            return None;
        }
        let n = left.min(max);
        let data: Vec<u8> = (0..n).map(|i| out_byte(id, s, self.made[s] + i)).collect();
        self.made[s] += n;
        self.in_flight[s] = true;
        Some(ExecEvent::Output {
            stream: stream(s),
            data: Bytes::from(data),
        })
    }

    /// The real reader finds the end only when it reads again, after the
    /// last chunk was taken; a stopped command's pipes close early.
    fn eof(&mut self, s: usize) -> Option<ExecEvent> {
        let done = self.made[s] == self.planned[s] || self.stopped;
        if self.kind == Kind::Put || (self.kind == Kind::Get && s == 1) {
            return None;
        }
        if self.exited || self.eof[s] || self.in_flight[s] || !done {
            return None;
        }
        self.eof[s] = true;
        Some(ExecEvent::Eof { stream: stream(s) })
    }

    fn written(&mut self, n: u64) -> Option<ExecEvent> {
        let n = n.min(self.unwritten);
        if self.exited || n == 0 {
            return None;
        }
        self.unwritten -= n;
        Some(ExecEvent::StdinWritten(n))
    }

    /// A command's exit after both ends; a transfer's `Done` (a get's
    /// after its stream's end, a put's after its `end`, checked).
    fn exit(&mut self) -> Option<ExecEvent> {
        match self.kind {
            _ if self.exited => return None,
            Kind::Exec if self.eof != [true; 2] => return None,
            Kind::Exec => {}
            Kind::Get if !self.eof[0] => return None,
            Kind::Get => {
                self.exited = true;
                let (size, blake3) = (self.made[0], format!("h{}", self.made[0]));
                return Some(ExecEvent::Done { size, blake3 });
            }
            Kind::Put => {
                let (size, blake3) = self.commit.clone()?;
                if self.unwritten > 0 {
                    return None;
                }
                self.exited = true;
                return Some(if size == self.got {
                    ExecEvent::Done { size, blake3 }
                } else {
                    ExecEvent::Refused {
                        code: ErrorCode::ChecksumMismatch,
                        message: "size".into(),
                    }
                });
            }
        }
        self.exited = true;
        let status = if self.stopped {
            ExitStatus {
                code: None,
                signal: Some(15),
            }
        } else {
            ExitStatus {
                code: Some((self.got % 7) as i32),
                signal: None,
            }
        };
        Some(ExecEvent::Exited(status))
    }
}
