//! A byte queue for one command's stdin, bounded by the flow-control
//! window: the connection reader pushes without ever blocking, and a client
//! that sends past its credit is refused instead of growing memory.

use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

/// The client sent more stdin than the window allows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("stdin exceeds the flow-control window of {0} bytes")]
pub struct WindowExceeded(pub u64);

#[derive(Debug, Default)]
struct State {
    buf: BytesMut,
    outstanding: u64,
    closed: bool,
}

/// Stdin bytes received but not yet written to the child.
#[derive(Debug)]
pub struct StdinQueue {
    state: Mutex<State>,
    notify: Notify,
    window: u64,
}

impl StdinQueue {
    /// An empty, open queue granting `window` bytes of credit.
    pub fn new(window: u64) -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            window,
        }
    }

    /// Append bytes from the client; fails if that overruns the window.
    pub fn push(&self, data: &[u8]) -> Result<(), WindowExceeded> {
        let mut s = self.state.lock().expect("stdin queue lock");
        let outstanding = s.outstanding + data.len() as u64;
        if outstanding > self.window {
            return Err(WindowExceeded(self.window));
        }
        s.outstanding = outstanding;
        s.buf.extend_from_slice(data);
        drop(s);
        self.notify.notify_one();
        Ok(())
    }

    /// No more bytes will come (client `eof`, or the request ended).
    pub fn close(&self) {
        self.state.lock().expect("stdin queue lock").closed = true;
        self.notify.notify_one();
    }

    /// Everything queued so far, waiting for bytes; `None` once closed and
    /// empty.
    pub async fn next(&self) -> Option<Bytes> {
        loop {
            {
                let mut s = self.state.lock().expect("stdin queue lock");
                if !s.buf.is_empty() {
                    return Some(s.buf.split().freeze());
                }
                if s.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }

    /// `n` bytes were consumed: return them to the window.
    pub fn credit(&self, n: u64) {
        let mut s = self.state.lock().expect("stdin queue lock");
        s.outstanding = s.outstanding.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn window_is_enforced_and_credit_restores_it() {
        let q = StdinQueue::new(10);
        q.push(b"12345").unwrap();
        q.push(b"67890").unwrap();
        assert_eq!(q.push(b"x"), Err(WindowExceeded(10)));
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"1234567890"));
        assert_eq!(q.push(b"x"), Err(WindowExceeded(10)), "not yet credited");
        q.credit(10);
        q.push(b"x").unwrap();
        q.close();
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"x"));
        assert_eq!(q.next().await, None);
    }
}
