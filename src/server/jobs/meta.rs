//! A job's `meta.json` beside its spool: what `--jobs` shows and what a
//! restarted daemon reads back. Written when the job starts and again when
//! it ends, each time to a temporary file renamed over the old one.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's name in the job's directory.
pub(crate) const META: &str = "meta.json";

/// Everything kept about a job besides its output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Meta {
    pub job: String,
    pub user: String,
    pub command: String,
    pub argv: Vec<String>,
    pub mode: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub started: u64,
    #[serde(default)]
    pub ended: Option<u64>,
    /// `running` until it ends.
    pub state: String,
    #[serde(default)]
    pub code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    /// The per-job spool bound it was started with, bytes.
    pub spool_bound: u64,
}

impl Meta {
    /// Write it to `dir/meta.json`, replacing the old one whole.
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = dir.join(".meta.json.tmp");
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&json)?;
        f.sync_data()?;
        std::fs::rename(&tmp, dir.join(META))
    }

    /// Read `dir/meta.json`.
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(dir.join(META))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}
