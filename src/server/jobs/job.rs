//! One job: a command whose output goes to its spool instead of to a
//! connection ([`super::pump`] moves it there), its state from start to
//! end, its followers and the resume grace. Readers ([`super::follow`])
//! are told of new bytes and of the end through a watch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::readers::Readers;
use super::spool::Spool;
use super::stdin::StdinState;
use crate::exec::{Events, ExecHandle};
use crate::proto::Stream;
use crate::server::budget::Held;
use crate::session::ExitStatus;

/// How the job was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `job` with `detach`: no client waits for it.
    Detached,
    /// `job` without `detach`: its client follows it and may come back
    /// after a drop, within the resume grace.
    Resumable,
}

impl Mode {
    pub fn word(self) -> &'static str {
        match self {
            Mode::Detached => "detached",
            Mode::Resumable => "resumable",
        }
    }
}

/// What a job does when a follower leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// Nothing changes.
    Nothing,
    /// It runs on, and is stopped if nobody follows within this long.
    Grace(Duration),
}

/// How a job ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct End {
    pub status: ExitStatus,
    /// `exited`, `signalled`, `timed_out`, `cancelled`, `abandoned`, `lost`.
    pub state: &'static str,
    pub ended: SystemTime,
}

/// What changes while the job lives.
#[derive(Default)]
pub(super) struct Inner {
    pub(super) end: Option<End>,
    pub(super) proc: Option<ExecHandle>,
    /// Why the server stopped it, if it did.
    pub(super) stopped: Option<&'static str>,
    pub(super) followers: usize,
    /// When the last follower left.
    pub(super) left_at: Option<Instant>,
    pub(super) stdin: StdinState,
    /// The user's running-command unit, given back at the end.
    pub(super) held: Option<Held>,
    pub(super) pid: u32,
}

/// One job, shared by the table, its pump and its followers.
pub(crate) struct Job {
    pub id: String,
    pub user: Arc<str>,
    pub command: String,
    pub argv: Vec<String>,
    pub mode: Mode,
    pub started: SystemTime,
    pub pid: u32,
    pub dir: PathBuf,
    pub spool_bound: u64,
    /// stdout, stderr.
    pub spools: [Spool; 2],
    pub(super) inner: Mutex<Inner>,
    pub(super) changed: watch::Sender<()>,
    /// Where each follower is: a resumable job's pump waits rather than
    /// drop bytes a follower has not read.
    pub readers: Readers,
}

/// Seconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a new job is made of.
pub(crate) struct Parts {
    pub id: String,
    pub user: Arc<str>,
    pub command: String,
    pub argv: Vec<String>,
    pub mode: Mode,
    pub dir: PathBuf,
    pub spool_bound: u64,
    pub proc: ExecHandle,
    pub held: Option<Held>,
    /// The starting request's events and token, for `StdinWritten`
    /// (a resumable job with stdin).
    pub stdin_to: Option<(Events, u64)>,
}

impl Job {
    /// A job whose command was just spawned.
    pub fn new(p: Parts) -> Arc<Self> {
        let spools = [
            Spool::new(&p.dir, "stdout", p.spool_bound / 2),
            Spool::new(&p.dir, "stderr", p.spool_bound / 2),
        ];
        let inner = Inner {
            stdin: StdinState::new(p.stdin_to),
            held: p.held,
            pid: p.proc.pid(),
            proc: Some(p.proc),
            ..Inner::default()
        };
        Arc::new(Self {
            pid: inner.pid,
            id: p.id,
            user: p.user,
            command: p.command,
            argv: p.argv,
            mode: p.mode,
            started: SystemTime::now(),
            dir: p.dir,
            spool_bound: p.spool_bound,
            spools,
            inner: Mutex::new(inner),
            changed: watch::Sender::new(()),
            readers: Readers::default(),
        })
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("job lock")
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.lock().end
    }

    /// Told of every new byte and of the end.
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Bytes its spool holds on disk now.
    pub fn spool_bytes(&self) -> u64 {
        self.spools
            .iter()
            .map(|s| s.counts())
            .map(|(t, d)| t - d)
            .sum()
    }

    /// Stop its process group (TERM, grace, KILL) for `why`; false when
    /// it had already ended (or was being stopped).
    pub fn stop(&self, why: &'static str) -> bool {
        let mut inner = self.lock();
        if inner.end.is_some() || inner.stopped.is_some() {
            return inner.end.is_none();
        }
        inner.stopped = Some(why);
        if let Some(p) = inner.proc.as_mut() {
            p.stop();
        }
        drop(inner);
        self.readers.wake();
        true
    }

    /// Whether the pump may write what drops stream `i`'s bytes below
    /// `edge`: always for a detached job (its bound is its policy); for a
    /// resumable one only when every follower has read at least `margin`
    /// past it (what a client may still have in flight, so a resume stays
    /// exact), and never while none follows (its client may come back).
    pub fn may_drop(&self, i: usize, edge: u64, margin: u64) -> bool {
        self.mode == Mode::Detached || self.stopping() || self.readers.all_past(i, edge, margin)
    }

    /// A request starts following it.
    pub fn follow(&self) {
        let mut inner = self.lock();
        inner.followers += 1;
        inner.left_at = None;
    }

    /// A request stopped following it. A resumable job left running
    /// without followers waits `grace` for one (its stdin, if still open,
    /// waits with it: a resume carries on from the byte the server took).
    pub fn unfollow(&self, grace: Duration) -> Left {
        let mut inner = self.lock();
        inner.followers = inner.followers.saturating_sub(1);
        if inner.followers > 0 || inner.end.is_some() || self.mode != Mode::Resumable {
            return Left::Nothing;
        }
        inner.stdin.to = None;
        inner.left_at = Some(Instant::now());
        Left::Grace(grace)
    }

    /// The grace after [`Job::unfollow`] is over: stop the job if still
    /// nobody follows it. True when it was stopped.
    pub fn grace_over(&self, grace: Duration) -> bool {
        let due = {
            let inner = self.lock();
            inner.followers == 0
                && inner.end.is_none()
                && inner.left_at.is_some_and(|t| t.elapsed() >= grace)
        };
        due && self.stop("abandoned")
    }

    /// Tell readers of new bytes.
    pub fn notify(&self) {
        self.changed.send_replace(());
    }

    /// The pump stored a chunk of `stream`: read the next, tell readers.
    pub fn stored(&self, stream: Stream) {
        if let Some(p) = &self.lock().proc {
            p.output_taken(stream);
        }
        self.changed.send_replace(());
    }

    /// The server is already stopping it.
    pub fn stopping(&self) -> bool {
        self.lock().stopped.is_some()
    }

    /// The command was reaped: record the end, give back what it held,
    /// tell readers. The state word.
    pub fn ended(&self, status: ExitStatus) -> &'static str {
        let state = {
            let mut inner = self.lock();
            let state = match (inner.stopped, status.code) {
                (Some(why @ ("timed_out" | "cancelled" | "abandoned")), _) => why,
                (Some("revoked" | "shutdown"), _) => "cancelled",
                (Some(_), _) => "cancelled",
                (None, Some(_)) => "exited",
                (None, None) => "signalled",
            };
            inner.end = Some(End {
                status,
                state,
                ended: SystemTime::now(),
            });
            inner.proc = None;
            inner.held = None;
            inner.stdin.to = None;
            state
        };
        if let Err(e) = self.meta().store(&self.dir) {
            tracing::error!(job = %self.id, "cannot record the job's end: {e}");
        }
        self.changed.send_replace(());
        state
    }
}

/// The stream an index names.
pub(crate) fn stream_of(i: usize) -> Stream {
    if i == 0 {
        Stream::Stdout
    } else {
        Stream::Stderr
    }
}
