//! Jobs on the client engine: a `job` request (an exec that outlives the
//! connection, or ends at once when detached), an `attach` (an exec-shaped
//! request without stdin that reads a job from given offsets), and the
//! `jobs` and `cancel_job` queries.

use std::time::Instant;

use super::autotune::RecvWindow;
use super::client::{ClientSession, Req, Stdin};
use super::client_types::{AttachParams, ClientAction, ExecParams};
use super::{Credit, Kind};
use crate::proto::{Message, MAX_WINDOW};

impl ClientSession {
    /// Start `params` as a job; `detach`: the request ends with
    /// [`ClientAction::JobStarted`] (no stdin, no output).
    pub fn job(&mut self, params: ExecParams, detach: bool, now: Instant) -> u64 {
        let window = params.output_window.clamp(1, MAX_WINDOW);
        let stdin = params.stdin && !detach;
        let req = Req {
            kind: Kind::Exec,
            started: false,
            stdin: stdin.then(Stdin::new),
            out_credit: Credit::new(window).expect("clamped window"),
            window: RecvWindow::new(window),
            sent: Some(now),
            eof: [false; 2],
        };
        self.start_request(Some(req), |id| Message::Job {
            id,
            argv: params.argv,
            stdin,
            detach,
            timeout_ms: params.timeout_ms,
            output_window: Some(window),
        })
    }

    /// Follow a job's output from the given offsets (events as for an
    /// exec, plus [`ClientAction::Skipped`]); with `stdin` (and `exact`)
    /// the request also carries the rest of the job's stdin.
    pub fn attach(&mut self, params: AttachParams, now: Instant) -> u64 {
        let window = params.output_window.clamp(1, MAX_WINDOW);
        let stdin = params.stdin && params.exact;
        let req = Req {
            kind: Kind::Exec,
            started: false,
            stdin: stdin.then(Stdin::new),
            out_credit: Credit::new(window).expect("clamped window"),
            window: RecvWindow::new(window),
            sent: Some(now),
            eof: [false; 2],
        };
        self.start_request(Some(req), |id| Message::Attach {
            id,
            job: params.job,
            stdout_offset: params.offsets[0],
            stderr_offset: params.offsets[1],
            exact: params.exact,
            stdin,
            output_window: Some(window),
        })
    }

    /// Ask for the user's jobs: [`ClientAction::JobList`] (or `Failed`).
    pub fn jobs(&mut self) -> u64 {
        let id = self.start_request(None, |id| Message::Jobs { id });
        if !self.closed {
            self.queries.insert(id);
        }
        id
    }

    /// Ask the server to stop job `job`: [`ClientAction::JobCancelled`]
    /// (or `Failed`: `not_found` for no such job of the user's).
    pub fn cancel_job(&mut self, job: String) -> u64 {
        let id = self.start_request(None, |id| Message::CancelJob { id, job });
        if !self.closed {
            self.queries.insert(id);
        }
        id
    }

    /// `job_started`, `skipped`, `job_list`, `job_cancelled`.
    pub(super) fn job_frame(&mut self, m: Message) {
        match m {
            Message::JobStarted { id, job, detached } => {
                let Some(req) = self.requests.get(&id).filter(|r| !r.started) else {
                    return self.protocol(format!("job_started for unknown request {id}"));
                };
                if detached && req.stdin.is_some() {
                    return self.protocol(format!("request {id} with stdin detached"));
                }
                if detached {
                    self.requests.remove(&id);
                }
                let action = ClientAction::JobStarted { id, job, detached };
                self.actions.push_back(action);
            }
            Message::Skipped { id, stream, bytes } => {
                if self.requests.get(&id).is_none_or(|r| !r.started) {
                    return self.protocol(format!("skipped for unknown request {id}"));
                }
                let action = ClientAction::Skipped { id, stream, bytes };
                self.actions.push_back(action);
            }
            Message::JobList { id, jobs } if self.queries.remove(&id) => {
                self.actions.push_back(ClientAction::JobList { id, jobs });
            }
            Message::JobCancelled {
                id,
                job,
                was_running,
            } if self.queries.remove(&id) => {
                let action = ClientAction::JobCancelled {
                    id,
                    job,
                    was_running,
                };
                self.actions.push_back(action);
            }
            other => self.protocol(format!(
                "unexpected {} message from the server",
                other.type_name()
            )),
        }
    }
}
