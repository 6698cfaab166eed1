//! Framed I/O over any async byte stream: a reader that enforces the frame
//! limits as bytes arrive, and a writer that coalesces small frames into
//! few TLS records. Deadlines are the caller's (wrap calls in a timeout).

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::proto::{encode_header, Decoder, Frame, FrameError, Message, Stream};

/// A frame queued for a connection's writer task: header and body.
pub type Outbound = (Message, bytes::Bytes);

/// Read-ahead granularity.
const READ_CHUNK: usize = 64 * 1024;
/// Read buffer of a new or idle connection.
const IDLE_CHUNK: usize = 4 * 1024;
/// Bodies at least this large are written without copying them into the
/// buffer.
const DIRECT_BODY: usize = 16 * 1024;
/// Buffered output is written once it reaches this size.
const WRITE_HIGH_WATER: usize = 256 * 1024;

/// Errors on a framed connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The socket or TLS layer failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent an invalid frame.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
}

/// Reads whole frames from `R`.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    decoder: Decoder,
    /// The next read needs only a small buffer (new or released reader).
    small_next: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wrap a byte stream.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: BytesMut::new(),
            decoder: Decoder::new(),
            small_next: true,
        }
    }

    /// Accept frame bodies of at most `limit` bytes from the next frame on
    /// (e.g. none before authentication).
    pub fn set_max_body(&mut self, limit: usize) {
        self.decoder.set_max_body(limit);
    }

    /// Give back the read buffer if it holds nothing, so a connection that
    /// goes idle keeps only a small one (call when no bulk data is
    /// expected, e.g. after authentication).
    pub fn release_idle(&mut self) {
        if self.buf.is_empty() && self.decoder.at_boundary() {
            self.buf = BytesMut::new();
            self.small_next = true;
        }
    }

    /// The next frame; `Ok(None)` when the peer closed cleanly between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, TransportError> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            if self.small_next {
                // A new or idle connection: room for small messages only.
                self.small_next = false;
                self.buf.reserve(IDLE_CHUNK);
            } else if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            match self.inner.read_buf(&mut self.buf).await {
                Ok(0) => {
                    return if self.buf.is_empty() && self.decoder.at_boundary() {
                        Ok(None)
                    } else {
                        Err(TransportError::Truncated)
                    };
                }
                Ok(_) => {}
                // A peer that closes TCP without TLS close_notify between
                // frames has still ended the conversation.
                Err(e)
                    if e.kind() == std::io::ErrorKind::UnexpectedEof
                        && self.buf.is_empty()
                        && self.decoder.at_boundary() =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Writes frames to `W`, buffering until [`FrameWriter::flush`] or the
/// high-water mark.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Wrap a byte stream.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::new(),
        }
    }

    /// The underlying stream (bytes written to it bypass the frame encoder).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Queue one frame; `body` must be exactly `message.body_len()` bytes.
    pub async fn send(&mut self, message: &Message, body: &[u8]) -> Result<(), TransportError> {
        if body.len() != message.body_len() {
            return Err(FrameError::Encode(format!(
                "body of {} bytes for a header announcing {}",
                body.len(),
                message.body_len()
            ))
            .into());
        }
        encode_header(message, &mut self.buf)?;
        if body.len() >= DIRECT_BODY {
            // Large bodies go straight to the stream with the queued bytes
            // in one vectored write (rustls packs both into the same
            // records), instead of being copied into the buffer first.
            let queued = std::mem::take(&mut self.buf);
            let result = write_all_vectored(&mut self.inner, &queued, body).await;
            self.buf = queued;
            self.buf.clear();
            return result.map_err(Into::into);
        }
        self.buf.extend_from_slice(body);
        if self.buf.len() >= WRITE_HIGH_WATER {
            self.write_buffered().await?;
        }
        Ok(())
    }

    /// Queue a `data` frame carrying `body`.
    pub async fn send_data(
        &mut self,
        id: u64,
        stream: Stream,
        body: &[u8],
    ) -> Result<(), TransportError> {
        let len = body.len() as u32;
        self.send(&Message::Data { id, stream, len }, body).await
    }

    async fn write_buffered(&mut self) -> Result<(), TransportError> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Write everything queued and flush the stream.
    pub async fn flush(&mut self) -> Result<(), TransportError> {
        self.write_buffered().await?;
        self.inner.flush().await?;
        Ok(())
    }

    /// Flush, then shut down the write side (TLS close_notify).
    pub async fn shutdown(&mut self) -> Result<(), TransportError> {
        self.flush().await?;
        self.inner.shutdown().await?;
        Ok(())
    }
}

/// Write all of `a` then all of `b` with vectored writes.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut a: &[u8],
    mut b: &[u8],
) -> std::io::Result<()> {
    use std::io::IoSlice;
    while !a.is_empty() || !b.is_empty() {
        let n = w
            .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    Ok(())
}

/// Drain `rx` into `writer`, coalescing queued frames into one flush, until
/// every sender is gone or a fatal `error` (one without an id) is written;
/// then TLS close_notify. Stops early if the stream fails.
pub async fn write_queue<W: AsyncWrite + Unpin>(
    mut writer: FrameWriter<W>,
    mut rx: tokio::sync::mpsc::Receiver<Outbound>,
) {
    'outer: while let Some(mut item) = rx.recv().await {
        loop {
            let (message, body) = item;
            if writer.send(&message, &body).await.is_err() {
                return;
            }
            if matches!(message, Message::Error { id: None, .. }) {
                break 'outer;
            }
            match rx.try_recv() {
                Ok(next) => item = next,
                Err(_) => break,
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
