//! The secsh side of the comparison: a private CA, key and config in a
//! temp dir, and the release `secshd` serving them on a free port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ssh_key::{LineEnding, PrivateKey};

pub const SECSH: &str = env!("CARGO_BIN_EXE_secsh");
pub const SECSHD: &str = env!("CARGO_BIN_EXE_secshd");
pub const USER: &str = "bench";
/// The password of `benchpw` (argon2id at the shipped parameters).
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Secshd {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
    pub key: PrivateKey,
}

impl Secshd {
    /// On 127.0.0.1, a free port.
    pub fn start(dir: &Path) -> Self {
        Self::start_on(
            dir,
            &["127.0.0.1".parse().unwrap()],
            &["127.0.0.1:0".into()],
        )
    }

    /// On 127.0.0.1, a free port, with `extra` appended to the
    /// configuration (whole TOML tables).
    pub fn start_with(dir: &Path, extra: &str) -> Self {
        Self::start_config(
            dir,
            &["127.0.0.1".parse().unwrap()],
            &["127.0.0.1:0".into()],
            extra,
        )
    }

    /// Listening on `listen`, with a certificate for `ips`.
    pub fn start_on(dir: &Path, ips: &[std::net::IpAddr], listen: &[String]) -> Self {
        Self::start_config(dir, ips, listen, "")
    }

    fn start_config(dir: &Path, ips: &[std::net::IpAddr], listen: &[String], extra: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        secsh::pki::init(&dir.join("pki"), &["localhost".into()], ips).unwrap();
        let key = secsh::pki::new_user_key("bench").unwrap();
        secsh::pki::write_new(
            &dir.join("id"),
            key.to_openssh(LineEnding::LF).unwrap().as_bytes(),
            0o600,
        )
        .unwrap();
        let config = format!(
            r#"listen = [{listen}]
[tls]
cert = "pki/server.pem"
key = "pki/server.key"
[limits]
max_connections = 10000
max_connections_per_user = 100000
max_unauthenticated = 8192
max_unauthenticated_per_source = 8192
max_commands_per_user = 100000
[penalties]
exempt = ["127.0.0.0/8"]
[users.{USER}]
keys = ["{public}"]
commands = ["true", "zeros", "sink", "uname"]
upload = ["{files}"]
download = ["{files}"]
[users.{USER}pw]
password = "{phc}"
commands = ["true"]
[commands.true]
argv = ["true"]
[commands.uname]
argv = ["uname", "-a"]
[commands.zeros]
argv = ["head", "-c", "{{n}}", "/dev/zero"]
slots.n = {{ int = [1, 1000000000000] }}
[commands.sink]
argv = ["/bin/sh", "-c", "cat > /dev/null"]
[jobs]
dir = "{jobs}"
"#,
            public = key.public_key().to_openssh().unwrap(),
            phc = secsh::auth::hash_password(PASSWORD.as_bytes()).unwrap(),
            files = dir.join("files").display(),
            jobs = dir.join("jobs").display(),
            listen = listen
                .iter()
                .map(|l| format!("\"{l}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("secshd.toml"), config + extra).unwrap();
        let mut child = Command::new(SECSHD)
            .arg("--config")
            .arg(dir.join("secshd.toml"))
            .env("RUST_LOG", "warn,secsh=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start secshd");
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.split("listening on ").nth(1) {
                    let _ = tx.send(a.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("secshd did not start")
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            dir: dir.to_path_buf(),
            key,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("pki/ca.pem")
    }

    /// The key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.join("id")
    }

    /// `secsh ... bench@ADDR --` (append the argv).
    pub fn command(&self) -> Command {
        self.command_via(self.addr)
    }

    /// [`Secshd::command`] through `addr` (a proxy in front of it).
    pub fn command_via(&self, addr: SocketAddr) -> Command {
        self.command_opts(addr, &[])
    }

    /// [`Secshd::command`] with client options `opts` before the `--`.
    pub fn command_with(&self, opts: &[&str]) -> Command {
        self.command_opts(self.addr, opts)
    }

    fn command_opts(&self, addr: SocketAddr, opts: &[&str]) -> Command {
        let mut c = Command::new(SECSH);
        c.arg("--cert")
            .arg(self.ca())
            .arg("-i")
            .arg(self.dir.join("id"))
            .args(opts)
            .arg(format!("{USER}@{addr}"))
            .arg("--")
            .env_remove("SSH_AUTH_SOCK");
        c
    }
}

impl Secshd {
    /// `secsh ... benchpw@ADDR -- true`, signing in with the password.
    pub fn password_true(&self) -> Command {
        let file = self.dir.join("password");
        if !file.exists() {
            secsh::pki::write_new(&file, format!("{PASSWORD}\n").as_bytes(), 0o600).unwrap();
        }
        let mut c = Command::new(SECSH);
        c.arg("--cert")
            .arg(self.ca())
            .arg("--password-file")
            .arg(&file)
            .arg(format!("{USER}pw@{}", self.addr))
            .args(["--", "true"])
            .env_remove("SSH_AUTH_SOCK");
        c
    }

    /// The directory `put` and `get` may use.
    pub fn files(&self) -> PathBuf {
        self.dir.join("files")
    }

    /// `secsh put|get --cert CA -i KEY` (append the paths; remote paths
    /// via [`Secshd::remote`]).
    pub fn transfer(&self, verb: &str) -> Command {
        let mut c = Command::new(SECSH);
        c.arg(verb)
            .arg("--cert")
            .arg(self.ca())
            .arg("-i")
            .arg(self.dir.join("id"))
            .args(["-p", &self.addr.port().to_string()])
            .env_remove("SSH_AUTH_SOCK");
        c
    }

    /// `bench@127.0.0.1:PATH`.
    pub fn remote(&self, path: &Path) -> String {
        format!("{USER}@{}:{}", self.addr.ip(), path.display())
    }
}

impl Drop for Secshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident set size of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
