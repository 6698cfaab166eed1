//! The front door from outside: one source's flood of idle connections
//! does not lock others out, repeated failures get `rate_limited` with its
//! own exit code, exempt sources are never penalised, and
//! `max_connections` counts signed-in connections only.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{run, wait_until, Env};

/// A TCP connection from `source` to `to` that never sends a byte.
fn idle_from(source: &str, to: SocketAddr) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).ok()?;
    socket
        .connect_timeout(&to.into(), Duration::from_secs(5))
        .ok()?;
    Some(socket.into())
}

/// True when the server has closed `s` (EOF or reset), without waiting.
fn closed(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    !matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn an_idle_flood_from_one_source_leaves_others_signing_in() {
    let env = Env::new();
    let path = env.config(
        "\n[limits]\nmax_unauthenticated = 400\nmax_unauthenticated_per_source = 100\nauth_timeout_secs = 30\n\n[penalties]\nexempt = [\"127.0.0.2\"]\n",
    );
    let d = env.start(&path);
    // 300 idle connections from 127.0.0.2: 100 are held, the rest are
    // closed at accept (before any TLS work).
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| idle_from("127.0.0.2", d.addr))
        .collect();
    assert_eq!(flood.len(), 300, "the kernel accepted every connect");
    let shut = |flood: &[TcpStream]| flood.iter().filter(|s| closed(s)).count();
    assert!(wait_until(Duration::from_secs(10), || shut(&flood) >= 200));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        shut(&flood),
        200,
        "all but the per-source share closed at once:\n{}",
        d.log()
    );
    // 127.0.0.1 signs in as usual while 127.0.0.2 holds its share.
    for _ in 0..5 {
        let started = Instant::now();
        let (code, out, err) = run(env.secsh(&d, "alice").args(["--", "echo", "in"]));
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
        assert_eq!(out, b"in\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // The log says so a few times, not 200 times.
    let log = d.log();
    let lines = log.matches("closed at accept").count();
    assert!((1..=5).contains(&lines), "{lines} lines:\n{log}");
    drop(flood);
}

#[test]
fn repeated_failures_get_rate_limited_with_exit_251() {
    let env = Env::new();
    let d = env.start(&env.config(""));
    // mallory's key is not listed: each attempt fails (5 s of penalty;
    // refused once over 15 s).
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (code, _, _) = run(env.secsh(&d, "mallory").args(["--", "true"]));
        codes.push(code);
    }
    assert_eq!(&codes[..3], &[Some(254); 3], "{codes:?}");
    assert!(codes[3..].contains(&Some(251)), "{codes:?}");
    // The whole source is refused, whatever it brings, and told when to
    // come back.
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "true"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(251), "{err}");
    assert!(
        err.starts_with("secsh: rate limited by the server"),
        "{err}"
    );
    assert!(err.contains("retry in"), "{err}");
    assert!(d.log().contains("penalised after repeated failures"));
}

#[test]
fn exempt_sources_are_never_rate_limited() {
    let env = Env::new();
    let d = env.start(&env.config("\n[penalties]\nexempt = [\"127.0.0.0/8\"]\n"));
    for _ in 0..10 {
        let (code, _, _) = run(env.secsh(&d, "mallory").args(["--", "true"]));
        assert_eq!(code, Some(254));
    }
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
}

#[test]
fn max_connections_counts_signed_in_connections_and_says_busy() {
    let env = Env::new();
    let d = env.start(&env.config("\n[limits]\nmax_connections = 1\n"));
    let mut holder = env
        .secsh(&d, "alice")
        .args(["--", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The command (the sentinel is not the daemon's child).
    assert!(wait_until(Duration::from_secs(10), || {
        !common::children_of(d.pid() as i32).is_empty()
    }));
    // Unauthenticated connections do not count against max_connections...
    let idle: Vec<_> = (0..5)
        .filter_map(|_| idle_from("127.0.0.1", d.addr))
        .collect();
    // ...but a second signed-in connection does: busy, exit 250.
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "true"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(250), "{err}\n{}", d.log());
    assert!(err.contains("busy"), "{err}");
    let _ = holder.kill();
    let _ = holder.wait();
    drop(idle);
}

#[test]
fn from_and_key_expiry_restrict_who_signs_in() {
    let env = Env::new();
    let extra = format!(
        r#"
[users.carol]
keys = ["{bob}"]
commands = ["true"]
from = ["10.0.0.0/8", "::1"]

[users.dave]
keys = ['expiry-time="20200101" {alice}', 'expiry-time="29991231235959Z" {bob}']
commands = ["true"]

[penalties]
exempt = ["127.0.0.0/8"]
"#,
        alice = env.public_key(1),
        bob = env.public_key(2)
    );
    let d = env.start(&env.config(&extra));
    let as_user = |user: &str, key: &str| {
        let key = env.key_path(key);
        common::secsh_to(&env.ca(), Some(&key), &format!("{user}@{}", d.addr))
            .args(["--batch", "--", "true"])
            .env("HOME", env.path("nohome"))
            .output()
            .unwrap()
    };
    let out = as_user("carol", "bob");
    assert_eq!(out.status.code(), Some(254), "from excludes 127.0.0.1");
    let out = as_user("dave", "alice");
    assert_eq!(
        out.status.code(),
        Some(254),
        "alice's key expired in 2020 for dave"
    );
    let out = as_user("dave", "bob");
    assert_eq!(out.status.code(), Some(0), "bob's key is good until 2999");
    let log = d.log();
    assert!(
        log.contains("not allowed from this address (from)"),
        "{log}"
    );
    assert!(
        log.contains("the key expired at 2020-01-01 00:00:00 UTC"),
        "{log}"
    );
}

#[test]
fn per_user_budgets_hold_across_connections() {
    let env = Env::new();
    let path = env.config("\n[limits]\nmax_commands_per_user = 2\n");
    common::user_limits(&path, "bob", "max_connections = 1");
    let d = env.start(&path);
    let sleeper = || {
        env.secsh(&d, "alice")
            .args(["--", "sleep", "30"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut sleepers = [sleeper(), sleeper()];
    // Both commands.
    assert!(wait_until(Duration::from_secs(10), || {
        common::children_of(d.pid() as i32).len() >= 2
    }));
    let (code, _, err) = run(env.secsh(&d, "alice").args(["--", "true"]));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(250), "{err}");
    assert!(err.contains("max_commands_per_user"), "{err}");
    // Budgets are per user: bob is not affected by alice's.
    let (code, _, err) = run(env.secsh(&d, "bob").args(["--", "true"]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    for s in &mut sleepers {
        let _ = s.kill();
        let _ = s.wait();
    }
    // Once a command ends, its unit comes back.
    assert!(wait_until(Duration::from_secs(10), || {
        run(env.secsh(&d, "alice").args(["--", "true"])).0 == Some(0)
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_connection_budget_turns_the_next_sign_in_busy() {
    let env = Env::new();
    let path = env.config("");
    common::user_limits(&path, "bob", "max_connections = 1");
    let d = env.start(&path);
    let held = common::session(&env, &d, "bob").await;
    // One command through it proves it is signed in.
    assert!(common::runs_true(&held).await);
    let (code, _, err) =
        tokio::task::spawn_blocking(move || run(env.secsh(&d, "bob").args(["--", "true"])))
            .await
            .unwrap();
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(250), "{err}");
    assert!(err.contains("max_connections_per_user"), "{err}");
    drop(held);
}

#[test]
fn sixty_kilobyte_names_and_argv_make_short_log_lines() {
    let env = Env::new();
    // Exempt from penalties: the worst case for the log, every attempt
    // reaches the code that would log it.
    let d = env.start(
        &env.config("\n[limits]\nlog_summary_secs = 1\n\n[penalties]\nexempt = [\"127.0.0.1\"]\n"),
    );
    let before = d.log().len();
    let until = Instant::now() + Duration::from_secs(3);
    let big_user = "u".repeat(60_000);
    let big_arg = format!("/bin/{}", "x".repeat(60_000));
    let runs = std::thread::scope(|s| {
        let names = s.spawn(|| {
            let mut n = 0;
            while Instant::now() < until {
                let target = format!("{big_user}@{}", d.addr);
                let key = env.key_path("mallory");
                let _ = common::secsh_to(&env.ca(), Some(&key), &target)
                    .args(["--", "true"])
                    .output();
                n += 1;
            }
            n
        });
        let argv = s.spawn(|| {
            let mut n = 0;
            while Instant::now() < until {
                let _ = env.secsh(&d, "alice").args(["--", &big_arg]).output();
                n += 1;
            }
            n
        });
        (names.join().unwrap(), argv.join().unwrap())
    });
    let log = d.log();
    let grown = &log[before..];
    let longest = grown.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1500, "a {longest}-byte log line");
    // Every denial is one short line; failed sign-ins are logged 5 times
    // and then only counted (and penalised).
    assert!(
        grown.len() < 1500 * (runs.1 + 10),
        "{} bytes for {runs:?} runs",
        grown.len()
    );
    assert!(
        grown.matches("denied").count() >= runs.1 / 2,
        "denials are still logged: {runs:?}\n{grown}"
    );
    assert!(
        // 5 per 1 s summary interval, over about 3 s.
        grown.matches("authentication failed").count() <= 5 * 5,
        "failed sign-ins beyond 5 per interval are only counted: {runs:?}\n{grown}"
    );
    // What was only counted shows up in the periodic summary.
    assert!(wait_until(Duration::from_secs(5), || {
        d.log()
            .lines()
            .any(|l| l.contains("front door, last 1 s:") && l.contains("failed auth attempts"))
    }));
    let (code, _, _) = run(env.secsh(&d, "alice").args(["--", "true"]));
    assert_eq!(code, Some(0), "still serving");
}
