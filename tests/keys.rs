//! Key files as `ssh-keygen` writes and reads them: Ed25519 and ECDSA
//! P-256 and P-384 keys made by `ssh-keygen` sign in with `secsh -i`; the
//! same key re-wrapped at other base64 widths (64 columns is what Python's
//! `cryptography` writes) or with CRLF line ends still does; a
//! passphrase-protected key signs in with `--passphrase-file` and, under
//! `--batch` without one, fails at once naming the passphrase.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, Env};

fn keygen(env: &Env, name: &str, args: &[&str], passphrase: &str) -> (PathBuf, String) {
    let path = env.path(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .args(args)
        .output()
        .expect("ssh-keygen (openssh-client) is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_string())
}

/// `src` with its base64 body re-wrapped at `width` columns and `eol` line ends.
fn rewrapped(src: &Path, dst: &Path, width: usize, eol: &str) {
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let body: String = lines[1..lines.len() - 1].concat();
    let mut out = format!("{}{eol}", lines[0]);
    for chunk in body.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str(eol);
    }
    out.push_str(lines[lines.len() - 1]);
    out.push_str(eol);
    std::fs::write(dst, out).unwrap();
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn server(env: &Env, keys: &[String]) -> common::Daemon {
    let list = keys
        .iter()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    env.start(&env.config(&format!(
        "\n[users.carol]\nkeys = [{list}]\ncommands = [\"echo\"]\n"
    )))
}

fn echo(
    env: &Env,
    d: &common::Daemon,
    key: &Path,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = common::secsh_to(&env.ca(), Some(key), &format!("carol@{}", d.addr));
    cmd.args(extra).args(["--", "echo", "signed-in"]);
    let (code, out, err) = run(&mut cmd);
    (
        code,
        String::from_utf8_lossy(&out).into(),
        String::from_utf8_lossy(&err).into(),
    )
}

#[test]
fn every_key_type_and_width_ssh_keygen_reads_signs_in() {
    let env = Env::new();
    let ed = keygen(&env, "ed", &["-t", "ed25519"], "");
    let p256 = keygen(&env, "p256", &["-t", "ecdsa", "-b", "256"], "");
    let p384 = keygen(&env, "p384", &["-t", "ecdsa", "-b", "384"], "");
    let d = server(&env, &[ed.1.clone(), p256.1.clone(), p384.1.clone()]);
    for (key, _) in [&ed, &p256, &p384] {
        let (code, out, err) = echo(&env, &d, key, &["--batch"]);
        assert_eq!(
            (code, out.as_str()),
            (Some(0), "signed-in\n"),
            "{}: {err}",
            key.display()
        );
    }
    for (width, eol) in [(64, "\n"), (76, "\n"), (70, "\r\n"), (30, "\n")] {
        let w = env.path(&format!("ed.{width}"));
        rewrapped(&ed.0, &w, width, eol);
        // ssh-keygen reads it, and so must secsh.
        let y = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&w)
            .output()
            .unwrap();
        if y.status.success() {
            let (code, _, err) = echo(&env, &d, &w, &["--batch"]);
            assert_eq!(code, Some(0), "{width} columns, {eol:?}: {err}");
        }
    }
    let w = env.path("ed.64");
    let (code, _, err) = echo(&env, &d, &w, &["--batch"]);
    assert_eq!(code, Some(0), "64 columns: {err}");
}

#[test]
fn a_passphrase_comes_from_a_file_and_batch_never_prompts() {
    let env = Env::new();
    let (key, public) = keygen(&env, "locked", &["-t", "ed25519"], "correct horse 17");
    let d = server(&env, &[public]);
    let started = std::time::Instant::now();
    let (code, _, err) = echo(&env, &d, &key, &["--batch"]);
    assert!(
        code != Some(0) && err.contains("passphrase"),
        "{code:?} {err}"
    );
    assert!(started.elapsed().as_secs() < 10);
    let file = env.path("pass");
    std::fs::write(&file, "correct horse 17\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let f = file.to_str().unwrap();
    let (code, out, err) = echo(&env, &d, &key, &["--batch", "--passphrase-file", f]);
    assert_eq!((code, out.as_str()), (Some(0), "signed-in\n"), "{err}");
    std::fs::write(&file, "wrong\n").unwrap();
    let (code, _, err) = echo(&env, &d, &key, &["--batch", "--passphrase-file", f]);
    assert!(code != Some(0) && err.contains("wrong passphrase"), "{err}");
    // A passphrase file others can read is refused.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = echo(&env, &d, &key, &["--batch", "--passphrase-file", f]);
    assert!(code != Some(0) && err.contains("chmod 600"), "{err}");
}
