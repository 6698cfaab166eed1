//! Running one command for the `secsh` CLI on the client library: the
//! pipelined first flight (`auth` then `exec` in one write), stdin from a
//! reader thread, output written to the local sinks on threads of their own
//! (so a stalled local reader never keeps the client from answering pings
//! or acting on Ctrl-C), and the exit status.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::session::{OutputCredit, RequestEvent, Session, SessionOptions};
use super::{ClientError, Connection, Credentials};
use crate::bufpool::BufPool;
use crate::proto::{Stream, DATA_CHUNK};
use crate::session::{ExecParams, RemoteExit};

/// Largest stdin chunk read at once.
pub const STDIN_CHUNK: usize = DATA_CHUNK;
/// Size of the first read from stdin.
const FIRST_STDIN_READ: usize = 16 * 1024;

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
    mut io: LocalIo,
) -> Result<Outcome, ClientError> {
    let session = Session::start(conn, creds, &req.user, &req.session)?;
    let mut request = session
        .exec(ExecParams {
            argv: req.argv.clone(),
            stdin: req.stdin,
            timeout_ms: req.timeout.map(|t| t.as_millis() as u64),
            output_window: session.default_window(),
        })
        .await?;
    drop(session);
    let (broken_tx, mut broken) = mpsc::unbounded_channel();
    let mut out = Sink::new(io.stdout, broken_tx.clone());
    let mut err = Sink::new(io.stderr, broken_tx);
    let mut started = false;
    let mut cancelled = false;
    let outcome = loop {
        tokio::select! {
            event = request.next() => match event {
                Some(RequestEvent::Started) => {
                    started = true;
                    if let (Some(start), Some(sink)) = (io.stdin.take(), request.take_stdin()) {
                        let mut source = start();
                        tokio::spawn(async move {
                            while let Some(chunk) = source.recv().await {
                                if sink.send(chunk).await.is_err() {
                                    return;
                                }
                            }
                            sink.close();
                        });
                    }
                }
                Some(RequestEvent::Output { stream, data, credit }) => {
                    let sink = if stream == Stream::Stderr { &mut err } else { &mut out };
                    sink.write(data, credit);
                }
                Some(RequestEvent::Eof(_)) => {}
                Some(
                    RequestEvent::PutReady { .. }
                    | RequestEvent::Stored { .. }
                    | RequestEvent::File { .. }
                    | RequestEvent::End { .. },
                ) => return Err(ClientError::Protocol("a file event on an exec".into())),
                Some(RequestEvent::Exit(exit)) => break match exit {
                    RemoteExit::Code(c) => Outcome::Exited(c),
                    RemoteExit::Signal(s) => Outcome::Signaled(s),
                    RemoteExit::TimedOut => Outcome::TimedOut,
                },
                Some(RequestEvent::Denied(message)) => break Outcome::Denied(message),
                Some(RequestEvent::Failed(e)) => return Err(e),
                None => return Err(ClientError::Protocol("the connection ended".into())),
            },
            Some(()) = io.interrupts.recv() => {
                if cancelled || !started {
                    return Ok(Outcome::Abandoned);
                }
                cancelled = true;
                request.cancel();
            }
            Some(()) = broken.recv(), if !cancelled => {
                // Our reader went away (e.g. `| head`): stop the command.
                cancelled = true;
                request.cancel();
            }
        }
    };
    // Everything received is written before we exit, unless the user
    // interrupts again.
    tokio::select! {
        _ = async { out.finish().await; err.finish().await } => {}
        Some(()) = io.interrupts.recv() => return Ok(Outcome::Abandoned),
    }
    Ok(outcome)
}

/// A local output stream, written on a thread of its own that starts with
/// the first chunk (a command with no output costs no thread).
struct Sink {
    idle: Option<(Box<dyn Write + Send>, mpsc::UnboundedSender<()>)>,
    thread: Option<SinkThread>,
}

struct SinkThread {
    tx: std::sync::mpsc::Sender<(Bytes, OutputCredit)>,
    done: oneshot::Receiver<()>,
}

impl Sink {
    fn new(w: Box<dyn Write + Send>, broken: mpsc::UnboundedSender<()>) -> Self {
        Self {
            idle: Some((w, broken)),
            thread: None,
        }
    }

    fn start(mut w: Box<dyn Write + Send>, broken: mpsc::UnboundedSender<()>) -> SinkThread {
        let (tx, rx) = std::sync::mpsc::channel::<(Bytes, OutputCredit)>();
        let (done_tx, done) = oneshot::channel();
        std::thread::spawn(move || {
            let mut ok = true;
            // Chunks keep being taken after a write error so their credit
            // returns; the channel is bounded by the output window.
            for (data, credit) in rx {
                if ok && w.write_all(&data).is_err() {
                    ok = false;
                    let _ = broken.send(());
                }
                drop(credit);
            }
            let _ = w.flush();
            let _ = done_tx.send(());
        });
        SinkThread { tx, done }
    }

    fn write(&mut self, data: Bytes, credit: OutputCredit) {
        if let Some((w, broken)) = self.idle.take() {
            self.thread = Some(Self::start(w, broken));
        }
        if let Some(t) = &self.thread {
            let _ = t.tx.send((data, credit));
        }
    }

    async fn finish(self) {
        if let Some(t) = self.thread {
            drop(t.tx);
            let _ = t.done.await;
        } else if let Some((mut w, _)) = self.idle {
            let _ = w.flush();
        }
    }
}

/// Read `source` (a blocking reader such as the process's stdin) on its own
/// thread in chunks of up to [`STDIN_CHUNK`] bytes. Reading on a dedicated
/// thread costs no runtime round trip per chunk; the bounded channel stops
/// the thread while the server's window is closed.
pub fn stdin_reader(mut source: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        // Most commands get little or no stdin: the first read goes into a
        // small buffer, and full chunks (a 256 KiB allocation each) only
        // once stdin has filled it.
        let mut first = vec![0u8; FIRST_STDIN_READ];
        let n = match source.read(&mut first) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        first.truncate(n);
        if tx.blocking_send(Bytes::from(first)).is_err() {
            return;
        }
        let pool = BufPool::new(STDIN_CHUNK, 8);
        loop {
            let mut buf = pool.take();
            let n = match source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if tx.blocking_send(pool.freeze(buf, n)).is_err() {
                break;
            }
        }
    });
    rx
}
