//! The file side of a connection: budgets and the audit policy before a
//! put or get starts, its thread (as the user's `run_as` account), and
//! one audit record and log line when the engine finishes it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::work::Stage;
use super::Conn;
use crate::audit::Event;
use crate::proto::ErrorCode;
use crate::session::{ExecEvent, GetSpec, Outcome, PutSpec};
use crate::transfer::{Info, Job, TransferHandle};

/// A transfer the driver is running.
pub(crate) struct Transfer {
    /// The transfer's thread, once started.
    pub handle: Option<TransferHandle>,
    /// What the thread has learnt so far.
    info: Arc<Info>,
    /// `put` or `get`.
    pub direction: &'static str,
    /// The path the client sent.
    requested: String,
    started: Instant,
}

impl Conn {
    /// Budget and audit checks, then a job; `None` when refused (the
    /// session has been told).
    fn transfer_job(&mut self, id: u64, direction: &'static str, requested: &str) -> Option<Job> {
        let w = self
            .who
            .clone()
            .expect("transfer only after authentication");
        // Tracked from here, so a refusal below gets its record too.
        let info = Arc::new(Info::default());
        let t = Transfer {
            handle: None,
            info: info.clone(),
            direction,
            requested: requested.to_string(),
            started: Instant::now(),
        };
        let token = self.track(id, Stage::Transfer(Box::new(t)));
        let refuse = |conn: &mut Conn, code, message: String| {
            let ev = ExecEvent::Refused { code, message };
            conn.session.handle_exec_event(id, ev, Instant::now());
        };
        if !self.shared.audit.accepting() {
            tracing::warn!(peer = %self.peer, user = %w.user, id,
                "refused: the audit log cannot be written (on_failure = \"deny\")");
            let m = "the server cannot write its audit log; transfers are refused".into();
            refuse(self, ErrorCode::ExecFailed, m);
            return None;
        }
        let user = self.live.config.users.get(&*w.user);
        let max = user.map_or(0, |u| u.limits.max_commands);
        let Some(held) = self.shared.budgets.command(&w.user, max) else {
            let m =
                format!("busy: {max} requests of this user are running (max_commands_per_user)");
            refuse(self, ErrorCode::Busy, m);
            return None;
        };
        if let Some(work) = self.work.get_mut(&id) {
            work.held = Some(held);
        }
        let roots = match (user, direction) {
            (Some(u), "put") => u.upload.clone(),
            (Some(u), _) => u.download.clone(),
            (None, _) => Vec::new(),
        };
        let job = Job {
            id: token,
            user: w.user.to_string(),
            roots,
            run_as: user.and_then(|u| u.run_as.clone()),
            events: self.events.clone(),
            info,
            kept: self.shared.kept.clone(),
            kept_limit: self.live.config.files.partial_max_bytes,
        };
        Some(job)
    }

    pub(super) fn put(&mut self, id: u64, spec: PutSpec) {
        let Some(job) = self.transfer_job(id, "put", &spec.path) else {
            return;
        };
        self.spawned(id, crate::transfer::start_put(job, spec));
    }

    pub(super) fn get(&mut self, id: u64, spec: GetSpec) {
        let Some(job) = self.transfer_job(id, "get", &spec.path) else {
            return;
        };
        self.spawned(id, crate::transfer::start_get(job, spec));
    }

    fn spawned(&mut self, id: u64, handle: std::io::Result<TransferHandle>) {
        match handle {
            Ok(handle) => {
                if let Some(Stage::Transfer(t)) = self.work.get_mut(&id).map(|w| &mut w.stage) {
                    t.handle = Some(handle);
                }
            }
            Err(e) => {
                tracing::error!(peer = %self.peer, id, "cannot start a transfer thread: {e}");
                let ev = ExecEvent::Refused {
                    code: ErrorCode::Internal,
                    message: "the server could not start the transfer".into(),
                };
                self.session.handle_exec_event(id, ev, Instant::now());
            }
        }
    }

    /// The engine ended transfer `id`: its one record and log line.
    pub(super) fn transfer_finished(&mut self, id: u64, t: Transfer, outcome: &Outcome) {
        drop(t.handle);
        let (info, direction) = (&t.info, t.direction);
        let path = info
            .path
            .get()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| t.requested.clone());
        let (result, size, blake3) = match outcome {
            Outcome::Transferred { size, blake3 } => {
                ("ok".to_string(), Some(*size), Some(blake3.clone()))
            }
            other => {
                let r = match other {
                    Outcome::Denied => "denied".to_string(),
                    Outcome::Error(code) => error_result(*code),
                    _ => "interrupted".to_string(),
                };
                // The thread's own reason is more precise than the code.
                let r = info.error.get().map_or(r, |e| e.result().to_string());
                (r, None, None)
            }
        };
        let (offset, bytes) = (
            info.offset.load(Ordering::Relaxed),
            info.bytes.load(Ordering::Relaxed),
        );
        let duration_ms = t.started.elapsed().as_millis() as u64;
        let user = self.user();
        let reason = info.error.get().map(|e| e.to_string());
        // Paths and reasons come from the peer: escaped in the log.
        let (shown_path, shown_reason) = (
            crate::logtext::shown(&path),
            reason
                .as_deref()
                .map_or_else(|| "-".into(), crate::logtext::shown),
        );
        tracing::info!(peer = %self.peer, user = %crate::logtext::shown(&user), id, direction,
            path = %shown_path, %result, ?size, blake3 = blake3.as_deref().unwrap_or("-"),
            offset, bytes, ms = duration_ms, reason = %shown_reason, "transfer");
        self.shared.metrics.transfer(direction, &result);
        self.audit(Event::Transfer {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user,
            direction: direction.into(),
            path,
            result,
            size,
            blake3,
            offset,
            bytes,
            duration_ms,
        });
    }
}

fn error_result(code: ErrorCode) -> String {
    match code {
        ErrorCode::Cancelled => "cancelled".into(),
        ErrorCode::NotFound => "not_found".into(),
        ErrorCode::ChecksumMismatch => "checksum_mismatch".into(),
        ErrorCode::Busy => "busy".into(),
        ErrorCode::BadRequest => "bad_request".into(),
        ErrorCode::ShuttingDown => "interrupted".into(),
        _ => "failed".into(),
    }
}
