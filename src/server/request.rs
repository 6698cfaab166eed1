//! Turning an `exec` into a running command for the driver: the allowlist
//! decision and the child's environment (on the blocking pool: `path_under`
//! resolves symlinks and the home directory is looked at), then the spawn
//! (on the runtime worker, see [`crate::exec::start`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Live, Shared};
use crate::exec::{RealFs, Spec};
use crate::policy::Decision;

/// What the blocking check decided.
pub(crate) enum Checked {
    /// Run this.
    Allowed {
        /// The command's name in the config.
        rule: String,
        /// How to spawn it.
        spec: Box<Spec>,
        /// The effective time limit.
        timeout: Option<Duration>,
    },
    /// Nothing matched.
    Denied {
        /// The argv asked for.
        argv: Vec<String>,
        /// The closest rule (one for the same program, if any).
        closest: Option<String>,
        /// Why it missed.
        reason: String,
    },
}

/// Who asks: the authenticated user on a connection.
#[derive(Clone)]
pub(crate) struct Requester {
    pub shared: Arc<Shared>,
    /// The configuration the connection started with.
    pub live: Arc<Live>,
    pub user: Arc<str>,
    pub peer: SocketAddr,
    /// A user certificate's `force-command`: the only argv this session
    /// may run (and still only if the allowlist allows it).
    pub forced: Option<Arc<[String]>>,
}

impl Requester {
    /// Decide on `argv` and build its spec. Blocking: call on the
    /// blocking pool.
    pub fn check(&self, argv: Vec<String>, stdin: bool, timeout_ms: Option<u64>) -> Checked {
        let (peer, user) = (self.peer, &*self.user);
        let config = &self.live.config;
        if let Some(forced) = self.forced.as_deref().filter(|f| **f != argv[..]) {
            let shown = crate::logtext::argv(forced);
            tracing::info!(%peer, user = %crate::logtext::shown(user),
                "denied {}: the certificate's force-command allows only {shown}",
                crate::logtext::argv(&argv));
            return Checked::Denied {
                argv,
                closest: None,
                reason: format!("the sign-in certificate allows only its force-command: {shown}"),
            };
        }
        match config.policy.check(user, &argv, &RealFs) {
            Decision::Allow { rule, argv } => {
                let requested = timeout_ms.map(Duration::from_millis);
                let timeout = config.effective_timeout(requested);
                let spec = Box::new(self.spec(argv, stdin));
                Checked::Allowed {
                    rule,
                    spec,
                    timeout,
                }
            }
            Decision::Deny { reasons } => {
                // The closest miss: a rule for the same program, if any
                // (`null` otherwise, never an unrelated rule).
                let same = reasons.iter().find(|(_, why)| !why.starts_with("program "));
                let (closest, reason) = match (same, reasons.first()) {
                    (Some((rule, why)), _) => (Some(rule.clone()), why.clone()),
                    (None, Some(_)) => (None, no_rule_for(&argv)),
                    (None, None) => (None, "the user may run no commands".to_string()),
                };
                // One line, bounded: the argv cut to size, the number of
                // rules that missed and the closest one's reason.
                let shown = crate::logtext::argv(&argv);
                let why = match &closest {
                    None => reason.clone(),
                    Some(rule) => format!(
                        "{} rule(s) checked; {rule}: {}",
                        reasons.len(),
                        crate::logtext::shown(&reason)
                    ),
                };
                tracing::warn!(%peer, %user, argv = %shown, "denied: {why}");
                Checked::Denied {
                    argv,
                    closest,
                    reason,
                }
            }
        }
    }

    fn spec(&self, argv: Vec<String>, stdin: bool) -> Spec {
        let config = &self.live.config;
        let run_as = config.users.get(&*self.user).and_then(|u| u.run_as.clone());
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
            kill_grace: config.exec.kill_grace,
        }
    }
}

/// The reason when no rule names the program asked for.
fn no_rule_for(argv: &[String]) -> String {
    let program = argv.first().map_or("", String::as_str);
    format!("no rule for program \"{}\"", crate::logtext::shown(program))
}
