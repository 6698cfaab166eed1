//! Detached jobs end to end, real binaries over real TLS: `--detach`,
//! `--jobs`, `--attach` replaying every byte (binary included) and the
//! exit, isolation between users, the `detach` policy, `--cancel` of a
//! whole process group, the spool bound, a daemon restart (`lost`), the
//! audit records and their hashes over all the output.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::files::b3;
use common::{pids_with_cmdline, run, wait_until, Daemon, Env};
use serde_json::Value;

/// Prints binary bytes on both streams, slowly, then exits 5.
const GEN: &str = "printf 'a\\000b\\377\\n'; sleep 0.3; printf 'e\\001' >&2; \
                   i=0; while [ $i -lt 5 ]; do echo line $i; i=$((i+1)); sleep 0.1; done; exit 5";

fn expected_out() -> Vec<u8> {
    let mut v = b"a\0b\xff\n".to_vec();
    for i in 0..5 {
        v.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    v
}

/// mallory (key 3) may detach `gen`, `zeros` and `sleep`; alice may run
/// `sleep` (the base config's, no `detach`).
fn setup(extra: &str) -> (Env, Daemon) {
    let env = Env::new();
    let jobs = env.path("state");
    let text = format!(
        r#"
[users.mallory]
keys = ["{key}"]
commands = ["gen", "zeros", "sleep"]
detach = true

[commands.gen]
argv = ["/bin/sh", "-c", "{{script}}"]
slots.script = {{ regex = ".*", allow_dash = true }}

[jobs]
dir = "{jobs}"
{extra}
"#,
        key = env.public_key(3),
        jobs = jobs.display(),
    );
    let d = env.start(&env.config(&text));
    (env, d)
}

fn secsh(env: &Env, d: &Daemon, user: &str, args: &[&str]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let mut cmd = Command::new(common::SECSH);
    cmd.arg("--cert")
        .arg(env.ca())
        .arg("-i")
        .arg(env.key_path(user))
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", env.path("home"));
    for a in args {
        cmd.arg(a.replace("HOST", &format!("{user}@{}", d.addr)));
    }
    run(&mut cmd)
}

fn detach(env: &Env, d: &Daemon, user: &str, argv: &[&str]) -> String {
    let mut args = vec!["--detach", "HOST", "--"];
    args.extend_from_slice(argv);
    let (code, out, err) = secsh(env, d, user, &args);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let id = String::from_utf8(out).unwrap().trim().to_string();
    assert_eq!(id.len(), 12, "{id:?}");
    id
}

fn jobs_json(env: &Env, d: &Daemon, user: &str) -> Vec<Value> {
    let (code, out, err) = secsh(env, d, user, &["HOST", "--jobs", "--json"]);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    serde_json::from_slice::<Vec<Value>>(&out).unwrap()
}

fn job(env: &Env, d: &Daemon, user: &str, id: &str) -> Option<Value> {
    jobs_json(env, d, user).into_iter().find(|j| j["job"] == id)
}

fn wait_state(env: &Env, d: &Daemon, user: &str, id: &str, state: &str) -> Value {
    let mut last = None;
    let ok = wait_until(Duration::from_secs(20), || {
        last = job(env, d, user, id);
        last.as_ref().is_some_and(|j| j["state"] == state)
    });
    assert!(ok, "job {id} never {state}: {last:?}");
    last.unwrap()
}

fn records(path: &Path, event: &str, id: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == event && r["job"] == id)
        .collect()
}

#[test]
fn a_detached_job_is_listed_replayed_byte_for_byte_and_audited() {
    let (env, d) = setup("");
    let id = detach(&env, &d, "mallory", &["/bin/sh", "-c", GEN]);
    let running = job(&env, &d, "mallory", &id).expect("listed");
    assert_eq!(running["state"], "running");
    assert_eq!(running["mode"], "detached");
    let done = wait_state(&env, &d, "mallory", &id, "exited");
    assert_eq!(done["code"], 5);
    assert_eq!(done["stdout_bytes"], expected_out().len());
    assert_eq!(done["dropped_bytes"], 0);
    // The text listing names the state and the exit code.
    let (_, table, _) = secsh(&env, &d, "mallory", &["HOST", "--jobs"]);
    let line = String::from_utf8(table).unwrap();
    let line = line
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .to_string();
    assert!(line.contains("exited") && line.contains(" 5 "), "{line}");
    // Twice, from the first byte each time.
    for _ in 0..2 {
        let (code, out, err) = secsh(&env, &d, "mallory", &["HOST", "--attach", &id]);
        assert_eq!(code, Some(5), "{}", String::from_utf8_lossy(&err));
        assert_eq!(out, expected_out());
        assert_eq!(err, b"e\x01");
    }
    let started = records(&env.audit_log(), "job_started", &id);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["mode"], "detached");
    assert_eq!(started[0]["command"], "gen");
    let ended = records(&env.audit_log(), "job_ended", &id);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["exit_code"], 5);
    assert_eq!(ended[0]["stdout_blake3"], b3(&expected_out()));
    assert_eq!(ended[0]["stderr_blake3"], b3(b"e\x01"));
    let detached = records(&env.audit_log(), "job_detached", &id);
    assert_eq!(detached.len(), 2);
    assert!(detached.iter().all(|r| r["reason"] == "exit_sent"));
}

#[test]
fn attaching_while_it_runs_streams_the_rest_live() {
    let (env, d) = setup("");
    let id = detach(&env, &d, "mallory", &["/bin/sh", "-c", GEN]);
    let start = std::time::Instant::now();
    let (code, out, _) = secsh(&env, &d, "mallory", &["HOST", "--attach", &id]);
    assert_eq!(code, Some(5));
    assert_eq!(out, expected_out());
    // It waited for the job: 0.3 s and five 0.1 s sleeps.
    assert!(start.elapsed() >= Duration::from_millis(500));
}

#[test]
fn another_user_can_neither_see_nor_follow_nor_stop_a_job() {
    let (env, d) = setup("");
    let id = detach(&env, &d, "mallory", &["sleep", "30"]);
    assert!(jobs_json(&env, &d, "bob").is_empty());
    let (code, out, err) = secsh(&env, &d, "bob", &["HOST", "--attach", &id]);
    assert_ne!(code, Some(0));
    assert!(out.is_empty());
    // The same answer as for a job that does not exist.
    let (code2, _, err2) = secsh(&env, &d, "bob", &["HOST", "--attach", "000000000000"]);
    assert_eq!(code, code2);
    assert_eq!(
        String::from_utf8_lossy(&err).replace(&id, "X"),
        String::from_utf8_lossy(&err2).replace("000000000000", "X")
    );
    let (code, _, _) = secsh(&env, &d, "bob", &["HOST", "--cancel", &id]);
    assert_eq!(code, Some(1));
    assert_eq!(job(&env, &d, "mallory", &id).unwrap()["state"], "running");
    let refused = records(&env.audit_log(), "job_refused", &id);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|r| r["user"] == "bob"));
    let (code, _, _) = secsh(&env, &d, "mallory", &["HOST", "--cancel", &id]);
    assert_eq!(code, Some(0));
}

#[test]
fn detaching_needs_the_rule_or_the_user_to_allow_it() {
    let (env, d) = setup("");
    let (code, _, err) = secsh(&env, &d, "alice", &["--detach", "HOST", "--", "sleep", "1"]);
    assert_eq!(code, Some(253), "{}", String::from_utf8_lossy(&err));
    assert!(String::from_utf8_lossy(&err).contains("detached"));
    assert!(jobs_json(&env, &d, "alice").is_empty());
    // The same command runs attached, and resumable.
    let (code, _, _) = secsh(&env, &d, "alice", &["HOST", "--", "sleep", "0"]);
    assert_eq!(code, Some(0));
    let (code, _, _) = secsh(
        &env,
        &d,
        "alice",
        &["--resume-on-drop", "HOST", "--", "sleep", "0"],
    );
    assert_eq!(code, Some(0));
    let denied: Vec<Value> = std::fs::read_to_string(env.audit_log())
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "exec_denied")
        .collect();
    assert_eq!(denied.len(), 1);
    assert!(denied[0]["reason"]
        .as_str()
        .unwrap()
        .contains("detach = false"));
}

#[test]
fn cancel_stops_the_whole_process_group() {
    let (env, d) = setup("");
    let script = "sleep 300 & sleep 301; wait";
    let id = detach(&env, &d, "mallory", &["/bin/sh", "-c", script]);
    let gone = |secs: &str| pids_with_cmdline(format!("sleep\0{secs}\0").as_bytes()).is_empty();
    assert!(wait_until(Duration::from_secs(5), || !gone("300") && !gone("301")));
    let (code, _, err) = secsh(&env, &d, "mallory", &["HOST", "--cancel", &id]);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert!(wait_until(Duration::from_secs(5), || gone("300") && gone("301")));
    let j = wait_state(&env, &d, "mallory", &id, "cancelled");
    assert_eq!(j["signal"], 15);
    let cancelled = records(&env.audit_log(), "job_cancelled", &id);
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["by"], "client");
    // A second cancel says it had already ended.
    let (code, _, err) = secsh(&env, &d, "mallory", &["HOST", "--cancel", &id]);
    assert_eq!(code, Some(0));
    assert!(String::from_utf8_lossy(&err).contains("already ended"));
}

fn disk(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() { disk(&e.path()) } else { m.len() };
    }
    n
}

#[test]
fn the_spool_keeps_head_and_tail_within_its_bound_and_says_what_it_dropped() {
    let (env, d) = setup("spool_kib = 64\n");
    let total: usize = 3_000_000;
    let id = detach(
        &env,
        &d,
        "mallory",
        &["head", "-c", &total.to_string(), "/dev/zero"],
    );
    let j = wait_state(&env, &d, "mallory", &id, "exited");
    let dropped = j["dropped_bytes"].as_u64().unwrap();
    assert!(
        dropped > total as u64 - 32 * 1024 && dropped <= total as u64 - 16 * 1024,
        "{j}"
    );
    // On disk: at most the bound (plus meta.json).
    let used = disk(&env.path("state"));
    assert!(used <= 64 * 1024 + 1024, "{used} bytes in the spool");
    let (_, table, _) = secsh(&env, &d, "mallory", &["HOST", "--jobs"]);
    assert!(String::from_utf8_lossy(&table).contains("spool truncated"));
    // --attach gives the head and the tail, and says how much is missing.
    let (code, out, err) = secsh(&env, &d, "mallory", &["HOST", "--attach", &id]);
    assert_eq!(code, Some(0));
    assert_eq!(out.len() as u64 + dropped, total as u64);
    assert!(out.iter().all(|b| *b == 0));
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains(&format!("{dropped} bytes of the job's stdout")),
        "{err}"
    );
    // The record's hash covers every byte the command wrote.
    let ended = records(&env.audit_log(), "job_ended", &id);
    assert_eq!(ended[0]["stdout_blake3"], b3(&vec![0u8; total]));
    assert_eq!(ended[0]["dropped_bytes"], dropped);
    assert_eq!(ended[0]["stdout_bytes"], total);
}

#[test]
fn after_a_restart_a_running_job_is_lost_and_nothing_of_it_runs() {
    let env = Env::new();
    let jobs = env.path("state");
    let text = format!(
        "[users.mallory]\nkeys = [\"{}\"]\ncommands = [\"sleep\"]\ndetach = true\n\n[jobs]\ndir = \"{}\"\n",
        env.public_key(3),
        jobs.display()
    );
    let config = env.config(&text);
    let mut d = env.start(&config);
    let id = detach(&env, &d, "mallory", &["sleep", "302"]);
    let sleeping = || {
        ["/bin/sleep", "/usr/bin/sleep"]
            .iter()
            .any(|p| !pids_with_cmdline(format!("{p}\0302\0").as_bytes()).is_empty())
    };
    assert!(wait_until(Duration::from_secs(5), sleeping));
    // SIGKILL: no chance to record anything; the sentinel kills the group.
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(10), || !sleeping()));
    let d = env.start(&config);
    let j = job(&env, &d, "mallory", &id).expect("still listed");
    assert_eq!(j["state"], "lost");
    let (code, _, _) = secsh(&env, &d, "mallory", &["HOST", "--attach", &id]);
    assert_eq!(code, Some(128 + 9));
}

#[test]
fn finished_jobs_are_removed_after_keep_finished_secs() {
    let (env, d) = setup("keep_finished_secs = 1\n");
    let id = detach(&env, &d, "mallory", &["sleep", "0"]);
    wait_state(&env, &d, "mallory", &id, "exited");
    assert!(wait_until(Duration::from_secs(15), || job(
        &env, &d, "mallory", &id
    )
    .is_none()));
    assert!(wait_until(Duration::from_secs(2), || disk(
        &env.path("state")
    ) == 0));
}

#[test]
fn a_user_at_max_per_user_running_jobs_is_busy() {
    let (env, d) = setup("max_per_user = 2\n");
    let a = detach(&env, &d, "mallory", &["sleep", "30"]);
    let b = detach(&env, &d, "mallory", &["sleep", "31"]);
    let (code, _, err) = secsh(
        &env,
        &d,
        "mallory",
        &["--detach", "HOST", "--", "sleep", "32"],
    );
    assert_eq!(code, Some(250), "{}", String::from_utf8_lossy(&err));
    assert!(String::from_utf8_lossy(&err).contains("max_per_user"));
    secsh(&env, &d, "mallory", &["HOST", "--cancel", &a]);
    wait_state(&env, &d, "mallory", &a, "cancelled");
    // A finished job makes room: the oldest finished one goes.
    detach(&env, &d, "mallory", &["sleep", "0"]);
    assert!(job(&env, &d, "mallory", &a).is_none());
    secsh(&env, &d, "mallory", &["HOST", "--cancel", &b]);
}

#[test]
fn a_fleet_detaches_records_each_job_and_attaches_to_all_of_them() {
    let f = common::fleet::Fleet::start(3, 1);
    let dir = f.env.path("run1");
    let dir_s = dir.to_str().unwrap();
    let hosts = "127.0.0.[1-3]";
    let (code, _, err) =
        run(&mut f.secsh(&["--detach", "--out-dir", dir_s, hosts, "--", "echo", "hi"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    for i in 1..=3 {
        let id = std::fs::read_to_string(dir.join(format!("127.0.0.{i}.job"))).unwrap();
        assert_eq!(id.trim().len(), 12, "{id:?}");
    }
    let (code, out, err) = run(&mut f.secsh(&["--attach", dir_s, hosts]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let out = String::from_utf8(out).unwrap();
    for i in 1..=3 {
        assert!(out.contains(&format!("127.0.0.{i}: hi")), "{out}");
    }
    // A failing job: the usual fleet status and exit class.
    let dir2 = f.env.path("run2");
    let dir2_s = dir2.to_str().unwrap();
    let (code, _, _) = run(&mut f.secsh(&[
        "--detach",
        "--out-dir",
        dir2_s,
        hosts,
        "--",
        "/bin/sh",
        "-c",
        "exit 3",
    ]));
    assert_eq!(code, Some(0));
    let (code, _, err) = run(&mut f.secsh(&["--json", "--attach", dir2_s, hosts]));
    assert_eq!(code, Some(1), "{}", String::from_utf8_lossy(&err));
    // A host with no recorded job is not started.
    std::fs::remove_file(dir2.join("127.0.0.2.job")).unwrap();
    let (code, out, _) = run(&mut f.secsh(&["--json", "--attach", dir2_s, hosts]));
    assert_eq!(code, Some(3));
    assert!(String::from_utf8_lossy(&out).contains("not_started"));
}

#[test]
fn a_job_stopped_at_its_time_limit_attaches_as_timed_out() {
    let (env, d) = setup("");
    let args = ["--timeout", "1", "--detach", "HOST", "--", "sleep", "30"];
    let (code, out, _) = secsh(&env, &d, "mallory", &args);
    assert_eq!(code, Some(0));
    let id = String::from_utf8(out).unwrap().trim().to_string();
    wait_state(&env, &d, "mallory", &id, "timed_out");
    let (code, _, _) = secsh(&env, &d, "mallory", &["HOST", "--attach", &id]);
    assert_eq!(code, Some(252));
}

#[test]
fn a_reload_that_removes_the_user_stops_their_running_jobs() {
    let (env, d) = setup("");
    let id = detach(&env, &d, "mallory", &["sleep", "303"]);
    let config = env.path("secshd.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let without = text.replace("[users.mallory]", "[users.nobody-now]");
    common::write_config(&config, &without);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        records(&env.audit_log(), "job_ended", &id)
            .first()
            .is_some_and(|r| r["ended"] == "cancelled")
    }));
    let cancelled = records(&env.audit_log(), "job_cancelled", &id);
    assert_eq!(cancelled[0]["by"], "revoked");
}

#[test]
fn check_says_who_may_detach_what() {
    let env = Env::new();
    let text = format!(
        "[users.mallory]\nkeys = [\"{}\"]\ncommands = [\"sleep\"]\ndetach = true\n\n\
         [commands.later]\nargv = [\"/bin/true\"]\ndetach = true\n\n\
         [users.carol]\nkeys = [\"{}\"]\ncommands = [\"true\", \"later\"]\n",
        env.public_key(3),
        env.public_key(4)
    );
    let config = env.config(&text);
    let check = |user: &str| {
        let out = Command::new(common::SECSHD)
            .args(["check", "--config"])
            .arg(&config)
            .args(["--user", user, "--list"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(check("mallory").contains("mallory may start any of them as a detached job"));
    assert!(
        check("carol").contains("carol may start as detached jobs: later (their detach = true)")
    );
    assert!(!check("alice").contains("detach"));
}
