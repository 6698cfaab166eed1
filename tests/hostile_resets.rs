//! Hostile peers at every stage: an HTTP request and plaintext garbage on
//! the TLS port, TCP resets before and during the handshake, a TLS
//! connection dropped before `auth`, and a signed-in connection reset while
//! its command runs. The daemon answers each cleanly, kills the command's
//! process group, leaks no file descriptor and leaves no child process, and keeps
//! serving (checked with a real command afterwards).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::raw::Raw;
use common::{fds, wait_until, Env};
use secsh::proto::Message;

/// Running `sleep SECS` processes (any path to sleep).
fn sleeps(secs: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cl) = std::fs::read(format!("/proc/{p}/cmdline")) else {
            continue;
        };
        let parts: Vec<&[u8]> = cl.split(|b| *b == 0).collect();
        if parts.len() >= 2 && parts[0].ends_with(b"sleep") && parts[1] == secs.as_bytes() {
            out.push(p);
        }
    }
    out
}

/// Connect, write `bytes`, and expect the server to close within 5 s.
fn closed_after(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true, // reset: closed too
        }
    }
}

/// Connect and reset at once (SO_LINGER 0).
fn reset(addr: std::net::SocketAddr, first: &[u8]) {
    let s = TcpStream::connect(addr).unwrap();
    let _ = (&s).write_all(first);
    let sock = socket2::SockRef::from(&s);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_at_every_stage_leave_the_daemon_clean_and_serving() {
    let env = Env::new();
    // Every source here is 127.0.0.1: exempt it, or the penalties for all
    // this would (rightly) refuse the final check.
    let d = env.start(&env.config("\n[penalties]\nexempt = [\"127.0.0.0/8\"]\n"));
    let pid = d.pid();
    // Warm up (the first connection allocates pools) before the baseline.
    let s = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&s).await);
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = fds(pid);

    let addr = d.addr;
    let results = tokio::task::spawn_blocking(move || {
        let http = closed_after(addr, b"GET / HTTP/1.1\r\nHost: secsh\r\n\r\n");
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 37 % 251) as u8).collect();
        let junk = closed_after(addr, &garbage);
        for i in 0..20 {
            // A reset with nothing sent, and one in the middle of a
            // ClientHello.
            let first: &[u8] = if i % 2 == 0 {
                b""
            } else {
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
            };
            reset(addr, first);
        }
        (http, junk)
    })
    .await
    .unwrap();
    assert!(results.0, "an HTTP request was not closed within 5 s");
    assert!(results.1, "plaintext garbage was not closed within 5 s");

    // TLS done, no auth: dropped.
    for _ in 0..10 {
        drop(Raw::connect(d.addr, &env.ca()).await);
    }
    // Signed in, a command running, then the connection is reset.
    for round in 0..3 {
        let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
        c.send(Message::Exec {
            id: 1,
            argv: vec!["sleep".into(), "53".into()],
            stdin: false,
            timeout_ms: None,
            output_window: Some(1 << 20),
        })
        .await;
        let started = c.next().await.map(|f| f.message);
        assert!(
            matches!(started, Some(Message::Started { .. })),
            "round {round}: {started:?}"
        );
        assert!(wait_until(Duration::from_secs(5), || !sleeps("53").is_empty()));
        drop(c); // no close_notify: the TCP connection just goes
        assert!(
            wait_until(Duration::from_secs(10), || sleeps("53").is_empty()),
            "round {round}: the command outlived its connection: {:?}",
            sleeps("53")
        );
    }

    // Still serving, and back to where it started.
    let s = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&s).await);
    drop(s);
    assert!(
        wait_until(Duration::from_secs(10), || fds(pid) <= baseline + 2),
        "descriptors: {} now, {baseline} before",
        fds(pid)
    );
    // No child left at all: neither zombies nor stray commands (the
    // sentinel is not the daemon's child).
    assert!(
        wait_until(Duration::from_secs(5), || common::children_of(pid as i32)
            .is_empty()),
        "children left: {:?}",
        common::children_of(pid as i32)
    );
}
