//! A byte queue for one command's stdin, bounded by the flow-control
//! window: the connection reader pushes without ever blocking, and a client
//! that sends past its credit is refused instead of growing memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::bufpool::BufPool;

/// The client sent more stdin than the window allows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("stdin exceeds the flow-control window of {0} bytes")]
pub struct WindowExceeded(pub u64);

/// Size of the pooled buffers stdin is gathered in.
const GATHER: usize = 256 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Received bytes not yet taken by the writer, in pooled buffers of
    /// about [`GATHER`] bytes (so bulk input reuses a few buffers instead of
    /// allocating per chunk, and credit flows back per buffer written).
    bufs: VecDeque<Vec<u8>>,
    outstanding: u64,
    closed: bool,
}

/// Stdin bytes received but not yet written to the child.
#[derive(Debug)]
pub struct StdinQueue {
    state: Mutex<State>,
    notify: Notify,
    window: u64,
    pool: Arc<BufPool>,
}

impl StdinQueue {
    /// An empty, open queue granting `window` bytes of credit.
    pub fn new(window: u64) -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            window,
            pool: BufPool::new(GATHER, 8),
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
        let mut data = data;
        while !data.is_empty() {
            if s.bufs.back().is_none_or(|b| b.len() >= GATHER) {
                let fresh = self.pool.take_empty();
                s.bufs.push_back(fresh);
            }
            let last = s.bufs.back_mut().expect("a gather buffer");
            let n = (GATHER - last.len()).min(data.len());
            last.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
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
                if let Some(buf) = s.bufs.pop_front() {
                    let len = buf.len();
                    return Some(self.pool.freeze(buf, len));
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
