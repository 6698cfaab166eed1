//! The server's stdin windows on long links: each request with stdin (an
//! exec's stdin, a put's bytes) starts with its share of the connection's
//! stdin budget and grows, by the rule of [`super::autotune`], while the
//! command or file takes half of it in under two round trips, so an upload
//! over a long link is not held at one window per round trip. Growth comes
//! out of the same budget (`stdin_buffer_kib`), so the most stdin one
//! connection can make the daemon hold is unchanged, and it always leaves
//! the smallest window free, so growth alone never makes a new request on
//! the connection `busy`.
//!
//! The round trip is the smallest of the TLS handshake's time (seeded by
//! the driver) and, per request, the time from `started` / `put_ready` to
//! the first stdin bytes: both at least one round trip.

use std::time::Instant;

use super::autotune::RecvWindow;
use super::server::{send, ServerSession};
use super::server_request::{Exec, Put, PutPhase, Request, StdinSide};
use crate::proto::Message;

/// One request's stdin window, once its credit is open.
#[derive(Debug, Default)]
pub(super) struct StdinTune {
    window: Option<RecvWindow>,
    /// When the credit was announced, until the first bytes came.
    probe: Option<Instant>,
}

impl StdinTune {
    /// Credit of `allot` bytes announced to the client at `now`.
    pub fn open(&mut self, allot: u64, now: Instant) {
        self.window = Some(RecvWindow::offered(allot, now));
        self.probe = Some(now);
    }
}

impl ServerSession {
    /// Stdin bytes of request `id` arrived at `now`: the first ones after
    /// the credit was announced give a round-trip sample.
    pub(super) fn stdin_arrived(&mut self, id: u64, now: Instant) {
        let tune = match self.requests.get_mut(&id) {
            Some(Request::Exec(e)) => &mut e.stdin_tune,
            Some(Request::Put(p)) => &mut p.stdin_tune,
            _ => return,
        };
        if let Some(sent) = tune.probe.take() {
            self.rtt.sample(now.saturating_duration_since(sent));
        }
    }

    /// Bytes the process (or a put's file) took at `now`: that much credit
    /// back to the client, and more when the window grows.
    pub(super) fn stdin_written(&mut self, id: u64, n: u64, now: Instant) {
        let allotted: u64 = self.requests.values().map(Request::stdin_allot).sum();
        // Growth leaves the smallest window free, so the connection can
        // still start another request with stdin.
        let free = self
            .settings
            .stdin_budget
            .saturating_sub(allotted)
            .saturating_sub(self.least_stdin_window());
        let (credit, tune, allot) = match self.requests.get_mut(&id) {
            Some(Request::Exec(Exec {
                stdin: StdinSide::Open(c),
                stdin_tune,
                stdin_allot,
                ..
            })) => (c, stdin_tune, stdin_allot),
            Some(Request::Put(Put {
                phase: PutPhase::Receiving(c),
                stdin_tune,
                stdin_allot,
            })) => (c, stdin_tune, stdin_allot),
            _ => return,
        };
        let grow = match tune.window.as_mut() {
            Some(w) => w.consumed(n, now, self.rtt, free),
            None => 0,
        };
        // The window never passes MAX_WINDOW, so neither does the credit.
        if credit.grant(n + grow).is_ok() {
            *allot += grow;
            send(
                &mut self.actions,
                Message::Window {
                    id,
                    bytes: n + grow,
                },
            );
        }
    }
}
