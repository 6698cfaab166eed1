//! The client library's connection: one authenticated TLS connection
//! running any number of requests at once. A driver task owns the socket
//! and a [`ClientSession`] state machine; the application holds a
//! [`Session`] to start requests and a [`Request`] per command, with its
//! own stdin sink, output events (each carrying the credit it holds) and
//! exit status. A request whose output is not consumed stalls only itself.

mod driver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{ClientError, Connection, Credentials};
use crate::proto::{CommandInfo, JobInfo, Stream};
use crate::session::{
    AttachParams, ClientSession, ClientSettings, ExecParams, GetParams, PutSpec, RemoteExit,
};
use driver::Driver;

/// Default output credit per request: what the client may have to buffer
/// for a request whose output the application has not consumed yet.
pub const OUTPUT_WINDOW: u64 = 16 * 1024 * 1024;
/// Bound on the sum of one connection's output windows as autotuning
/// grows them on long links (100 ms at 1 GB/s needs 100 MB in flight):
/// the most a connection may have to buffer when its reader stalls.
pub const OUTPUT_BUDGET: u64 = 256 * 1024 * 1024;
/// Frames queued for the writer task.
const OUT_QUEUE: usize = 64;
/// Stdin chunks a request may have queued in the session at once.
const STDIN_SLOTS: usize = 2;

/// Timers of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How long to wait for `auth_ok` after the TLS handshake.
    pub auth_timeout: Duration,
    /// Ping after this much silence from the server; give up after 3.
    pub keepalive: Option<Duration>,
}

/// What happens to a request, in order: `Started` (or `Denied`/`Failed`),
/// then output and `Eof`s, then `Exit`.
#[derive(Debug)]
pub enum RequestEvent {
    /// The command runs. On an attach with stdin, `stdin_offset` is the
    /// stdin bytes the job already has: send from the next one.
    Started {
        /// See above; `None` on other requests.
        stdin_offset: Option<u64>,
    },
    /// Output bytes. Drop `credit` once they are consumed: that lets the
    /// server send more.
    Output {
        /// stdout or stderr.
        stream: Stream,
        /// The bytes, exactly as the command wrote them.
        data: Bytes,
        /// The flow-control credit these bytes hold.
        credit: OutputCredit,
    },
    /// An output stream ended.
    Eof(Stream),
    /// The command ended.
    Exit(RemoteExit),
    /// A put may send its bytes from `offset` on; `prefix_blake3` is the
    /// hash of the `offset` bytes the server already holds.
    PutReady {
        /// Bytes the server holds.
        offset: u64,
        /// Their BLAKE3.
        prefix_blake3: Option<String>,
    },
    /// A put is stored (its last event).
    Stored {
        /// Bytes stored.
        size: u64,
        /// BLAKE3 the server computed.
        blake3: String,
    },
    /// A get's file is open; its bytes follow as `Output` of stdout.
    File {
        /// Its size.
        size: u64,
        /// Its permission bits.
        mode: u32,
        /// Where its bytes start.
        offset: u64,
    },
    /// A get's bytes are all sent (its last event).
    End {
        /// The file's size.
        size: u64,
        /// BLAKE3 the server computed.
        blake3: String,
    },
    /// A `job` runs as this job (before `Started`; for a detached job the
    /// last event, see [`RequestEvent::Detached`]).
    Job(String),
    /// A detached job was started with this id (the last event).
    Detached(String),
    /// An attach passed over bytes the job's spool no longer holds.
    Skipped {
        /// Which stream.
        stream: Stream,
        /// How many bytes.
        bytes: u64,
    },
    /// The allowlist (or a transfer root) refused it; nothing ran.
    Denied(String),
    /// The request or the connection failed.
    Failed(ClientError),
}

enum Cmd {
    Exec {
        params: Start,
        events: mpsc::UnboundedSender<RequestEvent>,
        slots: Arc<Semaphore>,
        reply: oneshot::Sender<u64>,
    },
    Stdin(u64, Bytes),
    StdinEof(u64),
    FinishPut(u64, u64, String),
    Cancel(u64),
    Consumed(u64, u64),
    List(oneshot::Sender<Result<Vec<CommandInfo>, ClientError>>),
    Jobs(oneshot::Sender<Result<Vec<JobInfo>, ClientError>>),
    CancelJob(String, oneshot::Sender<Result<bool, ClientError>>),
}

/// What a new request is.
enum Start {
    Exec(ExecParams),
    Put(PutSpec),
    Get(GetParams),
    Job(ExecParams, bool),
    Attach(AttachParams),
}

/// Output credit held by one chunk; returned to the server when dropped.
#[derive(Debug)]
pub struct OutputCredit {
    id: u64,
    bytes: u64,
    cmds: mpsc::UnboundedSender<Cmd>,
}

impl Drop for OutputCredit {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::Consumed(self.id, self.bytes));
    }
}

/// An authenticated (or authenticating) connection.
#[derive(Debug, Clone)]
pub struct Session {
    cmds: mpsc::UnboundedSender<Cmd>,
    /// The TLS handshake's duration: about one round trip.
    handshake: Duration,
}

/// One command on a [`Session`].
#[derive(Debug)]
pub struct Request {
    id: u64,
    events: mpsc::UnboundedReceiver<RequestEvent>,
    stdin: Option<StdinSink>,
    cmds: mpsc::UnboundedSender<Cmd>,
}

/// Where a request's stdin goes; the send waits while the server's
/// window is closed.
#[derive(Debug)]
pub struct StdinSink {
    id: u64,
    slots: Arc<Semaphore>,
    cmds: mpsc::UnboundedSender<Cmd>,
}

/// The request or connection is over: no more stdin is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request has ended")]
pub struct Ended;

impl StdinSink {
    /// Send one chunk (any size; it is split to fit the server's credit).
    pub async fn send(&self, data: Bytes) -> Result<(), Ended> {
        self.slots.acquire().await.map_err(|_| Ended)?.forget();
        self.cmds.send(Cmd::Stdin(self.id, data)).map_err(|_| Ended)
    }

    /// End of stdin.
    pub fn close(self) {
        let _ = self.cmds.send(Cmd::StdinEof(self.id));
    }

    /// End of a put's bytes: the whole file had `size` bytes with this
    /// BLAKE3 (hex); the server checks both before storing it.
    pub fn finish(self, size: u64, blake3: String) {
        let _ = self.cmds.send(Cmd::FinishPut(self.id, size, blake3));
    }
}

impl Request {
    /// The request id on its connection.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next event; `None` after the last one.
    pub async fn next(&mut self) -> Option<RequestEvent> {
        self.events.recv().await
    }

    /// The stdin sink (once), when the request was made with stdin.
    pub fn take_stdin(&mut self) -> Option<StdinSink> {
        self.stdin.take()
    }

    /// Ask the server to stop the command (its whole process group).
    pub fn cancel(&self) {
        let _ = self.cmds.send(Cmd::Cancel(self.id));
    }
}

impl Session {
    /// The output window for a request that has no size of its own in
    /// mind: [`OUTPUT_WINDOW`], or more on a long link (what 1 GB/s fills
    /// in the handshake's round trip, at most half of [`OUTPUT_BUDGET`]),
    /// so the first round trips of a bulk transfer are not window-bound.
    pub fn default_window(&self) -> u64 {
        let mut rtt = crate::session::Rtt::default();
        rtt.sample(self.handshake);
        crate::session::initial_window(OUTPUT_WINDOW, rtt, OUTPUT_BUDGET)
    }

    /// Authenticate as `user` on `conn` without waiting for the answer:
    /// requests started right away travel in the same first flight. If the
    /// server asks for more (a password after the key, or another try),
    /// `creds` answers it.
    pub fn start(
        conn: Connection,
        mut creds: Credentials,
        user: &str,
        options: &SessionOptions,
    ) -> Result<Self, ClientError> {
        let proof = creds.first_proof(user, &conn.exporter)?;
        let handshake = conn.handshake;
        let now = Instant::now();
        let settings = ClientSettings {
            auth_deadline: now + options.auth_timeout,
            keepalive: options.keepalive,
            output_budget: OUTPUT_BUDGET,
            rtt_hint: Some(handshake),
        };
        let machine = ClientSession::new(user.to_string(), proof, settings, now);
        let (rd, wr) = tokio::io::split(conn.stream);
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(machine, rd, wr, cmds.clone(), creds, options.auth_timeout);
        tokio::spawn(driver.run(cmd_rx));
        Ok(Self { cmds, handshake })
    }

    /// The commands the signed-in user may run (templates and slot
    /// constraints; nothing about other users).
    pub async fn list(&self) -> Result<Vec<CommandInfo>, ClientError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ClientError::Protocol("the connection has ended".into());
        self.cmds.send(Cmd::List(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// The signed-in user's jobs on this server, newest first.
    pub async fn jobs(&self) -> Result<Vec<JobInfo>, ClientError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ClientError::Protocol("the connection has ended".into());
        self.cmds.send(Cmd::Jobs(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Stop one of the user's jobs; whether it was still running.
    pub async fn cancel_job(&self, job: &str) -> Result<bool, ClientError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ClientError::Protocol("the connection has ended".into());
        let cmd = Cmd::CancelJob(job.to_string(), reply);
        self.cmds.send(cmd).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Start a command as a job: [`RequestEvent::Job`] then as for
    /// [`Session::exec`], or with `detach` only [`RequestEvent::Detached`].
    pub async fn job(&self, params: ExecParams, detach: bool) -> Result<Request, ClientError> {
        let stdin = params.stdin && !detach;
        self.begin(Start::Job(params, detach), stdin).await
    }

    /// Follow a job's output (events as for an exec, plus
    /// [`RequestEvent::Skipped`]); with `stdin` and `exact`, the request
    /// also carries the rest of the job's stdin, from the byte
    /// [`RequestEvent::Started`] names.
    pub async fn attach(&self, params: AttachParams) -> Result<Request, ClientError> {
        let stdin = params.stdin && params.exact;
        self.begin(Start::Attach(params), stdin).await
    }

    /// Start a command.
    pub async fn exec(&self, params: ExecParams) -> Result<Request, ClientError> {
        let stdin = params.stdin;
        self.begin(Start::Exec(params), stdin).await
    }

    /// Store a file on the server: send its bytes through the request's
    /// stdin sink after [`RequestEvent::PutReady`], then
    /// [`StdinSink::finish`].
    pub async fn put(&self, params: PutSpec) -> Result<Request, ClientError> {
        self.begin(Start::Put(params), true).await
    }

    /// Fetch a file from the server: [`RequestEvent::File`], its bytes as
    /// stdout `Output`, then [`RequestEvent::End`].
    pub async fn get(&self, params: GetParams) -> Result<Request, ClientError> {
        self.begin(Start::Get(params), false).await
    }

    async fn begin(&self, params: Start, stdin: bool) -> Result<Request, ClientError> {
        let (events, rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(STDIN_SLOTS));
        let (reply, id) = oneshot::channel();
        let gone = || ClientError::Protocol("the connection has ended".into());
        self.cmds
            .send(Cmd::Exec {
                params,
                events,
                slots: slots.clone(),
                reply,
            })
            .map_err(|_| gone())?;
        let id = id.await.map_err(|_| gone())?;
        let cmds = self.cmds.clone();
        Ok(Request {
            id,
            events: rx,
            stdin: stdin.then(|| StdinSink {
                id,
                slots,
                cmds: cmds.clone(),
            }),
            cmds,
        })
    }
}
