//! A TCP proxy in front of a daemon that can cut every live connection
//! (both sockets shut down, as a dropped link or a killed NAT entry looks
//! to each end) and keeps accepting new ones, or stop accepting.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The proxy; dropping it stops accepting and cuts everything.
pub struct CutProxy {
    pub addr: SocketAddr,
    live: Arc<Mutex<Vec<TcpStream>>>,
    /// Bytes forwarded towards the client, all connections together.
    pub down_bytes: Arc<AtomicU64>,
    pub accepted: Arc<AtomicU64>,
    refuse: Arc<AtomicBool>,
}

impl CutProxy {
    /// Forward 127.0.0.1:(any port) to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let down_bytes = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let refuse = Arc::new(AtomicBool::new(false));
        let (l, d, a, r) = (
            live.clone(),
            down_bytes.clone(),
            accepted.clone(),
            refuse.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                a.fetch_add(1, Ordering::SeqCst);
                {
                    let mut live = l.lock().unwrap();
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                let none = Arc::new(AtomicU64::new(0));
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    none,
                );
                pump(server, client, d.clone());
            }
        });
        Self {
            addr,
            live,
            down_bytes,
            accepted,
            refuse,
        }
    }

    /// Shut down both sockets of every live connection.
    pub fn cut(&self) {
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// From now on, close new connections at once (the host is gone).
    pub fn refuse(&self) {
        self.refuse.store(true, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.refuse();
        self.cut();
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, count: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        let _ = from.shutdown(Shutdown::Both);
                        return;
                    }
                    count.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
        }
    });
}
