//! Requests on an authenticated connection: the allowlist decision, the
//! child's environment, and the bookkeeping of running commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::Shared;
use crate::exec::{Outbound, RealFs, Running, Spec, StdinQueue, WindowExceeded};
use crate::policy::Decision;
use crate::proto::{ErrorCode, Message};

/// A running request's handles, owned by the session. Dropping it closes
/// stdin and stops the command.
pub(crate) struct Entry {
    stdin: Option<Arc<StdinQueue>>,
    cancel: Option<oneshot::Sender<()>>,
}

impl Entry {
    pub fn push_stdin(&self, data: &[u8]) -> Result<(), WindowExceeded> {
        match &self.stdin {
            Some(q) => q.push(data),
            // The request declared no stdin: no credit was ever granted.
            None => Err(WindowExceeded(0)),
        }
    }

    pub fn close_stdin(&self) {
        if let Some(q) = &self.stdin {
            q.close();
        }
    }

    pub fn cancel(&mut self) {
        if let Some(c) = self.cancel.take() {
            let _ = c.send(());
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.close_stdin();
    }
}

/// The authenticated context of a session.
pub(crate) struct Cx<'a> {
    pub shared: &'a Shared,
    pub user: &'a str,
    pub peer: SocketAddr,
}

impl Cx<'_> {
    /// Check and start one `exec`. Replies `denied`, `error` or `started`
    /// on `out`; returns the entry of a started command.
    pub async fn start_exec(
        &self,
        id: u64,
        argv: Vec<String>,
        stdin: bool,
        timeout_ms: Option<u64>,
        execs: &mut JoinSet<u64>,
        out: &mpsc::Sender<Outbound>,
    ) -> Option<Entry> {
        let (peer, user) = (self.peer, self.user);
        let config = &self.shared.config;
        let reply = |m: Message| out.send((m, Bytes::new()));
        let (rule, argv) = match config.policy.check(user, &argv, &RealFs) {
            Decision::Allow { rule, argv } => (rule, argv),
            Decision::Deny { reasons } => {
                let why: Vec<String> = reasons.iter().map(|(r, w)| format!("{r}: {w}")).collect();
                tracing::warn!(%peer, %user, ?argv, reasons = ?why, "denied");
                let message = "no rule in the server's allowlist permits this command".to_string();
                let _ = reply(Message::Denied { id, message }).await;
                return None;
            }
        };
        let requested = timeout_ms.map(Duration::from_millis);
        let spec = self.spec(argv, stdin, config.effective_timeout(requested));
        let running = match Running::spawn(&spec) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%peer, %user, %rule, "exec failed: {e}");
                let _ = reply(Message::Error {
                    id: Some(id),
                    code: ErrorCode::ExecFailed,
                    message: "the command could not be started".into(),
                })
                .await;
                return None;
            }
        };
        tracing::info!(%peer, %user, %rule, argv = ?spec.argv, "started");
        let window = if stdin { config.limits.stdin_window } else { 0 };
        let _ = reply(Message::Started {
            id,
            stdin_window: window,
        })
        .await;
        let queue = stdin.then(|| Arc::new(StdinQueue::new(window)));
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let out = out.clone();
        let (q, user, rule) = (queue.clone(), user.to_string(), rule.clone());
        execs.spawn(async move {
            let outcome = running.drive(id, q, out.clone(), cancel_rx).await;
            tracing::info!(%peer, %user, %rule, code = ?outcome.code, signal = ?outcome.signal,
                timed_out = outcome.timed_out, ms = outcome.duration.as_millis() as u64, "exited");
            let exit = Message::Exit {
                id,
                code: outcome.code,
                signal: outcome.signal,
                timed_out: outcome.timed_out,
                duration_ms: outcome.duration.as_millis() as u64,
            };
            let _ = out.send((exit, Bytes::new())).await;
            id
        });
        Some(Entry {
            stdin: queue,
            cancel: Some(cancel_tx),
        })
    }

    fn spec(&self, argv: Vec<String>, stdin: bool, timeout: Option<Duration>) -> Spec {
        let config = &self.shared.config;
        let run_as = config.users.get(self.user).and_then(|u| u.run_as.clone());
        let (name, home) = match &run_as {
            Some(a) => (a.name.clone(), a.home.clone()),
            None => (
                self.shared.daemon.name.clone(),
                self.shared.daemon.home.clone(),
            ),
        };
        let cwd = if home.is_dir() {
            home.clone()
        } else {
            PathBuf::from("/")
        };
        let env = vec![
            ("PATH".to_string(), config.exec.path.clone()),
            ("HOME".to_string(), home.to_string_lossy().into_owned()),
            ("USER".to_string(), name.clone()),
            ("LOGNAME".to_string(), name),
            ("LANG".to_string(), config.exec.lang.clone()),
            ("PAGER".to_string(), "cat".to_string()),
            ("SYSTEMD_PAGER".to_string(), String::new()),
            ("SECSH_USER".to_string(), self.user.to_string()),
        ];
        Spec {
            argv,
            env,
            cwd,
            run_as,
            stdin,
            timeout,
            kill_grace: config.exec.kill_grace,
        }
    }
}
