//! `[jobs]`: where job spools live and how far they may grow, how long
//! finished jobs are kept and how long a resumable run waits for its
//! client to come back.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawJobs;
use super::server::Cx;
use super::ConfigError;

/// The smallest per-job spool bound, KiB: two streams, each a head and a
/// tail of at least 16 KiB.
pub const MIN_SPOOL_KIB: u64 = 64;
/// The per-job spool bound unless `[jobs] spool_kib` says otherwise, KiB.
pub const DEFAULT_SPOOL_KIB: u64 = 128 * 1024;
/// A user's spools together unless `user_spool_mib` says otherwise, MiB.
pub const DEFAULT_USER_SPOOL_MIB: u64 = 2048;
/// Jobs (running or kept) per user unless `max_per_user` says otherwise.
pub const DEFAULT_MAX_PER_USER: u64 = 20;
/// The most jobs one user may have (a `job_list` answer stays small).
pub const MAX_PER_USER: u64 = 100;
/// Finished jobs are kept a week unless `keep_finished_secs` says otherwise.
pub const DEFAULT_KEEP_FINISHED: Duration = Duration::from_secs(7 * 86_400);
/// A resumable run waits this long for its client unless
/// `resume_grace_secs` says otherwise.
pub const DEFAULT_RESUME_GRACE: Duration = Duration::from_secs(300);
/// Where spools live when neither `dir` nor systemd's `STATE_DIRECTORY`
/// says.
pub const DEFAULT_DIR: &str = "/var/lib/secsh/jobs";

/// The `[jobs]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// The spool directory (one subdirectory per user, one per job).
    pub dir: PathBuf,
    /// Bytes of spool one job may use, stdout and stderr together.
    pub spool_per_job: u64,
    /// Bytes of spool one user's jobs may use together.
    pub spool_per_user: u64,
    /// Jobs one user may have, running or kept.
    pub max_per_user: usize,
    /// A finished job is removed this long after it ended.
    pub keep_finished: Duration,
    /// How long a resumable run's command keeps running without a client.
    pub resume_grace: Duration,
}

/// `[jobs]` checked; `state_directory` is `$STATE_DIRECTORY` as systemd
/// sets it (the first of its colon-separated paths is used).
pub(super) fn jobs(
    cx: &Cx<'_>,
    raw: &RawJobs,
    state_directory: Option<&str>,
) -> Result<JobSettings, ConfigError> {
    let dir = match &raw.dir {
        Some(d) if !d.get_ref().starts_with('/') => {
            return Err(cx.at(
                d,
                format!("jobs.dir {:?} is not an absolute path", d.get_ref()),
            ))
        }
        Some(d) => PathBuf::from(d.get_ref()),
        None => match state_directory.and_then(|s| s.split(':').find(|p| p.starts_with('/'))) {
            Some(state) => PathBuf::from(state).join("jobs"),
            None => PathBuf::from(DEFAULT_DIR),
        },
    };
    let kib = cx.ranged(&raw.spool_kib, "spool_kib", MIN_SPOOL_KIB, 16 << 30)?;
    let mib = cx.ranged(&raw.user_spool_mib, "user_spool_mib", 1, 16 << 20)?;
    let spool_per_job = kib.unwrap_or(DEFAULT_SPOOL_KIB) << 10;
    let spool_per_user = mib.unwrap_or(DEFAULT_USER_SPOOL_MIB) << 20;
    if spool_per_user < spool_per_job {
        let at = raw.user_spool_mib.as_ref().or(raw.spool_kib.as_ref());
        let why = "user_spool_mib must hold at least one job's spool_kib";
        return match at {
            Some(v) => Err(cx.at(v, why)),
            None => unreachable!("both defaults fit"),
        };
    }
    let max = cx.ranged(&raw.max_per_user, "max_per_user", 1, MAX_PER_USER)?;
    let keep = cx.ranged(
        &raw.keep_finished_secs,
        "keep_finished_secs",
        0,
        365 * 86_400,
    )?;
    let grace = cx.ranged(&raw.resume_grace_secs, "resume_grace_secs", 1, 86_400)?;
    Ok(JobSettings {
        dir,
        spool_per_job,
        spool_per_user,
        max_per_user: max.unwrap_or(DEFAULT_MAX_PER_USER) as usize,
        keep_finished: keep.map_or(DEFAULT_KEEP_FINISHED, Duration::from_secs),
        resume_grace: grace.map_or(DEFAULT_RESUME_GRACE, Duration::from_secs),
    })
}
