//! A job as others see it: its `meta.json` (and a job read back from one
//! after a restart) and its `job_list` entry.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::job::{unix, End, Inner, Job, Mode};
use super::meta::Meta;
use super::readers::Readers;
use super::spool::Spool;
use crate::proto::JobInfo;
use crate::session::ExitStatus;

impl Job {
    /// A job a previous run of the daemon left on disk: ended, or `lost`
    /// if it was still running (the sentinel killed its group when that
    /// daemon died).
    pub fn recovered(dir: PathBuf, meta: &Meta) -> Arc<Self> {
        let half = meta.spool_bound / 2;
        let spools = [
            Spool::recover(&dir, "stdout", half),
            Spool::recover(&dir, "stderr", half),
        ];
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let end = match meta.state.as_str() {
            "running" => End {
                status: ExitStatus {
                    code: None,
                    signal: Some(9),
                },
                state: "lost",
                ended: meta.ended.map_or_else(SystemTime::now, at),
            },
            other => End {
                status: ExitStatus {
                    code: meta.code,
                    signal: meta.signal,
                },
                state: state_word(other),
                ended: meta.ended.map_or_else(SystemTime::now, at),
            },
        };
        let inner = Inner {
            end: Some(end),
            ..Inner::default()
        };
        Arc::new(Self {
            id: meta.job.clone(),
            user: meta.user.as_str().into(),
            command: meta.command.clone(),
            argv: meta.argv.clone(),
            mode: if meta.mode == "detached" {
                Mode::Detached
            } else {
                Mode::Resumable
            },
            started: at(meta.started),
            pid: meta.pid,
            dir,
            spool_bound: meta.spool_bound,
            spools,
            inner: Mutex::new(inner),
            changed: watch::Sender::new(()),
            readers: Readers::default(),
        })
    }

    /// The persisted view.
    pub fn meta(&self) -> Meta {
        let end = self.lock().end;
        Meta {
            job: self.id.clone(),
            user: self.user.to_string(),
            command: self.command.clone(),
            argv: self.argv.clone(),
            mode: self.mode.word().into(),
            pid: self.pid,
            started: unix(self.started),
            ended: end.map(|e| unix(e.ended)),
            state: end.map_or("running", |e| e.state).into(),
            code: end.and_then(|e| e.status.code),
            signal: end.and_then(|e| e.status.signal),
            spool_bound: self.spool_bound,
        }
    }

    /// The `job_list` entry.
    pub fn info(&self) -> JobInfo {
        let end = self.end();
        let [(out, d1), (err, d2)] = [self.spools[0].counts(), self.spools[1].counts()];
        let (argv, argv_truncated) = shown_argv(&self.argv);
        JobInfo {
            job: self.id.clone(),
            command: self.command.clone(),
            argv,
            argv_truncated,
            state: end.map_or("running", |e| e.state).into(),
            mode: self.mode.word().into(),
            started: unix(self.started),
            ended: end.map(|e| unix(e.ended)),
            code: end.and_then(|e| e.status.code),
            signal: end.and_then(|e| e.status.signal),
            stdout_bytes: out,
            stderr_bytes: err,
            dropped_bytes: d1 + d2,
        }
    }
}

fn state_word(s: &str) -> &'static str {
    match s {
        "exited" => "exited",
        "signalled" => "signalled",
        "timed_out" => "timed_out",
        "cancelled" => "cancelled",
        "abandoned" => "abandoned",
        _ => "lost",
    }
}

/// The argv cut to [`JobInfo::ARGV_SHOWN`] characters in all.
fn shown_argv(argv: &[String]) -> (Vec<String>, bool) {
    let mut left = JobInfo::ARGV_SHOWN;
    let mut out = Vec::new();
    for a in argv {
        if a.chars().count() > left {
            out.push(a.chars().take(left).collect());
            return (out, true);
        }
        left -= a.chars().count();
        out.push(a.clone());
    }
    (out, false)
}
