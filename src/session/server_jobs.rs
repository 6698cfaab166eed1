//! Jobs on the server engine. A `job` is an exec whose command outlives
//! the connection: detached (the request ends with `job_started`) or
//! resumable (it runs as an exec does, its output read back from the
//! job's spool). An `attach` is an exec-shaped request whose output comes
//! from a job's spool; a resume's attach may also carry the rest of the
//! job's stdin. `jobs` and `cancel_job` are queries
//! the driver answers. The jobs themselves (processes, spools, owners)
//! are the driver's: this file only gives the requests their lifecycle.

use super::server::{error, send, ServerSession};
use super::{Action, AttachSpec, Outcome};
use crate::proto::{ErrorCode, JobInfo, Message, Stream};

/// The longest job id a client may name.
pub const MAX_JOB_ID: usize = 64;

impl ServerSession {
    /// `job`, `attach`, `jobs` or `cancel_job` from the client.
    pub(super) fn job_frame(&mut self, m: Message) {
        match m {
            Message::Job {
                id,
                argv,
                stdin,
                detach,
                timeout_ms,
                output_window,
            } => {
                if detach && stdin {
                    let m = "a detached job reads /dev/null: send it with stdin false";
                    return send(&mut self.actions, error(Some(id), ErrorCode::BadRequest, m));
                }
                if self.admit_exec(id, stdin, output_window) {
                    self.actions.push_back(Action::Job {
                        id,
                        argv,
                        stdin,
                        detach,
                        timeout_ms,
                    });
                }
            }
            Message::Attach {
                id,
                job,
                stdout_offset,
                stderr_offset,
                exact,
                stdin,
                output_window,
            } => {
                if job.is_empty() || job.len() > MAX_JOB_ID {
                    let m = "not a job id";
                    return send(&mut self.actions, error(Some(id), ErrorCode::BadRequest, m));
                }
                if stdin && !exact {
                    let m = "an attach takes over stdin only as an exact resume";
                    return send(&mut self.actions, error(Some(id), ErrorCode::BadRequest, m));
                }
                if self.admit_exec(id, stdin, output_window) {
                    let spec = AttachSpec {
                        job,
                        offsets: [stdout_offset, stderr_offset],
                        exact,
                        stdin,
                    };
                    self.actions.push_back(Action::Attach { id, spec });
                }
            }
            Message::Jobs { id } => self.actions.push_back(Action::Jobs { id }),
            Message::CancelJob { id, job } => {
                if self.revoked.is_some() {
                    let m = super::server::REVOKED;
                    return send(&mut self.actions, error(Some(id), ErrorCode::BadRequest, m));
                }
                if job.is_empty() || job.len() > MAX_JOB_ID {
                    let m = "not a job id";
                    return send(&mut self.actions, error(Some(id), ErrorCode::BadRequest, m));
                }
                self.actions.push_back(Action::CancelJob { id, job });
            }
            _ => {}
        }
    }

    /// The answer to `jobs` `id`.
    pub fn handle_jobs(&mut self, id: u64, jobs: Vec<JobInfo>) {
        if !self.is_closed() {
            send(&mut self.actions, Message::JobList { id, jobs });
        }
    }

    /// The answer to `cancel_job` `id`: whether the job was still running,
    /// or why it could not be cancelled.
    pub fn handle_job_cancelled(
        &mut self,
        id: u64,
        job: String,
        result: Result<bool, (ErrorCode, String)>,
    ) {
        if self.is_closed() {
            return;
        }
        let m = match result {
            Ok(was_running) => Message::JobCancelled {
                id,
                job,
                was_running,
            },
            Err((code, message)) => error(Some(id), code, message),
        };
        send(&mut self.actions, m);
    }

    /// Request `id` runs as job `job` (before its check is over).
    pub(super) fn job_started(&mut self, id: u64, job: String, detached: bool) {
        let m = Message::JobStarted {
            id,
            job: job.clone(),
            detached,
        };
        send(&mut self.actions, m);
        if detached {
            self.finish(id, Outcome::Detached { job });
        }
    }

    /// An attach passed over bytes the spool dropped.
    pub(super) fn skipped(&mut self, id: u64, stream: Stream, bytes: u64) {
        if self.requests.get(&id).and_then(|r| r.running()).is_some() {
            send(&mut self.actions, Message::Skipped { id, stream, bytes });
        }
    }
}
