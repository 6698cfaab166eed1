//! The exec side of a connection: budgets and the audit policy before the
//! allowlist check, starting or denying, the trail of each running
//! command, and the frames that account for it as they leave.

use std::time::Instant;

use super::Conn;
use crate::audit::{bounded_argv, Auth, Event};
use crate::metrics::{Direction, ExecResult};
use crate::proto::{ErrorCode, Message};
use crate::server::request::Checked;
use crate::server::trail::Trail;
use crate::session::{ExecEvent, ServerSession};

impl Conn {
    /// A frame is about to leave: account output and finished commands.
    pub(super) fn sending(&mut self, m: &Message, body: &[u8]) {
        if !self.transfers.is_empty() {
            self.transfer_sending(m, body.len());
            if matches!(m, Message::Data { id, .. } if self.transfers.contains_key(id)) {
                return;
            }
        }
        match m {
            Message::Data { id, stream, .. } => {
                let direction = match stream {
                    crate::proto::Stream::Stderr => Direction::stderr,
                    _ => Direction::stdout,
                };
                self.shared.metrics.bytes(direction, body.len());
                if let Some(t) = self.trails.get_mut(id) {
                    t.output(*stream, body);
                }
            }
            Message::Exit {
                id,
                code,
                signal,
                timed_out,
                duration_ms,
            } => {
                let user = self.user();
                tracing::info!(peer = %self.peer, %user, id, ?code, ?signal, timed_out,
                    ms = duration_ms, "exited");
                let result = match (timed_out, signal, code) {
                    (true, ..) => ExecResult::timed_out,
                    (_, Some(_), _) => ExecResult::signalled,
                    (_, _, Some(0)) => ExecResult::ok,
                    _ => ExecResult::failed,
                };
                self.shared.metrics.exec(result);
                let secs = *duration_ms as f64 / 1000.0;
                self.shared.metrics.exec_seconds.observe(secs);
                if let Some(t) = self.trails.remove(id) {
                    let (command, pid) = (t.command.clone(), t.pid);
                    let ending = t.ending(*code, *signal, *timed_out, *duration_ms);
                    self.audit(Event::ExecFinished {
                        conn: self.id,
                        id: *id,
                        peer: self.peer.to_string(),
                        user,
                        command,
                        pid,
                        ending,
                    });
                }
            }
            _ => {}
        }
    }

    pub(super) fn exec(
        &mut self,
        id: u64,
        argv: Vec<String>,
        stdin: bool,
        timeout_ms: Option<u64>,
    ) {
        let w = self.who.clone().expect("exec only after authentication");
        let metrics = self.shared.metrics.clone();
        let refuse = |s: &mut ServerSession, code, message: String| {
            metrics.exec(ExecResult::refused);
            s.handle_exec_event(id, ExecEvent::Refused { code, message }, Instant::now());
        };
        if !self.shared.audit.accepting() {
            tracing::warn!(peer = %self.peer, user = %w.user, id,
                "refused: the audit log cannot be written (on_failure = \"deny\")");
            let message = "the server cannot write its audit log; commands are refused".into();
            return refuse(&mut self.session, ErrorCode::ExecFailed, message);
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
            return refuse(&mut self.session, ErrorCode::Busy, message);
        };
        self.running.insert(id, held);
        self.checks
            .spawn_blocking(move || (id, w.check(argv, stdin, timeout_ms)));
    }

    /// The allowlist's answer for request `id`: start it, or deny it.
    pub(super) fn checked(&mut self, id: u64, checked: Checked) {
        let (peer, user) = (self.peer.to_string(), self.user());
        let event = match checked {
            Checked::Denied {
                argv,
                closest,
                reason,
            } => {
                let (argv, argv_truncated) = bounded_argv(&argv);
                self.audit(Event::ExecDenied {
                    conn: self.id,
                    id,
                    peer,
                    user,
                    argv,
                    argv_truncated,
                    closest,
                    reason,
                });
                self.shared.metrics.exec(ExecResult::denied);
                let message = "no rule in the server's allowlist permits this command".into();
                ExecEvent::Denied { message }
            }
            Checked::Allowed {
                rule,
                spec,
                timeout,
            } => match crate::exec::start(&spec, id, self.events.clone()) {
                Ok(handle) => {
                    let shown = crate::logtext::argv(&spec.argv);
                    tracing::info!(%peer, id, %rule, argv = %shown, "started");
                    let run_as = spec.env.iter().find(|(k, _)| k == "USER");
                    self.audit(Event::ExecStarted {
                        conn: self.id,
                        id,
                        peer,
                        user,
                        auth: self.auth.clone().unwrap_or_else(|| Auth {
                            method: String::new(),
                            key: None,
                        }),
                        argv: spec.argv.clone(),
                        command: rule.clone(),
                        run_as: run_as.map_or_else(String::new, |(_, v)| v.clone()),
                        pid: handle.pid(),
                    });
                    let hash = self.live.config.audit.output_hashes;
                    self.trails.insert(id, Trail::new(rule, handle.pid(), hash));
                    self.procs.insert(id, handle);
                    ExecEvent::Started { timeout }
                }
                Err(e) => {
                    tracing::error!(%peer, id, %rule, "exec failed: {e}");
                    self.shared.metrics.exec(ExecResult::failed);
                    ExecEvent::Failed
                }
            },
        };
        if !matches!(event, ExecEvent::Started { .. }) {
            self.running.remove(&id);
        }
        self.session.handle_exec_event(id, event, Instant::now());
    }

    pub(super) fn exec_event(&mut self, id: u64, event: ExecEvent) {
        if matches!(event, ExecEvent::Exited(_)) {
            self.procs.remove(&id);
            self.running.remove(&id);
        }
        self.session.handle_exec_event(id, event, Instant::now());
    }
}
