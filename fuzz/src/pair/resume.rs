//! Resume at every frame boundary: one resumable job through both engines
//! and a model of the server's job layer (a spool the command appends to
//! whether or not anyone reads it, and a follower per request that reads
//! it from the request's offsets, one chunk in flight per stream, as
//! `server::jobs::follow` does). The connection is cut after the Nth
//! frame delivered either way, for every N up to the frames an uncut run
//! takes; the client model then reconnects and sends `attach {exact}` at
//! the byte counts it received, as `secsh --resume-on-drop` does. With
//! stdin, the job exits only after the end of its stdin, and each
//! resume's `attach {stdin}` carries it on from the byte count `started`
//! gives. Every run must end with exactly the job's bytes on each stream,
//! in order, no byte lost or repeated, the client's stdin taken exactly
//! once and whole, and the exit code, however many cuts it took.

use std::time::{Duration, Instant};

use secsh::proto::{AuthMethod, Message, Stream};
use secsh::session::{
    Action, AttachParams, AuthVerdict, ClientAction, ClientSession, ClientSettings, ExecEvent,
    ExecParams, Grant, RemoteExit, ServerSession, ServerSettings,
};

use super::proof;
use super::resume_model::{stdin_byte, Follower, Job, Pipe, CODE, JOB, STDIN_LEN, STDIN_PIECE};

/// One world: the job, and the connection of the moment.
struct World {
    now: Instant,
    job: Job,
    client: ClientSession,
    server: ServerSession,
    up: Pipe,
    down: Pipe,
    follower: Option<Follower>,
    /// The request the client model follows the job with.
    request: Option<u64>,
    received: [Vec<u8>; 2],
    job_id: Option<String>,
    exit: Option<RemoteExit>,
    /// Frames delivered on this connection; cut when it reaches `cut_at`.
    frames: usize,
    cut_at: Option<usize>,
    /// Cut every connection at `cut_at`, not only the first.
    repeat: bool,
    cut: bool,
    window: u64,
    chunk: usize,
    connections: usize,
    /// The run has stdin: the request that carries it on this connection
    /// (once `started`), the next byte to push, pieces pushed and not yet
    /// taken, the end pushed.
    stdin: bool,
    feeding: Option<u64>,
    handed: usize,
    queued: usize,
    eof_handed: bool,
}

fn connect(now: Instant) -> (ClientSession, ServerSession) {
    let secs = Duration::from_secs;
    let server = ServerSession::new(
        ServerSettings {
            auth_deadline: now + secs(10),
            max_requests: 4,
            stdin_window: 256,
            stdin_budget: 1 << 30,
            idle_timeout: None,
            keepalive: None,
            auth_methods: vec![AuthMethod::Password],
            max_auth_tries: 3,
            rtt_hint: None,
        },
        now,
    );
    let settings = ClientSettings {
        auth_deadline: now + secs(10),
        keepalive: None,
        output_budget: 0,
        rtt_hint: None,
    };
    let client = ClientSession::new("alice".into(), proof(), settings, now);
    (client, server)
}

impl World {
    fn new(window: u64, chunk: usize, cut_at: Option<usize>, repeat: bool, stdin: bool) -> Self {
        let now = Instant::now();
        let (client, server) = connect(now);
        let mut w = Self {
            now,
            job: Job {
                reads_stdin: stdin,
                ..Job::default()
            },
            client,
            server,
            up: Pipe::default(),
            down: Pipe::default(),
            follower: None,
            request: None,
            received: [Vec::new(), Vec::new()],
            job_id: None,
            exit: None,
            frames: 0,
            cut_at,
            repeat,
            cut: false,
            window,
            chunk,
            connections: 1,
            stdin,
            feeding: None,
            handed: 0,
            queued: 0,
            eof_handed: false,
        };
        let params = ExecParams {
            argv: vec!["gen".into()],
            stdin,
            timeout_ms: None,
            output_window: window,
        };
        w.request = Some(w.client.job(params, false, now));
        w
    }

    /// A new connection that attaches at the bytes received; false when
    /// the cut came before `job_started` (nothing to resume: the client
    /// gives up, the server stops the job after its grace).
    fn reconnect(&mut self) -> bool {
        let Some(job) = self.job_id.clone() else {
            return false;
        };
        let (client, server) = connect(self.now);
        self.client = client;
        self.server = server;
        self.up = Pipe::default();
        self.down = Pipe::default();
        self.follower = None;
        self.frames = 0;
        self.cut = false;
        self.connections += 1;
        self.feeding = None;
        let params = AttachParams {
            job,
            offsets: [self.received[0].len() as u64, self.received[1].len() as u64],
            exact: true,
            stdin: self.stdin,
            output_window: self.window,
        };
        self.request = Some(self.client.attach(params, self.now));
        true
    }

    fn pump(&mut self) {
        loop {
            let mut any = false;
            while let Some(a) = self.client.poll_action() {
                any = true;
                self.client_action(a);
            }
            while let Some(a) = self.server.poll_action() {
                any = true;
                self.server_action(a);
            }
            if !any {
                return;
            }
        }
    }

    fn client_action(&mut self, a: ClientAction) {
        match a {
            ClientAction::Send(m, body) => {
                assert!(
                    !matches!(m, Message::Error { id: None, .. }),
                    "client broke: {m:?}"
                );
                if !self.cut {
                    self.up.write(&m, &body);
                }
            }
            ClientAction::JobStarted { job, detached, .. } => {
                assert!(!detached);
                self.job_id = Some(job);
            }
            ClientAction::Output { id, stream, data } => {
                let s = usize::from(stream == Stream::Stderr);
                self.received[s].extend_from_slice(&data);
                self.client.consumed(id, data.len() as u64, self.now);
            }
            ClientAction::Started { id, stdin_offset } if self.stdin => {
                // The request that started the job sends from byte 0, a
                // resume from where the server says it is.
                let from = if self.connections == 1 {
                    assert_eq!(stdin_offset, None);
                    0
                } else {
                    stdin_offset.expect("an attach with stdin gets stdin_offset") as usize
                };
                assert!(from <= self.handed, "the server has bytes never sent");
                self.handed = from;
                self.queued = 0;
                self.eof_handed = false;
                self.feeding = Some(id);
            }
            ClientAction::StdinTaken { .. } => self.queued = self.queued.saturating_sub(1),
            ClientAction::Exited { exit, .. } => self.exit = Some(exit),
            ClientAction::Skipped { .. } => panic!("an exact attach skipped bytes"),
            ClientAction::Failed { code, message, .. } => panic!("failed: {code:?} {message}"),
            ClientAction::Closed(_) => self.cut = true,
            _ => {}
        }
    }

    fn server_action(&mut self, a: Action) {
        let now = self.now;
        match a {
            Action::Send(m, body) => {
                assert!(
                    !matches!(m, Message::Error { id: None, .. }),
                    "server broke: {m:?}"
                );
                if !self.cut {
                    self.down.write(&m, &body);
                }
            }
            Action::Verify { .. } => {
                let grant = AuthVerdict::Ok(Grant {
                    stdin_budget: 1 << 30,
                });
                self.server.handle_auth_result("alice", grant, now);
            }
            Action::Job { id, detach, .. } => {
                assert!(!detach);
                self.job.holder = self.stdin.then_some(id);
                let started = ExecEvent::JobStarted {
                    job: JOB.into(),
                    detached: false,
                };
                self.server.handle_exec_event(id, started, now);
                self.start_follower(id, [0, 0]);
            }
            Action::Attach { id, spec } => {
                assert_eq!(spec.job, JOB);
                assert!(spec.exact);
                assert_eq!(spec.stdin, self.stdin);
                let offsets = [spec.offsets[0] as usize, spec.offsets[1] as usize];
                self.job.holder = spec.stdin.then_some(id);
                self.start_follower(id, offsets);
            }
            // Stdin from a request that does not carry the job's is dropped.
            Action::Stdin { id, data } if self.job.holder == Some(id) && !self.job.stdin_eof => {
                self.job.stdin.extend_from_slice(&data);
                // The model's pipe takes it at once.
                let ev = ExecEvent::StdinWritten(data.len() as u64);
                self.server.handle_exec_event(id, ev, now);
            }
            Action::StdinEof { id } if self.job.holder == Some(id) => self.job.stdin_eof = true,
            Action::OutputTaken { stream, .. } => {
                if let Some(f) = &mut self.follower {
                    f.inflight[usize::from(stream == Stream::Stderr)] = false;
                }
            }
            Action::Finished { .. } => self.follower = None,
            Action::Close(_) => self.cut = true,
            _ => {}
        }
    }

    fn start_follower(&mut self, id: u64, offsets: [usize; 2]) {
        self.follower = Some(Follower {
            id,
            offsets,
            inflight: [false; 2],
            eof: [false; 2],
            exited: false,
        });
        let resume = self.connections > 1 && self.job.holder == Some(id);
        let started = ExecEvent::Started {
            timeout: None,
            stdin_offset: resume.then_some(self.job.stdin.len() as u64),
        };
        self.server.handle_exec_event(id, started, self.now);
    }

    /// Deliver one frame, up first; false when none was in flight.
    fn one_frame(&mut self) -> bool {
        if let Some(f) = self.up.next() {
            self.server.handle_frame(f, self.now);
        } else if let Some(f) = self.down.next() {
            self.client.handle_frame(f, self.now);
        } else {
            return false;
        }
        self.frames += 1;
        true
    }

    fn cut_now(&mut self) {
        self.cut = true;
        self.up = Pipe::default();
        self.down = Pipe::default();
        self.client.handle_read_error("cut".into());
        self.server.handle_peer_closed();
        self.job.holder = None;
        self.pump();
    }

    /// Push the next piece of stdin (or its end) into the request that
    /// carries it, two pieces queued at most as the real client does;
    /// false when there is nothing to push.
    fn feed(&mut self) -> bool {
        let Some(id) = self.feeding else {
            return false;
        };
        if self.cut || self.queued >= 2 || self.eof_handed {
            return false;
        }
        if self.handed == STDIN_LEN {
            self.eof_handed = true;
            self.client.close_stdin(id).expect("stdin open");
            return true;
        }
        let end = STDIN_LEN.min(self.handed + STDIN_PIECE);
        let piece: Vec<u8> = (self.handed..end).map(stdin_byte).collect();
        self.client
            .push_stdin(id, piece.into())
            .expect("stdin open");
        self.handed = end;
        self.queued += 1;
        true
    }

    /// Run to the job's exit (`Some`: the frames the first connection
    /// carried), or `None` when a cut came before the job's id did.
    fn run(&mut self) -> Option<usize> {
        let mut first = None;
        for _ in 0..500_000 {
            self.pump();
            if self.exit.is_some() {
                return Some(first.unwrap_or(self.frames));
            }
            if self.cut {
                first.get_or_insert(self.frames);
                if !self.reconnect() {
                    return None;
                }
                continue;
            }
            if self.cut_at == Some(self.frames) {
                first.get_or_insert(self.frames);
                // Repeated cuts come a frame later every tenth connection,
                // so that the last few frames (`eof`s, `exit`) get through.
                self.cut_at = self
                    .repeat
                    .then(|| self.cut_at.unwrap_or(0) + usize::from(self.connections % 10 == 0));
                self.cut_now();
                continue;
            }
            if self.one_frame() {
                continue;
            }
            let ev = self.follower.as_mut().and_then(|f| {
                let id = f.id;
                f.next(&self.job, self.chunk).map(|e| (id, e))
            });
            if let Some((id, ev)) = ev {
                self.server.handle_exec_event(id, ev, self.now);
                continue;
            }
            if self.feed() {
                continue;
            }
            self.job.run();
        }
        panic!(
            "no exit after 500,000 moves: window {}, read {}, cut at {:?}, {} connections, \
             received {:?}, job wrote {:?}, step {}, follower {:?}",
            self.window,
            self.chunk,
            self.cut_at,
            self.connections,
            [self.received[0].len(), self.received[1].len()],
            [self.job.out[0].len(), self.job.out[1].len()],
            self.job.step,
            self.follower
                .as_ref()
                .map(|f| (f.offsets, f.inflight, f.eof, f.exited)),
        );
    }

    fn check(&self, what: &str) {
        for s in 0..2 {
            assert!(
                self.received[s] == self.job.out[s],
                "{what}: stream {s}: received {} bytes, the job wrote {}",
                self.received[s].len(),
                self.job.out[s].len()
            );
        }
        assert_eq!(self.exit, Some(RemoteExit::Code(CODE)), "{what}");
        if self.stdin {
            let want: Vec<u8> = (0..STDIN_LEN).map(stdin_byte).collect();
            assert!(
                self.job.stdin == want && self.job.stdin_eof,
                "{what}: the job took {} stdin bytes (end: {}), the client had {}; first \
                 difference at {:?}",
                self.job.stdin.len(),
                self.job.stdin_eof,
                want.len(),
                self.job.stdin.iter().zip(&want).position(|(a, b)| a != b)
            );
        }
    }
}

/// Cut once after every frame boundary an uncut run has (past the 300th,
/// about 300 more spread evenly), for each window and read size. The runs that resumed; a cut before `job_started`
/// reached the client is not resumable, and only such cuts may fail to.
pub fn resume_at_every_boundary() -> usize {
    let mut runs = 0;
    // Stdin for the two combinations whose runs are short: the one-byte
    // window and the one-byte read only multiply frames that are alike.
    let combos = [
        (1 << 20, 1 << 16, false),
        (64, 100, false),
        (1, 7, false),
        (4096, 1, false),
        (1 << 20, 1 << 16, true),
        (64, 100, true),
    ];
    for (window, chunk, stdin) in combos {
        let mut uncut = World::new(window, chunk, None, false, stdin);
        let frames = uncut.run().expect("uncut");
        uncut.check("uncut");
        // Every boundary of the first 300 frames, then evenly spread ones
        // (the one-byte window's run has thousands of frames, all alike).
        let stride = (frames / 300).max(1);
        let points = (1..=frames).filter(|n| *n <= 300 || n % stride == 0 || *n == frames);
        for cut_at in points {
            let what =
                format!("window {window}, read {chunk}, stdin {stdin}, cut after frame {cut_at}");
            let mut w = World::new(window, chunk, Some(cut_at), false, stdin);
            match w.run() {
                Some(_) => {
                    w.check(&what);
                    // After the last frame (`exit`) there is nothing to resume.
                    let want = if cut_at < frames { 2 } else { 1 };
                    assert_eq!(w.connections, want, "{what}");
                    runs += 1;
                }
                // auth, job, auth_ok, then job_started: from the 4th on.
                None => assert!(cut_at < 4, "{what}: no job id"),
            }
        }
    }
    runs
}

/// Every connection cut after `every` frames (at least 6, so each one
/// carries some output): the run still ends exactly.
pub fn resume_after_every_few_frames(every: usize) -> usize {
    let mut connections = 0;
    for stdin in [false, true] {
        let mut w = World::new(64, 50, Some(every.max(6)), true, stdin);
        w.run().expect("resumed");
        w.check(&format!("cut every {every} frames, stdin {stdin}"));
        connections += w.connections;
    }
    connections
}
