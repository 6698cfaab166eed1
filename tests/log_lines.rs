//! The daemon's log cannot be forged: text a peer controls (a path in a
//! get or put, a user name, an argv) that holds a newline and a made-up
//! record never starts a line of its own. A `get` of a missing file named
//! "x\n<date> INFO authenticated ... user=root" once wrote exactly that
//! line.

mod common;

use common::files::{cli, remote, Roots};
use common::raw::Raw;
use common::{run, run_with_stdin, wait_until, Env};
use secsh::proto::{AuthMethod, Message, Secret};
use std::time::Duration;

/// A peer-controlled text that, written raw, starts a log line with
/// "2099-01-NN".
fn forged(n: u8) -> String {
    format!(
        "zq{n:02}\n2099-01-{n:02}T00:00:00.000000Z  INFO authenticated peer=10.9.9.9:1 user=root"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_text_never_starts_a_log_line() {
    let env = Env::new();
    let r = Roots::new(&env);
    let d = env.start(&r.config(&env, "[penalties]\nexempt = [\"127.0.0.0/8\"]\n"));
    let missing = r.up.join(forged(1));
    let out = r.local.join("out");
    let (code, _, _) = run(&mut cli(
        &env,
        &d,
        "alice",
        "get",
        &[&remote(&missing), out.to_str().unwrap()],
    ));
    assert_ne!(code, Some(0));
    let src = r.local.join("src");
    std::fs::write(&src, b"hello\n").unwrap();
    let (code, _, _) = run_with_stdin(
        &mut cli(
            &env,
            &d,
            "alice",
            "put",
            &["-", &remote(&r.up.join(forged(2)))],
        ),
        std::fs::File::open(&src).unwrap(),
    );
    assert_eq!(code, Some(0), "a newline is a legal file name character");
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "/bin/sh", &forged(3)]));
    assert_eq!(code, Some(253));
    let mut raw = Raw::connect(d.addr, &env.ca()).await;
    raw.send(Message::Auth {
        user: forged(4),
        method: AuthMethod::Password,
        signature: None,
        password: Some(Secret::new("x".into())),
        certificate: None,
    })
    .await;
    let _ = raw.next().await;
    drop(raw);
    // The last of them is logged by the time the user name is.
    assert!(wait_until(Duration::from_secs(10), || d
        .log()
        .contains("zq04")));
    let log = d.log();
    for n in 1..=4 {
        assert!(
            log.contains(&format!("zq{n:02}")),
            "attack {n} was not logged"
        );
    }
    let bad: Vec<&str> = log.lines().filter(|l| l.starts_with("2099-")).collect();
    assert!(bad.is_empty(), "forged log lines: {bad:?}\n{log}");
}
