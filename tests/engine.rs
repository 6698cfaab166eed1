//! The session engine end to end, real binaries over real TLS: per-request
//! output flow control, small stdin windows, liveness in both directions,
//! process lifetime after stops and daemon death, strict headers.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::raw::Raw;
use common::{alive, wait_until, Env};
use secsh::client::RequestEvent;
use secsh::proto::{ErrorCode, Message};
use secsh::session::{ExecParams, RemoteExit};

async fn authed(env: &Env, d: &common::Daemon) -> Raw {
    Raw::signed_in(d.addr, &env.ca(), "alice", 1).await
}

fn params(argv: &[&str], window: u64) -> ExecParams {
    ExecParams {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdin: false,
        timeout_ms: None,
        output_window: window,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_request_stalls_only_itself() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let session = common::session(&env, &d, "alice").await;
    // `yes` writes forever; its events are never read, so its 64 KiB of
    // credit is never returned.
    let mut flood = session.exec(params(&["yes"], 64 * 1024)).await.unwrap();
    let mut quiet = session
        .exec(params(&["/bin/sh", "-c", "sleep 1; echo done"], 1 << 20))
        .await
        .unwrap();
    let mut out = Vec::new();
    let exit = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match quiet.next().await {
                Some(RequestEvent::Output { data, .. }) => out.extend_from_slice(&data),
                Some(RequestEvent::Exit(e)) => return e,
                Some(RequestEvent::Started { .. } | RequestEvent::Eof(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("the second request finished while the first was unread");
    assert_eq!(exit, RemoteExit::Code(0));
    assert_eq!(out, b"done\n");
    // The flood got at most its window.
    let mut got = 0;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), flood.next()).await {
        if let RequestEvent::Output { data, credit, .. } = ev {
            got += data.len();
            std::mem::forget(credit);
        }
    }
    assert!(
        got > 0 && got <= 64 * 1024,
        "{got} bytes past a 64 KiB window"
    );
    flood.cancel();
}

#[test]
fn fifty_megabytes_through_a_64_kib_stdin_window() {
    let env = Env::new();
    let d = env.start(&env.config("[limits]\nstdin_window_kib = 64\n"));
    let data: Vec<u8> = (0..50_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let input = env.path("blob");
    std::fs::write(&input, &data).unwrap();
    let (code, out, err) = common::run_with_stdin(
        env.secsh(&d, "alice").args(["--", "cat"]),
        std::fs::File::open(&input).unwrap(),
    );
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert!(out == data, "{} bytes back of {}", out.len(), data.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_after_tls_gives_255_within_the_connect_timeout() {
    let env = Env::new();
    let tls = secsh::tls::server_config(&env.path("pki/server.pem"), &env.path("pki/server.key"))
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = tokio_rustls::TlsAcceptor::from(tls)
            .accept(tcp)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(tls);
    });
    let started = Instant::now();
    let mut cmd = common::secsh_to(
        &env.ca(),
        Some(&env.key_path("alice")),
        &format!("alice@{addr}"),
    );
    cmd.args(["--connect-timeout", "2", "--", "true"]);
    let (code, _, err) = tokio::task::spawn_blocking(move || common::run(&mut cmd))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(code, Some(255), "{}", String::from_utf8_lossy(&err));
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(
        String::from_utf8_lossy(&err).contains("did not answer"),
        "{}",
        String::from_utf8_lossy(&err)
    );
    server.abort();
}

#[test]
fn setsid_grandchild_holding_stdout_does_not_hold_the_exit() {
    let env = Env::new();
    let extra = r#"
[commands.orphan]
argv = ["/bin/sh", "-c", "setsid /bin/sleep 97 & /bin/sleep 97"]

[groups.extra]
members = ["alice"]
commands = ["orphan"]
"#;
    let d = env.start(&env.config(extra));
    let started = Instant::now();
    let (code, _, err) = common::run(env.secsh(&d, "alice").args([
        "--timeout",
        "1",
        "--",
        "/bin/sh",
        "-c",
        "setsid /bin/sleep 97 & /bin/sleep 97",
    ]));
    let took = started.elapsed();
    for pid in common::pids_with_cmdline(b"/bin/sleep\x0097\x00") {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    assert_eq!(code, Some(252), "{}", String::from_utf8_lossy(&err));
    // 1 s limit, 0.5 s kill grace, 0.5 s pipe bound, plus process start-up.
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn kill_9_of_the_daemon_takes_its_commands() {
    let env = Env::new();
    let extra = r#"
[commands.family]
argv = ["/bin/sh", "-c", "/bin/sleep 296 & /bin/sleep 296"]

[groups.extra]
members = ["alice"]
commands = ["family"]
"#;
    let mut d = env.start(&env.config(extra));
    assert!(
        common::children_of(d.pid() as i32).is_empty(),
        "the sentinel is not the daemon's child"
    );
    let sentinel = common::sentinel_of(d.pid() as i32).expect("the daemon's sentinel");
    let mut client = env
        .secsh(&d, "alice")
        .args(["--", "/bin/sh", "-c", "/bin/sleep 296 & /bin/sleep 296"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // The shell (a direct child) and both sleeps, one of them a grandchild.
    let sleep = b"/bin/sleep\x00296\x00";
    assert!(wait_until(Duration::from_secs(10), || {
        common::pids_with_cmdline(sleep).len() == 2
    }));
    let mut doomed = common::children_of(d.pid() as i32);
    doomed.push(sentinel);
    doomed.extend(common::pids_with_cmdline(sleep));
    assert!(
        doomed.len() >= 4,
        "sentinel, shell and two sleeps: {doomed:?}"
    );
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let gone = wait_until(Duration::from_secs(5), || doomed.iter().all(|k| !alive(*k)));
    for pid in common::pids_with_cmdline(sleep) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    assert!(gone, "processes {doomed:?} survived the daemon");
    let _ = client.kill();
    let _ = client.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_sent_as_a_json_array_runs_nothing() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut c = authed(&env, &d).await;
    let jail = env.jail();
    let header = format!(
        r#"["exec",1,["/bin/sh","-c","touch {}/marker","x"],false]"#,
        jail.display()
    );
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    c.send_raw(&bytes).await;
    match c.next().await.map(|f| f.message) {
        Some(Message::Error {
            id: None,
            code: ErrorCode::Protocol,
            message,
            ..
        }) => {
            assert_eq!(message, "header is not a JSON object")
        }
        other => panic!("{other:?}"),
    }
    assert!(c.next().await.is_none(), "closed after the fatal error");
    // The daemon writes a connection's request records before its
    // `connection_closed`: once that is there, nothing can still start.
    let records = || std::fs::read_to_string(env.audit_log()).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || records()
            .contains("\"reason\":\"protocol: header is not a JSON object\"")),
        "no connection_closed record: {}",
        records()
    );
    assert!(!records().contains("exec_started"), "{}", records());
    assert!(!jail.join("marker").exists(), "the command ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_answering_pings_has_its_command_stopped() {
    let env = Env::new();
    let d = env.start(&env.config("[limits]\nkeepalive_secs = 1\n"));
    let mut c = authed(&env, &d).await;
    let jail = env.jail();
    let script = format!("sleep 100 & echo $! > {}/pid; wait", jail.display());
    c.send(Message::Exec {
        id: 1,
        argv: vec!["/bin/sh".into(), "-c".into(), script],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    })
    .await;
    let pid = common::wait_for_pid(&jail.join("pid"));
    assert!(alive(pid));
    // From now on the client reads nothing and answers nothing.
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(15), || !alive(pid)),
        "command still running after the peer went silent"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "stopped before 3 pings"
    );
    assert!(d.log().contains("Unresponsive"), "{}", d.log());
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let env = Env::new();
    let d = env.start(&env.config("[limits]\nidle_timeout_secs = 1\n"));
    let mut c = authed(&env, &d).await;
    let started = Instant::now();
    match c.next().await.map(|f| f.message) {
        Some(Message::Error {
            id: None,
            code: ErrorCode::Timeout,
            message,
            ..
        }) => {
            assert_eq!(message, "idle timeout")
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn first_sigterm_cancels_even_while_stdout_is_stalled() {
    let env = Env::new();
    let jail = env.jail();
    let extra = format!(
        "[commands.flood]\nargv = [\"/bin/sh\", \"-c\", \"echo $$ > {}/ypid; exec yes\"]\n\n\
         [groups.extra]\nmembers = [\"alice\"]\ncommands = [\"flood\"]\n",
        jail.display()
    );
    let d = env.start(&env.config(&extra));
    let script = format!("echo $$ > {}/ypid; exec yes", jail.display());
    // stdout is a pipe nobody reads: the client's writer blocks on it.
    let mut client = env
        .secsh(&d, "alice")
        .args(["-n", "--", "/bin/sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let remote = common::wait_for_pid(&jail.join("ypid"));
    // What the test is about: the remote `yes` can write no more, because
    // the client's stdout is full and it stopped reading the connection.
    assert!(
        wait_until(Duration::from_secs(20), || common::writes_stalled(remote)),
        "the remote command's output never stalled"
    );
    let me = nix::unistd::Pid::from_raw(client.id() as i32);
    nix::sys::signal::kill(me, nix::sys::signal::SIGTERM).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !alive(remote)),
        "the first SIGTERM did not stop the remote command"
    );
    nix::sys::signal::kill(me, nix::sys::signal::SIGTERM).unwrap();
    let status = common::wait_timeout(&mut client, Duration::from_secs(5));
    assert_eq!(status, Some(130));
}
