//! Deployment files kept honest: the man pages and completion scripts
//! under deploy/ are exactly what the binaries generate (run with
//! SECSH_BLESS=1 to rewrite them after changing an option), both binaries
//! print completion scripts, and install.sh's dry run lists every file it
//! would install and writes nothing.

mod common;

use std::process::Command;

use common::{SECSH, SECSHD};

#[test]
fn deploy_man_pages_and_completions_match_the_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(SECSHD)
        .args(["man", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let bless = std::env::var_os("SECSH_BLESS").is_some();
    for sub in ["man", "completions"] {
        for e in std::fs::read_dir(tmp.path().join(sub)).unwrap() {
            let e = e.unwrap();
            let fresh = std::fs::read(e.path()).unwrap();
            let kept = deploy.join(sub).join(e.file_name());
            if bless {
                std::fs::write(&kept, &fresh).unwrap();
            }
            let committed = std::fs::read(&kept).unwrap_or_default();
            assert!(
                committed == fresh,
                "{} is stale: regenerate with SECSH_BLESS=1 cargo test --test deploy",
                kept.display()
            );
        }
    }
}

#[test]
fn both_binaries_print_completion_scripts() {
    for bin in [SECSH, SECSHD] {
        for (shell, mark) in [
            ("bash", "complete -F"),
            ("zsh", "#compdef"),
            ("fish", "complete -c"),
        ] {
            let out = Command::new(bin)
                .args(["completions", shell])
                .output()
                .unwrap();
            assert!(out.status.success(), "{bin} {shell}");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(mark),
                "{bin} {shell}: {}",
                &text[..text.len().min(200)]
            );
        }
        let out = Command::new(bin)
            .args(["completions", "tcsh"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn install_dry_run_lists_every_file_and_writes_nothing() {
    let prefix = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/install.sh");
    let out = Command::new(&script)
        .args(["--dry-run", "--prefix"])
        .arg(prefix.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let p = prefix.path().display();
    for f in [
        "/usr/bin/secsh",
        "/usr/bin/secshd",
        "/lib/systemd/system/secshd.service",
        "/lib/systemd/system/secshd-confined.service",
        "/usr/lib/sysusers.d/secsh.conf",
        "/usr/lib/tmpfiles.d/secsh.conf",
        "/usr/share/man/man1/secsh.1",
        "/usr/share/man/man8/secshd.8",
        "/usr/share/man/man5/secshd.toml.5",
        "/usr/share/bash-completion/completions/secsh",
        "/etc/secsh/secshd.toml.example",
    ] {
        assert!(
            text.contains(&format!("{p}{f}\n")),
            "{f} not listed:\n{text}"
        );
    }
    assert!(text.contains("install -m 600 ") && text.contains("secshd.toml.example"));
    assert_eq!(
        std::fs::read_dir(prefix.path()).unwrap().count(),
        0,
        "the dry run wrote files"
    );
}
