//! The client library's connection: one authenticated TLS connection
//! running any number of requests at once. A driver task owns the socket
//! and a [`ClientSession`] state machine; the application holds a
//! [`Session`] to start requests and a [`Request`] per command, with its
//! own stdin sink, output events (each carrying the credit it holds) and
//! exit status. A request whose output is not consumed stalls only itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{ClientError, ClientStream, Connection, Credentials};
use crate::proto::{AuthMethod, CommandInfo, ErrorCode, Secret, Stream};
use crate::session::{
    AuthProof, ClientAction, ClientSession, ClientSettings, ConnEnd, ExecParams, RemoteExit,
};
use crate::transport::{write_queue, FrameReader, FrameWriter, Outbound, TransportError};

/// Default output credit per request: what the client may have to buffer
/// for a request whose output the application has not consumed yet.
pub const OUTPUT_WINDOW: u64 = 16 * 1024 * 1024;
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
    /// The command runs.
    Started,
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
    /// The allowlist refused it; nothing ran.
    Denied(String),
    /// The request or the connection failed.
    Failed(ClientError),
}

enum Cmd {
    Exec {
        params: ExecParams,
        events: mpsc::UnboundedSender<RequestEvent>,
        slots: Arc<Semaphore>,
        reply: oneshot::Sender<u64>,
    },
    Stdin(u64, Bytes),
    StdinEof(u64),
    Cancel(u64),
    Consumed(u64, u64),
    List(oneshot::Sender<Result<Vec<CommandInfo>, ClientError>>),
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
        let now = Instant::now();
        let settings = ClientSettings {
            auth_deadline: now + options.auth_timeout,
            keepalive: options.keepalive,
        };
        let machine = ClientSession::new(user.to_string(), proof, settings, now);
        let (rd, wr) = tokio::io::split(conn.stream);
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(machine, rd, wr, cmds.clone(), creds, options.auth_timeout);
        tokio::spawn(driver.run(cmd_rx));
        Ok(Self { cmds })
    }

    /// The commands the signed-in user may run (templates and slot
    /// constraints; nothing about other users).
    pub async fn list(&self) -> Result<Vec<CommandInfo>, ClientError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ClientError::Protocol("the connection has ended".into());
        self.cmds.send(Cmd::List(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Start a command.
    pub async fn exec(&self, params: ExecParams) -> Result<Request, ClientError> {
        let (events, rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(STDIN_SLOTS));
        let (reply, id) = oneshot::channel();
        let stdin = params.stdin;
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

struct Live {
    events: mpsc::UnboundedSender<RequestEvent>,
    slots: Arc<Semaphore>,
}

struct Driver {
    machine: ClientSession,
    reader: FrameReader<ReadHalf<ClientStream>>,
    out: mpsc::Sender<Outbound>,
    writer: tokio::task::JoinHandle<()>,
    cmds: mpsc::UnboundedSender<Cmd>,
    live: HashMap<u64, Live>,
    /// Taken while a password is being read on a blocking thread.
    creds: Option<Credentials>,
    /// `list`s waiting for their answer, by id.
    lists: HashMap<u64, oneshot::Sender<Result<Vec<CommandInfo>, ClientError>>>,
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
    fn new(
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
            cmds,
            live: HashMap::new(),
            creds: Some(creds),
            lists: HashMap::new(),
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
                ClientAction::Started { id } => self.deliver(id, RequestEvent::Started),
                ClientAction::Output { id, stream, data } => {
                    let credit = OutputCredit {
                        id,
                        bytes: data.len() as u64,
                        cmds: self.cmds.clone(),
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
                ClientAction::Exited { id, exit } => {
                    self.deliver(id, RequestEvent::Exit(exit));
                    self.forget(id);
                }
                ClientAction::Denied { id, message } => {
                    self.deliver(id, RequestEvent::Denied(message));
                    self.forget(id);
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

    async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Cmd>) {
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
                let id = m.exec(params);
                self.live.insert(id, Live { events, slots });
                let _ = reply.send(id);
            }
            Cmd::Stdin(id, data) => {
                let _ = m.push_stdin(id, data);
            }
            Cmd::StdinEof(id) => {
                let _ = m.close_stdin(id);
            }
            Cmd::Cancel(id) => m.cancel(id),
            Cmd::Consumed(id, n) => m.consumed(id, n),
            Cmd::List(reply) => {
                let id = m.list();
                self.lists.insert(id, reply);
            }
        }
    }
}
