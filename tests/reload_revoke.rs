//! A reload reaches open connections: a user it removes, or one whose key
//! it removes, loses their connection, and their running commands are
//! stopped after `[exec] revoke_grace_ms`; a password user it removes
//! runs nothing more; a user it leaves alone is not touched.

mod common;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::raw::Raw;
use common::{alive, wait_timeout, wait_until, write_config, Env};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use secsh::proto::{AuthMethod, Message, Secret};

fn started_pids(env: &Env) -> HashMap<String, i32> {
    let text = std::fs::read_to_string(env.audit_log()).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "exec_started" {
            let user = v["user"].as_str().unwrap().to_string();
            out.insert(user, v["pid"].as_i64().unwrap() as i32);
        }
    }
    out
}

fn records(env: &Env, event: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(env.audit_log()).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == event)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_revokes_removed_users_and_keys_on_open_connections() {
    let env = Env::new();
    let phc = secsh::auth::hash_password(b"pw").unwrap();
    let both = format!("\"{}\", \"{}\"", env.public_key(3), env.public_key(4));
    let path = env.config(&format!(
        "\n[users.frank]\nkeys = [{both}]\ncommands = [\"sleep\"]\n\n\
         [users.gina]\npassword = \"{phc}\"\ncommands = [\"true\"]\n"
    ));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "[exec]\nkill_grace_ms = 500\n",
            "[exec]\nkill_grace_ms = 500\nrevoke_grace_ms = 500\n",
        )
        .replace(
            "commands = [\"true\"]\n\n[commands.true]",
            "commands = [\"true\", \"sleep\"]\n\n[commands.true]",
        );
    write_config(&path, &text);
    let d = env.start(&path);
    let spawn = |user: &str, key: &str| -> Child {
        let mut c = common::secsh_to(
            &env.ca(),
            Some(&env.key_path(key)),
            &format!("{user}@{}", d.addr),
        );
        c.args(["--batch", "-n", "--", "sleep", "300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut alice = spawn("alice", "alice");
    let mut bob = spawn("bob", "bob");
    let mut frank = spawn("frank", "mallory");
    let mut gina = Raw::connect(d.addr, &env.ca()).await;
    gina.send(Message::Auth {
        user: "gina".into(),
        method: AuthMethod::Password,
        signature: None,
        password: Some(Secret::new("pw".into())),
        certificate: None,
    })
    .await;
    assert!(matches!(
        gina.next().await.map(|f| f.message),
        Some(Message::AuthOk { .. })
    ));
    assert!(
        wait_until(Duration::from_secs(15), || started_pids(&env).len() == 3),
        "{:?}",
        started_pids(&env)
    );
    let pids = started_pids(&env);

    // bob and gina removed, frank's first key removed, alice untouched.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[users.bob]\n") && text.contains("[users.gina]\n"));
    let v2 = text
        .replace("[users.bob]\n", "[users.bobby]\n")
        .replace("[users.gina]\n", "[users.gina2]\n")
        .replace(&both, &format!("\"{}\"", env.public_key(4)));
    write_config(&path, &v2);
    kill(Pid::from_raw(d.pid() as i32), Signal::SIGHUP).unwrap();
    assert!(wait_until(Duration::from_secs(10), || d
        .log()
        .contains("reloaded")));

    // gina (no command running) is closed at once.
    let after = gina.next().await.map(|f| f.message);
    assert!(
        matches!(
            after,
            Some(Message::Error {
                code: secsh::proto::ErrorCode::AuthFailed,
                ..
            }) | None
        ),
        "{after:?}"
    );
    for (who, child) in [("bob", &mut bob), ("frank", &mut frank)] {
        assert!(
            wait_timeout(child, Duration::from_secs(15)).is_some(),
            "{who}'s connection outlived the revocation"
        );
        assert!(
            wait_until(Duration::from_secs(5), || !alive(pids[who])),
            "{who}'s command outlived the revocation"
        );
    }
    assert!(
        alice.try_wait().unwrap().is_none(),
        "alice was disconnected"
    );
    assert!(alive(pids["alice"]), "alice's command was stopped");
    let ended: Vec<String> = records(&env, "exec_finished")
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["user"].as_str().unwrap(),
                r["ended"].as_str().unwrap()
            )
        })
        .collect();
    assert!(ended.contains(&"bob:revoked".to_string()), "{ended:?}");
    assert!(ended.contains(&"frank:revoked".to_string()), "{ended:?}");
    let closed = records(&env, "connection_closed");
    assert!(
        closed.iter().filter(|r| r["reason"] == "revoked").count() >= 3,
        "{closed:?}"
    );
    let _ = alice.kill();
    let _ = alice.wait();
}
