//! Process and connection lifecycle: client SIGTERM and a dropped
//! connection kill the remote process group (grandchildren included); a
//! client that stops reading leaves server memory bounded; a silent
//! pre-auth connection is cut at the deadline while others get in.

mod common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{alive, wait_until, Env};

const GRANDCHILD: &str = "sleep 100 & echo $! > JAIL/pid; wait";

fn start_grandchild(env: &Env, d: &common::Daemon) -> (Child, i32) {
    let script = GRANDCHILD.replace("JAIL", &env.jail().display().to_string());
    let client = env
        .secsh(d, "alice")
        .args(["-n", "--", "/bin/sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = common::wait_for_pid(&env.jail().join("pid"));
    assert!(alive(pid));
    (client, pid)
}

#[test]
fn client_sigterm_kills_remote_grandchild() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (mut client, grandchild) = start_grandchild(&env, &d);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(client.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !alive(grandchild)),
        "grandchild {grandchild} survived the client's SIGTERM"
    );
    let status = client.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "remote sh was terminated by SIGTERM"
    );
}

#[test]
fn dropped_connection_kills_remote_grandchild() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (mut client, grandchild) = start_grandchild(&env, &d);
    client.kill().unwrap();
    client.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !alive(grandchild)),
        "grandchild {grandchild} survived the dropped connection"
    );
}

#[test]
fn stalled_reader_keeps_server_memory_bounded() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let before = d.rss_kib();
    // 1 GB of output to a client whose stdout nobody reads.
    let mut client = env
        .secsh(&d, "alice")
        .args(["-n", "--", "head", "-c", "1000000000", "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = client.stdout.take().unwrap();
    let mut first = [0u8; 1024];
    stdout.read_exact(&mut first).unwrap();
    let mut peak = 0;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(d.rss_kib());
    }
    assert!(
        client.try_wait().unwrap().is_none(),
        "client finished without its output being read"
    );
    assert!(
        peak < 64 * 1024,
        "secshd RSS reached {peak} KiB (started at {before} KiB) with a stalled reader"
    );
    client.kill().unwrap();
    client.wait().unwrap();
}

#[test]
fn silent_preauth_connection_is_cut_at_deadline() {
    let env = Env::new();
    let d = env.start(&env.config("\n[limits]\nauth_timeout_secs = 3\n"));
    let mut idle = std::net::TcpStream::connect(d.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let start = std::time::Instant::now();
    let (code, _, err) = common::run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(
        code,
        Some(0),
        "a legitimate client must get in meanwhile: {}",
        String::from_utf8_lossy(&err)
    );
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "server should close the silent connection");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(9),
        "closed after {waited:?}"
    );
}

#[test]
fn many_concurrent_clients_all_succeed() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let children: Vec<_> = (0..30)
        .map(|i| {
            env.secsh(&d, "alice")
                .args(["-n", "--", "echo", &format!("n{i}")])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, format!("n{i}\n").into_bytes());
    }
}

#[test]
fn server_sigterm_drains_then_stops_commands() {
    let env = Env::new();
    let d = env.start_with(&env.config(""), &["--drain", "3"]);
    let (client, grandchild) = start_grandchild(&env, &d);
    // A short command started before SIGTERM still completes.
    let quick = env
        .secsh(&d, "alice")
        .args(["-n", "--", "/bin/sh", "-c", "sleep 1; echo done"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(d.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let quick = quick.wait_with_output().unwrap();
    assert_eq!(quick.status.code(), Some(0));
    assert_eq!(quick.stdout, b"done\n");
    assert!(
        wait_until(Duration::from_secs(12), || !alive(grandchild)),
        "grandchild survived the server's shutdown"
    );
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    let mut d = d;
    let exited = wait_until(Duration::from_secs(8), || {
        d.child.try_wait().unwrap().is_some()
    });
    assert!(exited, "secshd did not exit after SIGTERM");
    assert!(d.log().contains("drain period over"), "{}", d.log());
}
