//! The server's connection state machine: authentication, then requests.
//! Frames, process events and the clock go in; frames to send and work for
//! the process layer come out of [`ServerSession::poll_action`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::autotune::Rtt;
use super::server_auth::AuthProgress;
pub use super::server_auth::{AuthProof, AuthVerdict, Grant};
use super::server_request::Request;
pub use super::server_types::{Action, CloseReason, Outcome};
use super::{Due, Keepalive, StopReason, Violation, ARGV_ELEMENT_COST, PRE_AUTH_BUFFER};
use crate::proto::{AuthMethod, ErrorCode, Frame, FrameError, Message, MAX_BODY_LEN};

/// Limits and timers of one server connection.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `auth_ok` must be earned before this instant.
    pub auth_deadline: Instant,
    /// Requests running at once.
    pub max_requests: usize,
    /// Stdin credit granted to each request with stdin.
    pub stdin_window: u64,
    /// Stdin credit granted to all of the connection's requests together
    /// (so the most stdin it can make the server buffer); a request gets
    /// what is left, up to `stdin_window`, and `busy` below 64 KiB.
    pub stdin_budget: u64,
    /// Close an authenticated connection with nothing running after this.
    pub idle_timeout: Option<Duration>,
    /// Ping after this much silence from the client.
    pub keepalive: Option<Duration>,
    /// Methods offered after a failed attempt (the same for every user, so
    /// the answer says nothing about the account).
    pub auth_methods: Vec<AuthMethod>,
    /// Failed `auth` attempts before the connection is closed.
    pub max_auth_tries: u32,
    /// The TLS handshake's duration, a first round-trip estimate for
    /// growing stdin windows (`None`: wait for a sample).
    pub rtt_hint: Option<Duration>,
}

#[derive(Debug)]
pub(super) enum State {
    AwaitAuth,
    Verifying {
        queued: VecDeque<Frame>,
        bytes: usize,
    },
    Open {
        idle_since: Option<Instant>,
    },
    Closed,
}

/// One connection, server side.
#[derive(Debug)]
pub struct ServerSession {
    pub(super) settings: ServerSettings,
    pub(super) state: State,
    pub(super) auth: AuthProgress,
    pub(super) requests: HashMap<u64, Request>,
    pub(super) actions: VecDeque<Action>,
    keepalive: Keepalive,
    /// Set by [`ServerSession::revoke`]: when what still runs is stopped.
    pub(super) revoked: Option<Instant>,
    /// Round-trip estimate for growing stdin windows.
    pub(super) rtt: Rtt,
}

/// What a client whose access was revoked is told.
pub(super) const REVOKED: &str = "access revoked by the server's configuration";

pub(super) fn send(actions: &mut VecDeque<Action>, m: Message) {
    actions.push_back(Action::Send(m, Bytes::new()));
}

pub(super) fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Message {
    Message::Error {
        id,
        code,
        message: message.into(),
        retry_after_ms: None,
    }
}

/// What a frame queued before sign-in counts against [`PRE_AUTH_BUFFER`]:
/// the bytes the decoder read for it, plus [`ARGV_ELEMENT_COST`] for each
/// argv element (each is an allocation of its own, however short its JSON).
fn queued_cost(frame: &Frame) -> usize {
    let strings = match &frame.message {
        Message::Exec { argv, .. } | Message::Job { argv, .. } => argv.len(),
        _ => 0,
    };
    frame.wire_len + strings * ARGV_ELEMENT_COST
}

impl ServerSession {
    /// A connection accepted at `now`, waiting for `auth`.
    pub fn new(settings: ServerSettings, now: Instant) -> Self {
        let keepalive = Keepalive::new(settings.keepalive, now);
        let rtt = Rtt::seeded(settings.rtt_hint);
        Self {
            settings,
            state: State::AwaitAuth,
            auth: AuthProgress::default(),
            requests: HashMap::new(),
            actions: VecDeque::new(),
            keepalive,
            revoked: None,
            rtt,
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// True once the connection has ended (after `Action::Close`).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The largest frame body the client may send now: none before
    /// sign-in (the driver's reader refuses a larger `len` before it
    /// allocates), [`MAX_BODY_LEN`] after.
    pub fn max_body(&self) -> usize {
        match self.state {
            State::Open { .. } => MAX_BODY_LEN,
            _ => 0,
        }
    }

    /// Requests currently live (checking or running).
    pub fn live_requests(&self) -> usize {
        self.requests.len()
    }

    pub(super) fn fatal(
        &mut self,
        code: ErrorCode,
        message: impl Into<String>,
        reason: CloseReason,
    ) {
        if self.is_closed() {
            return;
        }
        send(&mut self.actions, error(None, code, message));
        self.close(reason);
    }

    /// End the connection: every request still live ends here with
    /// [`Outcome::Shutdown`] (the drain is over) or
    /// [`Outcome::ConnectionLost`], before `Close`.
    pub(super) fn close(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        self.state = State::Closed;
        let outcome = match reason {
            CloseReason::Shutdown => Outcome::Shutdown,
            CloseReason::Revoked => Outcome::Revoked,
            _ => Outcome::ConnectionLost,
        };
        let mut ids: Vec<u64> = self.requests.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.finish(id, outcome.clone());
        }
        self.actions.push_back(Action::Close(reason));
    }

    /// The one place a request ends: its id is free from here on, and the
    /// driver hears exactly one [`Action::Finished`] for it.
    pub(super) fn finish(&mut self, id: u64, outcome: Outcome) {
        if let Some(req) = self.requests.remove(&id) {
            let kind = req.kind();
            self.actions
                .push_back(Action::Finished { id, kind, outcome });
            // Revoked: the connection ends with its last request.
            if self.revoked.is_some() && self.requests.is_empty() {
                self.revoked_close();
            }
        }
    }

    /// The client broke the protocol: the fatal error its violation maps
    /// to, and close.
    pub(super) fn protocol(&mut self, v: Violation) {
        let message = v.to_string();
        self.fatal(v.code(), message.clone(), CloseReason::Protocol(message));
    }

    /// The bytes from the client could not be decoded.
    pub fn handle_decode_error(&mut self, err: &FrameError) {
        self.fatal(
            err.code(),
            err.wire_message(),
            CloseReason::Protocol(err.to_string()),
        );
    }

    /// Refuse the connection with a fatal `busy` (the server is at a
    /// limit, e.g. `max_connections` when the user would be signed in).
    pub fn reject_busy(&mut self, message: &str) {
        self.fatal(ErrorCode::Busy, message, CloseReason::Busy);
    }

    /// The client closed its side of the connection.
    pub fn handle_peer_closed(&mut self) {
        self.close(CloseReason::PeerClosed);
    }

    /// The drain period is over: stop every command and close.
    pub fn shutdown(&mut self) {
        let ids: Vec<u64> = self.requests.keys().copied().collect();
        for id in ids {
            self.actions.push_back(Action::Stop {
                id,
                reason: StopReason::Shutdown,
            });
        }
        self.fatal(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
            CloseReason::Shutdown,
        );
    }

    /// A reload took the signed-in identity's access away: no new request
    /// is admitted (they are answered `denied`, `list` with nothing);
    /// the connection closes as soon as nothing runs, or at `now + grace`
    /// with what still runs stopped. Before sign-in, the connection closes
    /// at once.
    pub fn revoke(&mut self, now: Instant, grace: Duration) {
        match self.state {
            State::Closed => {}
            State::Open { .. } if !self.requests.is_empty() => {
                let at = now + grace;
                self.revoked = Some(self.revoked.map_or(at, |t| t.min(at)));
                if grace.is_zero() {
                    self.revoked_stop();
                }
            }
            _ => self.revoked_close(),
        }
    }

    pub(super) fn revoked_close(&mut self) {
        self.fatal(ErrorCode::AuthFailed, REVOKED, CloseReason::Revoked);
    }

    fn revoked_stop(&mut self) {
        let ids: Vec<u64> = self.requests.keys().copied().collect();
        for id in ids {
            let reason = StopReason::Revoked;
            self.actions.push_back(Action::Stop { id, reason });
        }
        self.revoked_close();
    }

    /// A frame arrived from the client.
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) {
        self.keepalive.received(now);
        match &mut self.state {
            State::Closed => {}
            State::AwaitAuth => match frame.message {
                Message::Auth {
                    user,
                    method,
                    signature,
                    password,
                    certificate,
                } => {
                    let proof = match (method, signature, password) {
                        (AuthMethod::Key, Some(signature), _) => AuthProof::Key {
                            signature,
                            certificate,
                        },
                        (AuthMethod::Password, _, Some(password)) => {
                            AuthProof::Password { password }
                        }
                        (m, ..) => {
                            let (method, field) = match m {
                                AuthMethod::Key => ("key", "signature"),
                                AuthMethod::Password => ("password", "password"),
                            };
                            return self.protocol(Violation::AuthWithoutProof { method, field });
                        }
                    };
                    self.state = State::Verifying {
                        queued: VecDeque::new(),
                        bytes: 0,
                    };
                    let proven = match &self.auth.proven {
                        Some((u, methods)) if *u == user => methods.clone(),
                        _ => Vec::new(),
                    };
                    self.actions.push_back(Action::Verify {
                        user,
                        proof,
                        proven,
                    });
                }
                // Pipelined behind an attempt that was answered: dropped,
                // the client sends it again after `auth_ok`.
                _ if self.auth.answered => {}
                other => self.protocol(Violation::FirstNotAuth(other.type_name())),
            },
            State::Verifying { queued, bytes } => {
                *bytes += queued_cost(&frame);
                if *bytes > PRE_AUTH_BUFFER {
                    self.protocol(Violation::TooMuchBeforeAuth);
                } else {
                    queued.push_back(frame);
                }
            }
            State::Open { .. } => self.request_frame(frame, now),
        }
    }

    /// Failed `auth` attempts so far on this connection.
    pub fn auth_failures(&self) -> u32 {
        self.auth.failures
    }

    pub(super) fn set_idle(&mut self, now: Instant) {
        // Only the transitions count: pings and pongs do not make an idle
        // connection busy.
        if let State::Open { idle_since } = &mut self.state {
            if !self.requests.is_empty() {
                *idle_since = None;
            } else if idle_since.is_none() {
                *idle_since = Some(now);
            }
        }
    }

    /// Advance timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Closed => return,
            State::AwaitAuth | State::Verifying { .. } => {
                if now >= self.settings.auth_deadline {
                    self.fatal(
                        ErrorCode::Timeout,
                        "authentication deadline passed",
                        CloseReason::AuthTimeout,
                    );
                }
                return;
            }
            State::Open { idle_since } => {
                if self.revoked.is_some_and(|t| now >= t) {
                    return self.revoked_stop();
                }
                if let (Some(since), Some(idle)) = (idle_since, self.settings.idle_timeout) {
                    if now >= since + idle {
                        return self.fatal(ErrorCode::Timeout, "idle timeout", CloseReason::Idle);
                    }
                }
            }
        }
        for (&id, req) in self.requests.iter_mut() {
            if let Some(run) = req.running_mut() {
                if run.stop.is_none() && run.deadline.is_some_and(|d| now >= d) {
                    run.stop = Some(StopReason::TimedOut);
                    let reason = StopReason::TimedOut;
                    self.actions.push_back(Action::Stop { id, reason });
                }
            }
        }
        match self.keepalive.due(now) {
            Due::Nothing => {}
            Due::Ping => send(&mut self.actions, Message::Ping),
            Due::Dead => self.fatal(
                ErrorCode::Timeout,
                "no answer to keepalive",
                CloseReason::Unresponsive,
            ),
        }
    }

    /// The next instant [`ServerSession::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::AwaitAuth | State::Verifying { .. } => Some(self.settings.auth_deadline),
            State::Open { idle_since } => {
                let idle = idle_since
                    .zip(self.settings.idle_timeout)
                    .map(|(s, i)| s + i);
                let runs = self.requests.values().filter_map(|r| r.running());
                let deadlines = runs.filter(|r| r.stop.is_none()).filter_map(|r| r.deadline);
                let ends = deadlines.chain(idle).chain(self.revoked);
                ends.chain(self.keepalive.deadline()).min()
            }
        }
    }
}
