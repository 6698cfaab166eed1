//! Faithful exec over real TLS: exit codes, signals, byte-exact separate
//! streams, bulk stdin, early close, output before exit.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

use common::{run, Env};

#[test]
fn exit_codes_round_trip() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    for (script, want) in [("exit 0", 0), ("exit 1", 1), ("exit 3", 3)] {
        let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "/bin/sh", "-c", script]));
        assert_eq!(
            code,
            Some(want),
            "{script}: {}",
            String::from_utf8_lossy(&err)
        );
    }
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0));
}

#[test]
fn killed_by_signal_is_distinct() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, _, _) = run(env
        .secsh(&d, "alice")
        .args(["--", "sh", "-c", "kill -TERM $$"]));
    assert_eq!(code, Some(128 + 15));
    let (code, _, _) = run(env
        .secsh(&d, "alice")
        .args(["--", "sh", "-c", "kill -KILL $$"]));
    assert_eq!(code, Some(128 + 9));
}

#[test]
fn stdout_and_stderr_are_separate_and_byte_exact() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let script = "printf 'o\\000\\377\\n'; printf 'e\\001\\376' >&2";
    let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "/bin/sh", "-c", script]));
    assert_eq!(code, Some(0));
    assert_eq!(out, b"o\x00\xff\n");
    assert_eq!(err, b"e\x01\xfe");
    let (_, out, _) = run(env
        .secsh(&d, "alice")
        .args(["--", "echo", "-n", "a  b", "\tc"]));
    assert_eq!(out, b"a  b \tc");
}

#[test]
fn late_stderr_after_stdout_closed_arrives_before_exit() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let script = "echo out; exec 1>&-; sleep 0.3; echo late-err >&2";
    let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "/bin/sh", "-c", script]));
    assert_eq!(code, Some(0));
    assert_eq!(out, b"out\n");
    assert_eq!(err, b"late-err\n");
}

#[test]
fn binary_file_through_path_slot_is_identical() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let file = env.jail().join("blob.bin");
    std::fs::write(&file, &data).unwrap();
    let (code, out, _) = run(env.secsh(&d, "alice").args(["--", "cat"]).arg(&file));
    assert_eq!(code, Some(0));
    assert!(
        out == data,
        "output differs ({} vs {} bytes)",
        out.len(),
        data.len()
    );
}

#[test]
fn fifty_megabytes_through_stdin_cat_stdout() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let data: Vec<u8> = (0..50_000_000u64)
        .map(|i| (i.wrapping_mul(0x9E3779B97F4A7C15) >> 56) as u8)
        .collect();
    let mut child = env
        .secsh(&d, "alice")
        .args(["--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = Vec::with_capacity(data.len());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(out.len(), data.len());
    assert!(out == data, "50 MB round trip differs");
}

#[test]
fn yes_into_head_closes_early_with_exact_output() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut yes = std::process::Command::new("yes")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = env
        .secsh(&d, "alice")
        .args(["--", "head", "-n", "2000"])
        .stdin(yes.stdout.take().unwrap())
        .output()
        .unwrap();
    let _ = yes.kill();
    let _ = yes.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, "y\n".repeat(2000).into_bytes());
}

#[test]
fn remote_yes_cut_by_local_head() {
    // Our stdout closes early (`secsh host yes | head`): the remote command
    // is stopped and the client exits instead of running forever.
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut client = env
        .secsh(&d, "alice")
        .args(["-n", "--", "yes"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = client.stdout.take().unwrap();
    let mut first = [0u8; 4];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"y\ny\n");
    drop(stdout);
    let done = common::wait_until(std::time::Duration::from_secs(10), || {
        client.try_wait().unwrap().is_some()
    });
    assert!(done, "client kept running after its stdout closed");
}

#[test]
fn no_stdin_flag_gives_dev_null() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let out = env
        .secsh(&d, "alice")
        .args(["-n", "--", "cat"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn all_output_arrives_before_exit_for_large_output() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, out, _) =
        run(env
            .secsh(&d, "alice")
            .args(["--", "head", "-c", "20000000", "/dev/zero"]));
    assert_eq!(code, Some(0));
    assert_eq!(out.len(), 20_000_000);
    assert!(out.iter().all(|b| *b == 0));
}

#[test]
fn server_timeout_kills_and_exits_252() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let start = std::time::Instant::now();
    let (code, _, _) = run(env
        .secsh(&d, "alice")
        .args(["--timeout", "1", "--", "sleep", "30"]));
    assert_eq!(code, Some(252));
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
}

#[test]
fn run_as_switches_account_when_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: run_as needs a root daemon");
        return;
    }
    let env = Env::new();
    let config = env.config("");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[users.bob]", "run_as = \"nobody\"\n\n[users.bob]");
    common::write_config(&config, &text);
    let d = env.start(&config);
    let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "id", "-u"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        nobody.uid.to_string()
    );
}

#[test]
fn an_argument_that_is_not_utf8_is_refused_not_altered() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let d = env.start(&env.config(""));
    let bad = std::ffi::OsStr::from_bytes(b"a\xffb");
    let (code, out, err) = run(env.secsh(&d, "alice").args(["-n", "--", "echo"]).arg(bad));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        out.is_empty(),
        "nothing ran: {}",
        String::from_utf8_lossy(&out)
    );
    assert!(err.contains("not valid UTF-8"), "{err}");
    let audit = std::fs::read_to_string(env.audit_log()).unwrap_or_default();
    assert!(!audit.contains("exec_started"), "{audit}");
}
