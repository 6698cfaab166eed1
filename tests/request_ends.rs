//! Every request that reaches the server ends with exactly one closing
//! audit record, however it ends: the client killed with SIGKILL, the
//! daemon's drain running out, a budget refusal, an allowed program that
//! vanished after the config loaded. And an id reused after a cancel
//! carries nothing of its earlier life.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::raw::Raw;
use common::{run, wait_until, Env};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use secsh::proto::Message;
use serde_json::Value;

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The first record matching `want`, waiting at most 10 s.
fn wait_record(path: &Path, want: impl Fn(&Value) -> bool) -> Value {
    let mut found = None;
    wait_until(Duration::from_secs(10), || {
        found = records(path).into_iter().find(&want);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no such record in {:#?}", records(path)))
}

/// Records of request (`conn`, `id`) other than its start.
fn closing(path: &Path, conn: &Value, id: &Value) -> Vec<Value> {
    records(path)
        .into_iter()
        .filter(|r| &r["conn"] == conn && &r["id"] == id && r["event"] != "exec_started")
        .collect()
}

/// Wait for `conn`'s `connection_closed`, which the daemon writes after
/// every request record of that connection.
fn wait_closed(path: &Path, conn: &Value) {
    wait_record(path, |r| {
        r["event"] == "connection_closed" && &r["conn"] == conn
    });
}

fn background_sleep(env: &Env, d: &common::Daemon) -> std::process::Child {
    env.secsh(d, "alice")
        .args(["-n", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn started(log: &Path) -> Value {
    wait_record(log, |r| {
        r["event"] == "exec_started" && r["argv"][1] == "30"
    })
}

#[test]
fn a_client_killed_with_sigkill_leaves_one_closing_record() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let log = env.audit_log();
    let mut client = background_sleep(&env, &d);
    let st = started(&log);
    client.kill().unwrap();
    client.wait().unwrap();
    wait_closed(&log, &st["conn"]);
    let ends = closing(&log, &st["conn"], &st["id"]);
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["event"], "exec_finished");
    assert_eq!(ends[0]["ended"], "connection_lost");
    assert_eq!(ends[0]["exit_code"], Value::Null);
}

#[test]
fn the_end_of_a_drain_leaves_one_closing_record() {
    let env = Env::new();
    let mut d = env.start_with(&env.config(""), &["--drain", "1"]);
    let log = env.audit_log();
    let mut client = background_sleep(&env, &d);
    let st = started(&log);
    kill(Pid::from_raw(d.pid() as i32), Signal::SIGTERM).unwrap();
    assert!(
        common::wait_timeout(&mut d.child, Duration::from_secs(15)).is_some(),
        "secshd did not exit"
    );
    let _ = client.kill();
    let _ = client.wait();
    let ends = closing(&log, &st["conn"], &st["id"]);
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["event"], "exec_finished");
    assert_eq!(ends[0]["ended"], "shutdown");
}

#[test]
fn a_program_gone_after_the_config_loaded_leaves_one_exec_failed_record() {
    let env = Env::new();
    let prog = env.path("gone-true");
    std::fs::copy("/bin/true", &prog).unwrap();
    let extra = format!(
        "\n[users.carol]\nkeys = [\"{}\"]\ncommands = [\"gone\"]\n\n[commands.gone]\nargv = [\"{}\"]\n",
        env.public_key(3),
        prog.display()
    );
    let d = env.start(&env.config(&extra));
    std::fs::remove_file(&prog).unwrap();
    let log = env.audit_log();
    let (code, _, err) = run(common::secsh_to(
        &env.ca(),
        Some(&env.key_path("mallory")),
        &format!("carol@{}", d.addr),
    )
    .args(["-n", "--"])
    .arg(&prog));
    assert_eq!(code, Some(255), "{}", String::from_utf8_lossy(&err));
    let failed = wait_record(&log, |r| r["event"] == "exec_failed");
    wait_closed(&log, &failed["conn"]);
    assert_eq!(failed["result"], "failed_to_start");
    assert_eq!(failed["command"], "gone");
    assert_eq!(failed["argv"][0], prog.display().to_string());
    let all = records(&log);
    let about: Vec<_> = all
        .iter()
        .filter(|r| r["conn"] == failed["conn"] && r["id"] == failed["id"])
        .collect();
    assert_eq!(about.len(), 1, "one record, no exec_started: {about:#?}");
}

#[test]
fn a_budget_refusal_leaves_one_exec_failed_record() {
    let env = Env::new();
    let config = env.config("");
    common::user_limits(&config, "alice", "max_commands = 1");
    let d = env.start(&config);
    let log = env.audit_log();
    let mut holder = background_sleep(&env, &d);
    started(&log);
    let (code, _, _) = run(env.secsh(&d, "alice").args(["-n", "--", "true"]));
    assert_eq!(code, Some(250), "busy is 250 for one host");
    // The same outcome in a fleet run: status `busy`, exit class 4.
    let (code, out, _) = run(env.secsh(&d, "alice").args(["--json", "--", "true"]));
    let host: Value = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|o| o.get("status").is_some())
        .expect("a host object");
    assert_eq!(host["status"], "busy", "{host}");
    assert_eq!(code, Some(4));
    let failed = wait_record(&log, |r| r["event"] == "exec_failed");
    assert_eq!(failed["result"], "busy");
    let refusals = || {
        records(&log)
            .into_iter()
            .filter(|r| r["event"] == "exec_failed")
            .count()
    };
    wait_until(Duration::from_secs(10), || refusals() >= 2);
    assert_eq!(refusals(), 2, "one record for each refused exec");
    assert_eq!(failed["argv"][0], "true");
    let _ = holder.kill();
    let _ = holder.wait();
}

/// A file of `n` bytes of `byte`.
fn file_of(path: &Path, byte: u8, n: usize) {
    std::fs::write(path, vec![byte; n]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_reused_after_a_cancelled_get_carries_nothing_of_it() {
    let env = Env::new();
    let roots = common::files::Roots::new(&env);
    let (old, new) = (roots.dl.join("old"), roots.dl.join("new"));
    file_of(&old, b'o', 2 << 20);
    file_of(&new, b'n', 2 << 20);
    let d = env.start(&roots.config(&env, ""));
    let mut c = Raw::signed_in(d.addr, &env.ca(), "alice", 1).await;
    let get = |path: &Path, window: u64| Message::Get {
        id: 1,
        path: path.display().to_string(),
        offset: None,
        prefix_blake3: None,
        output_window: Some(window),
    };
    c.send(get(&old, 1000)).await;
    c.send(Message::Cancel { id: 1 }).await;
    loop {
        match c.next().await.map(|f| f.message) {
            Some(Message::Error { id: Some(1), .. }) => break,
            Some(Message::File { .. } | Message::Data { .. }) => {}
            other => panic!("before the cancel's answer: {other:?}"),
        }
    }
    c.send(get(&new, 64 << 20)).await;
    let mut got = 0usize;
    loop {
        let f = c.next().await.expect("the new get's frames");
        match f.message {
            Message::File { size, .. } => assert_eq!(size, 2 << 20),
            Message::Data { .. } => {
                assert!(f.body.iter().all(|b| *b == b'n'), "a byte of the old file");
                got += f.body.len();
            }
            Message::End { size, blake3, .. } => {
                assert_eq!(size, 2 << 20);
                assert_eq!(blake3, common::files::b3_file(&new));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, 2 << 20, "exactly the new file's bytes");
}
