//! The application in front of the client engine: starts commands, feeds
//! their stdin in chunks, consumes (and so re-grants) their output, cancels
//! some, and records how each request ended on the client's side. It
//! checks every output byte against what the process made, and in the end
//! each request's end against the server's.

use std::collections::BTreeMap;
use std::time::Instant;

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use secsh::proto::{ErrorCode, Stream};
use secsh::session::{
    ClientAction, ClientSession, ExecParams, GetParams, Kind, Outcome, PutSpec, RemoteExit,
};

use super::procs::{out_byte, stdin_byte};

/// Requests one run starts at most.
const MAX_REQUESTS: usize = 8;

/// How a request ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Exited(RemoteExit),
    Denied,
    Failed(ErrorCode),
    /// A put stored this many bytes.
    Stored(u64),
    /// A get's whole file (this many bytes) arrived.
    Fetched(u64),
    /// The connection ended first.
    Closed,
}

#[derive(Debug)]
struct Req {
    kind: Kind,
    stdin: bool,
    stdin_planned: u64,
    stdin_pushed: u64,
    /// A pushed chunk is not all sent yet.
    chunk_out: bool,
    stdin_closed: bool,
    received: [u64; 2],
    /// Received and not yet handed back as credit.
    unconsumed: u64,
    cancelled: bool,
    end: Option<End>,
}

/// The application's requests by id.
#[derive(Debug, Default)]
pub struct App {
    reqs: BTreeMap<u64, Req>,
}

fn idx(s: Stream) -> usize {
    usize::from(s == Stream::Stderr)
}

impl App {
    fn end(&mut self, id: u64, end: End) {
        let r = self
            .reqs
            .get_mut(&id)
            .unwrap_or_else(|| panic!("an end for request {id}, which the app never started"));
        assert!(
            r.end.is_none(),
            "request {id} ended twice: {:?} then {end:?}",
            r.end
        );
        r.end = Some(end);
    }

    /// An event of the client engine.
    pub fn event(&mut self, a: ClientAction) {
        match a {
            ClientAction::Output { id, stream, data } => {
                let r = self
                    .reqs
                    .get_mut(&id)
                    .expect("output for a request never started");
                assert!(r.end.is_none(), "output for request {id} after its end");
                let s = idx(stream);
                for (i, b) in data.iter().enumerate() {
                    let at = r.received[s] + i as u64;
                    assert_eq!(*b, out_byte(id, s, at), "request {id} stream {s} byte {at}");
                }
                r.received[s] += data.len() as u64;
                r.unconsumed += data.len() as u64;
            }
            ClientAction::StdinTaken { id } => {
                if let Some(r) = self.reqs.get_mut(&id) {
                    r.chunk_out = false;
                }
            }
            ClientAction::Exited { id, exit } => self.end(id, End::Exited(exit)),
            ClientAction::Denied { id, .. } => self.end(id, End::Denied),
            ClientAction::Failed { id, code, .. } => self.end(id, End::Failed(code)),
            ClientAction::Stored { id, size, blake3 } => {
                assert_eq!(blake3, format!("s{id}"), "the hash the put sent back");
                self.end(id, End::Stored(size))
            }
            ClientAction::FileEnd { id, size, blake3 } => {
                assert_eq!(blake3, format!("h{size}"), "the hash the get reported");
                self.end(id, End::Fetched(size))
            }
            ClientAction::Started { .. }
            | ClientAction::PutReady { .. }
            | ClientAction::FileOpened { .. }
            | ClientAction::Eof { .. }
            | ClientAction::Authenticated { .. } => {}
            other => panic!("the client engine yielded {other:?} to an exec-only app"),
        }
    }

    /// The client engine closed: every request not ended ends with it.
    pub fn connection_closed(&mut self) {
        for r in self.reqs.values_mut() {
            if r.end.is_none() {
                r.end = Some(End::Closed);
            }
        }
    }

    pub fn all_ended(&self) -> bool {
        self.reqs.values().all(|r| r.end.is_some())
    }

    fn live(&self) -> Vec<u64> {
        let live = self.reqs.iter().filter(|(_, r)| r.end.is_none());
        live.map(|(id, _)| *id).collect()
    }

    /// One seeded step of the application.
    pub fn step(
        &mut self,
        c: &mut ClientSession,
        u: &mut Unstructured,
        now: Instant,
    ) -> Result<()> {
        let live = self.live();
        match u.int_in_range(0u8..=5)? {
            0 if self.reqs.len() < MAX_REQUESTS && !c.is_closed() => {
                let output_window = *u.choose(&[1, 7, 1000, 65536, 1 << 24])?;
                let (id, req) = match u.int_in_range(0u8..=4)? {
                    0 => {
                        let size = u.int_in_range(0..=12_000)?;
                        let id = c.put(PutSpec {
                            path: "/srv/f".into(),
                            name: None,
                            size: Some(size),
                            mode: None,
                            resume: false,
                        });
                        (id, Req::new(Kind::Put, true, size))
                    }
                    1 => {
                        let id = c.get(
                            GetParams {
                                path: "/srv/f".into(),
                                resume_from: None,
                                output_window,
                            },
                            now,
                        );
                        (id, Req::new(Kind::Get, false, 0))
                    }
                    _ => {
                        let stdin = u.arbitrary()?;
                        let id = c.exec(
                            ExecParams {
                                argv: vec!["cat".into()],
                                stdin,
                                timeout_ms: None,
                                output_window,
                            },
                            now,
                        );
                        let planned = if stdin {
                            u.int_in_range(0..=12_000)?
                        } else {
                            0
                        };
                        (id, Req::new(Kind::Exec, stdin, planned))
                    }
                };
                self.reqs.insert(id, req);
            }
            1 | 2 if !live.is_empty() => {
                let id = *u.choose(&live)?;
                let n = u.int_in_range(1..=70_000)?;
                self.push(c, id, n);
            }
            3 if !live.is_empty() => {
                let id = *u.choose(&live)?;
                let r = self.reqs.get_mut(&id).expect("live");
                if r.unconsumed > 0 {
                    let n = u.int_in_range(1..=r.unconsumed)?;
                    r.unconsumed -= n;
                    c.consumed(id, n, now);
                }
            }
            4 if !live.is_empty() => {
                let id = *u.choose(&live)?;
                if let Some(r) = self.reqs.get_mut(&id) {
                    if r.stdin && !r.stdin_closed && !r.chunk_out {
                        r.close(c, id);
                    }
                }
            }
            5 if !live.is_empty() && u.int_in_range(0u8..=3)? == 0 => {
                let id = *u.choose(&live)?;
                self.reqs.get_mut(&id).expect("live").cancelled = true;
                c.cancel(id);
            }
            _ => {}
        }
        Ok(())
    }

    /// Queue up to `n` more stdin bytes of `id` (one chunk at a time).
    fn push(&mut self, c: &mut ClientSession, id: u64, n: u64) {
        let Some(r) = self.reqs.get_mut(&id) else {
            return;
        };
        let left = r.stdin_planned - r.stdin_pushed;
        if !r.stdin || r.stdin_closed || r.chunk_out || left == 0 {
            return;
        }
        let n = n.min(left);
        let data: Vec<u8> = (0..n).map(|i| stdin_byte(id, r.stdin_pushed + i)).collect();
        if c.push_stdin(id, Bytes::from(data)).is_ok() {
            r.stdin_pushed += n;
            r.chunk_out = true;
        }
    }

    /// Everything the application still owes: all output consumed, the
    /// rest of stdin queued, stdin closed.
    pub fn finish_up(&mut self, c: &mut ClientSession, now: Instant) {
        for id in self.live() {
            let r = self.reqs.get_mut(&id).expect("live");
            if r.unconsumed > 0 {
                c.consumed(id, r.unconsumed, now);
                r.unconsumed = 0;
            }
            self.push(c, id, u64::MAX);
            let r = self.reqs.get_mut(&id).expect("live");
            if r.stdin && !r.stdin_closed && !r.chunk_out && r.stdin_pushed == r.stdin_planned {
                r.close(c, id);
            }
        }
    }

    /// Each request's end on the client against the server's `Finished`
    /// (`made`: output bytes each command made).
    pub fn check_against(&self, finished: &BTreeMap<u64, (Outcome, [u64; 2])>, cut: bool) {
        for id in finished.keys() {
            assert!(
                self.reqs.contains_key(id),
                "server finished {id}, never started"
            );
        }
        for (id, r) in &self.reqs {
            let end = r
                .end
                .as_ref()
                .unwrap_or_else(|| panic!("request {id} never ended"));
            let server = finished.get(id);
            if *end == End::Closed {
                assert!(cut, "request {id} closed on a connection that lives");
                continue;
            }
            match (end, server) {
                // Refused by the engine before it took the request.
                (End::Failed(ErrorCode::Busy | ErrorCode::BadRequest), None) => {}
                (_, None) => {
                    panic!("request {id} ended {end:?} on the client, never on the server")
                }
                (_, Some((outcome, made))) => {
                    assert!(
                        agree(end, outcome),
                        "request {id}: client {end:?}, server {outcome:?}"
                    );
                    if matches!(end, End::Exited(_) | End::Fetched(_)) && !r.cancelled {
                        assert_eq!(r.received, *made, "request {id}: output bytes lost");
                    }
                }
            }
        }
    }
}

impl Req {
    fn new(kind: Kind, stdin: bool, stdin_planned: u64) -> Self {
        Self {
            kind,
            stdin,
            stdin_planned,
            stdin_pushed: 0,
            chunk_out: false,
            stdin_closed: false,
            received: [0; 2],
            unconsumed: 0,
            cancelled: false,
            end: None,
        }
    }
}

impl Req {
    /// No more stdin: `eof`, or a put's `end` with its size and hash (a
    /// put closed early announces the size it planned: the server's check
    /// then refuses it).
    fn close(&mut self, c: &mut ClientSession, id: u64) {
        let closed = match self.kind {
            Kind::Put => c.finish_put(id, self.stdin_planned, format!("s{id}")),
            _ => c.close_stdin(id),
        };
        self.stdin_closed = closed.is_ok();
    }
}

/// The client's end and the server's outcome say the same thing.
fn agree(end: &End, outcome: &Outcome) -> bool {
    match (end, outcome) {
        (
            End::Exited(exit),
            Outcome::Exited {
                status, timed_out, ..
            },
        ) => match exit {
            RemoteExit::TimedOut => *timed_out,
            RemoteExit::Signal(s) => !timed_out && status.signal == Some(*s),
            RemoteExit::Code(c) => !timed_out && status.signal.is_none() && status.code == Some(*c),
        },
        (End::Denied, Outcome::Denied) => true,
        (End::Stored(n) | End::Fetched(n), Outcome::Transferred { size, .. }) => n == size,
        (End::Failed(ErrorCode::ExecFailed), Outcome::FailedToStart) => true,
        (End::Failed(c), Outcome::Error(o)) => c == o,
        _ => false,
    }
}
