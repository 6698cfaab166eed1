//! Helpers for file-transfer tests: a daemon whose `alice` has upload and
//! download roots, `secsh put`/`get` command lines, file fingerprints.

use std::path::{Path, PathBuf};
use std::process::Command;

use blake3::Hasher;

use super::{Daemon, Env, SECSH};

/// Roots of a transfer test: `up` (upload and download), `dl` (download
/// only), `outside` (neither), `local` (the client's side).
pub struct Roots {
    pub up: PathBuf,
    pub dl: PathBuf,
    pub outside: PathBuf,
    pub local: PathBuf,
}

impl Roots {
    pub fn new(env: &Env) -> Self {
        let r = Self {
            up: env.path("up"),
            dl: env.path("dl"),
            outside: env.path("outside"),
            local: env.path("local"),
        };
        for d in [&r.up, &r.dl, &r.outside, &r.local] {
            std::fs::create_dir_all(d).unwrap();
        }
        r
    }

    /// The config's `[groups.files]` giving alice these roots, plus `extra`.
    pub fn config(&self, env: &Env, extra: &str) -> PathBuf {
        env.config(&format!(
            "\n[groups.files]\nmembers = [\"alice\"]\nupload = [\"{}\"]\ndownload = [\"{}\", \"{}\"]\n{extra}",
            self.up.display(),
            self.up.display(),
            self.dl.display()
        ))
    }
}

/// `secsh VERB --cert CA -i KEY -p PORT ARGS...` as `user`, with no agent,
/// no $USER and no client configuration from the machine.
pub fn cli(env: &Env, d: &Daemon, user: &str, verb: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(SECSH);
    cmd.arg(verb)
        .arg("--cert")
        .arg(env.ca())
        .arg("-i")
        .arg(env.key_path(user))
        .arg("-p")
        .arg(d.addr.port().to_string())
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("USER");
    cmd
}

/// Run `secsh VERB ARGS...` as alice and assert it exits 0; its stdout.
pub fn ok(env: &Env, d: &Daemon, verb: &str, args: &[&str]) -> Vec<u8> {
    let (code, out, err) = super::run(&mut cli(env, d, "alice", verb, args));
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, Some(0), "secsh {verb} {args:?}: {err}");
    out
}

/// `alice@127.0.0.1:PATH`.
pub fn remote(path: &Path) -> String {
    format!("alice@127.0.0.1:{}", path.display())
}

/// BLAKE3 of a file, hex (as `b3sum` prints it).
pub fn b3_file(p: &Path) -> String {
    use std::io::Read;
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(h.finalize().as_bytes())
}

pub fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A file of `n` pseudo-random bytes (fast, not cryptographic).
pub fn random_file(p: &Path, n: usize) {
    let mut v = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ n as u64;
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    std::fs::write(p, v).unwrap();
}

/// Names in a directory, sorted (hidden ones included).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The audit log's `transfer` records once `ready` holds for them (or
/// after 10 s, for the caller's assertion to report). Records reach the
/// file from the daemon's writer thread, so the one for a transfer the
/// client has just seen end may still be on its way.
pub fn transfers(
    env: &Env,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let read = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(env.audit_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == "transfer")
            .collect()
    };
    super::wait_until(std::time::Duration::from_secs(10), || ready(&read()));
    read()
}

/// The last `transfer` record of a `direction` ("put" or "get") of
/// `path` that ended in `result`, waiting for it as [`transfers`] does.
pub fn transfer_of(env: &Env, direction: &str, path: &Path, result: &str) -> serde_json::Value {
    let path = path.display().to_string();
    let is = |t: &&serde_json::Value| {
        t["direction"] == direction && t["path"] == path.as_str() && t["result"] == result
    };
    let all = transfers(env, |r| r.iter().any(|t| is(&t)));
    all.iter()
        .rfind(is)
        .cloned()
        .unwrap_or_else(|| panic!("no {result} {direction} of {path} in {all:?}"))
}
