//! The client's connection state machine: the pipelined `auth`, any number
//! of concurrent requests, stdin split to fit the server's credit, output
//! credit returned as the application consumes output, keepalive and the
//! deadline for `auth_ok`. Frames and application calls go in; frames to
//! send and per-request events come out of [`ClientSession::poll_action`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::autotune::{RecvWindow, Rtt};
pub(super) use super::client_stdin::{Req, Stdin};
pub use super::client_types::{
    AttachParams, ClientAction, ClientSettings, ConnEnd, ExecParams, GetParams, RemoteExit,
};
use super::AuthProof;
use super::{out_index, Credit, Due, Keepalive, Kind};
use crate::proto::{AuthMethod, ErrorCode, Frame, Message, Stream, MAX_WINDOW};

/// One connection, client side.
#[derive(Debug)]
pub struct ClientSession {
    pub(super) settings: ClientSettings,
    user: String,
    pub(super) authenticated: bool,
    /// Requests sent before `auth_ok`: the server drops them when it
    /// answers `auth_continue`, so they go again after the next `auth`.
    pub(super) pipelined: Vec<Message>,
    pub(super) closed: bool,
    pub(super) next_id: u64,
    pub(super) requests: HashMap<u64, Req>,
    /// `list` ids not answered yet.
    lists: HashSet<u64>,
    /// `jobs` and `cancel_job` ids not answered yet.
    pub(super) queries: HashSet<u64>,
    pub(super) actions: VecDeque<ClientAction>,
    keepalive: Keepalive,
    /// Round-trip estimate for window autotuning.
    pub(super) rtt: Rtt,
}

pub(super) fn send(actions: &mut VecDeque<ClientAction>, m: Message) {
    actions.push_back(ClientAction::Send(m, Bytes::new()));
}

impl ClientSession {
    /// A session that authenticates as `user` with `proof` (the first
    /// frame is queued at once).
    pub fn new(user: String, proof: AuthProof, settings: ClientSettings, now: Instant) -> Self {
        let mut s = Self {
            keepalive: Keepalive::new(settings.keepalive, now),
            rtt: Rtt::seeded(settings.rtt_hint),
            settings,
            user,
            authenticated: false,
            pipelined: Vec::new(),
            closed: false,
            next_id: 1,
            requests: HashMap::new(),
            lists: HashSet::new(),
            queries: HashSet::new(),
            actions: VecDeque::new(),
        };
        s.send_auth(proof);
        s
    }

    fn send_auth(&mut self, proof: AuthProof) {
        let user = self.user.clone();
        let auth = match proof {
            AuthProof::Key {
                signature,
                certificate,
            } => Message::Auth {
                user,
                method: AuthMethod::Key,
                signature: Some(signature),
                password: None,
                certificate,
            },
            AuthProof::Password { password } => Message::Auth {
                user,
                method: AuthMethod::Password,
                signature: None,
                password: Some(password),
                certificate: None,
            },
        };
        send(&mut self.actions, auth);
    }

    /// Answer [`ClientAction::AuthContinue`] with another proof, valid
    /// until `deadline`; requests already started are sent again after it.
    pub fn retry_auth(&mut self, proof: AuthProof, deadline: Instant) {
        if self.closed || self.authenticated {
            return;
        }
        self.settings.auth_deadline = deadline;
        self.send_auth(proof);
        for m in self.pipelined.clone() {
            send(&mut self.actions, m);
        }
    }

    /// Nothing more to offer after [`ClientAction::AuthContinue`].
    pub fn give_up_auth(&mut self) {
        self.fail(ConnEnd::Server {
            code: ErrorCode::AuthFailed,
            message: "authentication failed".into(),
            retry_after_ms: None,
        });
    }

    /// The next frame to send or event to deliver.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// True once [`ClientAction::Closed`] was emitted.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests not yet ended.
    pub fn live_requests(&self) -> usize {
        self.requests.len()
    }

    /// Start a request (pipelined: it may be sent before `auth_ok`), sent
    /// at `now`. Ids are never reused on one connection.
    pub fn exec(&mut self, params: ExecParams, now: Instant) -> u64 {
        let window = params.output_window.clamp(1, MAX_WINDOW);
        let req = Req {
            kind: Kind::Exec,
            started: false,
            stdin: params.stdin.then(Stdin::new),
            out_credit: Credit::new(window).expect("clamped window"),
            window: RecvWindow::new(window),
            sent: Some(now),
            eof: [false; 2],
        };
        self.start_request(Some(req), |id| Message::Exec {
            id,
            argv: params.argv,
            stdin: params.stdin,
            timeout_ms: params.timeout_ms,
            output_window: Some(window),
        })
    }

    /// Give a new request the next id and send it (pipelined before
    /// `auth_ok`). On a closed connection nothing is sent: the request
    /// fails at once with `cancelled`.
    pub(super) fn start_request(
        &mut self,
        req: Option<Req>,
        m: impl FnOnce(u64) -> Message,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if self.closed {
            self.actions.push_back(ClientAction::Failed {
                id,
                code: ErrorCode::Cancelled,
                message: "the connection is closed".into(),
            });
            return id;
        }
        if let Some(req) = req {
            self.requests.insert(id, req);
        }
        let m = m(id);
        if !self.authenticated {
            self.pipelined.push(m.clone());
        }
        send(&mut self.actions, m);
        id
    }

    /// Ask which commands the user may run; the answer comes as
    /// [`ClientAction::Listed`] with the returned id.
    pub fn list(&mut self) -> u64 {
        let id = self.start_request(None, |id| Message::List { id });
        if !self.closed {
            self.lists.insert(id);
        }
        id
    }

    /// Ask the server to stop `id`'s command.
    pub fn cancel(&mut self, id: u64) {
        if !self.closed && self.requests.contains_key(&id) {
            send(&mut self.actions, Message::Cancel { id });
        }
    }

    fn fail(&mut self, end: ConnEnd) {
        if !self.closed {
            self.closed = true;
            self.requests.clear();
            self.actions.push_back(ClientAction::Closed(end));
        }
    }

    pub(super) fn protocol(&mut self, message: String) {
        if !self.closed {
            let m = Message::Error {
                id: None,
                code: ErrorCode::Protocol,
                message: message.clone(),
                retry_after_ms: None,
            };
            send(&mut self.actions, m);
            self.fail(ConnEnd::Protocol(message));
        }
    }

    /// The server closed the connection.
    pub fn handle_peer_closed(&mut self) {
        let what = if !self.authenticated {
            "server closed the connection during authentication"
        } else if !self.requests.is_empty() {
            "server closed the connection before the command finished"
        } else {
            "server closed the connection"
        };
        self.fail(ConnEnd::Closed(what.into()));
    }

    /// Reading from the server failed (bad frame, I/O error).
    pub fn handle_read_error(&mut self, message: String) {
        self.fail(ConnEnd::Protocol(message));
    }

    /// A frame arrived from the server.
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) {
        if self.closed {
            return;
        }
        self.keepalive.received(now);
        let acts = &mut self.actions;
        match frame.message {
            Message::AuthOk { user } if !self.authenticated => {
                self.authenticated = true;
                self.pipelined.clear();
                acts.push_back(ClientAction::Authenticated { user });
            }
            Message::AuthContinue { methods, partial } if !self.authenticated => {
                acts.push_back(ClientAction::AuthContinue { methods, partial });
            }
            m @ (Message::JobStarted { .. }
            | Message::Skipped { .. }
            | Message::JobList { .. }
            | Message::JobCancelled { .. }) => self.job_frame(m),
            m @ (Message::PutReady { .. }
            | Message::PutOk { .. }
            | Message::File { .. }
            | Message::End { .. }) => self.file_frame(m, now),
            Message::Started {
                id,
                stdin_window,
                stdin_offset,
            } => {
                let Some(req) = self
                    .requests
                    .get_mut(&id)
                    .filter(|r| !r.started && r.kind == Kind::Exec)
                else {
                    return self.protocol(format!("started for unknown request {id}"));
                };
                req.started = true;
                if let Some(sent) = req.sent.take() {
                    self.rtt.sample(now.saturating_duration_since(sent));
                }
                if let Some(stdin) = &mut req.stdin {
                    match Credit::new(stdin_window) {
                        Ok(c) => stdin.credit = c,
                        Err(e) => return self.protocol(format!("stdin_window: {e}")),
                    }
                }
                if stdin_offset.is_some() && req.stdin.is_none() {
                    return self.protocol(format!("stdin_offset on request {id} without stdin"));
                }
                acts.push_back(ClientAction::Started { id, stdin_offset });
                self.flush_stdin(id);
            }
            Message::Window { id, bytes } => {
                let stdin = self.requests.get_mut(&id).and_then(|r| r.stdin.as_mut());
                if let Some(stdin) = stdin {
                    if let Err(e) = stdin.credit.grant(bytes) {
                        return self.protocol(format!("stdin window: {e}"));
                    }
                    self.flush_stdin(id);
                }
            }
            Message::Data { id, stream, len } if stream != Stream::Stdin => {
                let Some(req) = self.requests.get_mut(&id).filter(|r| r.started) else {
                    return self.protocol(format!("data for unknown request {id}"));
                };
                if req.eof[out_index(stream)] {
                    return self.protocol(format!("data after eof on request {id}"));
                }
                if let Err(e) = req.out_credit.spend(len as u64) {
                    return self.protocol(format!("output past the window: {e}"));
                }
                let data = frame.body;
                acts.push_back(ClientAction::Output { id, stream, data });
            }
            Message::Eof { id, stream } if stream != Stream::Stdin => {
                if let Some(req) = self.requests.get_mut(&id) {
                    req.eof[out_index(stream)] = true;
                    acts.push_back(ClientAction::Eof { id, stream });
                }
            }
            Message::Exit {
                id,
                code,
                signal,
                timed_out,
                ..
            } => {
                let exit = match (timed_out, signal, code) {
                    (true, _, _) => RemoteExit::TimedOut,
                    (_, Some(s), _) => RemoteExit::Signal(s),
                    (_, _, Some(c)) => RemoteExit::Code(c),
                    _ => return self.protocol("exit without code or signal".into()),
                };
                if self.requests.get(&id).map(|r| r.kind) != Some(Kind::Exec) {
                    return self.protocol(format!("exit for unknown request {id}"));
                }
                self.requests.remove(&id);
                acts.push_back(ClientAction::Exited { id, exit });
            }
            Message::Denied { id, message } => {
                if self.requests.remove(&id).is_none() {
                    return self.protocol(format!("denied for unknown request {id}"));
                }
                acts.push_back(ClientAction::Denied { id, message });
            }
            Message::Error {
                id: Some(id),
                code,
                message,
                ..
            } => {
                if self.requests.remove(&id).is_some() || self.queries.remove(&id) {
                    acts.push_back(ClientAction::Failed { id, code, message });
                }
            }
            Message::Error {
                id: None,
                code,
                message,
                retry_after_ms,
            } => self.fail(ConnEnd::Server {
                code,
                message,
                retry_after_ms,
            }),
            Message::Commands { id, commands } if self.lists.remove(&id) => {
                acts.push_back(ClientAction::Listed { id, commands })
            }
            Message::Ping => send(acts, Message::Pong),
            Message::Pong => {}
            other => self.protocol(format!(
                "unexpected {} message from the server",
                other.type_name()
            )),
        }
    }

    /// Advance timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if !self.authenticated {
            if now >= self.settings.auth_deadline {
                self.fail(ConnEnd::Timeout(
                    "the server did not answer the authentication in time".into(),
                ));
            }
            return;
        }
        match self.keepalive.due(now) {
            Due::Nothing => {}
            Due::Ping => send(&mut self.actions, Message::Ping),
            Due::Dead => self.fail(ConnEnd::Timeout(
                "the server stopped answering keepalives".into(),
            )),
        }
    }

    /// The next instant [`ClientSession::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            None
        } else if !self.authenticated {
            Some(self.settings.auth_deadline)
        } else {
            self.keepalive.deadline()
        }
    }
}
