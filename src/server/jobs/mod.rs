//! The daemon's jobs: commands that outlive the connection that started
//! them (docs/PROTOCOL.md, "Jobs"). One table for the whole daemon, each
//! job owned by the user who started it and visible to nobody else; its
//! output in a bounded spool under `[jobs] dir` (one directory per user,
//! one per job); finished jobs kept for `keep_finished_secs`; at start-up
//! the jobs a previous run left are read back, those that were running
//! marked `lost` (the sentinel killed them with that daemon).

mod follow;
mod job;
mod meta;
mod pump;
mod readers;
mod spool;
mod stdin;
mod view;

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub(crate) use follow::{start as follow, Follower, Reading};
pub(crate) use job::{Job, Left, Mode, Parts};
pub(crate) use pump::{pump, PumpCtx};

use crate::audit::{Auditor, Event, JobEvent};
use crate::config::JobSettings;
use crate::proto::JobInfo;

/// The most JSON a `job_list` carries, well inside the 64 KiB header limit.
pub(crate) const LIST_BYTES: usize = 48 * 1024;

/// Every job the daemon keeps, by id.
pub(crate) struct Jobs {
    /// Where spools live (fixed at start-up; created with the first job).
    dir: PathBuf,
    table: Mutex<BTreeMap<String, Arc<Job>>>,
}

/// Why a job cannot be started now (for the client; no paths).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// A per-user bound is reached and nothing finished can make room.
    #[error("busy: {0}")]
    Busy(String),
    /// The spool directory is unusable.
    #[error("jobs are unavailable on this server")]
    Unavailable,
}

impl Jobs {
    /// Read back what a previous run left in the spool directory, if it
    /// exists (it is created with the first job).
    pub fn open(settings: &JobSettings) -> Self {
        let jobs = Self {
            dir: settings.dir.clone(),
            table: Mutex::default(),
        };
        jobs.recover();
        jobs
    }

    fn recover(&self) {
        let mut table = self.table.lock().expect("jobs lock");
        for user_dir in read_dirs(&self.dir) {
            for job_dir in read_dirs(&user_dir) {
                match meta::Meta::load(&job_dir) {
                    Ok(m) => {
                        let job = Job::recovered(job_dir.clone(), &m);
                        if m.state == "running" {
                            tracing::warn!(job = %m.job, user = %m.user,
                                "job was running when the daemon stopped: lost");
                            if let Err(e) = job.meta().store(&job_dir) {
                                tracing::error!(job = %m.job, "cannot record it as lost: {e}");
                            }
                        }
                        table.insert(m.job.clone(), job);
                    }
                    Err(e) => {
                        tracing::warn!(dir = %job_dir.display(), "not a job, removed: {e}");
                        let _ = std::fs::remove_dir_all(&job_dir);
                    }
                }
            }
        }
    }

    /// The directory for a new job of `user`, with a fresh id, once the
    /// user's bounds allow it (finished jobs are removed, oldest first, to
    /// make room).
    pub fn reserve(&self, user: &str, s: &JobSettings) -> Result<(String, PathBuf), Refusal> {
        let mut table = self.table.lock().expect("jobs lock");
        loop {
            let mine: Vec<&Arc<Job>> = table.values().filter(|j| &*j.user == user).collect();
            let used: u64 = mine
                .iter()
                .map(|j| {
                    if j.end().is_none() {
                        j.spool_bound
                    } else {
                        j.spool_bytes()
                    }
                })
                .sum();
            if mine.len() < s.max_per_user && used + s.spool_per_job <= s.spool_per_user {
                break;
            }
            let oldest = mine
                .iter()
                .filter_map(|j| j.end().map(|e| (e.ended, j.id.clone())))
                .min();
            let Some((_, id)) = oldest else {
                let why = if mine.len() >= s.max_per_user {
                    format!(
                        "{} jobs of this user are kept ([jobs] max_per_user)",
                        mine.len()
                    )
                } else {
                    "this user's running jobs hold the whole spool ([jobs] user_spool_mib)".into()
                };
                return Err(Refusal::Busy(why));
            };
            if let Some(j) = table.remove(&id) {
                remove_dir(&j.dir);
            }
        }
        let id = loop {
            let id = new_id();
            if !table.contains_key(&id) {
                break id;
            }
        };
        let dir = self.dir.join(user_dir(user)).join(&id);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                tracing::error!(dir = %dir.display(), "jobs are unavailable: cannot create the job's spool directory: {e}");
                Refusal::Unavailable
            })?;
        Ok((id, dir))
    }

    /// Keep a started job.
    pub fn insert(&self, job: Arc<Job>) {
        let mut table = self.table.lock().expect("jobs lock");
        table.insert(job.id.clone(), job);
    }

    /// `user`'s job `id` (another user's is not found).
    pub fn get(&self, user: &str, id: &str) -> Option<Arc<Job>> {
        let table = self.table.lock().expect("jobs lock");
        table.get(id).filter(|j| &*j.user == user).cloned()
    }

    /// `user`'s jobs, newest first, as many as fit in [`LIST_BYTES`] of
    /// JSON (an argv of control characters takes six bytes a character).
    pub fn list(&self, user: &str) -> Vec<JobInfo> {
        let table = self.table.lock().expect("jobs lock");
        let mut mine: Vec<&Arc<Job>> = table.values().filter(|j| &*j.user == user).collect();
        mine.sort_by_key(|j| std::cmp::Reverse((j.started, j.id.clone())));
        let mut left = LIST_BYTES;
        let mut out = Vec::new();
        for info in mine.into_iter().map(|j| j.info()) {
            let size = serde_json::to_vec(&info).map_or(usize::MAX, |v| v.len() + 1);
            if size > left {
                break;
            }
            left -= size;
            out.push(info);
        }
        out
    }

    /// Remove finished jobs older than `keep_finished`.
    pub fn sweep(&self, s: &JobSettings, now: SystemTime) {
        let mut table = self.table.lock().expect("jobs lock");
        let old: Vec<String> = table
            .values()
            .filter(|j| {
                j.end().is_some_and(|e| {
                    now.duration_since(e.ended)
                        .is_ok_and(|age| age >= s.keep_finished)
                })
            })
            .map(|j| j.id.clone())
            .collect();
        for id in old {
            if let Some(j) = table.remove(&id) {
                tracing::info!(job = %id, user = %j.user, "finished job removed (keep_finished_secs)");
                remove_dir(&j.dir);
            }
        }
    }

    /// Stop every running job whose user `stop_user` names (`why`:
    /// `revoked`, a reload removed the user; `shutdown`), each with its
    /// `job_cancelled` record. The jobs stopped.
    pub fn stop_where(
        &self,
        stop_user: impl Fn(&str) -> bool,
        why: &'static str,
        audit: &Auditor,
    ) -> Vec<Arc<Job>> {
        let stopped: Vec<Arc<Job>> = {
            let table = self.table.lock().expect("jobs lock");
            table
                .values()
                .filter(|j| j.end().is_none() && stop_user(&j.user))
                .filter(|j| j.stop(why))
                .cloned()
                .collect()
        };
        for job in &stopped {
            tracing::info!(job = %job.id, user = %job.user, why, "job stopped");
            audit.record(Event::Job(JobEvent::JobCancelled {
                user: job.user.to_string(),
                job: job.id.clone(),
                by: why,
                conn: None,
                peer: None,
            }));
        }
        stopped
    }

    /// The daemon stops: stop every running job and give them `grace` to
    /// end (their ends are then recorded; the next start lists any that
    /// did not as `lost`).
    pub async fn stop_all(&self, audit: &Auditor, grace: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        for job in self.stop_where(|_| true, "shutdown", audit) {
            let mut changes = job.subscribe();
            while job.end().is_none() {
                if tokio::time::timeout_at(deadline, changes.changed())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
}

/// A user's directory name: never `.` or `..` (user names may use dots).
fn user_dir(user: &str) -> String {
    format!("u-{user}")
}

fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), "cannot remove a job's spool: {e}");
        }
    }
}

/// 12 hex digits from the system's random source.
fn new_id() -> String {
    use std::io::Read;
    let mut b = [0u8; 6];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let h = blake3::hash(format!("{t:?}{:?}", std::thread::current().id()).as_bytes());
        b.copy_from_slice(&h.as_bytes()[..6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}
