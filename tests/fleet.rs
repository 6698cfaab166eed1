//! Fleet runs end to end: one secshd on many loopback addresses, one
//! `secsh` call across them. Statuses and the several-host exit codes,
//! JSON Lines, --out-dir and a rerun of the failed hosts, --group, line
//! output that never splits a line, --timeout and --deadline killing the
//! remote process groups, --max-errors, --script, inventories and the
//! client configuration, and 1,000 hosts in bounded client memory.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::fleet::{sleeps, Fleet};
use common::{run, wait_until};

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn statuses(objs: &[serde_json::Value]) -> Vec<(String, String)> {
    objs.iter()
        .filter(|o| o.get("host").is_some())
        .map(|o| {
            (
                o["host"].as_str().unwrap().to_string(),
                o["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn statuses_exit_codes_and_json() {
    let f = Fleet::start(4, 1);
    // 127.0.0.250 has no listener: unreachable, and 4 wins.
    let (code, out, err) =
        run(&mut f.secsh(&["--json", "127.0.0.[1-3],127.0.0.250", "--", "echo", "hello"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(4), "{err}");
    let objs = json_lines(&out);
    let want: Vec<(String, String)> = [
        ("127.0.0.1", "ok"),
        ("127.0.0.2", "ok"),
        ("127.0.0.3", "ok"),
        ("127.0.0.250", "unreachable"),
    ]
    .iter()
    .map(|(h, s)| (h.to_string(), s.to_string()))
    .collect();
    // One object per host as it ends, so in any order.
    let mut got = statuses(&objs);
    got.sort_by_key(|(h, _)| h.rsplit('.').next().unwrap().parse::<u32>().unwrap());
    assert_eq!(got, want);
    let ok: Vec<_> = objs.iter().filter(|o| o["status"] == "ok").collect();
    assert_eq!(ok.len(), 3);
    assert!(ok
        .iter()
        .all(|o| o["stdout"] == "hello\n" && o["exit_code"] == 0));
    let summary = &objs.last().unwrap()["summary"];
    assert_eq!(
        (summary["hosts"].as_u64(), summary["exit_code"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(summary["failed"], serde_json::json!(["127.0.0.250"]));
    assert!(err.contains("4 hosts: 3 ok, 1 unreachable"), "{err}");
    assert!(
        err.contains("failed hosts: 127.0.0.250 (unreachable)"),
        "{err}"
    );
    // Each status class and its exit code.
    let cases: &[(&[&str], i32, &str)] = &[
        (&["/bin/rm", "-rf", "/nothing"], 5, "denied"),
        (&["/bin/sh", "-c", "exit 3"], 1, "failed"),
        (&["/bin/sh", "-c", "kill -TERM $$"], 1, "signalled"),
        (&["true"], 0, "ok"),
    ];
    for (argv, want, status) in cases {
        let mut args = vec!["--json", "127.0.0.[1-2]", "--"];
        args.extend_from_slice(argv);
        let (code, out, _) = run(&mut f.secsh(&args));
        assert_eq!(code, Some(*want), "{argv:?}");
        let objs = json_lines(&out);
        assert!(objs[..2].iter().all(|o| o["status"] == *status), "{objs:?}");
        if *status == "failed" {
            assert!(objs[..2].iter().all(|o| o["exit_code"] == 3));
        }
        if *status == "signalled" {
            assert!(objs[..2].iter().all(|o| o["signal"] == 15));
        }
    }
    // Unreachable beats denied.
    let (code, ..) = run(&mut f.secsh(&["127.0.0.1,127.0.0.250", "--", "/bin/rm", "x"]));
    assert_eq!(code, Some(4));
    // A key the server does not know: auth_failed, exit 4.
    let (code, out, _) =
        run(&mut f.secsh_key("mallory", &["--json", "127.0.0.[1-2]", "--", "true"]));
    assert_eq!(code, Some(4));
    assert!(json_lines(&out)[..2]
        .iter()
        .all(|o| o["status"] == "auth_failed"));
}

#[test]
fn line_output_group_out_dir_and_rerun() {
    let f = Fleet::start(3, 1);
    // Lines are whole and labelled, even when they arrive in pieces; a
    // last line without a newline still gets its label.
    let partial = "printf 'a'; sleep 0.2; printf 'b\\nc'";
    let (code, out, _) = run(&mut f.secsh(&["127.0.0.[1-3]", "--", "/bin/sh", "-c", partial]));
    assert_eq!(code, Some(0));
    let text = String::from_utf8_lossy(&out);
    for i in 1..=3 {
        assert!(
            text.contains(&format!("127.0.0.{i}: ab\n127.0.0.{i}: c\n")) || {
                let lines: Vec<&str> = text.lines().collect();
                lines.contains(&format!("127.0.0.{i}: ab").as_str())
                    && lines.contains(&format!("127.0.0.{i}: c").as_str())
            },
            "{text}"
        );
    }
    assert_eq!(text.lines().count(), 6, "{text}");
    // --group: one block for identical output.
    let (code, out, _) = run(&mut f.secsh(&["--group", "127.0.0.[1-3]", "--", "echo", "same"]));
    assert_eq!(code, Some(0));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("same").count(), 1, "{text}");
    assert!(
        text.contains("127.0.0.1,127.0.0.2,127.0.0.3 (3 hosts): ok"),
        "{text}"
    );
    // --out-dir, then a rerun of the failed host only.
    let dir = f.env.path("out");
    let (code, ..) = run(&mut f.secsh(&[
        "--out-dir",
        dir.to_str().unwrap(),
        "127.0.0.[1-3],127.0.0.251",
        "--",
        "echo",
        "hi",
    ]));
    assert_eq!(code, Some(4));
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    assert_eq!(read("hosts.ok"), "127.0.0.1\n127.0.0.2\n127.0.0.3\n");
    assert_eq!(read("hosts.failed"), "127.0.0.251\n");
    assert_eq!(read("127.0.0.2.stdout"), "hi\n");
    assert_eq!(read("127.0.0.2.stderr"), "");
    let status: serde_json::Value = serde_json::from_str(&read("127.0.0.251.status")).unwrap();
    assert_eq!(status["status"], "unreachable");
    let failed = dir.join("hosts.failed");
    let (code, out, err) = run(&mut f.secsh(&["-H", failed.to_str().unwrap(), "--", "echo", "hi"]));
    assert_eq!(code, Some(4), "one failed host is still a fleet run");
    assert!(out.is_empty());
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("1 host: 0 ok, 1 unreachable"), "{err}");
    // --list-hosts, exclusions, and zero hosts.
    let (code, out, _) = run(&mut f.secsh(&["--list-hosts", "-x", "127.0.0.2", "127.0.0.[1-3,7]"]));
    assert_eq!(code, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "127.0.0.1\n127.0.0.3\n127.0.0.7\n"
    );
    let empty = f.env.path("empty.txt");
    std::fs::write(&empty, "# nobody\n\n").unwrap();
    let (code, ..) = run(&mut f.secsh(&["-H", empty.to_str().unwrap(), "--", "true"]));
    assert_eq!(code, Some(2));
}

#[test]
fn timeout_and_deadline_stop_the_remote_process_groups() {
    let f = Fleet::start(3, 1);
    let t = Instant::now();
    let (code, out, _) = run(&mut f.secsh(&[
        "--json",
        "--timeout",
        "1",
        "127.0.0.[1-3]",
        "--",
        "sleep",
        "97",
    ]));
    assert_eq!(code, Some(3));
    assert!(t.elapsed() < Duration::from_secs(8));
    assert!(json_lines(&out)[..3]
        .iter()
        .all(|o| o["status"] == "timed_out"));
    assert!(wait_until(Duration::from_secs(5), || sleeps("97").is_empty()));
    let t = Instant::now();
    let (code, out, _) = run(&mut f.secsh(&[
        "--json",
        "--deadline",
        "1s",
        "127.0.0.[1-3]",
        "--",
        "sleep",
        "98",
    ]));
    assert_eq!(code, Some(3));
    assert!(t.elapsed() < Duration::from_secs(8));
    assert!(json_lines(&out)[..3]
        .iter()
        .all(|o| o["status"] == "cancelled"));
    assert!(wait_until(Duration::from_secs(5), || sleeps("98").is_empty()));
}

#[test]
fn max_errors_batches_and_scripts() {
    let f = Fleet::start(2, 1);
    // Nothing listens on .241-.248: after more than 2 failures the rest
    // never start.
    let (code, out, _) = run(&mut f.secsh(&[
        "--json",
        "--parallel",
        "1",
        "--max-errors",
        "2",
        "127.0.0.[241-248]",
        "--",
        "true",
    ]));
    assert_eq!(code, Some(4));
    let st: Vec<String> = statuses(&json_lines(&out))
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        st.iter().filter(|s| *s == "unreachable").count(),
        3,
        "{st:?}"
    );
    assert_eq!(
        st.iter().filter(|s| *s == "not_started").count(),
        5,
        "{st:?}"
    );
    let (code, ..) = run(&mut f.secsh(&["--batch-size", "1", "127.0.0.[1-2]", "--", "true"]));
    assert_eq!(code, Some(0));
    // --script: stop at the first failure, or keep going.
    let script = f.env.path("script.txt");
    std::fs::write(
        &script,
        "# steps\necho one\n/bin/sh -c 'exit 3'\necho 'two words'\n",
    )
    .unwrap();
    let (code, out, _) =
        run(&mut f.secsh(&["--script", script.to_str().unwrap(), "127.0.0.[1-2]"]));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, Some(1));
    assert_eq!(
        (
            text.matches(": one").count(),
            text.matches("two words").count()
        ),
        (2, 0),
        "{text}"
    );
    let (code, out, _) = run(&mut f.secsh(&[
        "--script",
        script.to_str().unwrap(),
        "--keep-going",
        "127.0.0.[1-2]",
    ]));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, Some(1), "the host's status is its worst command's");
    assert_eq!(text.matches(": two words").count(), 2, "{text}");
}

#[test]
fn inventories_and_the_client_configuration() {
    let f = Fleet::start(3, 1);
    let ini = f.env.path("inv.ini");
    std::fs::write(
        &ini,
        format!(
            "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.2\n[api]\napi1 ansible_host=127.0.0.3 secsh_port={} ansible_user=alice\n[prod:children]\nweb\napi\n",
            f.port
        ),
    )
    .unwrap();
    let (code, out, _) = run(&mut f.secsh(&[
        "--inventory",
        ini.to_str().unwrap(),
        "@prod",
        "--",
        "echo",
        "hi",
    ]));
    assert_eq!(code, Some(0));
    let mut lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(lines, ["api1: hi", "web1: hi", "web2: hi"]);
    let yml = f.env.path("inv.yml");
    std::fs::write(&yml, "all:\n  children:\n    web:\n      hosts:\n        web1:\n          ansible_host: 127.0.0.1\n        web2:\n          ansible_host: 127.0.0.2\n").unwrap();
    let (code, out, _) = run(&mut f.secsh(&[
        "--inventory",
        yml.to_str().unwrap(),
        "@web",
        "-x",
        "web2",
        "--",
        "echo",
        "hi",
    ]));
    assert_eq!(code, Some(0));
    assert_eq!(String::from_utf8_lossy(&out), "web1: hi\n");
    // A client configuration: no --cert, -i, -l or -p on the command line.
    let cfg_dir = f.env.path("home/.config/secsh");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.toml"),
        format!(
            "[defaults]\nuser = \"alice\"\nport = {}\ncert = \"{}\"\nidentity = \"{}\"\n[groups]\npair = [\"127.0.0.[1-2]\"]\n",
            f.port,
            f.ca.display(),
            f.env.key_path("alice").display()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(common::SECSH);
    cmd.args(["@pair", "--", "echo", "hi"])
        .env("HOME", f.env.path("home"))
        .env_remove("USER")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SECSH_CERT");
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(String::from_utf8_lossy(&out).lines().count(), 2);
    // A bad key in it is an error with its position.
    std::fs::write(cfg_dir.join("config.toml"), "[defaults]\nusr = 1\n").unwrap();
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, Some(2));
    assert!(String::from_utf8_lossy(&err).contains("config.toml:2:1: unknown field `usr`"));
}

#[test]
fn a_thousand_hosts_in_bounded_client_memory() {
    // 250 addresses x 4 ports: 1,000 distinct targets on one daemon.
    let f = Fleet::start(250, 4);
    let hosts: String = f
        .ports
        .iter()
        .map(|p| format!("127.0.0.[1-250]:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let (code, _, err) = run(&mut f.secsh(&["--parallel", "64", &hosts, "--", "true"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(0), "{}", &err[err.len().saturating_sub(600)..]);
    assert!(err.contains("1000 hosts: 1000 ok"), "{err}");
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    assert!(
        usage.max_rss() < 200 * 1024,
        "a child peaked at {} KiB",
        usage.max_rss()
    );
}

/// `cmd` with `RLIMIT_NOFILE` set to (`soft`, `hard`) in the child.
fn with_nofile(cmd: &mut Command, soft: u64, hard: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec here.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
                .map_err(std::io::Error::from)
        });
    }
}

#[test]
fn a_low_descriptor_limit_is_raised_or_worked_within() {
    let f = Fleet::start(200, 1);
    let hosts = format!("127.0.0.[1-200]:{}", f.port);
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    // Soft 40 (hard as it is): 150 hosts at once need far more; secsh
    // raises its own soft limit.
    if hard >= 1024 {
        let mut cmd = f.secsh(&["--parallel", "150", &hosts, "--", "true"]);
        with_nofile(&mut cmd, 40, hard);
        let (code, _, err) = run(&mut cmd);
        let err = String::from_utf8_lossy(&err);
        assert_eq!(code, Some(0), "{}", &err[err.len().saturating_sub(600)..]);
        assert!(err.contains("200 hosts: 200 ok"), "{err}");
        assert!(!err.contains("hosts at once"), "{err}");
    }
    // Hard 100: it cannot; it runs fewer at once, says so, and every host
    // still runs.
    let mut cmd = f.secsh(&["--parallel", "150", &hosts, "--", "true"]);
    with_nofile(&mut cmd, 100, 100);
    let (code, _, err) = run(&mut cmd);
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(0), "{}", &err[err.len().saturating_sub(600)..]);
    assert!(err.contains("200 hosts: 200 ok"), "{err}");
    assert!(err.contains("running 12 hosts at once"), "{err}");
}
