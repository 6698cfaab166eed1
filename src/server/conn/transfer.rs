//! The file side of a connection: budgets and the audit policy before a
//! put or get starts, its thread (as the user's `run_as` account), and
//! one audit record and log line when its last message leaves.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::Conn;
use crate::audit::Event;
use crate::metrics::Direction;
use crate::proto::{ErrorCode, Message};
use crate::server::budget::Held;
use crate::session::{ExecEvent, GetSpec, PutSpec};
use crate::transfer::{Info, Job, TransferHandle};

/// A transfer the driver is running.
pub(crate) struct Transfer {
    pub handle: TransferHandle,
    requested: String,
    started: Instant,
    _held: Held,
}

/// How a transfer's last message reads in its audit record.
enum Outcome {
    Ok { size: u64, sha256: String },
    Failed(String),
}

impl Conn {
    /// Budget and audit checks, then a job; `None` when refused (the
    /// session has been told).
    fn transfer_job(&mut self, id: u64, direction: &str) -> Option<(Job, Held)> {
        let w = self
            .who
            .clone()
            .expect("transfer only after authentication");
        let refuse = |conn: &mut Conn, code, message: String| {
            conn.shared.metrics.transfer(direction, "refused");
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
        let roots = match (user, direction) {
            (Some(u), "put") => u.upload.clone(),
            (Some(u), _) => u.download.clone(),
            (None, _) => Vec::new(),
        };
        let job = Job {
            id,
            user: w.user.to_string(),
            roots,
            run_as: user.and_then(|u| u.run_as.clone()),
            events: self.events.clone(),
            info: Arc::new(Info::default()),
        };
        Some((job, held))
    }

    pub(super) fn put(&mut self, id: u64, spec: PutSpec) {
        let requested = spec.path.clone();
        let Some((job, held)) = self.transfer_job(id, "put") else {
            return;
        };
        self.spawned(id, requested, held, crate::transfer::start_put(job, spec));
    }

    pub(super) fn get(&mut self, id: u64, spec: GetSpec) {
        let requested = spec.path.clone();
        let Some((job, held)) = self.transfer_job(id, "get") else {
            return;
        };
        self.spawned(id, requested, held, crate::transfer::start_get(job, spec));
    }

    fn spawned(
        &mut self,
        id: u64,
        requested: String,
        held: Held,
        handle: std::io::Result<TransferHandle>,
    ) {
        match handle {
            Ok(handle) => {
                let t = Transfer {
                    handle,
                    requested,
                    started: Instant::now(),
                    _held: held,
                };
                self.transfers.insert(id, t);
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

    /// A frame about a transfer is leaving: count its bytes, and when it
    /// is the last of its request, write the record.
    pub(super) fn transfer_sending(&mut self, m: &Message, body_len: usize) {
        let (id, outcome) = match m {
            Message::Data { id, .. } => {
                if self.transfers.contains_key(id) {
                    self.shared.metrics.bytes(Direction::download, body_len);
                }
                return;
            }
            Message::PutOk { id, size, sha256 } | Message::End { id, size, sha256 } => {
                let (size, sha256) = (*size, sha256.clone());
                (*id, Outcome::Ok { size, sha256 })
            }
            Message::Denied { id, .. } => (*id, Outcome::Failed("denied".into())),
            Message::Error {
                id: Some(id), code, ..
            } => (*id, Outcome::Failed(error_result(*code))),
            _ => return,
        };
        let Some(t) = self.transfers.remove(&id) else {
            return;
        };
        self.finish_transfer(id, t, outcome);
    }

    fn finish_transfer(&mut self, id: u64, t: Transfer, outcome: Outcome) {
        let info = &t.handle.info;
        let direction = t.handle.direction;
        let path = info
            .path
            .get()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| crate::logtext::shown(&t.requested).to_string());
        let (result, size, sha256) = match outcome {
            Outcome::Ok { size, sha256 } => ("ok".to_string(), Some(size), Some(sha256)),
            Outcome::Failed(r) => {
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
        tracing::info!(peer = %self.peer, %user, id, direction, %path, %result, ?size,
            sha256 = sha256.as_deref().unwrap_or("-"), offset, bytes, ms = duration_ms,
            reason = reason.as_deref().unwrap_or("-"), "transfer");
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
            sha256,
            offset,
            bytes,
            duration_ms,
        });
    }

    /// The connection is closing: transfers still running were
    /// interrupted (an unfinished put keeps its partial for a resume).
    pub(super) fn interrupt_transfers(&mut self) {
        let ids: Vec<u64> = self.transfers.keys().copied().collect();
        for id in ids {
            if let Some(t) = self.transfers.remove(&id) {
                self.finish_transfer(id, t, Outcome::Failed("interrupted".into()));
            }
        }
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
