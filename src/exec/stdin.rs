//! A byte queue for one command's stdin. The session admits only what the
//! flow-control window allows, so the queue never holds more than the
//! window; the connection pushes without ever blocking.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::bufpool::BufPool;

/// Size of the pooled buffers stdin is gathered in.
const GATHER: usize = 256 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Received bytes not yet taken by the writer, in pooled buffers of
    /// about [`GATHER`] bytes (so bulk input reuses a few buffers instead of
    /// allocating per chunk, and credit flows back per buffer written).
    bufs: VecDeque<Vec<u8>>,
    closed: bool,
}

/// Stdin bytes received but not yet written to the child.
#[derive(Debug)]
pub struct StdinQueue {
    state: Mutex<State>,
    notify: Notify,
    pool: Arc<BufPool>,
}

impl Default for StdinQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl StdinQueue {
    /// An empty, open queue.
    pub fn new() -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            pool: BufPool::new(GATHER, 8),
        }
    }

    /// Append bytes from the client.
    pub fn push(&self, mut data: &[u8]) {
        let mut s = self.state.lock().expect("stdin queue lock");
        if s.closed {
            return;
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gathers_in_order_and_ends_after_close() {
        let q = StdinQueue::new();
        q.push(b"12345");
        q.push(b"67890");
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"1234567890"));
        q.push(b"x");
        q.close();
        q.push(b"ignored after close");
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"x"));
        assert_eq!(q.next().await, None);
    }
}
