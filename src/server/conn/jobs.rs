//! The job side of a connection: a `job` that passed the allowlist starts
//! as a job (its directory reserved within the user's bounds, the command
//! spawned with its pump, `job_started`, and for a resumable one a
//! follower from byte 0); an `attach` follows one of the user's jobs;
//! `cancel_job` stops one; the closing `job_detached` record of every
//! request that followed a job, and the resume grace it may start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::work::{Stage, Work};
use super::Conn;
use crate::audit::{Event, JobEvent};
use crate::proto::ErrorCode;
use crate::server::jobs::{self, Follower, Job, Mode, Parts, PumpCtx, Reading};
use crate::session::{AttachSpec, ExecEvent, Outcome, StopReason};

/// Why an `attach` or `cancel_job` naming no job of the user's is refused.
const NOT_FOUND: &str = "no such job of this user";

/// Process events of one job's command queued towards its pump.
const JOB_EVENTS: usize = 16;

/// What the driver holds for a request that reads a job.
pub(crate) struct Following {
    pub job: Arc<Job>,
    pub follower: Follower,
    /// This request carries the job's stdin, as this holder (see
    /// `Job::push_stdin`): the request that started the job, or a
    /// resume's attach that took it over.
    pub stdin: Option<u64>,
    /// stdout and stderr bytes sent on this request.
    pub sent: [u64; 2],
}

impl Conn {
    /// Whether request `id` is a `job` (`Some(detach)`), before it starts.
    pub(super) fn job_of(&self, id: u64) -> Option<bool> {
        match self.work.get(&id).map(|w| &w.stage) {
            Some(Stage::Asked { job, .. }) => *job,
            _ => None,
        }
    }

    /// The job request `id` reads, if it reads one.
    pub(super) fn following(&self, id: u64) -> Option<&Following> {
        match self.work.get(&id).map(|w| &w.stage) {
            Some(Stage::Following(f)) => Some(f),
            _ => None,
        }
    }

    /// A `job` the allowlist allowed: start it, or refuse it.
    pub(super) fn start_job(
        &mut self,
        id: u64,
        token: u64,
        rule: String,
        spec: Box<crate::exec::Spec>,
        timeout: Option<Duration>,
        detach: bool,
    ) {
        let user = self.who.as_ref().expect("signed in").user.clone();
        let live = self.live.clone();
        let config = &live.config;
        let may_detach =
            config.policy.may_detach(&rule) || config.users.get(&*user).is_some_and(|u| u.detach);
        if detach && !may_detach {
            tracing::warn!(peer = %self.peer, %user, id, %rule,
                "denied: the command may not be detached (detach = false)");
            let (argv, argv_truncated) = crate::audit::bounded_argv(&spec.argv);
            self.set_stage(
                id,
                Stage::Denied {
                    argv,
                    argv_truncated,
                    closest: Some(rule.clone()),
                    reason: format!("command {rule} may not be detached (detach = false)"),
                },
            );
            let message = format!("command {rule} may not be run detached on this server");
            let ev = ExecEvent::Denied { message };
            return self.session.handle_exec_event(id, ev, Instant::now());
        }
        let (job_id, dir) = match self.shared.jobs.reserve(&user, &config.jobs) {
            Ok(r) => r,
            Err(e) => {
                let code = match e {
                    jobs::Refusal::Busy(_) => ErrorCode::Busy,
                    jobs::Refusal::Unavailable => ErrorCode::ExecFailed,
                };
                tracing::info!(peer = %self.peer, %user, id, "job refused: {e}");
                return self.refuse(id, code, e.to_string(), e.to_string());
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(JOB_EVENTS);
        let proc = match crate::exec::start(&spec, 0, tx) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(peer = %self.peer, id, %rule, "job failed to start: {e}");
                let _ = std::fs::remove_dir_all(&dir);
                if let Some(Work {
                    stage: Stage::Asked { command, why, .. },
                    held,
                    ..
                }) = self.work.get_mut(&id)
                {
                    *command = Some(rule);
                    *why = Some(e.to_string());
                    *held = None;
                }
                return self
                    .session
                    .handle_exec_event(id, ExecEvent::Failed, Instant::now());
            }
        };
        let pid = proc.pid();
        let held = self.work.get_mut(&id).and_then(|w| w.held.take());
        let mode = if detach {
            Mode::Detached
        } else {
            Mode::Resumable
        };
        let job = Job::new(Parts {
            id: job_id.clone(),
            user: user.clone(),
            command: rule.clone(),
            argv: spec.argv.clone(),
            mode,
            dir,
            spool_bound: config.jobs.spool_per_job,
            proc,
            held,
            stdin_to: (!detach && spec.stdin).then(|| (self.events.clone(), token)),
        });
        if let Err(e) = job.meta().store(&job.dir) {
            tracing::error!(job = %job_id, "cannot record the job: {e}");
        }
        self.shared.jobs.insert(job.clone());
        let ctx = PumpCtx {
            audit: self.shared.audit.clone(),
            hash: config.audit.output_hashes,
            timeout,
            metrics: self.shared.metrics.clone(),
        };
        self.shared.metrics.jobs_started.inc();
        self.shared.metrics.jobs_running.inc();
        tokio::spawn(jobs::pump(job.clone(), rx, ctx));
        let shown = crate::logtext::argv(&spec.argv);
        tracing::info!(peer = %self.peer, id, %rule, job = %job_id, mode = mode.word(),
            argv = %shown, "job started");
        let run_as = spec.env.iter().find(|(k, _)| k == "USER");
        self.audit(Event::Job(JobEvent::JobStarted {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user: user.to_string(),
            auth: self.auth.clone().unwrap_or_else(|| crate::audit::Auth {
                method: String::new(),
                key: None,
                cert: None,
            }),
            job: job_id.clone(),
            mode: mode.word(),
            argv: spec.argv.clone(),
            command: rule,
            run_as: run_as.map_or_else(String::new, |(_, v)| v.clone()),
            pid,
        }));
        let now = Instant::now();
        let started = ExecEvent::JobStarted {
            job: job_id,
            detached: detach,
        };
        if detach {
            self.set_stage(id, Stage::Recorded);
            return self.session.handle_exec_event(id, started, now);
        }
        job.follow();
        let follower = jobs::follow(Reading {
            job: job.clone(),
            offsets: [0, 0],
            exact: false,
            token,
            events: self.events.clone(),
        });
        let f = Following {
            job,
            follower,
            stdin: spec.stdin.then_some(1),
            sent: [0, 0],
        };
        self.set_stage(id, Stage::Following(Box::new(f)));
        self.session.handle_exec_event(id, started, now);
        self.session.handle_exec_event(
            id,
            ExecEvent::Started {
                timeout,
                stdin_offset: None,
            },
            now,
        );
    }

    /// An `attach`: follow the user's job from the offsets asked for.
    pub(super) fn attach(&mut self, id: u64, spec: AttachSpec) {
        let user = self.user();
        let token = self.track(id, Stage::Recorded);
        let Some(job) = self.shared.jobs.get(&user, &spec.job) else {
            self.refused_job(id, &spec.job, "attach", NOT_FOUND);
            let ev = ExecEvent::Refused {
                code: ErrorCode::NotFound,
                message: "no such job of yours on this server".into(),
            };
            return self.session.handle_exec_event(id, ev, Instant::now());
        };
        if spec.stdin && job.mode != Mode::Resumable {
            self.refused_job(
                id,
                &job.id,
                "attach",
                "a detached job has no stdin to resume",
            );
            let ev = ExecEvent::Refused {
                code: ErrorCode::BadRequest,
                message: "a detached job has no stdin to resume".into(),
            };
            return self.session.handle_exec_event(id, ev, Instant::now());
        }
        let stdin = spec
            .stdin
            .then(|| job.take_stdin((self.events.clone(), token)));
        job.follow();
        let follower = jobs::follow(Reading {
            job: job.clone(),
            offsets: spec.offsets,
            exact: spec.exact,
            token,
            events: self.events.clone(),
        });
        let stdin_offset = stdin.map(|(_, taken)| taken);
        tracing::info!(peer = %self.peer, %user, id, job = %job.id, resume = spec.exact,
            stdout_offset = spec.offsets[0], stderr_offset = spec.offsets[1], ?stdin_offset,
            "attached");
        self.audit(Event::Job(JobEvent::JobAttached {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user,
            job: job.id.clone(),
            resume: spec.exact,
            stdout_offset: spec.offsets[0],
            stderr_offset: spec.offsets[1],
            stdin_offset,
        }));
        let f = Following {
            job,
            follower,
            stdin: stdin.map(|(holder, _)| holder),
            sent: [0, 0],
        };
        self.set_stage(id, Stage::Following(Box::new(f)));
        let started = ExecEvent::Started {
            timeout: None,
            stdin_offset,
        };
        self.session.handle_exec_event(id, started, Instant::now());
    }

    /// A `cancel_job`.
    pub(super) fn cancel_job(&mut self, id: u64, job_id: String) {
        let user = self.user();
        let result = match self.shared.jobs.get(&user, &job_id) {
            None => {
                self.refused_job(id, &job_id, "cancel", NOT_FOUND);
                Err((
                    ErrorCode::NotFound,
                    "no such job of yours on this server".into(),
                ))
            }
            Some(job) => {
                let was_running = job.stop("cancelled");
                if was_running {
                    tracing::info!(peer = %self.peer, %user, job = %job.id, "job cancelled");
                    self.job_cancelled(&job, "client");
                }
                Ok(was_running)
            }
        };
        self.session.handle_job_cancelled(id, job_id, result);
    }

    fn refused_job(&self, id: u64, job: &str, request: &'static str, reason: &str) {
        tracing::info!(peer = %self.peer, user = %self.user(), id, request,
            job = %crate::logtext::shown(job), "{reason}");
        self.audit(Event::Job(JobEvent::JobRefused {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user: self.user(),
            job: job.chars().take(64).collect(),
            request,
            reason: reason.into(),
        }));
    }

    fn job_cancelled(&self, job: &Job, by: &'static str) {
        let client = by == "client";
        self.audit(Event::Job(JobEvent::JobCancelled {
            user: job.user.to_string(),
            job: job.id.clone(),
            by,
            conn: client.then_some(self.id),
            peer: client.then(|| self.peer.to_string()),
        }));
    }

    /// The engine stops request `id`, which reads a job. The client's
    /// `cancel` stops a resumable job (its run is being interrupted) but
    /// only ends the reading of a detached one; the time limit is the
    /// job's own; shutdown and revocation end the reading.
    pub(super) fn stop_following(&mut self, id: u64, reason: StopReason) {
        let Some(f) = self.following(id) else {
            return;
        };
        let job = f.job.clone();
        if reason != StopReason::Cancelled {
            return;
        }
        if job.mode == Mode::Resumable {
            if job.stop("cancelled") {
                tracing::info!(peer = %self.peer, id, job = %job.id, "job cancelled by its client");
                self.job_cancelled(&job, "client");
            }
            return;
        }
        // No more output: the reading ends here, the job goes on.
        if let Some(f) = self.following(id) {
            f.follower.stop();
        }
        let ev = ExecEvent::Refused {
            code: ErrorCode::Cancelled,
            message: "stopped following; the job keeps running".into(),
        };
        self.session.handle_exec_event(id, ev, Instant::now());
    }

    /// The closing record of a request that read a job; a resumable job
    /// left without a reader gets its grace.
    pub(super) fn following_finished(&mut self, id: u64, f: Following, outcome: &Outcome) {
        let Following {
            job,
            follower,
            sent,
            ..
        } = f;
        drop(follower);
        let reason = match outcome {
            Outcome::Exited { .. } => "exit_sent",
            Outcome::Error(ErrorCode::Cancelled) => "cancelled",
            Outcome::Error(ErrorCode::SpoolTruncated) => "spool_truncated",
            Outcome::ConnectionLost => "connection_lost",
            Outcome::Shutdown => "shutdown",
            Outcome::Revoked => "revoked",
            _ => "error",
        };
        let grace = self.live.config.jobs.resume_grace;
        match job.unfollow(grace) {
            jobs::Left::Grace(wait) => {
                let audit = self.shared.audit.clone();
                let job = job.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if job.grace_over(wait) {
                        tracing::info!(job = %job.id, "no client came back within the resume grace");
                        audit.record(Event::Job(JobEvent::JobCancelled {
                            user: job.user.to_string(),
                            job: job.id.clone(),
                            by: "grace_expired",
                            conn: None,
                            peer: None,
                        }));
                    }
                });
            }
            jobs::Left::Nothing => {}
        }
        self.audit(Event::Job(JobEvent::JobDetached {
            conn: self.id,
            id,
            peer: self.peer.to_string(),
            user: self.user(),
            job: job.id.clone(),
            reason: reason.into(),
            job_running: job.end().is_none(),
            stdout_bytes: sent[0],
            stderr_bytes: sent[1],
        }));
    }
}
