//! A latency-injecting TCP proxy for loopback: every chunk read on one side
//! is written to the other a fixed one-way delay later, in order, with an
//! optional bandwidth cap per direction; EOF is forwarded as a half-close
//! after the same delay. The queues between the sides are the "link": it
//! records the most bytes ever in flight each way, which is what a flow
//! control window bounds. Used by the WAN rows of `benches/` and by the
//! suite (this kernel has no netem).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Chunk size read from each side.
const CHUNK: usize = 256 * 1024;
/// Chunks queued per direction (backpressure past 1 GiB in flight).
const QUEUE: usize = 4096;

/// Bytes in flight in one direction, now and at most.
#[derive(Debug, Default)]
pub struct Flight {
    now: AtomicU64,
    max: AtomicU64,
}

impl Flight {
    fn add(&self, n: u64) {
        let v = self.now.fetch_add(n, Ordering::Relaxed) + n;
        self.max.fetch_max(v, Ordering::Relaxed);
    }

    fn sub(&self, n: u64) {
        self.now.fetch_sub(n, Ordering::Relaxed);
    }

    /// The most bytes that were ever in flight at once.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct WanProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Client -> server, over all connections.
    pub up: Arc<Flight>,
    /// Server -> client, over all connections.
    pub down: Arc<Flight>,
}

impl WanProxy {
    /// Listen on 127.0.0.1 and forward to `upstream` with `delay` each way
    /// and at most `rate` bytes per second each way (`None`: no cap).
    pub async fn start(
        upstream: SocketAddr,
        delay: Duration,
        rate: Option<f64>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (up, down) = (Arc::new(Flight::default()), Arc::new(Flight::default()));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d) = (u.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(
                        forward(cr, sw, delay, rate, u),
                        forward(sr, cw, delay, rate, d)
                    );
                });
            }
        });
        Ok(Self { addr, up, down })
    }
}

/// One direction: read chunks, deliver each `delay` later (paced to
/// `rate`), then half-close.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    rate: Option<f64>,
    flight: Arc<Flight>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let counted = flight.clone();
    let reader = async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = from.read(&mut buf).await.unwrap_or(0);
            buf.truncate(n);
            counted.add(n as u64);
            if tx.send((Instant::now() + delay, buf)).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let writer = async move {
        let mut free_at = Instant::now();
        while let Some((due, buf)) = rx.recv().await {
            tokio::time::sleep_until(due.max(free_at)).await;
            if buf.is_empty() {
                let _ = to.shutdown().await;
                return;
            }
            if let Some(rate) = rate {
                free_at = Instant::now() + Duration::from_secs_f64(buf.len() as f64 / rate);
            }
            let n = buf.len() as u64;
            if to.write_all(&buf).await.is_err() {
                return;
            }
            flight.sub(n);
        }
    };
    tokio::join!(reader, writer);
}
