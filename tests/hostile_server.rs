//! A hostile server (a real certificate from the same CA) cannot drive the
//! operator's terminal: its denial and error messages, `--list` answers
//! and fleet reasons reach secsh's stderr with control characters escaped,
//! and host names from an inventory are shown escaped too. A command's own
//! output stays byte-exact (tests/exec.rs).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::Env;
use secsh::proto::{CommandInfo, ErrorCode, Message};
use secsh::transport::{FrameReader, FrameWriter};

const EVIL: &str = "<<E\u{1b}]0;PWNED\u{7}\u{1b}[2JE>>";

#[derive(Clone, Copy)]
enum Answer {
    Denied,
    Error,
    List,
}

/// Serve every connection: `auth_ok` to any `auth`, then `answer` with
/// hostile text to the first request.
async fn fake(env: &Env, answer: Answer) -> SocketAddr {
    let tls = secsh::tls::server_config(&env.path("pki/server.pem"), &env.path("pki/server.key"))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (rd, wr) = tokio::io::split(tls);
                let (mut rd, mut wr) = (FrameReader::new(rd), FrameWriter::new(wr));
                while let Ok(Some(f)) = rd.read_frame().await {
                    let reply = match (f.message, answer) {
                        (Message::Auth { user, .. }, _) => Message::AuthOk { user },
                        (Message::Exec { id, .. }, Answer::Denied) => Message::Denied {
                            id,
                            message: EVIL.into(),
                        },
                        (Message::Exec { id, .. }, Answer::Error) => Message::Error {
                            id: Some(id),
                            code: ErrorCode::ExecFailed,
                            message: EVIL.into(),
                            retry_after_ms: None,
                        },
                        (Message::List { id }, Answer::List) => Message::Commands {
                            id,
                            commands: vec![CommandInfo {
                                command: format!("c{EVIL}"),
                                template: format!("/bin/t {EVIL}"),
                                slots: vec![format!("s{EVIL}")],
                            }],
                        },
                        _ => continue,
                    };
                    if wr.send(&reply, &[]).await.is_err() || wr.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// stderr and stdout of `secsh ARGS` hold no raw ESC or BEL, and the
/// hostile text was shown (escaped).
fn shown_escaped(env: &Env, args: &[String], must_show: bool) {
    let mut cmd = std::process::Command::new(common::SECSH);
    cmd.arg("--cert")
        .arg(env.ca())
        .arg("-i")
        .arg(env.key_path("alice"))
        .arg("--batch")
        .args(args)
        .env("HOME", env.path("nohome"))
        .env_remove("SSH_AUTH_SOCK");
    let (code, out, err) = common::run(&mut cmd);
    let all = [out, err].concat();
    let text = String::from_utf8_lossy(&all);
    assert!(
        !all.contains(&0x1b) && !all.contains(&0x07),
        "raw control bytes reached the terminal ({args:?}, exit {code:?}): {text:?}"
    );
    if must_show {
        assert!(text.contains("PWNED"), "{args:?}: {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_servers_text_is_shown_escaped() {
    let env = Env::new();
    let denied = fake(&env, Answer::Denied).await;
    let error = fake(&env, Answer::Error).await;
    let list = fake(&env, Answer::List).await;
    let t = |a: SocketAddr| format!("alice@{a}");
    let env2 = Env::new();
    let inventory = env2.path("inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    \"ev\\e]0;PWNED\\ail\":\n      ansible_host: 127.0.0.1\n      secsh_port: {}\n      ansible_user: alice\n",
            denied.port()
        ),
    )
    .unwrap();
    let inv = inventory.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, bool)> = vec![
        (vec![t(denied), "--".into(), "/bin/true".into()], true),
        (vec![t(error), "--".into(), "/bin/true".into()], true),
        (vec!["--list".into(), t(list)], true),
        (
            vec![
                format!("{},{}", t(denied), t(error)),
                "--".into(),
                "/bin/true".into(),
            ],
            true,
        ),
        (
            vec![
                "--inventory".into(),
                inv.clone(),
                "@all".into(),
                "--".into(),
                "/bin/true".into(),
            ],
            true,
        ),
        (
            vec![
                "--inventory".into(),
                inv,
                "--list-hosts".into(),
                "@all".into(),
            ],
            true,
        ),
    ];
    tokio::task::spawn_blocking(move || {
        for (args, must_show) in cases {
            shown_escaped(&env, &args, must_show);
        }
    })
    .await
    .unwrap();
}
