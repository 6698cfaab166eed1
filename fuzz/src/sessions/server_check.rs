//! What the server engine may send, mirrored from the client's frames:
//! nothing about an id whose last message was sent (until the client
//! opens it again), no output beyond the credit the client granted,
//! bodies of exactly the announced length, and nothing after `Close`; and
//! every request the engine admitted ends in exactly one `Finished`,
//! before `Close`.

use std::collections::{HashMap, HashSet};

use secsh::proto::{Message, Stream, MAX_WINDOW};
use secsh::session::Action;

use super::super::draw::request_id;

#[derive(Debug, Default, PartialEq)]
enum Phase {
    /// Waiting for `auth`; `answered`: an attempt was answered, so other
    /// frames are dropped.
    #[default]
    Await,
    Answered,
    /// A proof is being verified; client frames queue.
    Verifying(Vec<Message>),
    Open,
    Closed,
}

/// The mirror of one server connection.
#[derive(Debug, Default)]
pub struct Check {
    phase: Phase,
    /// Opens of each id the server processed and has not yet ended.
    opened: HashMap<u64, u32>,
    /// Output credit of ids opened with an `output_window`.
    credit: HashMap<u64, u64>,
    /// Ids the engine admitted (handed to the driver) and has not finished.
    live: HashSet<u64>,
}

impl Check {
    /// A verdict may be given now.
    pub fn verifying(&self) -> bool {
        matches!(self.phase, Phase::Verifying(_))
    }

    /// The client sent `m` (before the engine sees it).
    pub fn client_sent(&mut self, m: &Message) {
        match &mut self.phase {
            Phase::Verifying(queue) => queue.push(m.clone()),
            Phase::Open => self.processed(m),
            _ => {}
        }
    }

    /// The engine processes the client's `m` as a request frame.
    fn processed(&mut self, m: &Message) {
        match m {
            Message::Exec {
                id, output_window, ..
            }
            | Message::Job {
                id, output_window, ..
            }
            | Message::Attach {
                id, output_window, ..
            }
            | Message::Get {
                id, output_window, ..
            } => self.open(*id, *output_window),
            Message::Put { id, .. } => self.open(*id, None),
            // Answered by `job_cancelled` or an `error` with its id.
            Message::CancelJob { id, .. } => self.open(*id, None),
            Message::Window { id, bytes } => {
                if let Some(c) = self.credit.get_mut(id) {
                    *c = c.saturating_add(*bytes);
                }
            }
            _ => {}
        }
    }

    fn open(&mut self, id: u64, window: Option<u64>) {
        let n = self.opened.entry(id).or_default();
        *n += 1;
        if *n == 1 {
            if let Some(w) = window.filter(|w| (1..=MAX_WINDOW).contains(w)) {
                self.credit.insert(id, w);
            }
        }
    }

    /// The engine yielded `a`.
    pub fn action(&mut self, a: &Action) {
        assert!(self.phase != Phase::Closed, "action after close: {a:?}");
        match a {
            Action::Verify { .. } => self.phase = Phase::Verifying(Vec::new()),
            Action::Exec { id, .. }
            | Action::Job { id, .. }
            | Action::Attach { id, .. }
            | Action::Put { id, .. }
            | Action::Get { id, .. } => {
                assert!(
                    self.live.insert(*id),
                    "id {id} admitted twice without a Finished"
                );
            }
            Action::Finished { id, .. } => {
                assert!(
                    self.live.remove(id),
                    "Finished for id {id}, which is not live"
                );
            }
            Action::Close(_) => {
                assert!(
                    self.live.is_empty(),
                    "closed with requests not finished: {:?}",
                    self.live
                );
                self.phase = Phase::Closed;
            }
            Action::Send(m, body) => self.sent(m, body.len()),
            _ => {}
        }
    }

    fn sent(&mut self, m: &Message, body: usize) {
        assert_eq!(body, m.body_len(), "body length differs from the header");
        match m {
            Message::AuthOk { .. } => {
                let Phase::Verifying(queue) = std::mem::replace(&mut self.phase, Phase::Open)
                else {
                    panic!("auth_ok without a verification");
                };
                for q in &queue {
                    self.processed(q);
                }
                return;
            }
            Message::AuthContinue { .. } => {
                self.phase = Phase::Answered;
                return;
            }
            Message::Commands { .. } | Message::JobList { .. } => return,
            Message::JobCancelled { id, .. } => return self.close(*id),
            _ => {}
        }
        let Some(id) = request_id(m) else {
            return;
        };
        let n = self.opened.get(&id).copied().unwrap_or(0);
        assert!(n > 0, "server sent {m:?} for id {id}, which is not open");
        if let Message::Data { stream, len, .. } = m {
            assert_ne!(*stream, Stream::Stdin, "server sent stdin");
            if let Some(c) = self.credit.get_mut(&id) {
                assert!(
                    u64::from(*len) <= *c,
                    "server sent {len} bytes for id {id} with {c} credit"
                );
                *c -= u64::from(*len);
            }
        }
        let last = matches!(
            m,
            Message::Exit { .. }
                | Message::Denied { .. }
                | Message::PutOk { .. }
                | Message::End { .. }
                | Message::Error { id: Some(_), .. }
                | Message::JobStarted { detached: true, .. }
        );
        if last {
            self.close(id);
        }
    }

    /// The last message for one open of `id` was sent.
    fn close(&mut self, id: u64) {
        let n = self.opened.get(&id).copied().unwrap_or(0);
        assert!(n > 0, "server answered id {id}, which is not open");
        if n == 1 {
            self.opened.remove(&id);
            self.credit.remove(&id);
        } else {
            self.opened.insert(id, n - 1);
        }
    }
}
