//! Every example under config/ loads; secshd refuses a broken config with
//! file:line:column and exit status 78.

mod common;

use std::path::Path;
use std::process::Command;

use secsh::config::{LoadOptions, ServerConfig};

#[test]
fn every_example_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let opts = LoadOptions {
                is_root: false,
                check_permissions: false,
                load_tls: false,
            };
            let config = ServerConfig::load(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
            assert!(!config.users.is_empty(), "{} has no users", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 2, "expected example configs under config/");
}

#[test]
fn secshd_refuses_broken_config_with_location() {
    let env = common::Env::new();
    let path = env.config("");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("kill_grace_ms = 500", "kill_grace_ms = 500\nkill_grcae = 1"),
    )
    .unwrap();
    let out = Command::new(common::SECSHD)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:9:1: unknown field `kill_grcae`", path.display());
    assert!(err.contains(&want), "{err}");
}

#[test]
fn secshd_refuses_world_writable_config() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::Env::new();
    let path = env.config("");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = Command::new(common::SECSHD)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writable by group or others"));
}

#[test]
fn pki_writes_private_keys_0600_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::Env::new();
    for (file, mode) in [
        ("ca.key", 0o600),
        ("server.key", 0o600),
        ("ca.pem", 0o644),
        ("server.pem", 0o644),
    ] {
        let m = std::fs::metadata(env.path("pki").join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    let before = std::fs::read(env.path("pki/ca.key")).unwrap();
    let out = Command::new(common::SECSHD)
        .args(["pki", "init", "--dir"])
        .arg(env.path("pki"))
        .args(["--name", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read(env.path("pki/ca.key")).unwrap(), before);
    let chain = std::fs::read_to_string(env.path("pki/server.pem")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "server.pem holds the chain"
    );
}

fn start_status(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(common::SECSHD)
        .arg("--config")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn secshd_refuses_a_tls_key_others_can_read_and_a_directory_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::Env::new();
    let path = env.config("");
    let key = env.path("pki/server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = start_status(&path);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("mode 0644: group or others may read"), "{err}");
    assert!(
        err.contains(&format!("{}:", path.display())),
        "located: {err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let dir = path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, err) = start_status(&path);
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("writable by others"), "{err}");
}

#[test]
fn a_key_listed_for_two_users_is_a_warning() {
    let env = common::Env::new();
    // bob gets alice's key as well.
    let path = env.config("");
    let text = std::fs::read_to_string(&path).unwrap();
    let alice = env.public_key(1);
    let bob = env.public_key(2);
    common::write_config(&path, &text.replace(&bob, &alice));
    let d = env.start(&path);
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || {
            d.log().contains("is listed for both \"alice\" and \"bob\"")
        }),
        "{}",
        d.log()
    );
}
