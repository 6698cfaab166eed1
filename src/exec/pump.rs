//! Moving bytes between the child's pipes and the connection's queue.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

use std::sync::Arc;

use super::{Outbound, StdinQueue};
use crate::bufpool::BufPool;
use crate::proto::{Message, Stream};

/// Bytes read from a pipe per `data` frame, at most.
const CHUNK: usize = 256 * 1024;
/// Spare read buffers kept per stream (frames in flight reuse them).
const POOLED: usize = 8;

/// The connection's queue is gone: nobody will read more output.
#[derive(Debug)]
pub struct PeerGone;

/// Read `pipe` to its end, queueing `data` frames and a final `eof`.
/// Blocks (and so stalls the child) while the queue is full.
pub async fn drain(
    id: u64,
    stream: Stream,
    mut pipe: impl AsyncRead + Unpin,
    out: mpsc::Sender<Outbound>,
) -> Result<(), PeerGone> {
    let pool = BufPool::new(CHUNK, POOLED);
    loop {
        let mut buf = pool.take();
        // A read error ends the stream like EOF does.
        let n: usize = pipe.read(&mut buf).await.unwrap_or_default();
        if n == 0 {
            let eof = Message::Eof { id, stream };
            return out.send((eof, Bytes::new())).await.map_err(|_| PeerGone);
        }
        let data = pool.freeze(buf, n);
        let header = Message::Data {
            id,
            stream,
            len: n as u32,
        };
        out.send((header, data)).await.map_err(|_| PeerGone)?;
    }
}

/// Write the client's stdin bytes to the child, returning credit for each
/// chunk written. After the child closes its stdin, later chunks are
/// discarded (still credited); when the channel closes, the pipe is closed.
pub async fn feed(id: u64, pipe: ChildStdin, queue: Arc<StdinQueue>, out: mpsc::Sender<Outbound>) {
    let mut pipe = Some(pipe);
    while let Some(chunk) = queue.next().await {
        if let Some(p) = pipe.as_mut() {
            if p.write_all(&chunk).await.is_err() {
                pipe = None;
            }
        }
        queue.credit(chunk.len() as u64);
        let credit = Message::Window {
            id,
            bytes: chunk.len() as u64,
        };
        if out.send((credit, Bytes::new())).await.is_err() {
            return;
        }
    }
    // Closing the pipe here gives the child EOF.
    drop(pipe);
}
