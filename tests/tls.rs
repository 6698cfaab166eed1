//! Server verification and TLS policy: wrong CA and wrong host name fail
//! with 255; TLS 1.2 and foreign ALPN are refused by the server; generated
//! keys are P-256 and a CA with an Ed25519 key still issues.

mod common;

use std::process::{Command, Stdio};

use common::{run, Daemon, Env};

#[test]
fn wrong_ca_fails_with_255() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let other = env.path("other-pki");
    let out = Command::new(common::SECSHD)
        .args(["pki", "init", "--dir"])
        .arg(&other)
        .args(["--name", "localhost", "--ip", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, _, err) = run(common::secsh_to(
        &other.join("ca.pem"),
        Some(&env.key_path("alice")),
        &format!("alice@{}", d.addr),
    )
    .args(["--", "true"]));
    assert_eq!(code, Some(255));
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("TLS handshake") && err.contains("certificate"),
        "{err}"
    );
    // The good CA works (control).
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0));
}

#[test]
fn wrong_host_name_fails_with_255() {
    let env = Env::new();
    issue(
        &env,
        &env.path("pki"),
        &["--name", "web1.example.com"],
        "web1",
    );
    let d = start_presenting(&env, "web1");
    // 127.0.0.1 is not in the certificate's SANs.
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(255));
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("TLS handshake") && err.contains("certificate"),
        "{err}"
    );
    // localhost is not either.
    let (code, _, _) = run(common::secsh_to(
        &env.ca(),
        Some(&env.key_path("alice")),
        &format!("alice@localhost:{}", d.addr.port()),
    )
    .args(["--", "true"]));
    assert_eq!(code, Some(255));
}

#[test]
fn issued_certificate_from_same_ca_works_by_name() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (code, _, err) = run(common::secsh_to(
        &env.ca(),
        Some(&env.key_path("alice")),
        &format!("alice@localhost:{}", d.addr.port()),
    )
    .args(["--", "true"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
}

/// `secshd pki issue` from the CA in `ca_dir` for `names` into `out`
/// (relative to the test directory).
fn issue(env: &Env, ca_dir: &std::path::Path, names: &[&str], out: &str) {
    let done = Command::new(common::SECSHD)
        .args(["pki", "issue", "--ca-dir"])
        .arg(ca_dir)
        .args(names)
        .arg("--out")
        .arg(env.path(out))
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// A daemon with the standard test configuration presenting the
/// certificate and key in `dir` instead of the test PKI's.
fn start_presenting(env: &Env, dir: &str) -> Daemon {
    let config = env.config("");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("pki/server.pem", &format!("{dir}/server.pem"))
        .replace("pki/server.key", &format!("{dir}/server.key"));
    common::write_config(&config, &text);
    env.start(&config)
}

fn s_client(d: &Daemon, env: &Env, extra: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &d.addr.to_string(), "-CAfile"])
        .arg(env.ca())
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is required for TLS policy tests");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let handshake_ok = !text.contains("Cipher is (NONE)")
        && !text.contains("no peer certificate available")
        && text.contains("Verify return code: 0 (ok)");
    (handshake_ok, text)
}

#[test]
fn only_tls13_with_secsh_alpn() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    let (ok, text) = s_client(&d, &env, &["-tls1_3", "-alpn", "secsh/1"]);
    assert!(ok, "TLS 1.3 handshake should succeed:\n{text}");
    assert!(text.contains("TLSv1.3"), "{text}");
    assert!(text.contains("ALPN protocol: secsh/1"), "{text}");
    let (ok, text) = s_client(&d, &env, &["-tls1_2"]);
    assert!(!ok, "TLS 1.2 accepted:\n{text}");
    let (ok, text) = s_client(&d, &env, &["-tls1_3", "-alpn", "http/1.1"]);
    assert!(!ok, "foreign ALPN accepted:\n{text}");
    assert!(text.contains("no application protocol"), "{text}");
}

#[test]
fn new_keys_are_p256_and_an_ed25519_ca_still_issues() {
    let env = Env::new();
    // The test PKI comes from `pki init`: ECDSA P-256, which every
    // validator accepts (sslyze's WebPKI rules refuse Ed25519).
    for pem in ["pki/ca.pem", "pki/server.pem"] {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(env.path(pem))
            .output()
            .expect("openssl is required for TLS policy tests");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Public Key Algorithm: id-ecPublicKey") && text.contains("P-256"),
            "{pem}: {text}"
        );
    }
    // A CA whose key is Ed25519, made by other tooling.
    let other = env.path("ed25519-ca");
    std::fs::create_dir_all(&other).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Ed25519 CA");
    let ca = params.self_signed(&key).unwrap();
    std::fs::write(other.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(other.join("ca.key"), key.serialize_pem()).unwrap();
    let names = ["--name", "localhost", "--ip", "127.0.0.1"];
    issue(&env, &other, &names, "from-ed25519");
    let d = start_presenting(&env, "from-ed25519");
    let (code, _, err) = run(common::secsh_to(
        &other.join("ca.pem"),
        Some(&env.key_path("alice")),
        &format!("alice@{}", d.addr),
    )
    .args(["--", "true"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
}
