//! What the driver holds for each live request, in one map keyed by the
//! engine's request id: the process layer's handle, the user's budget
//! unit and what the closing audit record needs. An entry lives from the
//! engine's `Exec`/`Put`/`Get` action to its `Finished`, which is the only
//! place a request's closing record and result metric are written.

use std::time::Instant;

use super::transfer::Transfer;
use super::Conn;
use crate::audit::{bounded_argv, Event};
use crate::exec::ExecHandle;
use crate::metrics::ExecResult;
use crate::proto::ErrorCode;
use crate::server::budget::Held;
use crate::server::trail::Trail;
use crate::session::{ExecEvent, Kind, Outcome};

/// One live request's driver state.
pub(crate) struct Work {
    /// Tags the process layer's events for this life of the id, so events
    /// of an earlier request under the same id (cancelled, its thread not
    /// yet gone) are dropped instead of reaching this one.
    pub token: u64,
    /// The user's budget unit (given back when the command exits or the
    /// transfer ends).
    pub held: Option<Held>,
    pub stage: Stage,
}

impl Work {
    /// The request's kind, as far as the driver can tell.
    pub fn kind(&self) -> Kind {
        match &self.stage {
            Stage::Transfer(t) if t.direction == "put" => Kind::Put,
            Stage::Transfer(_) => Kind::Get,
            _ => Kind::Exec,
        }
    }
}

/// Where a request is, as far as the driver's resources go.
pub(crate) enum Stage {
    /// An exec before it started: the argv asked for (cut for the
    /// record) and, once known, why it did not start.
    Asked {
        argv: Vec<String>,
        argv_truncated: bool,
        command: Option<String>,
        why: Option<String>,
        /// A `job` request: `Some(detach)`.
        job: Option<bool>,
    },
    /// The allowlist refused it: the record's fields.
    Denied {
        argv: Vec<String>,
        argv_truncated: bool,
        closest: Option<String>,
        reason: String,
    },
    /// A started command; `proc` is gone once it was reaped.
    Running {
        proc: Option<ExecHandle>,
        trail: Box<Trail>,
    },
    /// A put or get.
    Transfer(Box<Transfer>),
    /// A request that reads a job: a resumable `job` or an `attach`
    /// (either may carry the job's stdin).
    Following(Box<super::jobs::Following>),
    /// Its closing record is written already (a detached job's
    /// `job_started`, a refused `attach`).
    Recorded,
}

impl Stage {
    /// An exec asked for `argv`.
    pub fn asked(argv: &[String]) -> Self {
        let (argv, argv_truncated) = bounded_argv(argv);
        Stage::Asked {
            argv,
            argv_truncated,
            command: None,
            why: None,
            job: None,
        }
    }
}

impl Conn {
    /// Take request `id` into the map under a fresh token.
    pub(super) fn track(&mut self, id: u64, stage: Stage) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        let held = None;
        self.work.insert(id, Work { token, held, stage });
        token
    }

    /// The request an event token belongs to, if it is still live.
    pub(super) fn id_of(&self, token: u64) -> Option<u64> {
        self.work
            .iter()
            .find_map(|(id, w)| (w.token == token).then_some(*id))
    }

    /// The command behind `id`, while it runs.
    pub(super) fn proc(&self, id: u64) -> Option<&ExecHandle> {
        match self.work.get(&id).map(|w| &w.stage) {
            Some(Stage::Running { proc, .. }) => proc.as_ref(),
            _ => None,
        }
    }

    /// The transfer thread behind `id`.
    pub(super) fn transfer(&self, id: u64) -> Option<&crate::transfer::TransferHandle> {
        match self.work.get(&id).map(|w| &w.stage) {
            Some(Stage::Transfer(t)) => t.handle.as_ref(),
            _ => None,
        }
    }

    /// An event from the process layer, tagged with its token.
    pub(super) fn exec_event(&mut self, token: u64, event: ExecEvent) {
        let Some(id) = self.id_of(token) else {
            return; // an earlier life of an id: dropped
        };
        if matches!(event, ExecEvent::Exited(_)) {
            if let Some(w) = self.work.get_mut(&id) {
                w.held = None;
                if let Stage::Running { proc, .. } = &mut w.stage {
                    *proc = None;
                }
            }
        }
        self.session.handle_exec_event(id, event, Instant::now());
    }

    /// The engine ended request `id`: write its one closing record and
    /// metric, and drop what was held for it (a command or transfer
    /// still running is stopped by its handle's drop).
    pub(super) fn finished(&mut self, id: u64, kind: Kind, outcome: Outcome) {
        let Some(work) = self.work.remove(&id) else {
            return;
        };
        match (kind, work.stage) {
            (_, Stage::Transfer(t)) => self.transfer_finished(id, *t, &outcome),
            (Kind::Put | Kind::Get, _) => {
                tracing::error!(peer = %self.peer, id, "a transfer ended with no transfer state")
            }
            (_, Stage::Running { proc, trail }) => {
                drop(proc);
                self.exec_finished(id, *trail, &outcome);
            }
            (_, Stage::Following(f)) => self.following_finished(id, *f, &outcome),
            (_, Stage::Recorded) => {}
            (
                _,
                Stage::Denied {
                    argv,
                    argv_truncated,
                    closest,
                    reason,
                },
            ) => {
                self.shared.metrics.exec(ExecResult::denied);
                self.audit(Event::ExecDenied {
                    conn: self.id,
                    id,
                    peer: self.peer.to_string(),
                    user: self.user(),
                    argv,
                    argv_truncated,
                    closest,
                    reason,
                });
            }
            (
                _,
                Stage::Asked {
                    argv,
                    argv_truncated,
                    command,
                    why,
                    ..
                },
            ) => {
                let (result, metric) = not_started(&outcome);
                self.shared.metrics.exec(metric);
                self.audit(Event::ExecFailed {
                    conn: self.id,
                    id,
                    peer: self.peer.to_string(),
                    user: self.user(),
                    argv,
                    argv_truncated,
                    command,
                    result: result.into(),
                    reason: why.unwrap_or_else(|| result.replace('_', " ")),
                });
            }
        }
    }

    fn exec_finished(&mut self, id: u64, trail: Trail, outcome: &Outcome) {
        let user = self.user();
        let (result, ending) = trail.ending(outcome);
        tracing::info!(peer = %self.peer, %user, id, code = ?ending.exit_code,
            signal = ?ending.signal, ended = ending.ended, ms = ending.duration_ms, "exited");
        self.shared.metrics.exec(result);
        let secs = ending.duration_ms as f64 / 1000.0;
        self.shared.metrics.exec_seconds.observe(secs);
        self.audit(Event::ExecFinished {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user,
            command: trail.command.clone(),
            pid: trail.pid,
            ending,
        });
    }
}

/// The `result` of an `exec_failed` record, and its metric.
fn not_started(outcome: &Outcome) -> (&'static str, ExecResult) {
    match outcome {
        Outcome::Error(ErrorCode::Busy) => ("busy", ExecResult::refused),
        Outcome::Error(ErrorCode::ExecFailed) => ("audit_unavailable", ExecResult::refused),
        Outcome::FailedToStart => ("failed_to_start", ExecResult::failed),
        Outcome::ConnectionLost => ("connection_lost", ExecResult::refused),
        Outcome::Shutdown => ("shutdown", ExecResult::refused),
        Outcome::Revoked => ("revoked", ExecResult::refused),
        _ => ("refused", ExecResult::refused),
    }
}
