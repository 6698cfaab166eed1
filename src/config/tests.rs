use std::path::Path;

use super::*;
use crate::policy::{Decision, NoSymlinks};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwXxXD3hrUlmLQgi3D6y1Rgd8H3PdwjOomMeJjvAHIa alice@laptop";

fn opts() -> LoadOptions {
    LoadOptions {
        is_root: false,
        check_permissions: false,
        load_tls: false,
    }
}

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::parse(Path::new("/etc/secsh/secshd.toml"), text, &opts())
}

fn base() -> String {
    format!(
        r#"listen = ["127.0.0.1:7022", "::1"]
[tls]
cert = "server.pem"
key = "server.key"

[users.alice]
keys = ["{KEY}"]
commands = ["echo", "uptime"]

[commands.uptime]
argv = ["/usr/bin/uptime"]

[commands.echo]
argv = ["echo", "{{words...}}"]
slots.words = {{ regex = ".*", allow_dash = true }}
"#
    )
}

fn err_at(text: &str) -> (usize, usize, String) {
    match parse(text) {
        Err(ConfigError::Invalid { location, message }) => {
            (location.line, location.column, message)
        }
        other => panic!("expected a located error, got {other:?}"),
    }
}

#[test]
fn parses_the_base_config() {
    let c = parse(&base()).unwrap();
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.listen[1].port(), DEFAULT_PORT);
    assert_eq!(c.tls_cert, Path::new("/etc/secsh/server.pem"));
    assert_eq!(c.users["alice"].keys.len(), 1);
    let argv: Vec<String> = vec!["echo".into(), "-n".into(), "hi".into()];
    let Decision::Allow { argv, rule } = c.policy.check("alice", &argv, &NoSymlinks) else {
        panic!("denied")
    };
    assert_eq!(rule, "echo");
    assert!(
        argv[0].starts_with('/') && argv[0].ends_with("/echo"),
        "{argv:?}"
    );
}

#[test]
fn unknown_keys_are_located_at_every_level() {
    let (line, col, msg) = err_at(&format!("{}\nbogus = 1\n", base()));
    assert_eq!((line, col), (17, 1), "{msg}");
    assert!(msg.contains("bogus"), "{msg}");
    let text = base().replace("allow_dash = true", "allow_dash = true, allow_dahs = true");
    let (line, _, msg) = err_at(&text);
    assert_eq!(line, 15, "{msg}");
    let text = base().replace("key = \"server.key\"", "key = \"server.key\"\nciphers = []");
    let (line, _, msg) = err_at(&text);
    assert_eq!(line, 5, "{msg}");
    assert!(msg.contains("ciphers"), "{msg}");
}

#[test]
fn syntax_error_is_located() {
    let (line, _, _) = err_at("listen = [\n\"a\",\n[tls\n");
    assert_eq!(line, 3);
}

#[test]
fn semantic_errors_are_located() {
    let text = base().replace(r#"regex = ".*""#, r#"regex = "(""#);
    let (line, col, msg) = err_at(&text);
    assert_eq!((line, col), (15, 15), "{msg}");
    assert!(msg.contains("invalid regex"), "{msg}");

    let text = base().replace(
        r#"commands = ["echo", "uptime"]"#,
        r#"commands = ["echo", "uptim"]"#,
    );
    let (line, col, msg) = err_at(&text);
    assert_eq!((line, col), (8, 21), "{msg}");
    assert!(msg.contains("uptim"), "{msg}");

    let text = base().replace(
        r#"argv = ["/usr/bin/uptime"]"#,
        r#"argv = ["no-such-program-xyz"]"#,
    );
    let (line, _, msg) = err_at(&text);
    assert_eq!(line, 11, "{msg}");
    assert!(msg.contains("not found"), "{msg}");

    let text = base().replace(KEY, "ssh-ed25519 AAAAnope");
    let (line, _, msg) = err_at(&text);
    assert_eq!(line, 7, "{msg}");

    let text = base().replace("127.0.0.1:7022", "localhost:99999");
    let (line, col, _) = err_at(&text);
    assert_eq!((line, col), (1, 11));

    let text = base().replace(
        "\n[commands.uptime]",
        "run_as = \"nobody\"\n\n[commands.uptime]",
    );
    let (_, _, msg) = err_at(&text);
    assert!(msg.contains("root"), "{msg}");
}

#[test]
fn stdin_window_is_bounded() {
    let with = |v: &str| {
        base().replace(
            "\n[users.alice]",
            &format!("\n[limits]\nstdin_window_kib = {v}\n\n[users.alice]"),
        )
    };
    assert_eq!(parse(&with("1024")).unwrap().limits.stdin_window, 1 << 20);
    let (line, _, msg) = err_at(&with("1"));
    assert_eq!(line, 7, "{msg}");
    assert!(msg.contains("between 64"), "{msg}");
}

#[test]
fn slot_needs_exactly_one_kind() {
    let text = base().replace(r#"regex = ".*", "#, r#"regex = ".*", int = [1, 2], "#);
    let (_, _, msg) = err_at(&text);
    assert!(msg.contains("exactly one"), "{msg}");
}

#[test]
fn groups_grant_commands() {
    let text = format!(
        "{}\n[groups.ops]\nmembers = [\"alice\"]\ncommands = [\"uptime\"]\n",
        base()
    )
    .replace(r#"commands = ["echo", "uptime"]"#, r#"commands = ["echo"]"#);
    let c = parse(&text).unwrap();
    let d = c
        .policy
        .check("alice", &["uptime".to_string()], &NoSymlinks);
    assert!(matches!(d, Decision::Allow { .. }));
    let bad = text.replace(r#"members = ["alice"]"#, r#"members = ["bob"]"#);
    let (_, _, msg) = err_at(&bad);
    assert!(msg.contains("bob"), "{msg}");
}

#[test]
fn timeouts_are_capped() {
    let text = base().replace(
        "\n[users.alice]",
        "\n[exec]\ndefault_timeout_secs = 30\nmax_timeout_secs = 60\n\n[users.alice]",
    );
    let c = parse(&text).unwrap();
    use std::time::Duration;
    assert_eq!(c.effective_timeout(None), Some(Duration::from_secs(30)));
    assert_eq!(
        c.effective_timeout(Some(Duration::from_secs(5))),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        c.effective_timeout(Some(Duration::from_secs(500))),
        Some(Duration::from_secs(60))
    );
}

#[test]
fn refuses_group_writable_file() {
    let no_tls = LoadOptions {
        load_tls: false,
        ..LoadOptions::default()
    };
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secshd.toml");
    std::fs::write(&path, base()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
    let err = ServerConfig::load(&path, &no_tls).unwrap_err();
    assert!(matches!(err, ConfigError::Unsafe { .. }), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    ServerConfig::load(&path, &no_tls).unwrap();
}

#[test]
fn transfer_roots_are_absolute_normalised_and_merged_from_groups() {
    let text = base().replace(
        "commands = [\"echo\", \"uptime\"]",
        "commands = [\"echo\", \"uptime\"]\nupload = [\"/srv/drop/\", \"/srv//drop\", \"/srv/./x\"]",
    ) + "\n[groups.ops]\nmembers = [\"alice\"]\ndownload = [\"/var/log\"]\nupload = [\"/srv/drop\", \"/srv/y\"]\n\n[files]\npartial_max_age_secs = 3600\n";
    let c = parse(&text).unwrap();
    let a = &c.users["alice"];
    let p = |s: &str| std::path::PathBuf::from(s);
    assert_eq!(a.upload, [p("/srv/drop"), p("/srv/x"), p("/srv/y")]);
    assert_eq!(a.download, [p("/var/log")]);
    assert_eq!(
        c.files.partial_max_age,
        std::time::Duration::from_secs(3600)
    );
    assert_eq!(c.upload_roots(), [p("/srv/drop"), p("/srv/x"), p("/srv/y")]);
    assert!(
        c.warnings.iter().any(|w| w.contains("/srv/x")),
        "{:?}",
        c.warnings
    );
    for (bad, want) in [
        ("upload = [\"srv/drop\"]", "not an absolute path"),
        ("download = [\"/var/../etc\"]", "contains `..`"),
        ("upload = [\"/\"]", "whole filesystem"),
    ] {
        let text = base().replace(
            "commands = [\"echo\", \"uptime\"]",
            &format!("commands = [\"echo\", \"uptime\"]\n{bad}"),
        );
        let (line, col, msg) = err_at(&text);
        assert_eq!(line, 9, "{bad}");
        assert!(col > 10 && msg.contains(want), "{bad}: {col} {msg}");
    }
    let (_, _, msg) = err_at(&(base() + "\n[files]\npartial_max_age_secs = 5\n"));
    assert!(msg.contains("partial_max_age_secs"), "{msg}");
}
