//! The server configuration file as written: serde structs mirroring the
//! TOML, unknown keys rejected at every level, spans kept for errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Top level of `secshd.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub include: Option<Vec<Spanned<String>>>,
    pub listen: Option<Vec<Spanned<String>>>,
    pub tls: RawTls,
    #[serde(default)]
    pub exec: RawExec,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub penalties: RawPenalties,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub files: RawFiles,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub jobs: RawJobs,
    #[serde(default)]
    pub users: BTreeMap<Spanned<String>, Spanned<RawUser>>,
    #[serde(default)]
    pub commands: BTreeMap<Spanned<String>, RawCommand>,
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, RawGroup>,
}

/// A drop-in file (`include`): users, groups and commands only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDropIn {
    #[serde(default)]
    pub users: BTreeMap<Spanned<String>, Spanned<RawUser>>,
    #[serde(default)]
    pub commands: BTreeMap<Spanned<String>, RawCommand>,
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExec {
    pub path: Option<Spanned<String>>,
    pub lang: Option<String>,
    pub default_timeout_secs: Option<Spanned<u64>>,
    pub max_timeout_secs: Option<Spanned<u64>>,
    pub kill_grace_ms: Option<Spanned<u64>>,
    pub revoke_grace_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub auth_timeout_secs: Option<Spanned<u64>>,
    pub max_connections: Option<Spanned<u64>>,
    pub max_requests_per_connection: Option<Spanned<u64>>,
    pub max_auth_tries: Option<Spanned<u64>>,
    pub max_unauthenticated: Option<Spanned<u64>>,
    pub max_unauthenticated_per_source: Option<Spanned<u64>>,
    pub log_summary_secs: Option<Spanned<u64>>,
    pub max_connections_per_user: Option<Spanned<u64>>,
    pub max_commands_per_user: Option<Spanned<u64>>,
    pub stdin_buffer_kib: Option<Spanned<u64>>,
    pub stdin_window_kib: Option<Spanned<u64>>,
    pub idle_timeout_secs: Option<Spanned<u64>>,
    pub keepalive_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFiles {
    pub partial_max_age_secs: Option<Spanned<u64>>,
    pub partial_max_mib: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobs {
    pub dir: Option<Spanned<String>>,
    pub spool_kib: Option<Spanned<u64>>,
    pub user_spool_mib: Option<Spanned<u64>>,
    pub max_per_user: Option<Spanned<u64>>,
    pub keep_finished_secs: Option<Spanned<u64>>,
    pub resume_grace_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub user_ca_keys: Option<Vec<Spanned<String>>>,
    pub revoked_keys: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub path: Option<Spanned<String>>,
    pub on_failure: Option<Spanned<String>>,
    pub output_hashes: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUserLimits {
    pub max_connections: Option<Spanned<u64>>,
    pub max_commands: Option<Spanned<u64>>,
    pub stdin_buffer_kib: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPenalties {
    pub exempt: Option<Vec<Spanned<String>>>,
    pub auth_failure_secs: Option<Spanned<u64>>,
    pub no_auth_secs: Option<Spanned<u64>>,
    pub protocol_error_secs: Option<Spanned<u64>>,
    pub threshold_secs: Option<Spanned<u64>>,
    pub max_secs: Option<Spanned<u64>>,
    pub max_sources: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub principals: Option<Vec<Spanned<String>>>,
    pub auth: Option<Vec<Spanned<String>>>,
    pub from: Option<Vec<Spanned<String>>>,
    pub limits: Option<RawUserLimits>,
    #[serde(default)]
    pub commands: Vec<Spanned<String>>,
    pub run_as: Option<Spanned<String>>,
    #[serde(default)]
    pub upload: Vec<Spanned<String>>,
    #[serde(default)]
    pub download: Vec<Spanned<String>>,
    pub detach: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    pub argv: Spanned<Vec<String>>,
    pub detach: Option<bool>,
    #[serde(default)]
    pub slots: BTreeMap<Spanned<String>, Spanned<RawSlot>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlot {
    pub regex: Option<String>,
    #[serde(rename = "enum")]
    pub values: Option<Vec<String>>,
    pub int: Option<[i64; 2]>,
    pub path_under: Option<String>,
    #[serde(default)]
    pub allow_dash: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub members: Vec<Spanned<String>>,
    #[serde(default)]
    pub commands: Vec<Spanned<String>>,
    #[serde(default)]
    pub upload: Vec<Spanned<String>>,
    #[serde(default)]
    pub download: Vec<Spanned<String>>,
}
