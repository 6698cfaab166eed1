//! Running one command: the pipelined first flight (`auth` then `exec` in
//! one write), then streaming. Output bytes go to the local sinks
//! untouched; stdin is sent within the server's flow-control window.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, Semaphore};

use super::{ClientError, Connection, Identity, EXIT_DENIED, EXIT_TIMED_OUT};
use crate::auth::signing_message;
use crate::bufpool::BufPool;
use crate::proto::{AuthMethod, ErrorCode, Message, Stream};
use crate::transport::{write_queue, FrameReader, FrameWriter, Outbound};

/// The request id the single-command client uses.
const ID: u64 = 1;
/// Largest stdin chunk per `data` frame.
pub const STDIN_CHUNK: usize = 256 * 1024;

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
}

/// The local ends of the command's streams.
pub struct LocalIo {
    /// Receives the command's stdout bytes.
    pub stdout: Box<dyn Write + Send>,
    /// Receives the command's stderr bytes.
    pub stderr: Box<dyn Write + Send>,
    /// Source of stdin, when `ExecRequest::stdin`: chunks of at most
    /// [`STDIN_CHUNK`] bytes; the channel closing is EOF. See [`stdin_reader`].
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    /// One message per local interrupt (Ctrl-C, SIGTERM): the first cancels
    /// the remote command, the second gives up at once.
    pub interrupts: mpsc::UnboundedReceiver<()>,
}

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
    /// A second local interrupt: gave up without waiting for the exit.
    Abandoned,
}

impl Outcome {
    /// The documented exit status for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(c) => *c,
            Outcome::Signaled(s) => 128 + s,
            Outcome::TimedOut => EXIT_TIMED_OUT,
            Outcome::Denied(_) => EXIT_DENIED,
            Outcome::Abandoned => 130,
        }
    }
}

fn server_error(code: ErrorCode, message: String) -> ClientError {
    match code {
        ErrorCode::AuthFailed => ClientError::AuthFailed,
        code => ClientError::Server { code, message },
    }
}

/// Authenticate and run `req` over `conn`, streaming to/from `io`.
pub async fn run_exec(
    conn: Connection,
    identity: &Identity,
    req: &ExecRequest,
    mut io: LocalIo,
) -> Result<Outcome, ClientError> {
    let signature = identity.sign(&signing_message(&req.user, &conn.exporter))?;
    let (rd, wr) = tokio::io::split(conn.stream);
    let mut reader = FrameReader::new(rd);
    let mut writer = FrameWriter::new(wr);
    let auth = Message::Auth {
        user: req.user.clone(),
        method: AuthMethod::Key,
        signature,
    };
    let exec = Message::Exec {
        id: ID,
        argv: req.argv.clone(),
        stdin: req.stdin,
        timeout_ms: req.timeout.map(|t| t.as_millis() as u64),
    };
    writer.send(&auth, &[]).await?;
    writer.send(&exec, &[]).await?;
    writer.flush().await?;

    let (tx, rx) = mpsc::channel(16);
    let write_task = tokio::spawn(write_queue(writer, rx));
    let credit = Arc::new(Semaphore::new(0));
    let mut stdin_task = None;
    let mut authed = false;
    let mut interrupts = 0;
    let mut output_broken = false;
    let outcome = loop {
        let frame = tokio::select! {
            f = reader.read_frame() => f?,
            Some(()) = io.interrupts.recv() => {
                interrupts += 1;
                if interrupts > 1 {
                    break Outcome::Abandoned;
                }
                let _ = tx.send((Message::Cancel { id: ID }, Bytes::new())).await;
                continue;
            }
        };
        let Some(frame) = frame else {
            return Err(ClientError::Protocol(if authed {
                "server closed the connection before the command finished".into()
            } else {
                "server closed the connection during authentication".into()
            }));
        };
        match frame.message {
            Message::AuthOk { .. } => authed = true,
            Message::Error { code, message, .. } => return Err(server_error(code, message)),
            Message::Denied { message, .. } => break Outcome::Denied(message),
            Message::Started { stdin_window, .. } => {
                if let Some(stdin) = io.stdin.take().filter(|_| req.stdin) {
                    credit.add_permits(stdin_window.min(Semaphore::MAX_PERMITS as u64) as usize);
                    stdin_task = Some(tokio::spawn(pump_stdin(stdin, tx.clone(), credit.clone())));
                }
            }
            Message::Window { bytes, .. } => credit.add_permits(bytes as usize),
            Message::Data { stream, .. } => {
                let sink = match stream {
                    Stream::Stderr => &mut io.stderr,
                    _ => &mut io.stdout,
                };
                if !output_broken && sink.write_all(&frame.body).is_err() {
                    // Our reader went away (e.g. `| head`): stop the command.
                    output_broken = true;
                    let _ = tx.send((Message::Cancel { id: ID }, Bytes::new())).await;
                }
            }
            Message::Eof { stream, .. } => {
                let _ = match stream {
                    Stream::Stderr => io.stderr.flush(),
                    _ => io.stdout.flush(),
                };
            }
            Message::Exit {
                code,
                signal,
                timed_out,
                ..
            } => {
                break match (timed_out, signal, code) {
                    (true, _, _) => Outcome::TimedOut,
                    (_, Some(s), _) => Outcome::Signaled(s),
                    (_, _, Some(c)) => Outcome::Exited(c),
                    _ => return Err(ClientError::Protocol("exit without code or signal".into())),
                }
            }
            Message::Ping => {
                let _ = tx.send((Message::Pong, Bytes::new())).await;
            }
            Message::Pong => {}
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected {} message from the server",
                    other.type_name()
                )))
            }
        }
    };
    let _ = io.stdout.flush();
    let _ = io.stderr.flush();
    if let Some(t) = stdin_task {
        t.abort();
    }
    drop(tx);
    // Let the writer send close_notify, briefly.
    let _ = tokio::time::timeout(Duration::from_millis(200), write_task).await;
    Ok(outcome)
}

async fn pump_stdin(
    mut stdin: mpsc::Receiver<Bytes>,
    tx: mpsc::Sender<Outbound>,
    credit: Arc<Semaphore>,
) {
    while let Some(chunk) = stdin.recv().await {
        for piece in chunk.chunks(STDIN_CHUNK) {
            match credit.acquire_many(piece.len() as u32).await {
                Ok(permits) => permits.forget(),
                Err(_) => return,
            }
            let data = Message::Data {
                id: ID,
                stream: Stream::Stdin,
                len: piece.len() as u32,
            };
            if tx.send((data, chunk.slice_ref(piece))).await.is_err() {
                return;
            }
        }
    }
    let eof = Message::Eof {
        id: ID,
        stream: Stream::Stdin,
    };
    let _ = tx.send((eof, Bytes::new())).await;
}

/// Read `source` (a blocking reader such as the process's stdin) on its own
/// thread in chunks of up to [`STDIN_CHUNK`] bytes. Reading on a dedicated
/// thread costs no runtime round trip per chunk; the bounded channel stops
/// the thread while the server's window is closed.
pub fn stdin_reader(mut source: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
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
