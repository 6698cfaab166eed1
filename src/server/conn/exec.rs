//! The exec side of a connection: budgets and the audit policy before the
//! allowlist check, starting or denying, stdin into the command, and the
//! bytes that leave for the client (counted and hashed for the record
//! that [`Conn::finished`] writes).

use std::time::Instant;

use bytes::Bytes;

use super::work::{Stage, Work};
use super::Conn;
use crate::audit::{Auth, Event};
use crate::metrics::Direction;
use crate::proto::{ErrorCode, Message, Stream};
use crate::server::request::Checked;
use crate::server::trail::Trail;
use crate::session::ExecEvent;

impl Conn {
    /// A frame is about to leave: count output bytes (and hash a
    /// command's for its record).
    pub(super) fn sending(&mut self, m: &Message, body: &[u8]) {
        let Message::Data { id, stream, .. } = m else {
            return;
        };
        match self.work.get_mut(id).map(|w| &mut w.stage) {
            Some(Stage::Transfer(_)) => {
                self.shared.metrics.bytes(Direction::download, body.len());
            }
            Some(Stage::Running { trail, .. }) => {
                let direction = match stream {
                    Stream::Stderr => Direction::stderr,
                    _ => Direction::stdout,
                };
                self.shared.metrics.bytes(direction, body.len());
                trail.output(*stream, body);
            }
            Some(Stage::Following(f)) => {
                let direction = match stream {
                    Stream::Stderr => Direction::stderr,
                    _ => Direction::stdout,
                };
                self.shared.metrics.bytes(direction, body.len());
                f.sent[crate::session::out_index(*stream)] += body.len() as u64;
            }
            _ => {}
        }
    }

    /// Client bytes for request `id`'s command or upload.
    pub(super) fn stdin(&mut self, id: u64, data: Bytes) {
        match self.work.get_mut(&id).map(|w| &mut w.stage) {
            Some(Stage::Transfer(t)) => {
                self.shared.metrics.bytes(Direction::upload, data.len());
                if let Some(h) = &t.handle {
                    h.push(data);
                }
            }
            Some(Stage::Running { proc, trail }) => {
                self.shared.metrics.bytes(Direction::stdin, data.len());
                if let Some(p) = proc {
                    p.push_stdin(&data);
                }
                trail.stdin(data.len());
            }
            Some(Stage::Following(f)) => {
                if let Some(holder) = f.stdin {
                    self.shared.metrics.bytes(Direction::stdin, data.len());
                    f.job.push_stdin(holder, &data);
                }
            }
            _ => {}
        }
    }

    /// Refuse request `id` before it started: `why` goes in its record.
    pub(super) fn refuse(&mut self, id: u64, code: ErrorCode, message: String, why: String) {
        if let Some(Work {
            stage: Stage::Asked { why: w, .. },
            ..
        }) = self.work.get_mut(&id)
        {
            *w = Some(why);
        }
        let ev = ExecEvent::Refused { code, message };
        self.session.handle_exec_event(id, ev, Instant::now());
    }

    /// An `exec`, or with `job = Some(detach)` a `job`: budgets and the
    /// audit policy, then the allowlist check on the blocking pool.
    pub(super) fn exec(
        &mut self,
        id: u64,
        argv: Vec<String>,
        stdin: bool,
        timeout_ms: Option<u64>,
        job: Option<bool>,
    ) {
        let w = self.who.clone().expect("exec only after authentication");
        let mut stage = Stage::asked(&argv);
        if let Stage::Asked { job: j, .. } = &mut stage {
            *j = job;
        }
        let token = self.track(id, stage);
        if !self.shared.audit.accepting() {
            tracing::warn!(peer = %self.peer, user = %w.user, id,
                "refused: the audit log cannot be written (on_failure = \"deny\")");
            let message = "the server cannot write its audit log; commands are refused".into();
            let why = "the audit log cannot be written".into();
            return self.refuse(id, ErrorCode::ExecFailed, message, why);
        }
        let max = self
            .live
            .config
            .users
            .get(&*w.user)
            .map_or(0, |u| u.limits.max_commands);
        let Some(held) = self.shared.budgets.command(&w.user, max) else {
            tracing::info!(peer = %self.peer, user = %w.user, id, max,
                "busy: max_commands_per_user reached");
            let message =
                format!("busy: {max} commands of this user are running (max_commands_per_user)");
            return self.refuse(id, ErrorCode::Busy, message.clone(), message);
        };
        if let Some(work) = self.work.get_mut(&id) {
            work.held = Some(held);
        }
        self.checks
            .spawn_blocking(move || (token, w.check(argv, stdin, timeout_ms)));
    }

    /// The allowlist's answer for the request holding `token`: start it,
    /// or deny it.
    pub(super) fn checked(&mut self, token: u64, checked: Checked) {
        let Some(id) = self.id_of(token) else {
            return;
        };
        let event = match checked {
            Checked::Denied {
                argv,
                closest,
                reason,
            } => {
                let (argv, argv_truncated) = crate::audit::bounded_argv(&argv);
                self.set_stage(
                    id,
                    Stage::Denied {
                        argv,
                        argv_truncated,
                        closest,
                        reason,
                    },
                );
                let message = "no rule in the server's allowlist permits this command".into();
                ExecEvent::Denied { message }
            }
            Checked::Allowed {
                rule,
                spec,
                timeout,
            } if self.job_of(id).is_some() => {
                let detach = self.job_of(id) == Some(true);
                return self.start_job(id, token, rule, spec, timeout, detach);
            }
            Checked::Allowed {
                rule,
                spec,
                timeout,
            } => match crate::exec::start(&spec, token, self.events.clone()) {
                Ok(handle) => {
                    self.started(id, &rule, &spec, handle.pid());
                    let hash = self.live.config.audit.output_hashes;
                    let trail = Box::new(Trail::new(rule, handle.pid(), hash));
                    let proc = Some(handle);
                    self.set_stage(id, Stage::Running { proc, trail });
                    ExecEvent::Started {
                        timeout,
                        stdin_offset: None,
                    }
                }
                Err(e) => {
                    tracing::error!(peer = %self.peer, id, %rule, "exec failed: {e}");
                    if let Some(Work {
                        stage: Stage::Asked { command, why, .. },
                        held,
                        ..
                    }) = self.work.get_mut(&id)
                    {
                        *command = Some(rule);
                        *why = Some(e.to_string());
                        *held = None;
                    }
                    ExecEvent::Failed
                }
            },
        };
        self.session.handle_exec_event(id, event, Instant::now());
    }

    pub(super) fn set_stage(&mut self, id: u64, stage: Stage) {
        if let Some(w) = self.work.get_mut(&id) {
            w.stage = stage;
        }
    }

    /// The `exec_started` record and log line.
    fn started(&self, id: u64, rule: &str, spec: &crate::exec::Spec, pid: u32) {
        let peer = self.peer.to_string();
        let shown = crate::logtext::argv(&spec.argv);
        tracing::info!(%peer, id, %rule, argv = %shown, "started");
        let run_as = spec.env.iter().find(|(k, _)| k == "USER");
        self.audit(Event::ExecStarted {
            conn: self.id,
            id,
            peer,
            user: self.user(),
            auth: self.auth.clone().unwrap_or_else(|| Auth {
                method: String::new(),
                key: None,
                cert: None,
            }),
            argv: spec.argv.clone(),
            command: rule.to_string(),
            run_as: run_as.map_or_else(String::new, |(_, v)| v.clone()),
            pid,
        });
    }
}
