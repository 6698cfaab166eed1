//! The Prometheus endpoint: parses as the text format, its counters move
//! with real sessions, and a flood of idle connections to it stays within
//! its own small cap.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{run, wait_until, Daemon, Env};

fn scrape(addr: SocketAddr, path: &str) -> (String, String) {
    try_scrape(addr, path).expect("a scrape")
}

/// A scrape, or `None` when the connection was refused or reset (as the
/// endpoint does to connections past its limit).
fn try_scrape(addr: SocketAddr, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

/// The address the daemon logged for its metrics endpoint.
fn metrics_addr(d: &Daemon) -> SocketAddr {
    let mut addr = None;
    assert!(wait_until(Duration::from_secs(5), || {
        addr = d
            .log()
            .lines()
            .find_map(|l| l.split("metrics on http://").nth(1))
            .and_then(|a| a.trim().trim_end_matches("/metrics").parse().ok());
        addr.is_some()
    }));
    addr.unwrap()
}

/// `name{labels} value` lines into a map; panics on anything else.
fn samples(body: &str) -> std::collections::HashMap<String, f64> {
    assert!(body.ends_with("# EOF\n"), "{body}");
    let mut out = std::collections::HashMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name in {line:?}"
        );
        out.insert(key.to_string(), v);
    }
    out
}

#[test]
fn counters_move_with_a_session() {
    let env = Env::new();
    let d = env.start(&env.config("\n[metrics]\nlisten = \"127.0.0.1:0\"\n"));
    let addr = metrics_addr(&d);
    let (head, body) = scrape(addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let before = samples(&body);
    assert_eq!(before.get("secsh_connections_total"), Some(&0.0));
    // The test certificate's expiry: in the future, within a few years.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let expiry = before
        .get("secsh_tls_certificate_expiry_timestamp_seconds")
        .copied()
        .unwrap_or_default();
    assert!(
        expiry > now && expiry < now + 20.0 * 365.0 * 86400.0,
        "{expiry} {body}"
    );

    let (code, out, _) = run(env.secsh(&d, "alice").args(["--", "echo", "counted"]));
    assert_eq!((code, out), (Some(0), b"counted\n".to_vec()));
    assert_eq!(
        run(env.secsh(&d, "bob").args(["--", "echo", "x"])).0,
        Some(253)
    );
    assert_eq!(
        run(env.secsh(&d, "mallory").args(["--", "true"])).0,
        Some(254)
    );
    assert_eq!(
        run(env
            .secsh(&d, "alice")
            .args(["--timeout", "1", "--", "sleep", "5"]))
        .0,
        Some(252)
    );

    let mut after = std::collections::HashMap::new();
    assert!(wait_until(Duration::from_secs(5), || {
        after = samples(&scrape(addr, "/metrics").1);
        after.get("secsh_connections_open") == Some(&0.0)
    }));
    let get = |k: &str| after.get(k).copied().unwrap_or(0.0);
    assert_eq!(get("secsh_connections_total"), 4.0, "{after:?}");
    assert_eq!(get("secsh_auth_total{method=\"key\",result=\"ok\"}"), 3.0);
    assert_eq!(
        get("secsh_auth_total{method=\"key\",result=\"failed\"}"),
        1.0
    );
    assert_eq!(get("secsh_exec_total{result=\"ok\"}"), 1.0);
    assert_eq!(get("secsh_exec_total{result=\"denied\"}"), 1.0);
    assert_eq!(get("secsh_exec_total{result=\"timed_out\"}"), 1.0);
    assert_eq!(get("secsh_bytes_total{direction=\"stdout\"}"), 8.0);
    assert_eq!(get("secsh_exec_duration_seconds_count"), 2.0);
    assert!(get("secsh_exec_duration_seconds_sum") >= 1.0);

    let (head, _) = scrape(addr, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

/// The jobs metrics follow detached jobs: each start is counted, and the
/// running gauge falls back when a job ends and when one is cancelled.
#[test]
fn jobs_metrics_follow_detached_jobs() {
    let env = Env::new();
    let text = format!(
        "\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[users.mallory]\nkeys = [\"{key}\"]\n\
         commands = [\"sleep\"]\ndetach = true\n\n[jobs]\ndir = \"{dir}\"\n",
        key = env.public_key(3),
        dir = env.path("state").display(),
    );
    let d = env.start(&env.config(&text));
    let addr = metrics_addr(&d);
    let gauge = || {
        let m = samples(&scrape(addr, "/metrics").1);
        let get = |k: &str| m.get(k).copied().unwrap_or(-1.0);
        (get("secsh_jobs_running"), get("secsh_jobs_started_total"))
    };
    assert_eq!(gauge(), (0.0, 0.0));
    let detach = |secs: &str| {
        let (code, out, err) = run(env
            .secsh(&d, "mallory")
            .args(["--detach", "--", "sleep", secs]));
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
        String::from_utf8(out).unwrap().trim().to_string()
    };
    let long = detach("300");
    detach("1");
    assert_eq!(gauge(), (2.0, 2.0));
    assert!(
        wait_until(Duration::from_secs(10), || gauge() == (1.0, 2.0)),
        "{:?}",
        gauge()
    );
    let (code, _, err) = run(env.secsh(&d, "mallory").args(["--cancel", &long]));
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&err));
    assert!(
        wait_until(Duration::from_secs(10), || gauge() == (0.0, 2.0)),
        "{:?}",
        gauge()
    );
}

/// Idle connections to the metrics port cannot take the daemon's
/// descriptors: past a small cap they are closed as they come, and a
/// sign-in on the exec port works throughout.
#[test]
fn a_flood_of_idle_metrics_connections_holds_few_descriptors() {
    let env = Env::new();
    let d = env.start(&env.config("\n[metrics]\nlisten = \"127.0.0.1:0\"\n"));
    let addr = metrics_addr(&d);
    let before = common::fds(d.pid());
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            idle.push(s);
        }
    }
    // Give the daemon time to accept them all.
    std::thread::sleep(Duration::from_millis(500));
    let during = common::fds(d.pid());
    assert!(
        during < before + 40,
        "{during} descriptors with {} idle metrics connections (was {before})",
        idle.len()
    );
    let (code, out, _) = run(env.secsh(&d, "alice").args(["--", "echo", "in"]));
    assert_eq!((code, out), (Some(0), b"in\n".to_vec()));
    drop(idle);
    // The endpoint serves again once the flood is gone (connections past
    // its limit meanwhile are closed, which is no failure).
    assert!(wait_until(Duration::from_secs(5), || {
        try_scrape(addr, "/metrics").is_some_and(|(head, _)| head.starts_with("HTTP/1.1 200"))
    }));
}
