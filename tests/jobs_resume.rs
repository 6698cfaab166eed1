//! Resumable runs end to end: `secsh --resume-on-drop` through a proxy
//! that cuts the TCP connection mid-output prints every byte once and
//! exits with the remote code; without it the cut is exit 255 and the
//! command is stopped; a client that never comes back leaves the job
//! `abandoned` after the grace; cuts while stdin streams resume it
//! exactly; an exact attach into dropped bytes is refused.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::cutproxy::CutProxy;
use common::{pids_with_cmdline, wait_until, Daemon, Env};
use secsh::client::RequestEvent;
use secsh::proto::ErrorCode;
use secsh::session::AttachParams;
use serde_json::Value;

/// 30 steps of 7,200 numbered lines on stdout and one line on stderr,
/// 0.1 s apart, then exit 3 (about 3 MB).
const GEN: &str =
    "i=0; while [ $i -lt 30 ]; do seq -f 'line %08.0f' $((i*7200+1)) $((i*7200+7200)); \
                   echo \"err $i\" >&2; sleep 0.1; i=$((i+1)); done; exit 3";

fn gen_out() -> Vec<u8> {
    (1..=216_000)
        .flat_map(|k| format!("line {k:08}\n").into_bytes())
        .collect()
}

fn gen_err() -> Vec<u8> {
    (0..30)
        .flat_map(|i| format!("err {i}\n").into_bytes())
        .collect()
}

fn setup(extra: &str) -> (Env, Daemon) {
    let env = Env::new();
    let text = format!(
        r#"
[users.mallory]
keys = ["{key}"]
commands = ["gen", "cat", "zeros"]
detach = true

[commands.gen]
argv = ["/bin/sh", "-c", "{{script}}", "{{tag}}"]
slots.script = {{ regex = ".*", allow_dash = true }}
slots.tag = {{ regex = "[a-z0-9-]+" }}

[jobs]
dir = "{dir}"
{extra}
"#,
        key = env.public_key(3),
        dir = env.path("state").display(),
    );
    let d = env.start(&env.config(&text));
    (env, d)
}

/// `secsh ARGS` as mallory to `addr`, with a client config.
fn client(env: &Env, addr: std::net::SocketAddr, args: &[&str], config: &str) -> Command {
    let cfg = env.path("client.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut cmd = Command::new(common::SECSH);
    cmd.arg("--cert")
        .arg(env.ca())
        .arg("-i")
        .arg(env.key_path("mallory"))
        .arg("--config")
        .arg(&cfg)
        .env_remove("SSH_AUTH_SOCK");
    for a in args {
        cmd.arg(a.replace("HOST", &format!("mallory@{addr}")));
    }
    cmd
}

struct Cut {
    code: Option<i32>,
    out: Vec<u8>,
    err: Vec<u8>,
}

/// Run `cmd`, cutting every connection of `proxy` once `after` bytes went
/// to the client (`refuse`: and taking no new ones).
fn run_cut(mut cmd: Command, proxy: &CutProxy, after: u64, refuse: bool) -> Cut {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut o = child.stdout.take().unwrap();
    let mut e = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = o.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = e.read_to_end(&mut v);
        v
    });
    assert!(
        wait_until(Duration::from_secs(20), || proxy
            .down_bytes
            .load(Ordering::SeqCst)
            >= after),
        "no output through the proxy"
    );
    if refuse {
        proxy.refuse();
    }
    proxy.cut();
    let code = common::wait_timeout(&mut child, Duration::from_secs(60));
    Cut {
        code,
        out: out.join().unwrap(),
        err: err.join().unwrap(),
    }
}

fn records(env: &Env, event: &str) -> Vec<Value> {
    std::fs::read_to_string(env.audit_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == event)
        .collect()
}

#[test]
fn a_cut_connection_resumes_with_every_byte_once_and_the_exit_code() {
    let (env, d) = setup("");
    let proxy = CutProxy::start(d.addr);
    let args = [
        "--resume-on-drop",
        "HOST",
        "--",
        "/bin/sh",
        "-c",
        GEN,
        "resume-a",
    ];
    let cut = run_cut(client(&env, proxy.addr, &args, ""), &proxy, 600_000, false);
    let err = String::from_utf8_lossy(&cut.err);
    assert_eq!(cut.code, Some(3), "{err}");
    assert!(
        cut.out == gen_out(),
        "stdout: {} bytes, want {}",
        cut.out.len(),
        gen_out().len()
    );
    let remote: Vec<u8> = err
        .lines()
        .filter(|l| l.starts_with("err "))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    assert_eq!(remote, gen_err(), "{err}");
    assert!(err.contains("resuming job"), "{err}");
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 2);
    let resumed = records(&env, "job_attached");
    assert!(resumed.iter().any(|r| r["resume"] == true), "{resumed:?}");
    let ended = records(&env, "job_ended");
    assert_eq!(ended[0]["stdout_blake3"], common::files::b3(&gen_out()));
}

#[test]
fn without_resume_a_cut_is_exit_255_and_the_command_stops() {
    let (env, d) = setup("");
    let proxy = CutProxy::start(d.addr);
    let args = ["HOST", "--", "/bin/sh", "-c", GEN, "drop-b"];
    let cut = run_cut(client(&env, proxy.addr, &args, ""), &proxy, 300_000, false);
    assert_eq!(cut.code, Some(255));
    assert!(gen_out().starts_with(&cut.out));
    let running =
        || !pids_with_cmdline(format!("/bin/sh\0-c\0{GEN}\0drop-b\0").as_bytes()).is_empty();
    assert!(wait_until(Duration::from_secs(10), || !running()));
}

#[test]
fn a_client_that_never_comes_back_leaves_the_job_abandoned_after_the_grace() {
    let (env, d) = setup("resume_grace_secs = 1\n");
    let proxy = CutProxy::start(d.addr);
    let args = [
        "--resume-on-drop",
        "HOST",
        "--",
        "/bin/sh",
        "-c",
        GEN,
        "gone-c",
    ];
    let config = "[defaults]\nresume_for_secs = 1.5\n";
    let start = Instant::now();
    let cut = run_cut(
        client(&env, proxy.addr, &args, config),
        &proxy,
        100_000,
        true,
    );
    assert_eq!(cut.code, Some(255), "{}", String::from_utf8_lossy(&cut.err));
    assert!(start.elapsed() < Duration::from_secs(30));
    let running =
        || !pids_with_cmdline(format!("/bin/sh\0-c\0{GEN}\0gone-c\0").as_bytes()).is_empty();
    assert!(wait_until(Duration::from_secs(10), || !running()));
    let cancelled = records(&env, "job_cancelled");
    assert!(
        cancelled.iter().any(|r| r["by"] == "grace_expired"),
        "{cancelled:?}"
    );
    assert!(wait_until(Duration::from_secs(5), || records(
        &env,
        "job_ended"
    )
    .iter()
    .any(|r| r["ended"] == "abandoned")));
}

/// 16 MiB of numbered lines: a lost or repeated stdin byte shows.
fn numbered(bytes: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes + 32);
    let mut k = 0u64;
    while v.len() < bytes {
        v.extend_from_slice(format!("stdin {k:012}\n").as_bytes());
        k += 1;
    }
    v.truncate(bytes);
    v
}

#[test]
fn a_cut_while_stdin_streams_resumes_stdin_exactly_twice_over() {
    let (env, d) = setup("");
    let proxy = CutProxy::start(d.addr);
    let input = numbered(16 << 20);
    let mut child = client(
        &env,
        proxy.addr,
        &["--resume-on-drop", "HOST", "--", "cat"],
        "",
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.clone();
    let writer = std::thread::spawn(move || {
        // Paced, so that both cuts land while stdin is still open.
        for piece in data.chunks(64 << 10) {
            if std::io::Write::write_all(&mut stdin, piece).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(8));
        }
    });
    let mut o = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = o.read_to_end(&mut v);
        v
    });
    let mut e = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = e.read_to_string(&mut v);
        v
    });
    for (cut, after) in [(1, 3u64 << 20), (2, 9 << 20)] {
        assert!(
            wait_until(Duration::from_secs(30), || proxy
                .down_bytes
                .load(Ordering::SeqCst)
                >= after),
            "cut {cut}: no output through the proxy\n{}",
            d.log()
        );
        assert!(
            !writer.is_finished(),
            "cut {cut} came after the end of stdin"
        );
        proxy.cut();
    }
    let code = common::wait_timeout(&mut child, Duration::from_secs(60));
    writer.join().unwrap();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, Some(0), "{err}");
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 3, "{err}");
    assert!(
        out == input,
        "stdout: {} bytes, want {}; first difference at {:?}\n{err}",
        out.len(),
        input.len(),
        out.iter().zip(&input).position(|(a, b)| a != b)
    );
    let attached = records(&env, "job_attached");
    let offsets: Vec<_> = attached
        .iter()
        .filter_map(|r| r["stdin_offset"].as_u64())
        .collect();
    assert_eq!(offsets.len(), 2, "{attached:?}");
    assert!(offsets[0] > 0 && offsets[1] > offsets[0], "{offsets:?}");
    let ended = records(&env, "job_ended");
    assert_eq!(ended[0]["stdout_blake3"], common::files::b3(&input));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_attach_into_dropped_bytes_is_refused_and_a_plain_one_skips_them() {
    let (env, d) = setup("spool_kib = 64\n");
    let session = common::session(&env, &d, "mallory").await;
    let params = secsh::session::ExecParams {
        argv: vec![
            "head".into(),
            "-c".into(),
            "1000000".into(),
            "/dev/zero".into(),
        ],
        stdin: false,
        timeout_ms: None,
        output_window: 1 << 20,
    };
    let mut req = session.job(params, true).await.unwrap();
    let job = match req.next().await {
        Some(RequestEvent::Detached(job)) => job,
        other => panic!("{other:?}"),
    };
    assert!(wait_until(Duration::from_secs(10), || records(
        &env,
        "job_ended"
    )
    .len()
        == 1));
    let attach = |offset: u64, exact: bool| AttachParams {
        job: job.clone(),
        offsets: [offset, 0],
        exact,
        stdin: false,
        output_window: 1 << 20,
    };
    // Inside the head: exact is fine.
    let mut head = session.attach(attach(100, true)).await.unwrap();
    let mut got = 0;
    let mut refused = None;
    while let Some(ev) = head.next().await {
        match ev {
            RequestEvent::Output { data, .. } => got += data.len(),
            RequestEvent::Failed(secsh::client::ClientError::Server { code, .. }) => {
                refused = Some(code)
            }
            RequestEvent::Failed(e) => panic!("{e}"),
            RequestEvent::Exit(_) => break,
            _ => {}
        }
    }
    // It reads the head from byte 100, then reaches the gap.
    assert_eq!(got, 16 * 1024 - 100);
    assert_eq!(refused, Some(ErrorCode::SpoolTruncated));
    let mut plain = session.attach(attach(0, false)).await.unwrap();
    let (mut got, mut skipped) = (0u64, 0u64);
    loop {
        match plain.next().await.unwrap() {
            RequestEvent::Output { data, .. } => got += data.len() as u64,
            RequestEvent::Skipped { bytes, .. } => skipped += bytes,
            RequestEvent::Exit(_) => break,
            RequestEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert_eq!(got + skipped, 1_000_000);
    assert!(skipped > 1_000_000 - 32 * 1024);
    // A detached job has no stdin to take over: refused, and recorded.
    let mut with_stdin = session
        .attach(AttachParams {
            stdin: true,
            ..attach(0, true)
        })
        .await
        .unwrap();
    match with_stdin.next().await {
        Some(RequestEvent::Failed(secsh::client::ClientError::Server { code, .. })) => {
            assert_eq!(code, ErrorCode::BadRequest)
        }
        other => panic!("{other:?}"),
    }
    assert!(wait_until(Duration::from_secs(5), || records(
        &env,
        "job_refused"
    )
    .iter()
    .any(|r| r["reason"] == "a detached job has no stdin to resume")));
}

#[test]
fn a_resumable_run_waits_for_a_slow_reader_instead_of_dropping_output() {
    let (env, d) = setup("spool_kib = 64\n");
    let args = [
        "--resume-on-drop",
        "HOST",
        "--",
        "head",
        "-c",
        "3000000",
        "/dev/zero",
    ];
    let mut child = client(&env, d.addr, &args, "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads for a second: far more than the 64 KiB spool is written
    // meanwhile, and none of it may be dropped.
    std::thread::sleep(Duration::from_secs(1));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let code = common::wait_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.len(), 3_000_000, "{err}");
    assert!(!err.contains("dropped"), "{err}");
    let ended = records(&env, "job_ended");
    // The spool still kept only its bound: the bytes were dropped once read.
    assert!(ended[0]["dropped_bytes"].as_u64().unwrap() > 0);
}
