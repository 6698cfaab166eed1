//! Reusable I/O buffers. Bulk paths read into a buffer, hand the bytes on
//! as `Bytes`, and get the buffer back when the last reference drops,
//! instead of allocating (and page-faulting in) fresh memory per chunk.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A pool of equally sized, initialised buffers.
#[derive(Debug)]
pub struct BufPool {
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
    keep: usize,
}

impl BufPool {
    /// A pool of `size`-byte buffers that keeps at most `keep` spare ones.
    pub fn new(size: usize, keep: usize) -> Arc<Self> {
        Arc::new(Self {
            free: Mutex::new(Vec::with_capacity(keep)),
            size,
            keep,
        })
    }

    /// A buffer of at least `size` initialised bytes (contents arbitrary):
    /// a returned one, or a new one.
    pub fn take(&self) -> Vec<u8> {
        let mut buf = self.spare().unwrap_or_default();
        if buf.len() < self.size {
            buf.resize(self.size, 0);
        }
        buf
    }

    /// An empty buffer with room for at least `size` bytes, to append to.
    pub fn take_empty(&self) -> Vec<u8> {
        match self.spare() {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(self.size),
        }
    }

    fn spare(&self) -> Option<Vec<u8>> {
        self.free.lock().expect("pool lock").pop()
    }

    /// The first `len` bytes of `buf` as `Bytes`; `buf` comes back to the
    /// pool when the last clone is dropped.
    pub fn freeze(self: &Arc<Self>, buf: Vec<u8>, len: usize) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            len,
            pool: self.clone(),
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        // Keep buffers of about the pool's size; drop ones that grew large.
        if (self.size..=4 * self.size).contains(&buf.capacity()) {
            let mut free = self.free.lock().expect("pool lock");
            if free.len() < self.keep {
                free.push(buf);
            }
        }
    }
}

struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BufPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_after_the_last_reference_drops() {
        let pool = BufPool::new(8, 2);
        let mut a = pool.take();
        a[..3].copy_from_slice(b"abc");
        let ptr = a.as_ptr();
        let bytes = pool.freeze(a, 3);
        let clone = bytes.clone();
        assert_eq!(&bytes[..], b"abc");
        drop(bytes);
        assert!(
            pool.free.lock().unwrap().is_empty(),
            "returned while still referenced"
        );
        drop(clone);
        let again = pool.take();
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), 8);
    }

    #[test]
    fn keeps_at_most_keep_spares() {
        let pool = BufPool::new(4, 1);
        let (a, b) = (pool.take(), pool.take());
        drop(pool.freeze(a, 1));
        drop(pool.freeze(b, 1));
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }
}
