//! Admission of a new request on an authenticated connection: the id
//! must be free, the connection under its request limit and its stdin
//! budget able to give the request a window; and the answer to `list`.

use super::server::{error, send, ServerSession};
use super::server_request::Request;
use super::{Credit, Kind, Violation};
use crate::proto::{ErrorCode, Message, MAX_WINDOW};

/// The smallest stdin window a request is started with.
const MIN_STDIN_WINDOW: u64 = 64 * 1024;

impl ServerSession {
    /// Take a new request `id` if the connection's limits allow; else
    /// answer it with an error. True when it was taken. `need` bounds the
    /// stdin the request can send (a put's announced size): its window is
    /// no larger, so small puts side by side do not exhaust the budget.
    pub(super) fn admit(
        &mut self,
        id: u64,
        kind: Kind,
        (stdin, need): (bool, Option<u64>),
        output_window: Option<u64>,
    ) -> bool {
        let out_credit = match output_window {
            None => Credit::unlimited(),
            Some(w) if w >= 1 => match Credit::new(w) {
                Ok(c) => c,
                Err(_) => {
                    self.window_error();
                    return false;
                }
            },
            Some(_) => {
                self.window_error();
                return false;
            }
        };
        let allotted: u64 = self.requests.values().map(|r| r.stdin_allot).sum();
        let free = self.settings.stdin_budget.saturating_sub(allotted);
        let least = self.settings.stdin_window.min(MIN_STDIN_WINDOW);
        let allot = if stdin {
            let want = need.map_or(u64::MAX, |n| n.max(least));
            self.settings
                .stdin_window
                .min(want)
                .min(free)
                .min(MAX_WINDOW)
        } else {
            0
        };
        let reply = if self.requests.contains_key(&id) {
            error(Some(id), ErrorCode::BadRequest, "request id already in use")
        } else if self.requests.len() >= self.settings.max_requests {
            error(
                Some(id),
                ErrorCode::Busy,
                "too many requests on this connection",
            )
        } else if stdin && allot < least {
            error(
                Some(id),
                ErrorCode::Busy,
                "the connection's stdin buffer is in use by its other requests",
            )
        } else {
            let req = Request::new(kind, stdin, out_credit, allot);
            self.requests.insert(id, req);
            return true;
        };
        send(&mut self.actions, reply);
        false
    }

    /// The answer to `list` `id`.
    pub fn handle_listed(&mut self, id: u64, commands: Vec<crate::proto::CommandInfo>) {
        if !self.is_closed() {
            send(&mut self.actions, Message::Commands { id, commands });
        }
    }

    pub(super) fn window_error(&mut self) {
        self.protocol(Violation::OutputWindowRange);
    }
}
