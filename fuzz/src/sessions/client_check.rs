//! What the client engine may send, mirrored from the server's frames and
//! its own events: nothing about a request after it told the application
//! the request ended, never more stdin than the server granted, fresh ids
//! for new requests, and nothing after `Closed`. Output is handed back as
//! a faithful application would (`consumed` after each chunk).

use std::collections::HashMap;
use std::time::Instant;

use secsh::proto::{Message, Stream, MAX_WINDOW};
use secsh::session::{ClientAction, ClientSession};

use super::super::draw::request_id;

/// The mirror of one client connection.
#[derive(Debug, Default)]
pub struct Check {
    /// Live request ids and the stdin credit the server granted each.
    live: HashMap<u64, u64>,
    closed: bool,
    /// Requests started after `Closed`: each must fail at once.
    after_close: Vec<u64>,
    continuing: bool,
}

impl Check {
    /// The engine asked the application for another proof.
    pub fn continuing(&self) -> bool {
        self.continuing
    }

    /// The application started request `id`.
    pub fn opened(&mut self, id: u64) {
        if self.closed {
            self.after_close.push(id);
            return;
        }
        assert!(
            self.live.insert(id, 0).is_none(),
            "new request reuses live id {id}"
        );
    }

    /// The server sent `m` (before the engine sees it).
    pub fn server_sent(&mut self, m: &Message) {
        let grant = match m {
            Message::Started {
                id, stdin_window, ..
            } => Some((*id, *stdin_window)),
            Message::PutReady { id, window, .. } => Some((*id, *window)),
            Message::Window { id, bytes } => Some((*id, *bytes)),
            _ => None,
        };
        if let Some((id, n)) = grant {
            if let Some(c) = self.live.get_mut(&id) {
                *c = c.saturating_add(n);
            }
        }
    }

    /// The engine yielded `a`; `c` gets the application's answers.
    pub fn action(&mut self, a: &ClientAction, c: &mut ClientSession, now: Instant) {
        if self.closed {
            match a {
                ClientAction::Failed { id, .. } if self.after_close.contains(id) => {
                    self.after_close.retain(|i| i != id);
                    return;
                }
                _ => panic!("action after Closed: {a:?}"),
            }
        }
        match a {
            ClientAction::Send(m, body) => self.sent(m, body.len()),
            ClientAction::Output { id, data, .. } => {
                assert!(self.live.contains_key(id), "output for ended request {id}");
                c.consumed(*id, data.len() as u64, now);
            }
            ClientAction::AuthContinue { .. } => self.continuing = true,
            ClientAction::Authenticated { .. } => self.continuing = false,
            ClientAction::Exited { id, .. }
            | ClientAction::Denied { id, .. }
            | ClientAction::Failed { id, .. }
            | ClientAction::Stored { id, .. }
            | ClientAction::FileEnd { id, .. } => {
                assert!(self.live.remove(id).is_some(), "{a:?} for no live request");
            }
            ClientAction::Listed { id, .. } => {
                self.live.remove(id);
            }
            ClientAction::Closed(_) => {
                self.closed = true;
                self.live.clear();
            }
            _ => {}
        }
    }

    fn sent(&mut self, m: &Message, body: usize) {
        assert_eq!(body, m.body_len(), "body length differs from the header");
        if let Message::Window { bytes, .. } = m {
            assert!(*bytes <= MAX_WINDOW, "client granted {bytes} at once");
        }
        if matches!(
            m,
            Message::Exec { .. } | Message::Put { .. } | Message::Get { .. }
        ) {
            return;
        }
        let Some(id) = request_id(m) else {
            return;
        };
        let Some(credit) = self.live.get_mut(&id) else {
            panic!("client sent {m:?} for id {id}, which is not live");
        };
        if let Message::Data { stream, len, .. } = m {
            assert_eq!(*stream, Stream::Stdin, "client sent output");
            assert!(
                u64::from(*len) <= *credit,
                "client sent {len} stdin bytes for id {id} with {credit} credit"
            );
            *credit -= u64::from(*len);
        }
    }
}
