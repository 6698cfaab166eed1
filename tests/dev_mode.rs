//! `secshd --dev`: creates its state once, prints client lines that work
//! as printed, and reuses the state on the next start.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Daemon;

const PREFIX: &str = "cargo run --release --bin secsh -- ";

/// The argv of a printed client line, with the built binary in place of
/// `cargo run`.
fn client_args(line: &str) -> Vec<String> {
    let cmd = line.split(PREFIX).nth(1).expect("printed line runs secsh");
    let cmd = cmd.split('#').next().unwrap();
    cmd.split_whitespace().map(str::to_string).collect()
}

fn start_dev(state: &std::path::Path) -> (Daemon, Vec<String>) {
    let mut d = Daemon::start(&[
        "--dev".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--state-dir".into(),
        state.into(),
    ]);
    let stdout = d.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let done = line.contains("target/release/secsh is the same client");
        lines.push(line);
        if done {
            break;
        }
    }
    (d, lines)
}

#[test]
fn dev_mode_prints_working_commands_and_reuses_state() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("dev");
    let (d, lines) = start_dev(&state);
    let runnable: Vec<&String> = lines.iter().filter(|l| l.contains(PREFIX)).collect();
    assert!(runnable.len() >= 7, "printed: {lines:#?}");
    // The put comes before the get that fetches the same file.
    let put = runnable.iter().position(|l| l.contains(" put "));
    let get = runnable.iter().position(|l| l.contains(" get "));
    assert!(put.is_some() && put < get, "printed: {lines:#?}");
    for line in &runnable {
        let args = client_args(line);
        let mut cmd = Command::new(common::SECSH);
        cmd.args(&args)
            .env_remove("SSH_AUTH_SOCK")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let piped = line.trim_start().starts_with("echo '");
        cmd.stdin(if piped { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().unwrap();
        if piped {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"piped through the server\n")
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if line.contains("rm -rf /") {
            assert_eq!(out.status.code(), Some(253), "{line}: {err}");
        } else if line.contains(" put ") {
            // Run in the package root: README.md lands in the files root.
            assert_eq!(out.status.code(), Some(0), "{line}: {err}");
            assert_eq!(
                std::fs::read(state.join("files/README.md")).unwrap(),
                std::fs::read("README.md").unwrap()
            );
        } else {
            assert_eq!(out.status.code(), Some(0), "{line}: {err}");
            assert!(!out.stdout.is_empty(), "{line} printed nothing");
        }
        if piped {
            assert_eq!(out.stdout, b"piped through the server\n");
        }
    }
    let ca = std::fs::read(state.join("ca.pem")).unwrap();
    let key = std::fs::read(state.join("id_ed25519")).unwrap();
    drop(d);
    let (_d2, lines2) = start_dev(&state);
    assert!(lines2.iter().any(|l| l.contains(PREFIX)));
    assert_eq!(
        std::fs::read(state.join("ca.pem")).unwrap(),
        ca,
        "CA was regenerated"
    );
    assert_eq!(
        std::fs::read(state.join("id_ed25519")).unwrap(),
        key,
        "key was regenerated"
    );
}
