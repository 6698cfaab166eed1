//! Running one command for the `secsh` CLI on the client library: the
//! pipelined first flight (`auth` then `exec` in one write), stdin from a
//! reader thread, output to the local sinks (`sink.rs`), and the exit
//! status. [`Streams`] is the local side, kept across the connections of a
//! resumed job (`job.rs`).

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::session::{Request, RequestEvent, Session, SessionOptions};
use super::sink::Sink;
use super::stdin_feed::Feed;
use super::{ClientError, Connection, Credentials};
use crate::session::{ExecParams, RemoteExit};

/// What to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Account to authenticate as.
    pub user: String,
    /// Exact argv.
    pub argv: Vec<String>,
    /// Forward stdin (else the command reads /dev/null).
    pub stdin: bool,
    /// Ask the server to kill the command after this long.
    pub timeout: Option<Duration>,
    /// The connection's timers (answer to `auth`, keepalive).
    pub session: SessionOptions,
}

/// The local ends of the command's streams.
pub struct LocalIo {
    /// Receives the command's stdout bytes.
    pub stdout: Box<dyn Write + Send>,
    /// Receives the command's stderr bytes.
    pub stderr: Box<dyn Write + Send>,
    /// Source of stdin, when `ExecRequest::stdin`: called once the command
    /// has started, never before authentication completes (a password
    /// typed on the terminal must not be read as the command's input). It
    /// returns chunks of any size; the channel closing is EOF. See
    /// [`stdin_reader`].
    pub stdin: Option<StdinSource>,
    /// One message per local interrupt (Ctrl-C, SIGTERM): the first cancels
    /// the remote command, the second gives up at once.
    pub interrupts: mpsc::UnboundedReceiver<()>,
}

/// Starts reading local stdin (see [`LocalIo::stdin`]).
pub type StdinSource = Box<dyn FnOnce() -> mpsc::Receiver<Bytes> + Send>;

/// How the remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// The server killed it at its time limit.
    TimedOut,
    /// The allowlist refused it; nothing ran.
    Denied(String),
    /// Gave up without waiting for the exit: a second interrupt, or an
    /// interrupt before the command started.
    Abandoned,
}

impl Outcome {
    /// The row of README's outcome table this is (the status a fleet
    /// run reports for it).
    pub fn status(&self) -> super::fleet::Status {
        use super::fleet::Status;
        match self {
            Outcome::Exited(0) => Status::Ok,
            Outcome::Exited(c) => Status::Failed(*c),
            Outcome::Signaled(s) => Status::Signalled(*s),
            Outcome::TimedOut => Status::TimedOut,
            Outcome::Denied(_) => Status::Denied,
            Outcome::Abandoned => Status::Cancelled,
        }
    }

    /// The documented exit status for this outcome.
    pub fn exit_code(&self) -> i32 {
        self.status().single_host_code()
    }
}

/// Authenticate and run `req` over `conn`, streaming to/from `io`.
pub async fn run_exec(
    conn: Connection,
    creds: Credentials,
    req: &ExecRequest,
    io: LocalIo,
) -> Result<Outcome, ClientError> {
    let session = Session::start(conn, creds, &req.user, &req.session)?;
    let mut request = session.exec(req.params(&session)).await?;
    drop(session);
    let mut streams = Streams::new(io);
    match streams.follow(&mut request).await {
        Ended::Done(outcome) => Ok(streams.finish(outcome).await),
        Ended::Lost(e) => Err(e),
    }
}

impl ExecRequest {
    /// The engine's parameters for this request on `session`.
    pub(super) fn params(&self, session: &Session) -> ExecParams {
        ExecParams {
            argv: self.argv.clone(),
            stdin: self.stdin,
            timeout_ms: self.timeout.map(|t| t.as_millis() as u64),
            output_window: session.default_window(),
        }
    }
}

/// How following one request ended.
pub(super) enum Ended {
    /// Its outcome (the exit, a denial, or given up).
    Done(Outcome),
    /// The request or its connection failed first.
    Lost(ClientError),
}

/// The local side of a command's streams, kept across the requests that
/// carry it (a resumed job's several connections).
pub(super) struct Streams {
    out: Sink,
    err: Sink,
    broken: mpsc::UnboundedReceiver<()>,
    stdin: Option<StdinSource>,
    feed: Option<Feed>,
    /// Keep stdin bytes for a resume.
    pub keep_stdin: bool,
    stdin_problems: (
        mpsc::UnboundedSender<String>,
        mpsc::UnboundedReceiver<String>,
    ),
    /// Why a resume's stdin could not be sent exactly.
    stdin_failed: Option<String>,
    pub interrupts: mpsc::UnboundedReceiver<()>,
    /// stdout and stderr bytes received (all handed to the sinks).
    pub received: [u64; 2],
    /// The command started.
    pub started: bool,
    /// The user (or a broken local reader) asked to stop it.
    pub cancelled: bool,
    /// The job it runs as, for a job.
    pub job: Option<String>,
    /// Bytes of each stream the server's spool had dropped.
    pub skipped: [u64; 2],
}

impl Streams {
    pub(super) fn new(io: LocalIo) -> Self {
        let (broken_tx, broken) = mpsc::unbounded_channel();
        Self {
            out: Sink::new(io.stdout, broken_tx.clone()),
            err: Sink::new(io.stderr, broken_tx),
            broken,
            stdin: io.stdin,
            feed: None,
            keep_stdin: false,
            stdin_problems: mpsc::unbounded_channel(),
            stdin_failed: None,
            interrupts: io.interrupts,
            received: [0, 0],
            started: false,
            cancelled: false,
            job: None,
            skipped: [0, 0],
        }
    }

    /// Carry `request`'s events to the local streams until it ends.
    pub(super) async fn follow(&mut self, request: &mut Request) -> Ended {
        let ended = self.follow_events(request).await;
        match self.stdin_failed.take() {
            Some(why) => Ended::Lost(ClientError::Transfer(format!("stdin: {why}"))),
            None => ended,
        }
    }

    async fn follow_events(&mut self, request: &mut Request) -> Ended {
        loop {
            tokio::select! {
                event = request.next() => match event {
                    Some(RequestEvent::Started { stdin_offset }) => {
                        self.started = true;
                        self.feed_stdin(request, stdin_offset.unwrap_or(0));
                    }
                    Some(RequestEvent::Output { stream, data, credit }) => {
                        let i = crate::session::out_index(stream);
                        self.received[i] += data.len() as u64;
                        let sink = if i == 1 { &mut self.err } else { &mut self.out };
                        sink.write(data, credit);
                    }
                    Some(RequestEvent::Eof(_)) => {}
                    Some(RequestEvent::Job(job)) => self.job = Some(job),
                    Some(RequestEvent::Skipped { stream, bytes }) => {
                        let i = crate::session::out_index(stream);
                        self.skipped[i] += bytes;
                        self.received[i] += bytes;
                    }
                    Some(
                        RequestEvent::PutReady { .. }
                        | RequestEvent::Stored { .. }
                        | RequestEvent::File { .. }
                        | RequestEvent::End { .. }
                        | RequestEvent::Detached(_),
                    ) => {
                        let e = ClientError::Protocol("an unexpected event on an exec".into());
                        return Ended::Lost(e);
                    }
                    Some(RequestEvent::Exit(exit)) => return Ended::Done(match exit {
                        RemoteExit::Code(c) => Outcome::Exited(c),
                        RemoteExit::Signal(s) => Outcome::Signaled(s),
                        RemoteExit::TimedOut => Outcome::TimedOut,
                    }),
                    Some(RequestEvent::Denied(message)) => return Ended::Done(Outcome::Denied(message)),
                    Some(RequestEvent::Failed(e)) => return Ended::Lost(e),
                    None => return Ended::Lost(ClientError::Protocol("the connection ended".into())),
                },
                Some(()) = self.interrupts.recv() => {
                    if self.cancelled || !self.started {
                        return Ended::Done(Outcome::Abandoned);
                    }
                    self.cancelled = true;
                    request.cancel();
                }
                Some(why) = self.stdin_problems.1.recv() => {
                    // The run cannot go on exactly: stop it, and say why
                    // once the server confirms the end.
                    self.stdin_failed = Some(why);
                    self.cancelled = true;
                    request.cancel();
                }
                Some(()) = self.broken.recv(), if !self.cancelled => {
                    // Our reader went away (e.g. `| head`): stop the command.
                    self.cancelled = true;
                    request.cancel();
                }
            }
        }
    }

    /// Local stdin into `request` from byte `offset` (the local source is
    /// started with the first request that carries stdin).
    fn feed_stdin(&mut self, request: &mut Request, offset: u64) {
        let Some(sink) = request.take_stdin() else {
            return;
        };
        if let Some(start) = self.stdin.take() {
            let problems = self.stdin_problems.0.clone();
            self.feed = Some(Feed::start(start(), self.keep_stdin, problems));
        }
        if let Some(feed) = &self.feed {
            feed.to(sink, offset);
        }
    }

    /// Everything received is written before `outcome` is returned,
    /// unless the user interrupts again.
    pub(super) async fn finish(self, outcome: Outcome) -> Outcome {
        let Self {
            out,
            err,
            mut interrupts,
            ..
        } = self;
        tokio::select! {
            _ = async { out.finish().await; err.finish().await } => outcome,
            Some(()) = interrupts.recv() => Outcome::Abandoned,
        }
    }
}
