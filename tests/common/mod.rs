//! Test harness: a temp dir with a real CA and server certificate (made by
//! `secshd pki init`), user keys, a generated config, a real `secshd`
//! child process, and `secsh` command lines against it.
#![allow(dead_code)]

pub mod cutproxy;
pub mod files;
pub mod fleet;
pub mod raw;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssh_key::{LineEnding, PrivateKey};

pub const SECSH: &str = env!("CARGO_BIN_EXE_secsh");
pub const SECSHD: &str = env!("CARGO_BIN_EXE_secshd");

/// A temp dir holding PKI, keys, a jail directory and configs.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub fn key_from_seed(seed: u8) -> PrivateKey {
    PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]))
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Self { dir };
        let out = Command::new(SECSHD)
            .args(["pki", "init", "--dir"])
            .arg(env.path("pki"))
            .args(["--name", "localhost", "--ip", "127.0.0.1", "--ip", "::1"])
            .output()
            .expect("run secshd pki init");
        assert!(
            out.status.success(),
            "pki init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, seed) in [("alice", 1), ("bob", 2), ("mallory", 3)] {
            env.write_key(name, &key_from_seed(seed));
        }
        std::fs::create_dir_all(env.jail()).unwrap();
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn jail(&self) -> PathBuf {
        self.path("jail")
    }

    pub fn ca(&self) -> PathBuf {
        self.path("pki/ca.pem")
    }

    /// The audit log of a daemon started with [`Env::config`].
    pub fn audit_log(&self) -> PathBuf {
        self.path("audit.jsonl")
    }

    pub fn key_path(&self, user: &str) -> PathBuf {
        self.path(&format!("{user}.key"))
    }

    fn write_key(&self, name: &str, key: &PrivateKey) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.key_path(name);
        std::fs::write(&p, key.to_openssh(LineEnding::LF).unwrap().as_bytes()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    pub fn public_key(&self, seed: u8) -> String {
        key_from_seed(seed).public_key().to_openssh().unwrap()
    }

    /// The standard test config plus `extra` TOML appended.
    pub fn config(&self, extra: &str) -> PathBuf {
        let jail = self.jail();
        let jail = jail.display();
        let text = format!(
            r#"listen = ["127.0.0.1:0"]

[tls]
cert = "pki/server.pem"
key = "pki/server.key"

[exec]
kill_grace_ms = 500

[audit]
path = "audit.jsonl"

[users.alice]
keys = ["{alice}"]
commands = ["true", "echo", "cat", "head", "yes", "zeros", "script", "marker", "marker-path", "sleep", "cat-file", "id"]

[users.bob]
keys = ["{bob}"]
commands = ["true"]

[commands.true]
argv = ["true"]

[commands.echo]
argv = ["echo", "{{words...}}"]
slots.words = {{ regex = ".*", allow_dash = true }}

[commands.cat]
argv = ["cat"]

[commands.head]
argv = ["head", "-n", "{{n}}"]
slots.n = {{ int = [1, 100000] }}

[commands.yes]
argv = ["yes"]

[commands.zeros]
argv = ["head", "-c", "{{n}}", "/dev/zero"]
slots.n = {{ int = [1, 10000000000] }}

[commands.sleep]
argv = ["sleep", "{{secs}}"]
slots.secs = {{ int = [0, 1000] }}

[commands.id]
argv = ["id", "-u"]

[commands.cat-file]
argv = ["cat", "{{file}}"]
slots.file = {{ path_under = "{jail}" }}

[commands.script]
argv = ["/bin/sh", "-c", "{{script}}"]
slots.script = {{ enum = [
  "exit 0", "exit 1", "exit 3",
  "kill -TERM $$", "kill -KILL $$",
  "echo out; exec 1>&-; sleep 0.3; echo late-err >&2",
  "printf 'o\\000\\377\\n'; printf 'e\\001\\376' >&2",
  "sleep 100 & echo $! > {jail}/pid; wait",
  "sleep 1; echo done",
] }}

[commands.marker]
argv = ["/bin/sh", "-c", "touch {jail}/marker", "{{arg}}"]
slots.arg = {{ regex = "[a-z]+" }}

[commands.marker-path]
argv = ["/bin/sh", "-c", "touch {jail}/marker", "{{p}}"]
slots.p = {{ path_under = "{jail}/logs" }}
{extra}
"#,
            alice = self.public_key(1),
            bob = self.public_key(2),
        );
        let path = self.path("secshd.toml");
        write_config(&path, &text);
        path
    }

    /// Start `secshd --config CONFIG` and wait for its `listening on` line.
    pub fn start(&self, config: &Path) -> Daemon {
        self.start_with(config, &[])
    }

    /// Start `secshd --config CONFIG EXTRA...`.
    pub fn start_with(&self, config: &Path, extra: &[&str]) -> Daemon {
        let mut args = vec![OsArg::from("--config"), config.into()];
        args.extend(extra.iter().map(OsArg::from));
        Daemon::start(&args)
    }

    /// A `secsh` command for `user@daemon` with the test CA and `user`'s key.
    pub fn secsh(&self, daemon: &Daemon, user: &str) -> Command {
        secsh_to(
            &self.ca(),
            Some(&self.key_path(user)),
            &format!("{user}@{}", daemon.addr),
        )
    }
}

/// `secsh --cert CA [-i KEY] TARGET` (append `-- COMMAND`), with no
/// ssh-agent in its environment.
pub fn secsh_to(ca: &Path, key: Option<&Path>, target: &str) -> Command {
    let mut cmd = Command::new(SECSH);
    cmd.arg("--cert").arg(ca);
    if let Some(key) = key {
        cmd.arg("-i").arg(key);
    }
    cmd.arg(target).env_remove("SSH_AUTH_SOCK");
    cmd
}

type OsArg = std::ffi::OsString;

/// A running `secshd`, killed (by its pid) when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(args: &[OsArg]) -> Self {
        Self::start_env(args, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    pub fn start_env(args: &[OsArg], env: &[(&str, &Path)]) -> Self {
        let mut child = Command::new(SECSHD)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn secshd");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("secshd did not start:\n{}", log.lock().unwrap());
            }
        };
        Self { child, addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open file descriptors of `pid`, from /proc.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Resident set size of `pid` in KiB, from /proc.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            !matches!(state, Some('Z') | Some('X') | None)
        }
    }
}

/// True when process `pid` wrote nothing for 300 ms (its `wchar` in
/// /proc/PID/io): its output is stalled.
pub fn writes_stalled(pid: i32) -> bool {
    let written = || {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
        io.lines()
            .find_map(|l| l.strip_prefix("wchar:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let before = written();
    std::thread::sleep(Duration::from_millis(300));
    before.is_some() && written() == before
}

/// Poll `f` every 50 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Write a config file with mode 0600 whatever the umask: the daemon
/// (rightly) refuses group- or world-writable configs.
pub fn write_config(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Longest any client run may take before the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Run a command with no stdin and return (status code, stdout, stderr).
/// A run that takes longer than [`RUN_LIMIT`] is killed and fails the test.
pub fn run(cmd: &mut Command) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    run_with_stdin(cmd, Stdio::null())
}

/// [`run`] with `stdin` as the child's standard input.
pub fn run_with_stdin(
    cmd: &mut Command,
    stdin: impl Into<Stdio>,
) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    use std::io::Read;
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run secsh");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let code = wait_timeout(&mut child, RUN_LIMIT);
    (code, out.join().unwrap(), err.join().unwrap())
}

/// Wait for `child` at most `limit`; kill it and fail the test after that.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids whose parent is `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<i32>().ok()) == Some(pid) {
            kids.push(child);
        }
    }
    kids
}

/// The pipes (`pipe:[inode]`) among `pid`'s open descriptors.
fn pipes_of(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .filter(|l| l.starts_with("pipe:"))
        .collect()
}

/// The daemon's sentinel (not its child: it is forked twice): the
/// `secshd-sentinel` process holding the other end of one of the daemon's
/// pipes.
pub fn sentinel_of(daemon: i32) -> Option<i32> {
    let mine = pipes_of(daemon);
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "secshd-sentinel" && pipes_of(pid).iter().any(|p| mine.contains(p)))
            .then_some(pid)
    })
}

/// The pids whose command line is exactly `cmdline` (NUL-separated).
pub fn pids_with_cmdline(cmdline: &[u8]) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == cmdline) {
            pids.push(pid);
        }
    }
    pids
}

/// Wait (at most 10 s) for a command to write its pid and a newline to
/// `file`, and return the pid.
pub fn wait_for_pid(file: &Path) -> i32 {
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(file)
            .is_ok_and(|s| s.ends_with('\n'))),
        "the remote command did not write {}",
        file.display()
    );
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A library session to `daemon` as `user`, signed in with `user`'s key
/// (no keepalive, 10 s to authenticate).
pub async fn session(env: &Env, daemon: &Daemon, user: &str) -> secsh::client::Session {
    session_at(env, daemon.addr, user).await
}

/// [`session`] to `addr` (a proxy in front of the daemon, say).
pub async fn session_at(
    env: &Env,
    addr: std::net::SocketAddr,
    user: &str,
) -> secsh::client::Session {
    use secsh::client::{connect, Credentials, Identity, Session, SessionOptions, Target};
    let target = Target::parse(&addr.to_string()).unwrap();
    let conn = connect(&target, &env.ca(), Duration::from_secs(10))
        .await
        .unwrap();
    let key = Identity::from_file(&env.key_path(user), None).unwrap();
    let options = SessionOptions {
        auth_timeout: Duration::from_secs(10),
        keepalive: None,
    };
    let creds = Credentials::new(Some(key), None, None, user.into());
    Session::start(conn, creds, user, &options).unwrap()
}

/// Run `true` on `session`: true when it ran, false when denied.
pub async fn runs_true(session: &secsh::client::Session) -> bool {
    use secsh::client::RequestEvent;
    let params = secsh::session::ExecParams {
        argv: vec!["true".into()],
        stdin: false,
        timeout_ms: None,
        output_window: 1 << 20,
    };
    let mut req = session.exec(params).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), req.next()).await {
            Ok(Some(RequestEvent::Exit(e))) => return e == secsh::session::RemoteExit::Code(0),
            Ok(Some(RequestEvent::Denied(_))) => return false,
            Ok(Some(RequestEvent::Started { .. } | RequestEvent::Eof(_))) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Give `user` a `limits = { ... }` line in the config at `path`.
pub fn user_limits(path: &Path, user: &str, limits: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = format!("[users.{user}]\n");
    assert!(text.contains(&header), "no {header} in the config");
    let text = text.replace(&header, &format!("{header}limits = {{ {limits} }}\n"));
    write_config(path, &text);
}
