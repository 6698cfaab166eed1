//! Admission of a new request on an authenticated connection: the id
//! must be free, the connection under its request limit and its stdin
//! budget able to give the request a window; and the answer to `list`.

use super::server::{error, send, ServerSession};
use super::server_request::Request;
use super::{Credit, Violation};
use crate::proto::{ErrorCode, Message, MAX_WINDOW};

/// The smallest stdin window a request is started with.
const MIN_STDIN_WINDOW: u64 = 64 * 1024;

impl ServerSession {
    /// Take a new request `id` if the connection's limits allow, and say
    /// with what: its output credit and its share of the stdin budget (the
    /// caller inserts it at once); else answer it with an error. `stdin`
    /// is `None` for a request without stdin, else the most it can send
    /// (a put's announced size): its window is no larger, so small puts
    /// side by side do not exhaust the budget.
    pub(super) fn admit(
        &mut self,
        id: u64,
        stdin: Option<Option<u64>>,
        output_window: Option<u64>,
    ) -> Option<(Credit, u64)> {
        let out_credit = match output_window {
            None => Credit::unlimited(),
            Some(w) => match Credit::new(w) {
                Ok(c) if w >= 1 => c,
                _ => {
                    self.window_error();
                    return None;
                }
            },
        };
        let allotted: u64 = self.requests.values().map(Request::stdin_allot).sum();
        let free = self.settings.stdin_budget.saturating_sub(allotted);
        let least = self.least_stdin_window();
        let allot = match stdin {
            Some(need) => {
                let want = need.map_or(u64::MAX, |n| n.max(least));
                let window = self.settings.stdin_window.min(want);
                window.min(free).min(MAX_WINDOW)
            }
            None => 0,
        };
        let reply = if self.revoked.is_some() {
            Message::Denied {
                id,
                message: super::server::REVOKED.into(),
            }
        } else if self.requests.contains_key(&id) {
            error(Some(id), ErrorCode::BadRequest, "request id already in use")
        } else if self.requests.len() >= self.settings.max_requests {
            let m = "too many requests on this connection";
            error(Some(id), ErrorCode::Busy, m)
        } else if stdin.is_some() && allot < least {
            let m = "the connection's stdin buffer is in use by its other requests";
            error(Some(id), ErrorCode::Busy, m)
        } else {
            return Some((out_credit, allot));
        };
        send(&mut self.actions, reply);
        None
    }

    /// The smallest window a request with stdin is started with.
    pub(super) fn least_stdin_window(&self) -> u64 {
        self.settings.stdin_window.min(MIN_STDIN_WINDOW)
    }

    /// The answer to `list` `id`.
    pub fn handle_listed(&mut self, id: u64, commands: Vec<crate::proto::CommandInfo>) {
        if !self.is_closed() {
            // Revoked: nothing may be run any more.
            let commands = if self.revoked.is_some() {
                Vec::new()
            } else {
                commands
            };
            send(&mut self.actions, Message::Commands { id, commands });
        }
    }

    pub(super) fn window_error(&mut self) {
        self.protocol(Violation::OutputWindowRange);
    }
}
