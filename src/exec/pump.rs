//! Moving bytes between the child's pipes and the session.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::Semaphore;

use super::{Events, StdinQueue};
use crate::bufpool::BufPool;
use crate::proto::{Stream, DATA_CHUNK};
use crate::session::ExecEvent;

/// Spare read buffers kept per stream (chunks in flight reuse them).
const POOLED: usize = 8;

/// Nobody will take more output (connection gone or request stopped).
#[derive(Debug)]
pub struct PeerGone;

/// Read `pipe` to its end, one chunk at a time: after each chunk wait for
/// the session's go-ahead on `ack` (so an unread request stalls its own
/// command on its pipe and nothing else), then a final `Eof`.
pub async fn drain(
    id: u64,
    stream: Stream,
    mut pipe: impl AsyncRead + Unpin,
    events: Events,
    ack: Arc<Semaphore>,
) -> Result<(), PeerGone> {
    let pool = BufPool::new(DATA_CHUNK, POOLED);
    loop {
        // Read into spare capacity: no zeroing, and only the pages a read
        // touches are faulted in (most commands print a few bytes).
        let mut buf = pool.take_empty();
        // A read error ends the stream like EOF does.
        let n: usize = pipe.read_buf(&mut buf).await.unwrap_or_default();
        if n == 0 {
            let eof = ExecEvent::Eof { stream };
            return events.send((id, eof)).await.map_err(|_| PeerGone);
        }
        let data = pool.freeze(buf, n);
        let output = ExecEvent::Output { stream, data };
        events.send((id, output)).await.map_err(|_| PeerGone)?;
        ack.acquire().await.map_err(|_| PeerGone)?.forget();
    }
}

/// Write the client's stdin bytes to the child, reporting each chunk
/// written (the session returns that much credit). After the child closes
/// its stdin, later chunks are discarded (still reported); when the queue
/// closes, the pipe is closed.
pub async fn feed(id: u64, pipe: ChildStdin, queue: Arc<StdinQueue>, events: Events) {
    let mut pipe = Some(pipe);
    while let Some(chunk) = queue.next().await {
        if let Some(p) = pipe.as_mut() {
            if p.write_all(&chunk).await.is_err() {
                pipe = None;
            }
        }
        let written = ExecEvent::StdinWritten(chunk.len() as u64);
        if events.send((id, written)).await.is_err() {
            return;
        }
    }
    // Closing the pipe here gives the child EOF.
    drop(pipe);
}
