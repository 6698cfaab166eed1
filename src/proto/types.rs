//! Value types carried inside messages: secrets, the `commands` and
//! `job_list` entries.

use serde::{Deserialize, Serialize};

/// A secret string on the wire (a password): never shown by `Debug`,
/// overwritten with zeros when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap `s`.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// One command a user may run, as `list` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandInfo {
    /// The command's name in the server's configuration.
    pub command: String,
    /// The argv template: literals and `{slot}`s.
    pub template: String,
    /// One line per slot: what it accepts.
    pub slots: Vec<String>,
}

/// One job, as `job_list` answers it (the caller's own jobs only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job id.
    pub job: String,
    /// The command's name in the server's configuration.
    pub command: String,
    /// The argv it runs (cut to [`JobInfo::ARGV_SHOWN`] characters in all,
    /// with `argv_truncated`).
    pub argv: Vec<String>,
    /// The argv was cut for this listing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub argv_truncated: bool,
    /// `running`, `exited`, `signalled`, `timed_out`, `cancelled`,
    /// `abandoned` (its client did not come back in time) or `lost` (the
    /// server restarted while it ran).
    pub state: String,
    /// `detached` (started by `job` with `detach`) or `resumable`.
    pub mode: String,
    /// Start, in seconds since the Unix epoch.
    pub started: u64,
    /// End, in seconds since the Unix epoch, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<u64>,
    /// Exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Bytes the command wrote to stdout, all of them.
    pub stdout_bytes: u64,
    /// Bytes the command wrote to stderr, all of them.
    pub stderr_bytes: u64,
    /// Of those, bytes no longer in the spool (its bound dropped them from
    /// the middle of a stream). 0: every byte can be replayed.
    pub dropped_bytes: u64,
}

impl JobInfo {
    /// The most argv characters one entry carries.
    pub const ARGV_SHOWN: usize = 200;
}
