//! A read-ahead wrapper for sockets under rustls. rustls asks the socket for
//! at most 4 KiB per read, so bulk transfers would cost one system call per
//! 4 KiB; this reads up to 64 KiB at once and serves rustls's small reads
//! from memory. The buffer exists only while it holds bytes, so idle
//! connections cost nothing. Writes pass straight through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the socket at once.
const CHUNK: usize = 64 * 1024;

/// A stream whose small reads are served from a lazily allocated buffer.
#[derive(Debug)]
pub struct ReadAhead<S> {
    inner: S,
    buf: Vec<u8>,
    pos: usize,
}

impl<S> ReadAhead<S> {
    /// Wrap `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.buf.len() {
            if dst.remaining() >= CHUNK {
                return Pin::new(&mut this.inner).poll_read(cx, dst);
            }
            // Read into spare capacity: zeroing 64 KiB before every read
            // would cost as much memory traffic as the data itself.
            this.buf.clear();
            this.buf.reserve_exact(CHUNK);
            let mut rb = ReadBuf::uninit(&mut this.buf.spare_capacity_mut()[..CHUNK]);
            let res = Pin::new(&mut this.inner).poll_read(cx, &mut rb);
            let filled = rb.filled().len();
            // SAFETY: `ReadBuf` guarantees its first `filled` bytes were
            // initialised by the read, and they lie within the capacity.
            unsafe { this.buf.set_len(filled) };
            this.pos = 0;
            match res {
                Poll::Ready(Ok(())) => {}
                other => {
                    this.buf = Vec::new();
                    return other;
                }
            }
            if filled == 0 {
                this.buf = Vec::new();
                return Poll::Ready(Ok(()));
            }
        }
        let n = dst.remaining().min(this.buf.len() - this.pos);
        dst.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos == this.buf.len() {
            // Drained: give the memory back so idle connections hold none.
            this.buf = Vec::new();
            this.pos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_and_large_reads_see_every_byte_in_order() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&sent).await.unwrap();
        });
        let mut r = ReadAhead::new(b);
        let mut got = Vec::new();
        let mut small = [0u8; 1000];
        let mut big = vec![0u8; 100_000];
        loop {
            let n = if got.len() % 2 == 0 {
                r.read(&mut small).await.unwrap()
            } else {
                r.read(&mut big).await.unwrap()
            };
            if n == 0 {
                break;
            }
            got.extend_from_slice(if got.len() % 2 == 0 {
                &small[..n]
            } else {
                &big[..n]
            });
            if got.len() == data.len() {
                break;
            }
        }
        writer.await.unwrap();
        assert_eq!(got, data);
        assert!(r.buf.is_empty(), "buffer kept after draining");
    }
}
