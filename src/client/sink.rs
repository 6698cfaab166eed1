//! The local ends of a remote command's streams: output sinks written on
//! threads of their own (so a stalled local reader never keeps the client
//! from answering pings or acting on Ctrl-C) and the stdin reader thread.

use std::io::Write;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::session::OutputCredit;
use crate::bufpool::BufPool;

/// Largest stdin chunk read at once.
pub const STDIN_CHUNK: usize = crate::proto::DATA_CHUNK;
/// Size of the first read from stdin.
const FIRST_STDIN_READ: usize = 16 * 1024;

/// A local output stream, written on a thread of its own that starts with
/// the first chunk (a command with no output costs no thread).
pub(super) struct Sink {
    idle: Option<(Box<dyn Write + Send>, mpsc::UnboundedSender<()>)>,
    thread: Option<SinkThread>,
}

struct SinkThread {
    tx: std::sync::mpsc::Sender<(Bytes, OutputCredit)>,
    done: oneshot::Receiver<()>,
}

impl Sink {
    pub(super) fn new(w: Box<dyn Write + Send>, broken: mpsc::UnboundedSender<()>) -> Self {
        Self {
            idle: Some((w, broken)),
            thread: None,
        }
    }

    fn start(mut w: Box<dyn Write + Send>, broken: mpsc::UnboundedSender<()>) -> SinkThread {
        let (tx, rx) = std::sync::mpsc::channel::<(Bytes, OutputCredit)>();
        let (done_tx, done) = oneshot::channel();
        std::thread::spawn(move || {
            let mut ok = true;
            // Chunks keep being taken after a write error so their credit
            // returns; the channel is bounded by the output window.
            for (data, credit) in rx {
                if ok && w.write_all(&data).is_err() {
                    ok = false;
                    let _ = broken.send(());
                }
                drop(credit);
            }
            let _ = w.flush();
            let _ = done_tx.send(());
        });
        SinkThread { tx, done }
    }

    pub(super) fn write(&mut self, data: Bytes, credit: OutputCredit) {
        if let Some((w, broken)) = self.idle.take() {
            self.thread = Some(Self::start(w, broken));
        }
        if let Some(t) = &self.thread {
            let _ = t.tx.send((data, credit));
        }
    }

    pub(super) async fn finish(self) {
        if let Some(t) = self.thread {
            drop(t.tx);
            let _ = t.done.await;
        } else if let Some((mut w, _)) = self.idle {
            let _ = w.flush();
        }
    }
}

/// Read `source` (a blocking reader such as the process's stdin) on its own
/// thread in chunks of up to [`STDIN_CHUNK`] bytes. Reading on a dedicated
/// thread costs no runtime round trip per chunk; the bounded channel stops
/// the thread while the server's window is closed.
pub fn stdin_reader(mut source: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        // Most commands get little or no stdin: the first read goes into a
        // small buffer, and full chunks (a 256 KiB allocation each) only
        // once stdin has filled it.
        let mut first = vec![0u8; FIRST_STDIN_READ];
        let n = match source.read(&mut first) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        first.truncate(n);
        if tx.blocking_send(Bytes::from(first)).is_err() {
            return;
        }
        let pool = BufPool::new(STDIN_CHUNK, 8);
        loop {
            let mut buf = pool.take();
            let n = match source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if tx.blocking_send(pool.freeze(buf, n)).is_err() {
                break;
            }
        }
    });
    rx
}
