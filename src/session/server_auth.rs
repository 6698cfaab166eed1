//! Authentication in the server's state machine: the proofs an `auth`
//! carries, the verifier's verdicts, what earlier attempts established
//! (failures, a partially proven user), and the answer to each attempt.

use std::time::Instant;

use super::server::{send, Action, CloseReason, ServerSession, State};
use crate::proto::{AuthMethod, ErrorCode, Message, Secret};

/// The proof in an `auth` message, for the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthProof {
    /// An armored SSHSIG over the session's signing message.
    Key {
        /// The signature.
        signature: String,
        /// The signing key's OpenSSH user certificate, if one was offered.
        certificate: Option<String>,
    },
    /// A password.
    Password {
        /// The password.
        password: Secret,
    },
}

/// What the signed-in user's own limits allow on this connection; applied
/// before any request queued behind `auth` is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Stdin credit for all the connection's requests together (the
    /// user's `stdin_buffer_kib`).
    pub stdin_budget: u64,
}

/// The verifier's answer to one proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Authenticated as the user the proof was for, with their limits.
    Ok(Grant),
    /// The proof held, but the user also needs one of `remaining`.
    Partial {
        /// The method just proven.
        method: AuthMethod,
        /// Methods still required.
        remaining: Vec<AuthMethod>,
    },
    /// The proof failed (or the user does not exist).
    Failed,
}

/// What earlier `auth` attempts on this connection established.
#[derive(Debug, Default)]
pub(super) struct AuthProgress {
    pub failures: u32,
    /// Some attempt was answered: frames the client pipelined behind it
    /// are discarded until its next `auth`.
    pub answered: bool,
    /// A user and the methods they proved (partial success).
    pub proven: Option<(String, Vec<AuthMethod>)>,
}

impl ServerSession {
    /// The verdict on the last `auth` proof for `user`.
    pub fn handle_auth_result(&mut self, user: &str, verdict: AuthVerdict, now: Instant) {
        let State::Verifying { queued, .. } = &mut self.state else {
            return;
        };
        let queued = std::mem::take(queued);
        let (methods, partial) = match verdict {
            AuthVerdict::Ok(grant) => {
                self.settings.stdin_budget = grant.stdin_budget;
                self.state = State::Open {
                    idle_since: Some(now),
                };
                self.auth.proven = None;
                let user = user.to_string();
                send(&mut self.actions, Message::AuthOk { user: user.clone() });
                self.actions.push_back(Action::Authenticated { user });
                for frame in queued {
                    self.request_frame(frame, now);
                }
                return;
            }
            AuthVerdict::Partial { method, remaining } => {
                let mut proven = match self.auth.proven.take() {
                    Some((u, m)) if u == user => m,
                    _ => Vec::new(),
                };
                if !proven.contains(&method) {
                    proven.push(method);
                }
                self.auth.proven = Some((user.to_string(), proven));
                (remaining, true)
            }
            AuthVerdict::Failed => {
                self.auth.failures += 1;
                if self.auth.failures >= self.settings.max_auth_tries {
                    return self.fatal(
                        ErrorCode::AuthFailed,
                        "authentication failed",
                        CloseReason::AuthFailed,
                    );
                }
                (self.settings.auth_methods.clone(), false)
            }
        };
        // Requests pipelined behind the attempt are dropped (the client
        // resends them after `auth_ok`).
        drop(queued);
        self.auth.answered = true;
        self.state = State::AwaitAuth;
        send(
            &mut self.actions,
            Message::AuthContinue { methods, partial },
        );
    }
}
