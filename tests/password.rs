//! Password authentication end to end: `secshd hash-password`, sign-in
//! with `--password-file`, wrong and unknown users, keys plus passwords,
//! the server asking for a password after a refused key, and a flood of
//! wrong passwords that key users never notice.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, run_with_stdin, secsh_to, wait_until, Daemon, Env, SECSHD};

fn password_file(env: &Env, name: &str, text: &str) -> std::path::PathBuf {
    let p = env.path(name);
    common::write_config(&p, text);
    p
}

/// A config where carol has only a password and dave needs key and
/// password. Loopback is exempt from penalties: these tests fail on
/// purpose, many times (tests/front_door.rs covers penalties).
fn start(env: &Env) -> Daemon {
    let phc = secsh::auth::hash_password(b"correct horse").unwrap();
    let extra = format!(
        r#"
[users.carol]
password = "{phc}"
commands = ["true", "echo"]

[users.dave]
keys = ["{alice}"]
password = "{phc}"
auth = ["key", "password"]
commands = ["echo"]

[penalties]
exempt = ["127.0.0.0/8", "::1"]

[limits]
# 200 queued password checks take seconds on a loaded 2-core machine.
auth_timeout_secs = 120
"#,
        alice = env.public_key(1)
    );
    env.start(&env.config(&extra))
}

fn as_user(env: &Env, d: &Daemon, user: &str, key: Option<&str>) -> Command {
    let key = key.map(|k| env.key_path(k));
    let mut c = secsh_to(&env.ca(), key.as_deref(), &format!("{user}@{}", d.addr));
    // No default key to fall back on, no terminal to ask.
    c.env("HOME", env.path("nohome")).arg("--batch");
    c
}

#[test]
fn hash_password_reads_stdin_and_prints_an_argon2id_phc() {
    let (code, out, err) = run_with_stdin(
        Command::new(SECSHD).arg("hash-password"),
        std::fs::File::open(password_file(&Env::new(), "pw", "s3cret\n")).unwrap(),
    );
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    let phc = String::from_utf8(out).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let stored = secsh::auth::StoredHash::parse(phc.trim()).unwrap();
    assert_eq!(
        secsh::auth::verify_password(Some(&stored), b"s3cret", stored.cost()),
        secsh::auth::Verified::Match
    );
}

#[test]
fn right_password_works_wrong_empty_and_unknown_fail_alike() {
    let env = Env::new();
    let d = start(&env);
    let good = password_file(&env, "good", "correct horse\n");
    let (code, out, err) = run(as_user(&env, &d, "carol", None)
        .arg("--password-file")
        .arg(&good)
        .args(["--", "echo", "pw-ok"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(out, b"pw-ok\n");
    for (file, text) in [("wrong", "wrong horse\n"), ("empty", "\n")] {
        let f = password_file(&env, file, text);
        let (code, _, err) = run(as_user(&env, &d, "carol", None)
            .arg("--password-file")
            .arg(&f)
            .args(["--", "true"]));
        assert_eq!(code, Some(254), "{file}: {}", String::from_utf8_lossy(&err));
        assert_eq!(
            String::from_utf8_lossy(&err),
            "secsh: authentication failed\n"
        );
    }
    // Environment variable, unknown user: the same answer, and the server
    // took the dummy-hash path (it logs the reason only after verifying).
    let (code, _, err) = run(as_user(&env, &d, "nosuchuser", None)
        .env("SECSH_PASSWORD_FILE", &good)
        .args(["--", "true"]));
    assert_eq!(code, Some(254));
    assert_eq!(
        String::from_utf8_lossy(&err),
        "secsh: authentication failed\n"
    );
    // alice has keys only: her password attempt takes the dummy path too.
    let (code, _, _) = run(as_user(&env, &d, "alice", None)
        .arg("--password-file")
        .arg(&good)
        .args(["--", "true"]));
    assert_eq!(code, Some(254));
    let log = d.log();
    assert!(
        log.contains("authentication failed: user nosuchuser: unknown user"),
        "{log}"
    );
    assert!(
        log.contains("authentication failed: user alice: the user has no password"),
        "{log}"
    );
    assert!(
        log.contains("authentication failed: user carol: wrong password"),
        "{log}"
    );
    assert!(
        !log.contains("correct horse") && !log.contains("wrong horse"),
        "{log}"
    );
}

#[test]
fn a_refused_key_then_the_password_the_server_asks_for() {
    let env = Env::new();
    let d = start(&env);
    let good = password_file(&env, "good", "correct horse\n");
    // carol has no keys: alice's key is refused, then the password works,
    // and the pipelined request runs after all.
    let (code, out, err) = run(as_user(&env, &d, "carol", Some("alice"))
        .arg("--password-file")
        .arg(&good)
        .args(["--", "echo", "second-try"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(out, b"second-try\n");
}

#[test]
fn key_and_password_both_required() {
    let env = Env::new();
    let d = start(&env);
    let good = password_file(&env, "good", "correct horse\n");
    let (code, _, err) = run(as_user(&env, &d, "dave", Some("alice")).args(["--", "echo", "x"]));
    assert_eq!(
        code,
        Some(254),
        "key alone: {}",
        String::from_utf8_lossy(&err)
    );
    let (code, _, _) = run(as_user(&env, &d, "dave", None)
        .arg("--password-file")
        .arg(&good)
        .args(["--", "echo", "x"]));
    assert_eq!(code, Some(254), "password alone");
    let (code, out, err) = run(as_user(&env, &d, "dave", Some("alice"))
        .arg("--password-file")
        .arg(&good)
        .args(["--", "echo", "both"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert_eq!(out, b"both\n");
    assert!(d
        .log()
        .contains("key accepted; the user must also give a password"));
}

#[test]
fn a_password_file_readable_by_others_is_refused() {
    let env = Env::new();
    let d = start(&env);
    let loose = env.path("loose");
    std::fs::write(&loose, "correct horse\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(as_user(&env, &d, "carol", None)
        .arg("--password-file")
        .arg(&loose)
        .args(["--", "true"]));
    assert_eq!(code, Some(255));
    assert!(String::from_utf8_lossy(&err).contains("chmod 600"));
}

#[test]
fn a_flood_of_wrong_passwords_does_not_starve_key_users() {
    let env = Env::new();
    let d = start(&env);
    let wrong = password_file(&env, "wrong", "wrong horse\n");
    let flood: Vec<_> = (0..200)
        .map(|_| {
            as_user(&env, &d, "carol", None)
                .arg("--password-file")
                .arg(&wrong)
                .args(["--connect-timeout", "110", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    for i in 0..10 {
        let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "echo", "still-here"]));
        assert_eq!(
            code,
            Some(0),
            "key run {i}: {}",
            String::from_utf8_lossy(&err)
        );
        assert_eq!(out, b"still-here\n");
    }
    let key_runs = started.elapsed();
    let mut codes = Vec::new();
    for mut c in flood {
        let deadline = Instant::now() + Duration::from_secs(120);
        codes.push(loop {
            if let Some(s) = c.try_wait().unwrap() {
                break s.code();
            }
            assert!(Instant::now() < deadline, "a flood client hung");
            std::thread::sleep(Duration::from_millis(20));
        });
    }
    assert!(codes.iter().all(|c| *c == Some(254)), "{codes:?}");
    eprintln!("10 key runs during the flood took {key_runs:?}");
}

/// `cmd` run with a fresh pseudo-terminal as its controlling terminal and
/// standard streams. Each time the terminal shows a prompt (output ending
/// in `: `), the next of `answers` is typed once the program has turned
/// echo off (read from the terminal's settings), as a person would. The
/// transcript and the exit status.
fn on_a_terminal(cmd: &mut Command, answers: &[&str]) -> (Option<i32>, String) {
    use nix::fcntl::OFlag;
    use nix::sys::termios::{tcgetattr, LocalFlags};
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    // Opened close-on-exec from the start: tests run in parallel, and no
    // other test's child may inherit this terminal.
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let pt = nix::pty::posix_openpt(flags).unwrap();
    nix::pty::grantpt(&pt).unwrap();
    nix::pty::unlockpt(&pt).unwrap();
    let name = nix::pty::ptsname_r(&pt).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((OFlag::O_NOCTTY | OFlag::O_CLOEXEC).bits())
        .open(name)
        .unwrap();
    let master: std::os::fd::OwnedFd = pt.into();
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reap(cmd.spawn().unwrap());
    // Only the child may hold the terminal now (`cmd` keeps its stdio).
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    drop(slave);
    let master = std::fs::File::from(master);
    let mut typing = master.try_clone().unwrap();
    let mut reading = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = screen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        // EIO once the last program on the terminal has closed it.
        while let Ok(n) = reading.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut seen = seen.lock().unwrap();
            seen.extend_from_slice(&buf[..n]);
            if seen.ends_with(b": ") {
                let _ = tx.send(());
            }
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    for answer in answers {
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            break;
        }
        // The prompt is out; wait for the program to turn echo off.
        let echo_off = wait_until(Duration::from_secs(10), || {
            tcgetattr(&master).is_ok_and(|t| !t.local_flags.contains(LocalFlags::ECHO))
        });
        assert!(
            echo_off,
            "the prompt came but echo stayed on: {:?}",
            shown()
        );
        typing.write_all(answer.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "a program on the terminal hung: {:?}",
            shown()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(master);
    drop(typing);
    reader.join().unwrap();
    (status.code(), shown())
}

#[test]
fn a_terminal_is_asked_for_the_password_only_without_batch() {
    let env = Env::new();
    let d = start(&env);
    let mut c = secsh_to(&env.ca(), None, &format!("carol@{}", d.addr));
    c.env("HOME", env.path("nohome"))
        .args(["--", "echo", "typed-in"]);
    let (code, screen) = on_a_terminal(&mut c, &["correct horse\n"]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("carol@127.0.0.1's password: "), "{screen}");
    assert!(screen.contains("typed-in"), "{screen}");
    assert!(!screen.contains("correct horse"), "echoed: {screen}");
    // --batch: no prompt even on a terminal, so no way to sign in.
    let mut c = secsh_to(&env.ca(), None, &format!("carol@{}", d.addr));
    c.env("HOME", env.path("nohome"))
        .args(["--batch", "--", "echo", "typed-in"]);
    let (code, screen) = on_a_terminal(&mut c, &[]);
    assert_eq!(code, Some(255), "{screen}");
    assert!(!screen.contains("password:"), "{screen}");
}

#[test]
fn hash_password_on_a_terminal_asks_twice_without_echo() {
    let mut c = Command::new(SECSHD);
    c.arg("hash-password");
    let (code, screen) = on_a_terminal(&mut c, &["tty secret\n", "tty secret\n"]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("Password: ") && screen.contains("Again: "),
        "{screen}"
    );
    assert!(!screen.contains("tty secret"), "echoed: {screen}");
    let phc = screen
        .lines()
        .find(|l| l.starts_with("$argon2id$"))
        .unwrap()
        .trim();
    let stored = secsh::auth::StoredHash::parse(phc).unwrap();
    assert_eq!(
        secsh::auth::verify_password(Some(&stored), b"tty secret", stored.cost()),
        secsh::auth::Verified::Match
    );
    let (code, screen) = on_a_terminal(
        Command::new(SECSHD).arg("hash-password"),
        &["one\n", "two\n"],
    );
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("the passwords differ"), "{screen}");
}
