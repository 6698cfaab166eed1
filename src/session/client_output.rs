//! The client's side of output flow control: consumed output goes back
//! to the server as credit, grown by the request's window
//! ([`RecvWindow`](super::autotune::RecvWindow)) within
//! the connection's `output_budget`.

use std::time::Instant;

use super::client::{send, ClientSession};
use crate::proto::Message;

impl ClientSession {
    /// The application has consumed `n` output bytes of `id` at `now`:
    /// the server may send that many more, and more again when the
    /// window grows.
    pub fn consumed(&mut self, id: u64, n: u64, now: Instant) {
        if self.closed || n == 0 {
            return;
        }
        let budget = self.budget_left();
        let rtt = self.rtt;
        if let Some(req) = self.requests.get_mut(&id) {
            let bytes = n + req.window.consumed(n, now, rtt, budget);
            if req.out_credit.grant(bytes).is_ok() {
                send(&mut self.actions, Message::Window { id, bytes });
            }
        }
    }

    /// What autotuning may still add to this connection's windows.
    fn budget_left(&self) -> u64 {
        let held: u64 = self.requests.values().map(|r| r.window.size()).sum();
        self.settings.output_budget.saturating_sub(held)
    }
}
