//! The task that owns a session's socket: it runs the [`ClientSession`]
//! state machine, writes its frames, delivers request events, answers the
//! server's requests for another proof, and ends every request cleanly
//! when the connection does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{Cmd, OutputCredit, RequestEvent, Start, OUT_QUEUE};
use crate::client::{ClientError, ClientStream, Credentials};
use crate::proto::{AuthMethod, CommandInfo, ErrorCode, JobInfo, Secret};
use crate::session::{AuthProof, ClientAction, ClientSession, ConnEnd};
use crate::transport::{write_queue, FrameReader, FrameWriter, Outbound, TransportError};

/// A job query's reply channel.
pub(super) enum Query {
    Jobs(oneshot::Sender<Result<Vec<JobInfo>, ClientError>>),
    Cancel(oneshot::Sender<Result<bool, ClientError>>),
}

impl Query {
    fn fail(self, e: ClientError) {
        match self {
            Query::Jobs(r) => drop(r.send(Err(e))),
            Query::Cancel(r) => drop(r.send(Err(e))),
        }
    }
}

pub(super) struct Live {
    events: mpsc::UnboundedSender<RequestEvent>,
    slots: Arc<Semaphore>,
}

pub(super) struct Driver {
    machine: ClientSession,
    reader: FrameReader<ReadHalf<ClientStream>>,
    out: mpsc::Sender<Outbound>,
    writer: tokio::task::JoinHandle<()>,
    /// Weak, so that the task ends once every application handle (the
    /// session, its requests and their output credits) is gone.
    cmds: mpsc::WeakUnboundedSender<Cmd>,
    live: HashMap<u64, Live>,
    /// Taken while a password is being read on a blocking thread.
    creds: Option<Credentials>,
    /// `list`s waiting for their answer, by id.
    lists: HashMap<u64, oneshot::Sender<Result<Vec<CommandInfo>, ClientError>>>,
    /// `jobs` and `cancel_job` queries waiting for their answer, by id.
    queries: HashMap<u64, Query>,
    asking: Option<tokio::task::JoinHandle<(Credentials, Option<Secret>)>>,
    auth_timeout: Duration,
}

fn end_error(end: ConnEnd) -> ClientError {
    match end {
        ConnEnd::Server {
            code: ErrorCode::AuthFailed,
            ..
        } => ClientError::AuthFailed,
        ConnEnd::Server {
            code: ErrorCode::RateLimited,
            retry_after_ms,
            ..
        } => ClientError::RateLimited {
            retry_after: Duration::from_millis(retry_after_ms.unwrap_or(0)),
        },
        ConnEnd::Server { code, message, .. } => ClientError::Server { code, message },
        ConnEnd::Protocol(m) | ConnEnd::Timeout(m) | ConnEnd::Closed(m) => ClientError::Protocol(m),
    }
}

impl Driver {
    pub(super) fn new(
        machine: ClientSession,
        rd: ReadHalf<ClientStream>,
        wr: WriteHalf<ClientStream>,
        cmds: mpsc::UnboundedSender<Cmd>,
        creds: Credentials,
        auth_timeout: Duration,
    ) -> Self {
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        Self {
            machine,
            reader: FrameReader::new(rd),
            out,
            writer: tokio::spawn(write_queue(FrameWriter::new(wr), out_rx)),
            cmds: cmds.downgrade(),
            live: HashMap::new(),
            creds: Some(creds),
            lists: HashMap::new(),
            queries: HashMap::new(),
            asking: None,
            auth_timeout,
        }
    }

    /// The server wants another proof: read a password off the runtime
    /// (a prompt blocks), or give up when there is none to give.
    fn auth_continue(&mut self, methods: Vec<AuthMethod>, partial: bool) {
        let Some(mut creds) = self.creds.take().filter(|c| c.can_answer(&methods)) else {
            if partial {
                tracing::info!("the server also requires a password; none available");
            }
            return self.machine.give_up_auth();
        };
        self.asking = Some(tokio::task::spawn_blocking(move || {
            let p = creds.next_password(&methods);
            (creds, p)
        }));
    }

    fn deliver(&mut self, id: u64, event: RequestEvent) {
        if let Some(l) = self.live.get(&id) {
            // A dropped Request: its credit comes back as the event drops.
            let _ = l.events.send(event);
        }
    }

    /// Carry out the machine's actions; false once the connection ended.
    async fn act(&mut self) -> bool {
        while let Some(action) = self.machine.poll_action() {
            match action {
                ClientAction::Send(m, body) => {
                    if self.out.send((m, body)).await.is_err() {
                        self.machine.handle_peer_closed();
                    }
                }
                ClientAction::Authenticated { user } => tracing::info!(%user, "authenticated"),
                ClientAction::Listed { id, commands } => {
                    if let Some(reply) = self.lists.remove(&id) {
                        let _ = reply.send(Ok(commands));
                    }
                }
                ClientAction::AuthContinue { methods, partial } => {
                    self.auth_continue(methods, partial)
                }
                ClientAction::Started { id, stdin_offset } => {
                    self.deliver(id, RequestEvent::Started { stdin_offset })
                }
                ClientAction::Output { id, stream, data } => {
                    // No handle left: nobody will read it; let the server
                    // send the rest (the request still ends cleanly).
                    let Some(cmds) = self.cmds.upgrade() else {
                        self.machine.consumed(id, data.len() as u64, Instant::now());
                        continue;
                    };
                    let credit = OutputCredit {
                        id,
                        bytes: data.len() as u64,
                        cmds,
                    };
                    self.deliver(
                        id,
                        RequestEvent::Output {
                            stream,
                            data,
                            credit,
                        },
                    );
                }
                ClientAction::Eof { id, stream } => self.deliver(id, RequestEvent::Eof(stream)),
                ClientAction::PutReady {
                    id,
                    offset,
                    prefix_blake3,
                } => {
                    let ev = RequestEvent::PutReady {
                        offset,
                        prefix_blake3,
                    };
                    self.deliver(id, ev);
                }
                ClientAction::FileOpened {
                    id,
                    size,
                    mode,
                    offset,
                } => self.deliver(id, RequestEvent::File { size, mode, offset }),
                ClientAction::Stored { id, size, blake3 } => {
                    self.deliver(id, RequestEvent::Stored { size, blake3 });
                    self.forget(id);
                }
                ClientAction::FileEnd { id, size, blake3 } => {
                    self.deliver(id, RequestEvent::End { size, blake3 });
                    self.forget(id);
                }
                ClientAction::Exited { id, exit } => {
                    self.deliver(id, RequestEvent::Exit(exit));
                    self.forget(id);
                }
                ClientAction::Denied { id, message } => {
                    self.deliver(id, RequestEvent::Denied(message));
                    self.forget(id);
                }
                ClientAction::JobStarted { id, job, detached } => {
                    if detached {
                        self.deliver(id, RequestEvent::Detached(job));
                        self.forget(id);
                    } else {
                        self.deliver(id, RequestEvent::Job(job));
                    }
                }
                ClientAction::Skipped { id, stream, bytes } => {
                    self.deliver(id, RequestEvent::Skipped { stream, bytes })
                }
                ClientAction::JobList { id, jobs } => {
                    if let Some(Query::Jobs(reply)) = self.queries.remove(&id) {
                        let _ = reply.send(Ok(jobs));
                    }
                }
                ClientAction::JobCancelled {
                    id, was_running, ..
                } => {
                    if let Some(Query::Cancel(reply)) = self.queries.remove(&id) {
                        let _ = reply.send(Ok(was_running));
                    }
                }
                ClientAction::Failed { id, code, message } if self.queries.contains_key(&id) => {
                    if let Some(q) = self.queries.remove(&id) {
                        q.fail(ClientError::Server { code, message });
                    }
                }
                ClientAction::Failed { id, code, message } => {
                    let e = ClientError::Server { code, message };
                    self.deliver(id, RequestEvent::Failed(e));
                    self.forget(id);
                }
                ClientAction::StdinTaken { id } => {
                    if let Some(l) = self.live.get(&id) {
                        l.slots.add_permits(1);
                    }
                }
                ClientAction::Closed(end) => {
                    let message = end_error(end.clone()).to_string();
                    tracing::debug!("connection ended: {message}");
                    for (_, reply) in self.lists.drain() {
                        let _ = reply.send(Err(end_error(end.clone())));
                    }
                    for (_, q) in self.queries.drain() {
                        q.fail(end_error(end.clone()));
                    }
                    for (_, l) in self.live.drain() {
                        l.slots.close();
                        let _ = l.events.send(RequestEvent::Failed(end_error(end.clone())));
                    }
                    return false;
                }
            }
        }
        true
    }

    fn forget(&mut self, id: u64) {
        if let Some(l) = self.live.remove(&id) {
            l.slots.close();
        }
    }

    pub(super) async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut handles_open = true;
        while self.act().await {
            if !handles_open && self.machine.live_requests() == 0 {
                break;
            }
            let wake = self
                .machine
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                frame = self.reader.read_frame() => match frame {
                    Ok(Some(f)) => self.machine.handle_frame(f, Instant::now()),
                    Ok(None) => self.machine.handle_peer_closed(),
                    Err(TransportError::Frame(e)) => self.machine.handle_read_error(e.to_string()),
                    Err(e) => self.machine.handle_read_error(e.to_string()),
                },
                asked = async { self.asking.as_mut().expect("guarded").await },
                    if self.asking.is_some() => {
                    self.asking = None;
                    match asked {
                        Ok((creds, Some(password))) => {
                            self.creds = Some(creds);
                            let deadline = Instant::now() + self.auth_timeout;
                            self.machine.retry_auth(AuthProof::Password { password }, deadline);
                        }
                        _ => self.machine.give_up_auth(),
                    }
                }
                cmd = cmd_rx.recv(), if handles_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => handles_open = false,
                },
                // Disabled (never polled) while there is no deadline.
                _ = tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)),
                    if wake.is_some() => self.machine.handle_timeout(Instant::now()),
            }
        }
        // Let the writer send close_notify, briefly.
        drop(self.out);
        let _ = tokio::time::timeout(Duration::from_millis(200), self.writer).await;
    }

    fn command(&mut self, cmd: Cmd) {
        let m = &mut self.machine;
        match cmd {
            Cmd::Exec {
                params,
                events,
                slots,
                reply,
            } => {
                let id = match params {
                    Start::Exec(p) => m.exec(p, Instant::now()),
                    Start::Put(p) => m.put(p),
                    Start::Get(p) => m.get(p, Instant::now()),
                    Start::Job(p, detach) => m.job(p, detach, Instant::now()),
                    Start::Attach(p) => m.attach(p, Instant::now()),
                };
                self.live.insert(id, Live { events, slots });
                let _ = reply.send(id);
            }
            Cmd::Stdin(id, data) => {
                let _ = m.push_stdin(id, data);
            }
            Cmd::StdinEof(id) => {
                let _ = m.close_stdin(id);
            }
            Cmd::FinishPut(id, size, blake3) => {
                let _ = m.finish_put(id, size, blake3);
            }
            Cmd::Cancel(id) => m.cancel(id),
            Cmd::Consumed(id, n) => m.consumed(id, n, Instant::now()),
            Cmd::List(reply) => {
                let id = m.list();
                self.lists.insert(id, reply);
            }
            Cmd::Jobs(reply) => {
                let id = m.jobs();
                self.queries.insert(id, Query::Jobs(reply));
            }
            Cmd::CancelJob(job, reply) => {
                let id = m.cancel_job(job);
                self.queries.insert(id, Query::Cancel(reply));
            }
        }
    }
}
