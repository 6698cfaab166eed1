//! Key authentication over real TLS: wrong key, unknown user, replayed
//! signatures, OpenSSH interoperability in both directions, ssh-agent.

mod common;

use std::process::Command;

use common::raw::{sign, Raw};
use common::{key_from_seed, run, Env};
use secsh::proto::{ErrorCode, Message};

fn has_ssh_keygen() -> bool {
    Command::new("ssh-keygen").arg("-?").output().is_ok()
}

#[test]
fn wrong_key_and_unknown_user_exit_254() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    // mallory's key presented as alice.
    let (code, _, err) = run(env.secsh(&d, "mallory").args(["-l", "alice", "--", "true"]));
    assert_eq!(code, Some(254), "{}", String::from_utf8_lossy(&err));
    assert!(String::from_utf8_lossy(&err).contains("authentication failed"));
    // unknown user with a valid signature.
    let (code, _, _) = run(env.secsh(&d, "mallory").args(["--", "true"]));
    assert_eq!(code, Some(254));
    // bob's key is only bob's.
    let (code, _, _) = run(env.secsh(&d, "bob").args(["-l", "alice", "--", "true"]));
    assert_eq!(code, Some(254));
    let (code, _, _) = run(env.secsh(&d, "bob").args(["--", "true"]));
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn signature_replayed_on_another_connection_fails() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let alice = key_from_seed(1);
    let mut a = Raw::connect(d.addr, &env.ca()).await;
    let mut b = Raw::connect(d.addr, &env.ca()).await;
    assert_ne!(a.exporter, b.exporter);
    let sig_a = sign(&alice, "alice", &a.exporter);
    b.auth("alice", sig_a.clone()).await;
    match b.next().await.map(|f| f.message) {
        Some(Message::AuthContinue { partial, .. }) => assert!(!partial),
        other => panic!("replay accepted: {other:?}"),
    }
    // Two more tries (max_auth_tries = 3), then the connection closes.
    b.auth("alice", sig_a.clone()).await;
    assert!(matches!(
        b.next().await.map(|f| f.message),
        Some(Message::AuthContinue { .. })
    ));
    b.auth("alice", sig_a.clone()).await;
    match b.next().await.map(|f| f.message) {
        Some(Message::Error { code, .. }) => assert_eq!(code, ErrorCode::AuthFailed),
        other => panic!("third failure not fatal: {other:?}"),
    }
    assert!(
        b.next().await.is_none(),
        "connection should close after the last failed attempt"
    );
    // The same signature on its own connection is fine.
    a.auth("alice", sig_a).await;
    assert!(matches!(
        a.next().await.map(|f| f.message),
        Some(Message::AuthOk { .. })
    ));
}

#[tokio::test]
async fn ssh_keygen_signature_is_accepted() {
    if !has_ssh_keygen() {
        panic!("ssh-keygen (openssh-client) is required for the interop test");
    }
    let env = Env::new();
    let d = env.start(&env.config(""));
    let mut c = Raw::connect(d.addr, &env.ca()).await;
    let msg_path = env.path("msg");
    std::fs::write(
        &msg_path,
        secsh::auth::signing_message("alice", &c.exporter),
    )
    .unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "secsh-auth", "-f"])
        .arg(env.key_path("alice"))
        .arg(&msg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig = std::fs::read_to_string(env.path("msg.sig")).unwrap();
    c.auth("alice", sig).await;
    assert!(matches!(
        c.next().await.map(|f| f.message),
        Some(Message::AuthOk { .. })
    ));
    c.send(Message::Exec {
        id: 5,
        argv: vec!["echo".into(), "interop".into()],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    })
    .await;
    let mut stdout = Vec::new();
    loop {
        let f = c.next().await.expect("frame");
        match f.message {
            Message::Data { id: 5, .. } => stdout.extend_from_slice(&f.body),
            Message::Exit { id: 5, code, .. } => {
                assert_eq!(code, Some(0));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(stdout, b"interop\n");
}

#[test]
fn our_signature_verifies_with_ssh_keygen() {
    if !has_ssh_keygen() {
        panic!("ssh-keygen (openssh-client) is required for the interop test");
    }
    let env = Env::new();
    let exporter = [0x5a; 32];
    let msg = secsh::auth::signing_message("alice", &exporter);
    std::fs::write(env.path("msg"), &msg).unwrap();
    std::fs::write(
        env.path("msg.sig"),
        sign(&key_from_seed(1), "alice", &exporter),
    )
    .unwrap();
    std::fs::write(
        env.path("allowed"),
        format!("alice {}\n", env.public_key(1)),
    )
    .unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "secsh-auth", "-I", "alice", "-f"])
        .arg(env.path("allowed"))
        .arg("-s")
        .arg(env.path("msg.sig"))
        .stdin(std::fs::File::open(env.path("msg")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Good \"secsh-auth\" signature"));
}

#[test]
fn ssh_agent_identity_is_used_without_dash_i() {
    let Ok(agent) = Command::new("ssh-agent").arg("-s").output() else {
        panic!("ssh-agent (openssh-client) is required");
    };
    let text = String::from_utf8_lossy(&agent.stdout).to_string();
    let field = |name: &str| {
        text.split(&format!("{name}="))
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap()
            .to_string()
    };
    let (sock, pid) = (field("SSH_AUTH_SOCK"), field("SSH_AGENT_PID"));
    let env = Env::new();
    let d = env.start(&env.config(""));
    let add = Command::new("ssh-add")
        .arg(env.key_path("alice"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        let (code, out, err) = run(
            common::secsh_to(&env.ca(), None, &format!("alice@{}", d.addr))
                .args(["--", "echo", "via-agent"])
                .env("SSH_AUTH_SOCK", &sock)
                .env("HOME", env.path("nohome")),
        );
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
        assert_eq!(out, b"via-agent\n");
    });
    let _ = Command::new("kill").arg(&pid).status();
    result.unwrap();
}

#[test]
fn missing_identity_is_a_clear_error() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, _, err) = run(
        common::secsh_to(&env.ca(), None, &format!("alice@{}", d.addr))
            .args(["--", "true"])
            .env_remove("SSH_AUTH_SOCK")
            .env("HOME", env.path("nohome")),
    );
    assert_eq!(code, Some(255));
    let err = String::from_utf8_lossy(&err);
    assert!(err.starts_with("secsh: identity:"), "{err}");
}

#[test]
fn passphrase_key_without_terminal_is_a_clear_error() {
    if !has_ssh_keygen() {
        panic!("ssh-keygen (openssh-client) is required");
    }
    let env = Env::new();
    let d = env.start(&env.config(""));
    let key = env.path("locked");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, _, err) = run(
        common::secsh_to(&env.ca(), Some(&key), &format!("alice@{}", d.addr)).args(["--", "true"]),
    );
    assert_eq!(code, Some(255));
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("passphrase-protected"), "{err}");
}

#[test]
fn missing_user_is_a_usage_error() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, _, err) =
        run(
            common::secsh_to(&env.ca(), Some(&env.key_path("alice")), &d.addr.to_string())
                .args(["--", "true"])
                .env_remove("USER"),
        );
    assert_eq!(code, Some(2));
    assert!(String::from_utf8_lossy(&err).contains("no user"));
    let (code, _, _) =
        run(
            common::secsh_to(&env.ca(), Some(&env.key_path("alice")), &d.addr.to_string())
                .args(["--", "true"])
                .env("USER", "alice"),
        );
    assert_eq!(code, Some(0), "$USER is the default user");
}
