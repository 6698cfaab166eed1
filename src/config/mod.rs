//! Server configuration: load the TOML file, check its ownership and mode,
//! parse it with unknown keys rejected, and validate it into [`ServerConfig`]
//! with every error located at file:line:column.

mod error;
mod files;
mod include;
mod jobs;
mod limits;
mod raw;
mod roots;
mod rules;
mod server;
mod user;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::proto::DEFAULT_PORT;
pub use error::{ConfigError, Location};
pub use jobs::{JobSettings, MIN_SPOOL_KIB};
pub use roots::{FileSettings, DEFAULT_PARTIAL_MAX_AGE};
pub use rules::resolve_program;
pub use server::{LoadOptions, DEFAULT_PATH};

use crate::policy::Policy;

/// A validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// PEM certificate chain, server certificate first.
    pub tls_cert: PathBuf,
    /// PEM private key of the server certificate.
    pub tls_key: PathBuf,
    /// When the server certificate expires (seconds since 1970), if read.
    pub tls_not_after: Option<u64>,
    /// The rustls configuration built from them when the file loaded
    /// (`None` only when loaded with [`LoadOptions::load_tls`] off).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How commands are run.
    pub exec: ExecSettings,
    /// Connection limits and deadlines.
    pub limits: Limits,
    /// Things worth a warning in the log (an expiring certificate, a key
    /// listed for two users); the daemon logs them at start and reload.
    pub warnings: Vec<String>,
    /// Where Prometheus metrics are served (`[metrics] listen`); off when
    /// `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where audit records go (`[audit]`).
    pub audit: crate::audit::AuditConfig,
    /// Per-source penalties for failures (`[penalties]`).
    pub penalties: crate::gate::PenaltySettings,
    /// File transfer settings (`[files]`).
    pub files: FileSettings,
    /// Detached and resumable jobs (`[jobs]`).
    pub jobs: JobSettings,
    /// Sign-in settings shared by all users (`[auth]`).
    pub auth: AuthSettings,
    /// Accounts by name.
    pub users: HashMap<String, User>,
    /// The compiled allowlist.
    pub policy: Policy,
    /// Where each user, command and group was defined, for those from
    /// drop-in files (`"commands.NAME"` -> `FILE:LINE:COLUMN`).
    pub sources: std::collections::BTreeMap<String, String>,
}

/// `[auth]`: what admits users beyond their own keys.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// CAs whose user certificates sign users in (`user_ca_keys`).
    pub user_cas: Vec<ssh_key::PublicKey>,
    /// Keys, certificates and CAs refused (`revoked_keys`).
    pub revoked: crate::auth::krl::Revoked,
}

/// One account.
#[derive(Debug, Clone)]
pub struct User {
    /// Public keys that may sign in as this user.
    pub keys: Vec<ssh_key::PublicKey>,
    /// Certificate principals that admit this user (`principals`,
    /// default the user's name); used only with `[auth] user_ca_keys`.
    pub principals: Vec<String>,
    /// Whether a user certificate can sign this user in (a user CA is
    /// configured).
    pub certificates: bool,
    /// Keys that stop working at a time (`expiry-time="..."`).
    pub key_expiry: Vec<(ssh_key::public::KeyData, std::time::SystemTime)>,
    /// Source addresses the user may sign in from; empty: anywhere.
    pub from: Vec<ipnet::IpNet>,
    /// The argon2id hash of the user's password, if they have one.
    pub password: Option<crate::auth::StoredHash>,
    /// Methods that must all be proven (`auth = [...]`); empty: any one
    /// configured method suffices.
    pub require: Vec<crate::proto::AuthMethod>,
    /// The local account commands run as (root daemon only).
    pub run_as: Option<RunAs>,
    /// This user's budgets (`[limits]` defaults unless overridden).
    pub limits: UserLimits,
    /// Directories the user may put files under (theirs and their
    /// groups'), most specific first is not implied: order as configured.
    pub upload: Vec<PathBuf>,
    /// Directories the user may get files from.
    pub download: Vec<PathBuf>,
    /// `detach = true`: the user may start any of their commands as a
    /// detached job.
    pub detach: bool,
}

impl User {
    /// After proving `proven`, what is still missing: `None` when
    /// authenticated, else the methods still required.
    pub fn missing(
        &self,
        proven: &[crate::proto::AuthMethod],
    ) -> Option<Vec<crate::proto::AuthMethod>> {
        if self.require.is_empty() {
            return None;
        }
        let rest: Vec<_> = self
            .require
            .iter()
            .filter(|m| !proven.contains(m))
            .copied()
            .collect();
        (!rest.is_empty()).then_some(rest)
    }

    /// When `key` stops being accepted, if ever.
    pub fn key_expires(&self, key: &ssh_key::PublicKey) -> Option<std::time::SystemTime> {
        self.key_expiry
            .iter()
            .find(|(k, _)| k == key.key_data())
            .map(|(_, t)| *t)
    }

    /// Whether the user may sign in from `ip`.
    pub fn allowed_from(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.from.is_empty() || self.from.iter().any(|n| n.contains(&ip))
    }

    /// Whether the user may sign in with `method` at all.
    pub fn allows(&self, method: crate::proto::AuthMethod) -> bool {
        use crate::proto::AuthMethod;
        let configured = match method {
            AuthMethod::Key => !self.keys.is_empty() || self.certificates,
            AuthMethod::Password => self.password.is_some(),
        };
        configured && (self.require.is_empty() || self.require.contains(&method))
    }
}

/// A local account resolved when the configuration loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
    /// Supplementary groups (primary included), read at load so that no
    /// exec waits on NSS.
    pub groups: Vec<u32>,
}

/// How commands are spawned.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    /// Directories searched for bare program names at load, and the
    /// children's `PATH`.
    pub path: String,
    /// The children's `LANG`.
    pub lang: String,
    /// Time limit when the client asks for none.
    pub default_timeout: Option<Duration>,
    /// Upper bound on any time limit, including client requests.
    pub max_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a command is stopped.
    pub kill_grace: Duration,
    /// After a reload revokes a signed-in identity, how long its running
    /// commands may go on before they are stopped and its connections
    /// closed.
    pub revoke_grace: Duration,
}

/// Connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time from TCP accept to a verified `auth`.
    pub auth_timeout: Duration,
    /// Authenticated connections at once; the next one gets `busy`.
    pub max_connections: usize,
    /// Connections not yet authenticated, in total; more are closed at
    /// accept (random early drop from half of this).
    pub max_unauthenticated: usize,
    /// Connections not yet authenticated from one IPv4 address or IPv6 /64.
    pub max_unauthenticated_per_source: usize,
    /// Commands running at once on one connection.
    pub max_requests_per_connection: usize,
    /// Failed `auth` attempts allowed on one connection.
    pub max_auth_tries: u32,
    /// Stdin bytes a request may have in flight (the flow-control window);
    /// also the most stdin the server buffers for one command.
    pub stdin_window: u64,
    /// Close an authenticated connection with nothing running after this.
    pub idle_timeout: Option<Duration>,
    /// Ping a silent client after this; close after 3 missed answers.
    pub keepalive: Option<Duration>,
    /// How often repeated front-door events are summarised in the log.
    pub log_summary: Duration,
    /// Budgets of a user without their own `limits`.
    pub per_user: UserLimits,
}

/// What one user may hold at once, across all their connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLimits {
    /// Signed-in connections.
    pub max_connections: usize,
    /// Running commands.
    pub max_commands: usize,
    /// Stdin bytes buffered for one connection's commands together.
    pub stdin_buffer: u64,
}

impl ServerConfig {
    /// Every user's upload roots, each once (the partial-upload sweep).
    pub fn upload_roots(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = Vec::new();
        for u in self.users.values() {
            for r in &u.upload {
                if !all.contains(r) {
                    all.push(r.clone());
                }
            }
        }
        all.sort();
        all
    }

    /// The effective time limit for a request asking for `requested`.
    pub fn effective_timeout(&self, requested: Option<Duration>) -> Option<Duration> {
        let wanted = requested.or(self.exec.default_timeout);
        match (wanted, self.exec.max_timeout) {
            (Some(w), Some(m)) => Some(w.min(m)),
            (None, Some(m)) => Some(m),
            (w, None) => w,
        }
    }
}

#[cfg(test)]
mod tests;
