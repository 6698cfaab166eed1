//! The audit log after real sessions: every event type with its fields,
//! argv recorded exactly, output hashes that match what the client got,
//! denials with their reason, the deny policy on an unwritable sink, and
//! reopening after logrotate moved the file.

mod common;

use std::time::Duration;

use common::{run, run_with_stdin, wait_until, Env};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// The audit records written so far, parsed.
fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Wait (at most 10 s) until a record matches `want`; all records then.
fn wait_for(path: &std::path::Path, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut all = Vec::new();
    let found = wait_until(Duration::from_secs(10), || {
        all = records(path);
        all.iter().any(&want)
    });
    assert!(found, "no such record in:\n{all:#?}");
    all
}

fn event<'a>(all: &'a [Value], name: &str) -> Vec<&'a Value> {
    all.iter().filter(|r| r["event"] == name).collect()
}

/// BLAKE3 of `data` as `b3sum` prints it.
fn hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

#[test]
fn a_session_leaves_every_event_with_its_fields() {
    let env = Env::new();
    // `say` takes any words, newlines included.
    let extra = format!(
        r#"
[users.quoter]
keys = ["{}"]
commands = ["say"]

[commands.say]
argv = ["echo", "{{words...}}"]
slots.words = {{ regex = "(?s).*", allow_dash = true }}
"#,
        env.public_key(3)
    );
    let d = env.start(&env.config(&extra));
    let log = env.audit_log();
    // Spaces, quotes, a newline, a tab, non-ASCII and an empty element.
    let words = ["a b", "\"quoted\" 'too'", "line\nbreak\ttab", "zäöü ✓", ""];
    let (code, out, err) = run_with_stdin(
        common::secsh_to(
            &env.ca(),
            Some(&env.key_path("mallory")),
            &format!("quoter@{}", d.addr),
        )
        .arg("--")
        .arg("echo")
        .args(words),
        std::process::Stdio::null(),
    );
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let (code, _, _) = run(env.secsh(&d, "bob").args(["--", "echo", "nope"]));
    assert_eq!(code, Some(253));
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0));
    let (code, _, _) = run(env.secsh(&d, "mallory").args(["--", "true"]));
    assert_eq!(code, Some(254));

    let all = wait_for(&log, |r| {
        r["event"] == "connection_closed" && r["user"] == Value::Null
    });
    let all = {
        // Four connections, each closed.
        let closed = || event(&records(&log), "connection_closed").len();
        assert!(wait_until(Duration::from_secs(10), || closed() >= 4));
        let _ = all;
        records(&log)
    };
    for r in &all {
        let t = r["time"].as_str().unwrap();
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[19] == b'.',
            "{t}"
        );
        assert!(r["conn"].as_u64().is_some() || r["event"] == "config_reloaded");
    }
    let accepted = event(&all, "connection_accepted");
    assert_eq!(accepted.len(), 4, "{all:#?}");
    assert!(accepted[0]["peer"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let ok = event(&all, "auth_ok");
    let alice_ok = ok.iter().find(|r| r["user"] == "quoter").unwrap();
    assert_eq!(alice_ok["method"], "key");
    let fp = common::key_from_seed(3)
        .public_key()
        .fingerprint(Default::default())
        .to_string();
    assert_eq!(alice_ok["key"], fp.as_str());
    assert!(fp.starts_with("SHA256:"));

    let started = event(&all, "exec_started");
    let s = started.iter().find(|r| r["user"] == "quoter").unwrap();
    let mut argv: Vec<String> = vec!["/usr/bin/echo".into()];
    argv.extend(words.iter().map(|w| w.to_string()));
    let recorded: Vec<String> = serde_json::from_value(s["argv"].clone()).unwrap();
    assert_eq!(recorded[1..], argv[1..], "argv round-trips exactly");
    assert!(recorded[0].ends_with("/echo"));
    assert_eq!(s["command"], "say");
    assert_eq!(s["method"], "key");
    assert_eq!(s["key"], fp.as_str());
    assert!(s["pid"].as_u64().unwrap() > 1);
    assert!(!s["run_as"].as_str().unwrap().is_empty());
    assert_eq!(s["conn"], alice_ok["conn"]);

    let finished = event(&all, "exec_finished");
    let f = finished.iter().find(|r| r["user"] == "quoter").unwrap();
    assert_eq!(f["exit_code"], 0);
    assert_eq!(f["signal"], Value::Null);
    assert_eq!(f["timed_out"], false);
    assert_eq!(f["pid"], s["pid"]);
    assert_eq!(f["id"], s["id"]);
    assert_eq!(f["stdout_bytes"], out.len() as u64);
    assert_eq!(
        f["stdout_blake3"],
        hex(&out).as_str(),
        "hash of what the client printed"
    );
    assert_eq!(f["stderr_bytes"], 0);
    // Plain, unkeyed BLAKE3, as `b3sum /dev/null` prints it.
    assert_eq!(
        f["stderr_blake3"],
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    assert!(f["duration_ms"].as_u64().is_some());
    assert_eq!(f["ended"], "exited");
    assert!(f["stdin_bytes"].as_u64().is_some());

    let denied = event(&all, "exec_denied");
    let dn = denied.iter().find(|r| r["user"] == "bob").unwrap();
    assert_eq!(dn["argv"], serde_json::json!(["echo", "nope"]));
    // bob's only rule runs another program: no closest rule, never an
    // unrelated one.
    assert_eq!(dn["closest"], Value::Null);
    assert!(
        dn["reason"]
            .as_str()
            .unwrap()
            .contains("no rule for program \"echo\""),
        "{dn}"
    );

    let failed = event(&all, "auth_failed");
    let fl = failed.iter().find(|r| r["user"] == "mallory").unwrap();
    assert_eq!(fl["method"], "key");
    assert!(
        fl["reason"].as_str().unwrap().contains("unknown user"),
        "{fl}"
    );

    let closed = event(&all, "connection_closed");
    assert!(closed.iter().any(|r| r["user"] == "quoter"));
    assert!(closed
        .iter()
        .all(|r| r["duration_ms"].as_u64().is_some() && r["reason"].is_string()));
    drop(d);
}

#[test]
fn stdin_bytes_and_binary_output_are_accounted() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let input = env.path("input");
    std::fs::write(&input, vec![7u8; 300_000]).unwrap();
    let (code, out, _) = run_with_stdin(
        env.secsh(&d, "alice").args(["--", "cat"]),
        std::fs::File::open(&input).unwrap(),
    );
    assert_eq!(code, Some(0));
    assert_eq!(out.len(), 300_000);
    let all = wait_for(&env.audit_log(), |r| r["event"] == "exec_finished");
    let f = event(&all, "exec_finished")[0];
    assert_eq!(f["stdin_bytes"], 300_000);
    assert_eq!(f["stdout_bytes"], 300_000);
    assert_eq!(f["stdout_blake3"], hex(&out).as_str());
}

#[test]
fn an_unwritable_audit_log_with_deny_refuses_commands() {
    let env = Env::new();
    let path = env.config("");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "path = \"audit.jsonl\"",
        "path = \"no/such/dir/audit.jsonl\"\non_failure = \"deny\"",
    );
    common::write_config(&path, &text);
    let d = env.start(&path);
    let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "echo", "unaudited"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(255), "{err}");
    assert!(out.is_empty(), "nothing ran");
    assert!(err.contains("cannot write its audit log"), "{err}");
    assert!(d.log().contains("audit log failing"), "{}", d.log());
}

#[test]
fn sighup_reopens_the_audit_log_after_logrotate() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let log = env.audit_log();
    assert_eq!(run(env.secsh(&d, "alice").args(["--", "true"])).0, Some(0));
    wait_for(&log, |r| r["event"] == "connection_closed");
    let rotated = env.path("audit.jsonl.1");
    std::fs::rename(&log, &rotated).unwrap();
    kill(Pid::from_raw(d.pid() as i32), Signal::SIGHUP).unwrap();
    let all = wait_for(&log, |r| r["event"] == "config_reloaded");
    assert_eq!(event(&all, "config_reloaded")[0]["ok"], true);
    assert_eq!(
        run(env.secsh(&d, "alice").args(["--", "echo", "after"])).0,
        Some(0)
    );
    let all = wait_for(&log, |r| r["event"] == "exec_finished");
    assert!(event(&all, "exec_started")[0]["argv"][1] == "after");
    let old = records(&rotated);
    assert!(event(&old, "exec_finished").len() == 1, "{old:#?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_clean_shutdown_loses_no_record() {
    let env = Env::new();
    let mut d = env.start(&env.config(""));
    for i in 0..20 {
        let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "echo", &i.to_string()]));
        assert_eq!(code, Some(0));
    }
    kill(Pid::from_raw(d.pid() as i32), Signal::SIGTERM).unwrap();
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let all = records(&env.audit_log());
    assert_eq!(event(&all, "exec_finished").len(), 20);
    assert_eq!(event(&all, "connection_closed").len(), 20);
}
