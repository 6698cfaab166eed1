//! `secshd check` against the shipped example configuration: golden
//! outputs for a table of allowed and denied argv (tests/check/, like
//! sudo's testsudoers), the `--list` of a user, validation warnings and
//! exit statuses. `SECSH_BLESS=1 cargo test --test check` rewrites the
//! golden files after a deliberate change; review the diff.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, SECSHD};

/// config/secshd.toml in a private directory, with TLS files beside it.
fn example(env: &Env) -> PathBuf {
    let dir = env.path("");
    for f in ["server.pem", "server.key"] {
        std::fs::copy(env.path(&format!("pki/{f}")), dir.join(f)).unwrap();
    }
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/secshd.toml"))
            .unwrap();
    let path = dir.join("example.toml");
    common::write_config(&path, &text);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    path
}

fn check(config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(SECSHD)
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr).replace(&config.display().to_string(), "CONFIG");
    (out.status.code().unwrap_or(-1), text)
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/check")
        .join(name);
    if std::env::var_os("SECSH_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == actual,
        "{} differs (SECSH_BLESS=1 to accept):\n--- want\n{want}\n--- got\n{actual}",
        path.display()
    );
}

#[test]
fn decisions_match_the_golden_file() {
    let env = Env::new();
    let config = example(&env);
    let table = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/decisions.txt"),
    )
    .unwrap();
    let mut out = String::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (user, argv) = line.split_once(" | ").unwrap();
        let argv: Vec<String> = serde_json::from_str(argv).unwrap();
        let mut args = vec!["--user", user, "--"];
        args.extend(argv.iter().map(String::as_str));
        let (code, text) = check(&config, &args);
        out.push_str(&format!("$ {line}\nexit {code}\n{text}\n"));
    }
    golden("decisions.golden", &out);
}

#[test]
fn list_matches_the_config() {
    let env = Env::new();
    let config = example(&env);
    let mut out = String::new();
    for user in ["alice", "bob", "carol"] {
        let (code, text) = check(&config, &["--user", user, "--list"]);
        assert_eq!(code, 0, "{text}");
        out.push_str(&text);
    }
    golden("list.golden", &out);
    // JSON lists exactly the user's commands.
    let (_, json) = check(&config, &["--user", "bob", "--list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["uptime", "echo", "journal"],
        "bob's own and the ops group's"
    );
}

#[test]
fn validation_warns_about_risky_rules_and_fails_with_a_location() {
    let env = Env::new();
    let config = example(&env);
    let (code, text) = check(&config, &[]);
    assert_eq!(code, 0, "{text}");
    golden(
        "validate.golden",
        &text.replace(&config.display().to_string(), "CONFIG"),
    );
    let broken = std::fs::read_to_string(&config).unwrap() + "\n[users.x]\nkeys = 3\n";
    common::write_config(&config, &broken);
    let (code, text) = check(&config, &[]);
    assert_eq!(code, 1);
    assert!(text.starts_with("secshd check: CONFIG:"), "{text}");
    let at = text.split("CONFIG:").nth(1).unwrap();
    assert!(
        at.split(':').take(2).all(|n| n.parse::<u32>().is_ok()),
        "{text}"
    );
}

#[test]
fn json_decisions() {
    let env = Env::new();
    let config = example(&env);
    let (code, json) = check(&config, &["--user", "alice", "--json", "--", "uptime"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decision"], "allowed");
    assert_eq!(v["command"], "uptime");
    assert_eq!(v["argv"], serde_json::json!(["/usr/bin/uptime"]));
    let (code, json) = check(
        &config,
        &["--user", "bob", "--json", "--", "rm", "-rf", "/"],
    );
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decision"], "denied");
    assert_eq!(v["reasons"][0]["command"], "uptime");
}

#[test]
fn secsh_list_shows_exactly_the_signed_in_users_commands() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, out, err) = common::run(env.secsh(&d, "bob").arg("--list"));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out, "bob@127.0.0.1 may run:\n  true: /usr/bin/true\n",
        "{out}"
    );
    let (code, out, _) = common::run(env.secsh(&d, "alice").arg("--list"));
    assert_eq!(code, Some(0));
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("  head: /usr/bin/head -n {n}\n      n: an integer from 1 to 100000, not starting with '-'\n"), "{out}");
    assert!(!out.contains("bob"), "{out}");
    // A wrong key lists nothing.
    let (code, out, _) = common::run(env.secsh(&d, "mallory").arg("--list"));
    assert_eq!(code, Some(254));
    assert!(out.is_empty());
}
