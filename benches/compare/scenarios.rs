//! Timed scenarios, each run alternately against secsh and OpenSSH with
//! whole client processes, exactly as an operator's script would run them.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Seconds of one run and whether it succeeded.
pub fn time(cmd: &mut Command) -> (f64, bool) {
    let start = Instant::now();
    let ok = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    (start.elapsed().as_secs_f64(), ok)
}

/// Seconds to download `bytes` of zeros into /dev/null on the client.
pub fn download(mut cmd: Command, bytes: u64) -> (f64, bool) {
    cmd.args(["head", "-c", &bytes.to_string(), "/dev/zero"]);
    time(&mut cmd)
}

/// Seconds to upload `bytes` of zeros from a local pipe into
/// `cat > /dev/null` on the server.
pub fn upload(mut cmd: Command, bytes: u64, remote: &[&str]) -> (f64, bool) {
    let mut source = Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("head");
    let start = Instant::now();
    let ok = cmd
        .args(remote)
        .stdin(source.stdout.take().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let secs = start.elapsed().as_secs_f64();
    let _ = source.wait();
    (secs, ok)
}

/// Seconds until `n` clients started at once have all finished, and how
/// many failed.
pub fn concurrent(make: impl Fn() -> Command, n: usize) -> (f64, usize) {
    let start = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|_| {
            make()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        })
        .collect();
    let mut failures = 0;
    for c in children {
        match c.and_then(|mut c| c.wait()) {
            Ok(s) if s.success() => {}
            _ => failures += 1,
        }
    }
    (start.elapsed().as_secs_f64(), failures)
}

/// The median of `v` (which must not be empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
