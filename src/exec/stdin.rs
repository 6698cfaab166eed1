//! A byte queue for one command's stdin. The session admits only what the
//! flow-control window allows, so the queue never holds more than the
//! window; the connection pushes without ever blocking. Small chunks
//! (typed input, line-sized writes) are gathered into pooled buffers so the
//! pipe gets large writes; bulk chunks are queued as received, without a
//! copy. A bulk chunk keeps the read buffer it arrived in alive: that
//! buffer is at most the chunk plus one read's worth (64 KiB) and what
//! followed it, so queued bulk chunks of at least [`WHOLE`] bytes hold at
//! most about twice the window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::bufpool::BufPool;

/// Size of the pooled buffers stdin is gathered in.
const GATHER: usize = 256 * 1024;
/// Chunks at least this large are queued as they are, not copied (the
/// client's bulk chunks are 256 KiB).
const WHOLE: usize = 128 * 1024;

#[derive(Debug)]
enum Chunk {
    /// Small chunks copied together into a pooled buffer of about
    /// [`GATHER`] bytes.
    Gathered(Vec<u8>),
    /// A bulk chunk as received (its frame's bytes).
    Whole(Bytes),
}

#[derive(Debug, Default)]
struct State {
    /// Received bytes not yet taken by the writer, in order (credit flows
    /// back per chunk written).
    chunks: VecDeque<Chunk>,
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
    pub fn push(&self, data: Bytes) {
        let mut s = self.state.lock().expect("stdin queue lock");
        if s.closed || data.is_empty() {
            return;
        }
        if data.len() >= WHOLE {
            s.chunks.push_back(Chunk::Whole(data));
        } else {
            let mut rest = &data[..];
            while !rest.is_empty() {
                let last = match s.chunks.back_mut() {
                    Some(Chunk::Gathered(b)) if b.len() < GATHER => b,
                    _ => {
                        s.chunks.push_back(Chunk::Gathered(self.pool.take_empty()));
                        match s.chunks.back_mut() {
                            Some(Chunk::Gathered(b)) => b,
                            _ => unreachable!("just pushed"),
                        }
                    }
                };
                let n = (GATHER - last.len()).min(rest.len());
                last.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
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
                match s.chunks.pop_front() {
                    Some(Chunk::Gathered(buf)) => {
                        let len = buf.len();
                        return Some(self.pool.freeze(buf, len));
                    }
                    Some(Chunk::Whole(data)) => return Some(data),
                    None => {}
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
        q.push(Bytes::from_static(b"12345"));
        q.push(Bytes::from_static(b"67890"));
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"1234567890"));
        q.push(Bytes::from_static(b"x"));
        q.close();
        q.push(Bytes::from_static(b"ignored after close"));
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"x"));
        assert_eq!(q.next().await, None);
    }

    #[tokio::test]
    async fn bulk_chunks_pass_uncopied_and_order_holds_around_them() {
        let q = StdinQueue::new();
        let bulk = Bytes::from(vec![7u8; WHOLE]);
        q.push(Bytes::from_static(b"ab"));
        q.push(bulk.clone());
        q.push(Bytes::from_static(b"c"));
        q.push(Bytes::from_static(b"d"));
        q.close();
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"ab"));
        let got = q.next().await.unwrap();
        assert_eq!(got.as_ptr(), bulk.as_ptr(), "the bulk chunk is not copied");
        assert_eq!(got, bulk);
        assert_eq!(q.next().await.unwrap(), Bytes::from_static(b"cd"));
        assert_eq!(q.next().await, None);
    }

    #[tokio::test]
    async fn small_chunks_fill_gather_buffers_in_order() {
        let q = StdinQueue::new();
        let mut want = Vec::new();
        for i in 0..(2 * GATHER / 1000 + 3) {
            let piece: Vec<u8> = (0..1000).map(|j| (i * 7 + j) as u8).collect();
            want.extend_from_slice(&piece);
            q.push(Bytes::from(piece));
        }
        q.close();
        let mut got = Vec::new();
        while let Some(chunk) = q.next().await {
            assert!(chunk.len() <= GATHER);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, want);
    }
}
