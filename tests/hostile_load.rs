//! Hostile load: a thousand signed-in sessions released at once, a client
//! that opens the most requests it may and never reads, and frames after
//! `eof` at every stage of a request. Afterwards the daemon's descriptors
//! are back to baseline, it has no child process left, its RSS is back
//! within twice its idle figure, and it still serves.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::raw::Raw;
use common::{fds, rss_kib, wait_until, Env};
use secsh::proto::{ErrorCode, Message, Stream};

const SESSIONS: usize = 1000;

/// The tests here load the machine on purpose; they run one at a time so
/// that one's flood does not starve another's timing.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lift this process's descriptor limit: the test holds a thousand TLS
/// connections, and the daemon inherits the limit.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard.min(1 << 20), hard);
    }
}

const LOAD_LIMITS: &str = r#"
[limits]
auth_timeout_secs = 60
max_unauthenticated = 4096
max_unauthenticated_per_source = 4096
max_connections_per_user = 4096
max_commands_per_user = 4096

[penalties]
exempt = ["127.0.0.0/8"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sessions_at_once_then_the_daemon_is_as_it_was() {
    let _serial = SERIAL.lock().await;
    raise_nofile();
    let env = Arc::new(Env::new());
    let d = Arc::new(env.start(&env.config(LOAD_LIMITS)));
    let pid = d.pid();
    let warm = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&warm).await);
    drop(warm);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_fds, idle_rss) = (fds(pid), rss_kib(pid));

    // Every task connects, signs in (at most 64 handshakes at a time, so
    // that this process's own TLS work does not starve the clients on a
    // small machine) and waits at the gate; then all thousand run `true`
    // at once.
    let gate = Arc::new(tokio::sync::Barrier::new(SESSIONS));
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SESSIONS {
        let (env, d, gate) = (env.clone(), d.clone(), gate.clone());
        let connecting = connecting.clone();
        tasks.spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let s = common::session(&env, &d, "alice").await;
            drop(permit);
            gate.wait().await;
            common::runs_true(&s).await
        });
    }
    let all = async {
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            ok += usize::from(r.unwrap_or(false));
        }
        ok
    };
    let ok = tokio::time::timeout(Duration::from_secs(240), all)
        .await
        .expect("the thousand sessions finish within 240 s");
    assert_eq!(ok, SESSIONS, "sessions that ran true");

    assert!(
        wait_until(Duration::from_secs(15), || fds(pid) <= idle_fds + 5),
        "descriptors: {} now, {idle_fds} idle",
        fds(pid)
    );
    assert!(
        wait_until(Duration::from_secs(15), || common::children_of(pid as i32)
            .is_empty()),
        "children left: {:?}",
        common::children_of(pid as i32)
    );
    assert!(
        wait_until(Duration::from_secs(15), || rss_kib(pid) <= 2 * idle_rss),
        "RSS {} KiB after the flood, {idle_rss} KiB idle",
        rss_kib(pid)
    );
    eprintln!(
        "idle {idle_rss} KiB, {idle_fds} fds; after the flood {} KiB, {} fds",
        rss_kib(pid),
        fds(pid)
    );
    let after = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&after).await, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_opens_every_request_and_never_reads_costs_bounded_memory() {
    let _serial = SERIAL.lock().await;
    let env = Env::new();
    // `yes` after a pause: the daemon stops reading a client whose output
    // backs up, so commands that wrote at once could keep later requests
    // from being read. With the pause all 16 are read and started first.
    let late = "sleep 2; exec /usr/bin/yes";
    let extra = format!(
        "[commands.late-yes]\nargv = [\"/bin/sh\", \"-c\", \"{late}\"]\n\n\
         [groups.late]\nmembers = [\"alice\"]\ncommands = [\"late-yes\"]\n"
    );
    let d = env.start(&env.config(&extra));
    let pid = d.pid();
    let warm = common::session(&env, &d, "alice").await;
    assert!(common::runs_true(&warm).await);
    let idle_rss = rss_kib(pid);

    // The default 16 requests per connection, each `yes` without output
    // flow control, and the client never reads a byte.
    let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
    for id in 1..=16 {
        c.send(Message::Exec {
            id,
            argv: vec!["/bin/sh".into(), "-c".into(), late.into()],
            stdin: false,
            timeout_ms: None,
            output_window: None,
        })
        .await;
    }
    let yes = b"/usr/bin/yes\x00";
    assert!(
        wait_until(Duration::from_secs(30), || common::pids_with_cmdline(yes)
            .len()
            == 16),
        "16 commands running: {}",
        common::pids_with_cmdline(yes).len()
    );
    // Every one of them stalled: nothing read, nothing more written.
    assert!(
        wait_until(Duration::from_secs(30), || common::pids_with_cmdline(yes)
            .into_iter()
            .all(common::writes_stalled)),
        "the commands of a client that never reads stall"
    );
    // TCP backpressure stops the commands; the daemon holds at most a
    // bounded amount per stream.
    let held = rss_kib(pid).saturating_sub(idle_rss);
    assert!(
        held < 96 * 1024,
        "{held} KiB held for a client that never reads"
    );
    // Everyone else is served meanwhile.
    assert!(common::runs_true(&warm).await, "a second session is served");
    drop(c);
    assert!(
        wait_until(Duration::from_secs(10), || common::pids_with_cmdline(yes)
            .is_empty()),
        "the commands end with their connection"
    );
}

/// The next frame about request `id`, skipping others; `None` when the
/// connection closed.
async fn next_for(c: &mut Raw, id: u64) -> Option<Message> {
    loop {
        let m = c.next().await?.message;
        match &m {
            Message::Error { id: None, .. } => return Some(m),
            m if secsh_id(m) == Some(id) => return Some(m.clone()),
            _ => {}
        }
    }
}

fn secsh_id(m: &Message) -> Option<u64> {
    match m {
        Message::Started { id, .. }
        | Message::Exit { id, .. }
        | Message::Data { id, .. }
        | Message::Eof { id, .. }
        | Message::Window { id, .. } => Some(*id),
        Message::Error { id, .. } => *id,
        _ => None,
    }
}

fn cat(id: u64) -> Message {
    Message::Exec {
        id,
        argv: vec!["cat".into()],
        stdin: true,
        timeout_ms: None,
        output_window: None,
    }
}

/// A command that reads no stdin and stays running after its stdin ends.
fn sleeper(id: u64) -> Message {
    Message::Exec {
        id,
        argv: vec!["sleep".into(), "30".into()],
        stdin: true,
        timeout_ms: None,
        output_window: None,
    }
}

async fn expect_protocol_error(c: &mut Raw, id: u64, what: &str) {
    loop {
        match next_for(c, id).await {
            Some(Message::Error { id: None, code, .. }) => {
                assert_eq!(code, ErrorCode::Protocol, "{what}");
                return;
            }
            Some(_) => {}
            None => panic!("{what}: closed without an error frame"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_after_eof_at_every_stage() {
    let _serial = SERIAL.lock().await;
    let env = Env::new();
    let d = env.start(&env.config(""));

    // Pipelined: exec, eof and data before `started`. The command outlives
    // its stdin (a `cat` could exit and free the id before the late data
    // is read, and late data for a free id is ignored, below).
    let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
    c.send(sleeper(1)).await;
    c.send(Message::Eof {
        id: 1,
        stream: Stream::Stdin,
    })
    .await;
    c.writer.send_data(1, Stream::Stdin, b"late").await.unwrap();
    c.writer.flush().await.unwrap();
    expect_protocol_error(&mut c, 1, "data after eof, before started").await;

    // Running: data after eof is a protocol error; a second eof is not.
    let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
    c.send(sleeper(2)).await;
    assert!(matches!(
        next_for(&mut c, 2).await,
        Some(Message::Started { .. })
    ));
    c.send(Message::Eof {
        id: 2,
        stream: Stream::Stdin,
    })
    .await;
    c.send(Message::Eof {
        id: 2,
        stream: Stream::Stdin,
    })
    .await;
    c.writer.send_data(2, Stream::Stdin, b"late").await.unwrap();
    c.writer.flush().await.unwrap();
    expect_protocol_error(&mut c, 2, "data after eof, running").await;

    // After `exit` the id is free: late data, eof and cancel for it are a
    // race and ignored, and the id can be used again at once.
    let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
    c.send(cat(3)).await;
    c.send(Message::Eof {
        id: 3,
        stream: Stream::Stdin,
    })
    .await;
    loop {
        match next_for(&mut c, 3).await {
            Some(Message::Exit { code: Some(0), .. }) => break,
            Some(Message::Error { .. }) | None => panic!("cat failed"),
            Some(_) => {}
        }
    }
    c.writer.send_data(3, Stream::Stdin, b"late").await.unwrap();
    c.writer.flush().await.unwrap();
    c.send(Message::Eof {
        id: 3,
        stream: Stream::Stdin,
    })
    .await;
    c.send(Message::Cancel { id: 3 }).await;
    c.send(Message::Window { id: 3, bytes: 10 }).await;
    c.send(cat(3)).await;
    c.send(Message::Eof {
        id: 3,
        stream: Stream::Stdin,
    })
    .await;
    let mut started = false;
    loop {
        match next_for(&mut c, 3).await {
            Some(Message::Started { .. }) => started = true,
            Some(Message::Exit { code: Some(0), .. }) => break,
            other => assert!(
                matches!(other, Some(Message::Eof { .. } | Message::Data { .. })),
                "after exit, late frames are ignored: {other:?}"
            ),
        }
    }
    assert!(started, "the reused id ran");
}
