//! OpenSSH user certificates, all made by `ssh-keygen -s`: a trusted user
//! CA signs users in (principals, validity, source-address, critical
//! options, force-command), the records name the certificate, the client
//! finds `KEY-cert.pub`, takes `--certificate` and a certificate held by
//! ssh-agent, and `secshd check --user` explains. Each refusal is checked
//! beside a certificate that signs in, so nothing passes because
//! certificates do not work at all.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run, Env};

fn keygen(env: &Env, name: &str) -> PathBuf {
    let path = env.path(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen (openssh-client) is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// A fresh key `name` with `name-cert.pub` beside it, signed by `ca`.
fn cert(env: &Env, ca: &Path, name: &str, principals: &str, extra: &[&str]) -> PathBuf {
    let key = keygen(env, name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(ca)
        .args(["-I", &format!("id-{name}"), "-n", principals, "-z", "4242"])
        .args(extra)
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

struct Setup {
    env: Env,
    d: common::Daemon,
    ca: PathBuf,
}

fn setup() -> Setup {
    let env = Env::new();
    let ca = keygen(&env, "userca");
    let extra = format!(
        "\n[penalties]\nexempt = [\"127.0.0.0/8\"]\n\n[auth]\nuser_ca_keys = [{:?}]\n\n[users.carol]\ncommands = [\"echo\", \"true\"]\n\n[users.dave]\nprincipals = [\"oncall\"]\ncommands = [\"echo\"]\n",
        public(&ca)
    );
    let d = env.start(&env.config(&extra));
    Setup { env, d, ca }
}

fn echo(
    s: &Setup,
    user: &str,
    key: Option<&Path>,
    extra: &[&str],
    words: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = common::secsh_to(&s.env.ca(), key, &format!("{user}@{}", s.d.addr));
    cmd.arg("--batch")
        .args(extra)
        .args(["--", "echo"])
        .args(words);
    let (code, out, err) = run(&mut cmd);
    (
        code,
        String::from_utf8_lossy(&out).into(),
        String::from_utf8_lossy(&err).into(),
    )
}

#[test]
fn a_user_ca_signs_users_in_within_its_rules() {
    let s = setup();
    let ok = cert(&s.env, &s.ca, "carol1", "carol", &["-V", "-5m:+1h"]);
    let (code, out, err) = echo(&s, "carol", Some(&ok), &[], &["cert-ok"]);
    assert_eq!((code, out.as_str()), (Some(0), "cert-ok\n"), "{err}");
    // Principals: dave accepts "oncall" only; carol's own name is not it.
    let oncall = cert(&s.env, &s.ca, "dave1", "oncall", &[]);
    let r = echo(&s, "dave", Some(&oncall), &[], &["x"]);
    assert_eq!(r.0, Some(0), "{}", r.2);
    assert_eq!(echo(&s, "dave", Some(&ok), &[], &["x"]).0, Some(254));
    assert_eq!(echo(&s, "carol", Some(&oncall), &[], &["x"]).0, Some(254));
    // Validity, certificate type, an untrusted CA, an unknown critical option.
    let other_ca = keygen(&s.env, "otherca");
    for (name, ca, args) in [
        ("expired", &s.ca, vec!["-V", "-2h:-1h"]),
        ("future", &s.ca, vec!["-V", "+1h:+2h"]),
        ("host", &s.ca, vec!["-h"]),
        ("untrusted", &other_ca, vec![]),
        (
            "critical",
            &s.ca,
            vec!["-O", "critical:foo@example.com=bar"],
        ),
        ("elsewhere", &s.ca, vec!["-O", "source-address=10.9.9.9/32"]),
    ] {
        let k = cert(&s.env, ca, name, "carol", &args);
        let (code, _, err) = echo(&s, "carol", Some(&k), &[], &["x"]);
        assert_eq!(code, Some(254), "{name}: {err}");
    }
    // The reasons stay on the server: in the audit trail (the log counts
    // repeated failures from one source instead of printing them).
    let reasons = [
        "expired at",
        "not valid until",
        "host certificate",
        "not signed by a trusted",
        "unknown critical option",
        "source-address",
    ];
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || {
            let audit = std::fs::read_to_string(s.env.audit_log()).unwrap_or_default();
            reasons.iter().all(|why| {
                audit
                    .lines()
                    .any(|l| l.contains("\"auth_failed\"") && l.contains(why))
            })
        }),
        "{}",
        std::fs::read_to_string(s.env.audit_log()).unwrap_or_default()
    );
    // ssh-keygen's default validity has no end ("forever").
    let forever = cert(&s.env, &s.ca, "forever", "carol", &[]);
    assert_eq!(echo(&s, "carol", Some(&forever), &[], &["x"]).0, Some(0));
    // An unknown extension is ignored; source-address that includes us works.
    for (name, opt) in [
        ("ext", "extension:foo@example.com=bar"),
        ("local", "source-address=127.0.0.0/8"),
    ] {
        let k = cert(&s.env, &s.ca, name, "carol", &["-O", opt]);
        assert_eq!(
            echo(&s, "carol", Some(&k), &[], &["x"]).0,
            Some(0),
            "{name}"
        );
    }
    // Outside the allowlist stays denied.
    let mut cmd = common::secsh_to(&s.env.ca(), Some(&ok), &format!("carol@{}", s.d.addr));
    assert_eq!(run(cmd.args(["--batch", "--", "id"])).0, Some(253));
}

#[test]
fn force_command_only_narrows() {
    let s = setup();
    let k = cert(
        &s.env,
        &s.ca,
        "forced",
        "carol",
        &["-O", "force-command=echo forced-xyz"],
    );
    let (code, out, _) = echo(&s, "carol", Some(&k), &[], &["forced-xyz"]);
    assert_eq!((code, out.as_str()), (Some(0), "forced-xyz\n"));
    let (code, out, _) = echo(&s, "carol", Some(&k), &[], &["other"]);
    assert_eq!((code, out.as_str()), (Some(253), ""));
    // A forced command the allowlist does not grant never runs.
    let marker = s.env.path("marker");
    let fc = format!("force-command=/bin/sh -c 'touch {}'", marker.display());
    let k = cert(&s.env, &s.ca, "outside", "carol", &["-O", &fc]);
    let mut cmd = common::secsh_to(&s.env.ca(), Some(&k), &format!("carol@{}", s.d.addr));
    let touch = format!("touch {}", marker.display());
    assert_eq!(
        run(cmd.args(["--batch", "--", "/bin/sh", "-c", &touch])).0,
        Some(253)
    );
    assert!(!marker.exists());
}

#[test]
fn records_name_the_certificate_and_the_client_finds_it_everywhere() {
    let s = setup();
    let k = cert(&s.env, &s.ca, "rec", "carol", &[]);
    let (code, _, err) = echo(&s, "carol", Some(&k), &["-v"], &["x"]);
    assert_eq!(code, Some(0));
    assert!(
        err.contains("id-rec") && err.contains("4242"),
        "-v says nothing of it: {err}"
    );
    let ca_fp = ssh_key::PublicKey::from_openssh(&public(&s.ca))
        .unwrap()
        .fingerprint(Default::default())
        .to_string();
    assert!(common::wait_until(
        std::time::Duration::from_secs(5),
        || {
            let audit = std::fs::read_to_string(s.env.audit_log()).unwrap_or_default();
            audit.lines().any(|l| {
                l.contains("\"auth_ok\"")
                    && l.contains("\"key_id\":\"id-rec\"")
                    && l.contains("\"serial\":4242")
                    && l.contains(&ca_fp)
            }) && audit
                .lines()
                .any(|l| l.contains("\"exec_started\"") && l.contains("id-rec"))
        }
    ));
    // --certificate names one that is not beside the key.
    let moved = s.env.path("elsewhere.cert");
    std::fs::rename(s.env.path("rec-cert.pub"), &moved).unwrap();
    assert_eq!(echo(&s, "carol", Some(&k), &[], &["x"]).0, Some(254));
    let m = moved.to_str().unwrap();
    assert_eq!(
        echo(&s, "carol", Some(&k), &["--certificate", m], &["x"]).0,
        Some(0)
    );
    // A certificate of another key is refused before anything is sent.
    let other = cert(&s.env, &s.ca, "other", "carol", &[]);
    let o = format!("{}-cert.pub", other.display());
    let (code, _, err) = echo(&s, "carol", Some(&k), &["--certificate", &o], &["x"]);
    assert!(
        code == Some(255) && err.contains("another key"),
        "{code:?} {err}"
    );
    // Held by ssh-agent, with no -i at all.
    let sock = s.env.path("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent is required");
    assert!(common::wait_until(
        std::time::Duration::from_secs(5),
        || sock.exists()
    ));
    let ag = cert(&s.env, &s.ca, "agentkey", "carol", &[]);
    let added = Command::new("ssh-add")
        .arg(&ag)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut cmd = common::secsh_to(&s.env.ca(), None, &format!("carol@{}", s.d.addr));
    cmd.env("SSH_AUTH_SOCK", &sock).env("HOME", s.env.path("."));
    let (code, out, err) = run(cmd.args(["--batch", "--", "echo", "agent-ok"]));
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(
        (code, String::from_utf8_lossy(&out).as_ref()),
        (Some(0), "agent-ok\n"),
        "{}",
        String::from_utf8_lossy(&err)
    );
}

#[test]
fn check_explains_who_certificates_admit() {
    let s = setup();
    let out = Command::new(common::SECSHD)
        .args(["check", "--config"])
        .arg(s.env.path("secshd.toml"))
        .args(["--user", "dave"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ca_fp = ssh_key::PublicKey::from_openssh(&public(&s.ca))
        .unwrap()
        .fingerprint(Default::default())
        .to_string();
    assert!(
        out.status.success() && text.contains("\"oncall\"") && text.contains(&ca_fp),
        "{text}"
    );
    assert!(text.contains("keys: none"), "{text}");
}

fn krl(env: &Env, path: &Path, args: &[&std::ffi::OsStr]) {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-k", "-f"])
        .arg(&tmp)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, path).unwrap();
    let _ = env;
}

/// SIGHUP, then wait for the audit's next `config_reloaded` record.
fn reload(env: &Env, d: &common::Daemon) {
    let count = || {
        std::fs::read_to_string(env.audit_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"config_reloaded\"") && l.contains("\"ok\":true"))
            .count()
    };
    let before = count();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || count() > before),
        "{}",
        d.log()
    );
}

#[test]
fn revoked_keys_reads_what_ssh_keygen_k_writes() {
    let env = Env::new();
    let ca = keygen(&env, "userca");
    let bob = keygen(&env, "bob");
    let list = env.path("revoked.krl");
    let spec = env.path("spec");
    std::fs::write(&spec, "serial: 9999\n").unwrap();
    krl(
        &env,
        &list,
        &[
            "-s".as_ref(),
            ca.with_extension("pub").as_os_str(),
            spec.as_os_str(),
        ],
    );
    let extra = format!(
        "\n[penalties]\nexempt = [\"127.0.0.0/8\"]\n\n[auth]\nuser_ca_keys = [{:?}]\nrevoked_keys = {:?}\n\n[users.carol]\ncommands = [\"echo\"]\n\n[users.bobby]\nkeys = [{:?}]\ncommands = [\"echo\"]\n",
        public(&ca),
        list.display().to_string(),
        public(&bob)
    );
    let d = env.start(&env.config(&extra));
    let s = Setup { env, d, ca };
    let c501 = cert(&s.env, &s.ca, "c501", "carol", &["-z", "501"]);
    let c502 = cert(&s.env, &s.ca, "c502", "carol", &["-z", "502"]);
    let bad_id = cert(&s.env, &s.ca, "kid", "carol", &["-I", "kid-bad"]);
    let c650 = cert(&s.env, &s.ca, "c650", "carol", &["-z", "650"]);
    let c705 = cert(&s.env, &s.ca, "c705", "carol", &["-z", "705"]);
    let signs_in = |user: &str, key: &Path| echo(&s, user, Some(key), &[], &["x"]).0;
    for (user, key) in [
        ("carol", &c501),
        ("carol", &c502),
        ("carol", &bad_id),
        ("bobby", &bob),
    ] {
        assert_eq!(
            signs_in(user, key),
            Some(0),
            "before any revocation: {}",
            key.display()
        );
    }
    // By serial and by key id, under the CA.
    std::fs::write(
        &spec,
        "serial: 501\nserial: 600-700\nserial: 703\nid: kid-bad\n",
    )
    .unwrap();
    krl(
        &s.env,
        &list,
        &[
            "-s".as_ref(),
            s.ca.with_extension("pub").as_os_str(),
            spec.as_os_str(),
        ],
    );
    reload(&s.env, &s.d);
    assert_eq!(signs_in("carol", &c501), Some(254));
    assert_eq!(signs_in("carol", &bad_id), Some(254));
    assert_eq!(signs_in("carol", &c650), Some(254));
    assert_eq!(signs_in("carol", &c502), Some(0));
    assert_eq!(signs_in("carol", &c705), Some(0));
    // By key: the plain key, and every certificate of that key.
    krl(
        &s.env,
        &list,
        &[
            bob.with_extension("pub").as_os_str(),
            c502.with_extension("pub").as_os_str(),
        ],
    );
    reload(&s.env, &s.d);
    assert_eq!(signs_in("bobby", &bob), Some(254));
    assert_eq!(signs_in("carol", &c502), Some(254));
    assert_eq!(signs_in("carol", &c501), Some(0), "501 is no longer listed");
    // A plain list of public keys.
    std::fs::write(&list, format!("# revoked\n{}\n", public(&bob))).unwrap();
    reload(&s.env, &s.d);
    assert_eq!(signs_in("bobby", &bob), Some(254));
    assert_eq!(signs_in("carol", &c502), Some(0));
}
