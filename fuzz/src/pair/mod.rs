//! Both engines paired in memory: a `ClientSession` and a `ServerSession`
//! joined by two byte pipes, a faithful process and file layer behind the
//! server and a faithful application in front of the client (execs, puts
//! and gets), on one fake clock. A
//! seeded scheduler (the fuzzer's bytes) decides what happens next: deliver
//! some bytes either way (frames split at any byte and decoded by the real
//! codec), a process event, the application's next step, the clock, an
//! auth verdict, a cancel, a disconnect or a drain. When the bytes run out
//! the pair is driven to the end with every party doing its part.
//!
//! What must always hold (else it panics): neither engine ever sends a
//! fatal error other than a timeout, `auth_failed` or `shutting_down` (two
//! correct engines never break each other's protocol rules, so credits
//! never go negative and nothing is sent beyond a window); every request
//! ends exactly once on each side, with matching outcomes while the
//! connection lived; every output and stdin byte arrives once and in order;
//! and with every party doing its part, everything ends (no deadlock, with
//! windows as small as one byte). Models: quinn-proto's `Pair`,
//! FoundationDB's deterministic simulation.

mod app;
mod procs;
mod resume;
mod resume_model;

pub use resume::{resume_after_every_few_frames, resume_at_every_boundary};

use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use bytes::BytesMut;
use secsh::proto::{encode_header, AuthMethod, Decoder, ErrorCode, Frame, Message, Secret};
use secsh::session::{
    Action, AuthProof, AuthVerdict, ClientAction, ClientSession, ClientSettings, ExecEvent, Grant,
    ServerSession, ServerSettings,
};

use app::App;
use procs::Procs;

/// Steps of the seeded phase at most.
const MAX_STEPS: usize = 4000;
/// Clock steps (1 ms each) of the drain phase with nothing else able to
/// move before it counts as a deadlock.
const MAX_TICKS: usize = 20_000;
/// Moves of the drain phase in all (one-byte windows take many).
const MAX_MOVES: usize = 500_000;

/// One direction of the connection: bytes written and not yet read, and
/// the reader's buffer and decoder.
#[derive(Default)]
struct Pipe {
    in_flight: BytesMut,
    read: BytesMut,
    decoder: Decoder,
}

impl Pipe {
    fn write(&mut self, m: &Message, body: &[u8]) {
        let mut out = Vec::new();
        encode_header(m, &mut out).expect("an engine sent an unencodable frame");
        out.extend_from_slice(body);
        self.in_flight.extend_from_slice(&out);
    }

    /// Move `n` bytes to the reader; the frames now complete.
    fn deliver(&mut self, n: usize) -> Vec<Frame> {
        let n = n.min(self.in_flight.len());
        let bytes = self.in_flight.split_to(n);
        self.read.extend_from_slice(&bytes);
        let mut frames = Vec::new();
        while let Some(f) = self
            .decoder
            .decode(&mut self.read)
            .expect("an engine sent bytes its peer cannot decode")
        {
            frames.push(f);
        }
        frames
    }
}

fn trace() -> bool {
    std::env::var_os("SECSH_PAIR_TRACE").is_some()
}

/// The pair and everything around it.
struct Sim {
    now: Instant,
    client: ClientSession,
    server: ServerSession,
    up: Pipe,
    down: Pipe,
    app: App,
    procs: Procs,
    /// A `Verify` waits for its verdict.
    verifying: bool,
    /// Auth attempts the application may still make.
    tries_left: u32,
    /// The connection was cut (a side closed): bytes no longer flow.
    cut: bool,
    /// Why, as the first side to close said it.
    why: String,
}

fn fatal_ok(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Timeout | ErrorCode::AuthFailed | ErrorCode::ShuttingDown
    )
}

fn proof() -> AuthProof {
    AuthProof::Password {
        password: Secret::new("pw".into()),
    }
}

impl Sim {
    fn new(u: &mut Unstructured) -> Result<Self> {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let settings = ServerSettings {
            auth_deadline: now + secs(10),
            max_requests: u.int_in_range(1..=6)?,
            stdin_window: *u.choose(&[1, 8, 1000, 65536, 1 << 24])?,
            stdin_budget: 1 << 30,
            idle_timeout: Some(secs(300)),
            keepalive: Some(secs(15)),
            auth_methods: vec![AuthMethod::Key, AuthMethod::Password],
            max_auth_tries: 3,
            rtt_hint: None,
        };
        let client = ClientSession::new(
            "alice".into(),
            proof(),
            ClientSettings {
                auth_deadline: now + secs(10),
                keepalive: Some(secs(15)),
                output_budget: *u.choose(&[0, 1 << 20, 1 << 26])?,
                rtt_hint: *u.choose(&[None, Some(secs(0)), Some(Duration::from_millis(100))])?,
            },
            now,
        );
        let mut sim = Self {
            now,
            client,
            server: ServerSession::new(settings, now),
            up: Pipe::default(),
            down: Pipe::default(),
            app: App::default(),
            procs: Procs::default(),
            verifying: false,
            tries_left: 3,
            cut: false,
            why: String::new(),
        };
        sim.pump();
        Ok(sim)
    }

    /// Carry out both engines' actions until neither has any.
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
        if trace() {
            eprintln!("client: {}", shown(&a));
        }
        match a {
            ClientAction::Send(m, body) => {
                if let Message::Error { id: None, code, .. } = &m {
                    panic!("the client engine broke with the server: {code:?} {m:?}");
                }
                if !self.cut {
                    self.up.write(&m, &body);
                }
            }
            ClientAction::AuthContinue { .. } => {
                if self.tries_left > 0 {
                    self.tries_left -= 1;
                    let deadline = self.now + Duration::from_secs(10);
                    self.client.retry_auth(proof(), deadline);
                } else {
                    self.client.give_up_auth();
                }
            }
            ClientAction::Closed(end) => {
                if self.why.is_empty() {
                    self.why = format!("client: {end:?}");
                }
                self.app.connection_closed();
                self.cut();
            }
            other => self.app.event(other),
        }
    }

    fn server_action(&mut self, a: Action) {
        if trace() {
            eprintln!("  server: {}", shown(&a));
        }
        match a {
            Action::Send(m, body) => {
                if let Message::Error { id: None, code, .. } = &m {
                    assert!(
                        fatal_ok(*code),
                        "the server engine refused the client: {m:?}"
                    );
                }
                if !self.cut {
                    self.down.write(&m, &body);
                }
            }
            Action::Verify { .. } => self.verifying = true,
            Action::Close(reason) => {
                if self.why.is_empty() {
                    self.why = format!("server: {reason:?}");
                }
                // The server flushes what it sent before it closes.
                self.deliver_down(usize::MAX);
                self.procs.close();
                self.cut();
            }
            other => self.procs.action(other),
        }
    }

    /// The connection is over: what is in flight is lost, and the side
    /// that had not closed yet sees the other go away.
    fn cut(&mut self) {
        if self.cut {
            return;
        }
        self.cut = true;
        self.up = Pipe::default();
        self.down = Pipe::default();
        self.client.handle_peer_closed();
        self.server.handle_peer_closed();
    }

    fn event(&mut self, id: u64, ev: ExecEvent) {
        if trace() {
            eprintln!("  process {id}: {}", shown(&ev));
        }
        self.server.handle_exec_event(id, ev, self.now);
    }

    fn deliver_up(&mut self, n: usize) {
        for f in self.up.deliver(n) {
            self.server.handle_frame(f, self.now);
        }
    }

    fn deliver_down(&mut self, n: usize) {
        for f in self.down.deliver(n) {
            self.client.handle_frame(f, self.now);
        }
    }

    fn verdict(&mut self, ok: bool, budget: u64) {
        self.verifying = false;
        let verdict = if ok {
            AuthVerdict::Ok(Grant {
                stdin_budget: budget,
            })
        } else {
            AuthVerdict::Failed
        };
        self.server.handle_auth_result("alice", verdict, self.now);
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }

    /// One seeded step.
    fn step(&mut self, u: &mut Unstructured) -> Result<()> {
        let ms = |u: &mut Unstructured, max| u.int_in_range(0..=max).map(Duration::from_millis);
        match u.int_in_range(0u8..=99)? {
            0..=19 => {
                let n = u.int_in_range(1..=self.up.in_flight.len().max(1))?;
                self.deliver_up(n);
            }
            20..=39 => {
                let n = u.int_in_range(1..=self.down.in_flight.len().max(1))?;
                self.deliver_down(n);
            }
            40..=54 => {
                if let Some((id, ev)) = self.procs.event(u)? {
                    self.event(id, ev);
                }
            }
            55..=79 => self.app.step(&mut self.client, u, self.now)?,
            80..=89 => self.tick(ms(u, 50)?),
            90..=94 if self.verifying => {
                let budget = *u.choose(&[0, 1, 8, 65536, 1 << 20, 1 << 30])?;
                self.verdict(u.int_in_range(0u8..=3)? > 0, budget);
            }
            // Rare: long silences, a network cut, a drain running out.
            95 | 96 => match u.int_in_range(0u16..=399)? {
                0..=9 => self.tick(ms(u, 3000)?),
                10..=12 => self.tick(ms(u, 20_000)?),
                13 => self.cut(),
                14 => self.server.shutdown(),
                _ => {}
            },
            _ => {}
        }
        self.pump();
        Ok(())
    }

    /// Every party does its part until everything has ended.
    fn drain(&mut self) {
        let mut moves = 0;
        for _ in 0..MAX_TICKS {
            // Everything that can move without the clock moves first.
            loop {
                if self.cut || (self.app.all_ended() && self.procs.is_empty()) {
                    return;
                }
                let mut moved = self.verifying
                    || !self.up.in_flight.is_empty()
                    || !self.down.in_flight.is_empty();
                if self.verifying {
                    self.verdict(true, 1 << 20);
                }
                self.deliver_up(usize::MAX);
                self.deliver_down(usize::MAX);
                for (id, ev) in self.procs.next_events() {
                    moved = true;
                    self.event(id, ev);
                }
                self.app.finish_up(&mut self.client, self.now);
                self.pump();
                moved |= !self.up.in_flight.is_empty();
                moves += 1;
                assert!(moves < MAX_MOVES, "no end after {MAX_MOVES} moves");
                if !moved {
                    break;
                }
            }
            self.tick(Duration::from_millis(1));
            self.pump();
        }
        panic!(
            "deadlock: nothing ends with every party doing its part\napp: {:?}\nprocs: {:?}",
            self.app, self.procs
        );
    }

    fn check_ends(&self) {
        self.app.check_against(self.procs.finished(), self.cut);
    }
}

/// A debug line without the bytes of bodies.
fn shown(x: &impl std::fmt::Debug) -> String {
    let s = format!("{x:?}");
    match s.find("b\"") {
        Some(i) => format!("{}..", &s[..i.min(s.len())]),
        None => s,
    }
}

/// The paired engines under the schedule `data` draws.
pub fn pair(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mut sim) = Sim::new(&mut u) else {
        return;
    };
    for _ in 0..MAX_STEPS {
        if u.is_empty() || sim.step(&mut u).is_err() {
            break;
        }
    }
    sim.drain();
    sim.check_ends();
    if std::env::var_os("SECSH_PAIR_TRACE").is_some() {
        eprintln!(
            "pair: cut={} why={} app={:?} server finished={:?}",
            sim.cut,
            sim.why,
            sim.app,
            sim.procs.finished()
        );
    }
}
