//! Server memory: secshd's RSS with many idle authenticated connections,
//! and its peak RSS while a client reads a large output slowly.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use secsh::client::{connect, Target};
use secsh::proto::{AuthMethod, Message};
use secsh::transport::{FrameReader, FrameWriter};

use crate::secsh_side::{rss_kib, Secshd, USER};

/// Open `n` authenticated connections and hold them; returns secshd's RSS
/// in KiB before and with them open.
pub fn idle_connections(server: &Secshd, n: usize) -> (u64, u64, usize) {
    let before = rss_kib(server.pid());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (held, failed) = rt.block_on(async {
        let target = Target::parse(&server.addr.to_string()).unwrap();
        let mut held = Vec::with_capacity(n);
        let mut failed = 0;
        for _ in 0..n {
            match open(&target, server).await {
                Some(c) => held.push(c),
                None => failed += 1,
            }
        }
        (held, failed)
    });
    std::thread::sleep(Duration::from_millis(500));
    let with = rss_kib(server.pid());
    drop(held);
    drop(rt);
    (before, with, failed)
}

type Held = (
    FrameReader<tokio::io::ReadHalf<secsh::client::ClientStream>>,
    FrameWriter<tokio::io::WriteHalf<secsh::client::ClientStream>>,
);

async fn open(target: &Target, server: &Secshd) -> Option<Held> {
    let conn = connect(target, &server.ca(), Duration::from_secs(10))
        .await
        .ok()?;
    let msg = secsh::auth::signing_message(USER, &conn.exporter);
    let sig = server
        .key
        .sign(secsh::auth::NAMESPACE, ssh_key::HashAlg::Sha512, &msg)
        .ok()?
        .to_pem(ssh_key::LineEnding::LF)
        .ok()?;
    let (rd, wr) = tokio::io::split(conn.stream);
    let (mut reader, mut writer) = (FrameReader::new(rd), FrameWriter::new(wr));
    let auth = Message::Auth {
        user: USER.into(),
        method: AuthMethod::Key,
        signature: Some(sig),
        password: None,
        certificate: None,
    };
    writer.send(&auth, &[]).await.ok()?;
    writer.flush().await.ok()?;
    match reader.read_frame().await {
        Ok(Some(f)) if matches!(f.message, Message::AuthOk { .. }) => Some((reader, writer)),
        _ => None,
    }
}

/// Download `bytes` while reading them at about `rate` bytes/s; returns
/// secshd's peak RSS in KiB and the seconds taken.
pub fn slow_reader(server: &Secshd, bytes: u64, rate: u64) -> (u64, f64) {
    let mut child = server
        .command()
        .args(["head", "-c", &bytes.to_string(), "/dev/zero"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let pid = server.pid();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        total += n as u64;
        let due = Duration::from_secs_f64(total as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let _ = child.wait();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert_eq!(total, bytes, "slow reader got {total} of {bytes} bytes");
    (peak, start.elapsed().as_secs_f64())
}
