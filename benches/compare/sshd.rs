//! A private OpenSSH server for side-by-side runs: its own host key, client
//! key, config and clean HOME, on 127.0.0.1 and a free port, with
//! curve25519-sha256 and aes128-gcm@openssh.com as its fairest settings.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    control: Option<Child>,
}

const SSHD: &str = "/usr/sbin/sshd";

pub fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

impl Sshd {
    /// On 127.0.0.1:`port`, with keys of its own.
    pub fn start(dir: &Path, port: u16) -> Self {
        Self::start_on(dir, port, &["127.0.0.1".into()], None)
    }

    /// On every address of `addrs` (at most 16) at `port`, accepting
    /// `client_key` (its `.pub` beside it) when given, else a new key.
    pub fn start_on(dir: &Path, port: u16, addrs: &[String], client_key: Option<&Path>) -> Self {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run benches/run.sh, which installs openssh-server"
        );
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        keygen(&dir.join("host_ed25519"));
        match client_key {
            Some(k) => {
                std::fs::copy(k, dir.join("client_ed25519")).unwrap();
                std::fs::copy(k.with_extension("pub"), dir.join("client_ed25519.pub")).unwrap();
            }
            None => keygen(&dir.join("client_ed25519")),
        }
        std::fs::copy(dir.join("client_ed25519.pub"), dir.join("authorized_keys")).unwrap();
        let user = whoami();
        let config = format!(
            "Port {port}\n{listen}HostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\nUseDNS no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nAllowUsers {user}\n\
             KexAlgorithms curve25519-sha256\nCiphers aes128-gcm@openssh.com\n\
             MaxStartups 2000\nMaxSessions 2000\nSetEnv HOME={d}/home\nPrintMotd no\nPrintLastLog no\n\
             LogLevel ERROR\nSubsystem sftp internal-sftp\n",
            d = dir.display(),
            listen = addrs
                .iter()
                .map(|a| format!("ListenAddress {a}\n"))
                .collect::<String>()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        let start = Instant::now();
        while std::net::TcpStream::connect((addrs[0].as_str(), port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = Self {
            child,
            port,
            dir: dir.to_path_buf(),
            control: None,
        };
        // Accept the host key once, outside any timing.
        if addrs[0] == "127.0.0.1" {
            let ok = s.command(false).arg("true").status().unwrap().success();
            assert!(ok, "ssh to the private sshd failed");
        }
        s
    }

    /// `ssh` with the common options, no destination yet.
    fn base(&self) -> Command {
        let mut c = Command::new("ssh");
        self.options(&mut c);
        c.args(["-p", &self.port.to_string()]);
        c
    }

    /// `scp` with the same key, ciphers and port: append source and
    /// destination (`USER@127.0.0.1:PATH` via [`Sshd::remote`]).
    pub fn scp(&self) -> Command {
        let mut c = Command::new("scp");
        c.arg("-q");
        self.options(&mut c);
        c.args(["-P", &self.port.to_string()]);
        c
    }

    /// The listening sshd (its per-connection processes are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `sftp -b BATCH` with the same key, ciphers and port (append the
    /// destination `USER@127.0.0.1`).
    pub fn sftp(&self, batch: &Path) -> Command {
        let mut c = Command::new("sftp");
        c.arg("-q").arg("-b").arg(batch);
        self.options(&mut c);
        c.args(["-P", &self.port.to_string()]);
        c.arg(format!("{}@127.0.0.1", whoami()));
        c
    }

    /// `rsync -e 'ssh ...'` with the same key, ciphers and port (append
    /// sources and destination, remote ones via [`Sshd::remote`]).
    pub fn rsync(&self) -> Command {
        let mut ssh = Command::new("ssh");
        self.options(&mut ssh);
        ssh.args(["-p", &self.port.to_string()]);
        let mut e = String::from("ssh");
        for a in ssh.get_args() {
            e.push(' ');
            e.push_str(&a.to_string_lossy());
        }
        let mut c = Command::new("rsync");
        c.arg("-e").arg(e);
        c
    }

    /// `USER@127.0.0.1:PATH` for scp.
    pub fn remote(&self, path: &Path) -> String {
        format!("{}@127.0.0.1:{}", whoami(), path.display())
    }

    fn options(&self, c: &mut Command) {
        c.args(["-F", "/dev/null", "-i"])
            .arg(self.dir.join("client_ed25519"))
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}/known_hosts",
                self.dir.display()
            ))
            .args(["-o", "StrictHostKeyChecking=accept-new"])
            .args([
                "-o",
                "KexAlgorithms=curve25519-sha256",
                "-o",
                "Ciphers=aes128-gcm@openssh.com",
            ]);
    }

    /// `ssh ... user@127.0.0.1` (append the remote command), optionally
    /// through the ControlMaster.
    pub fn command(&self, via_master: bool) -> Command {
        let mut c = self.base();
        if via_master {
            c.arg("-S").arg(self.dir.join("master.sock"));
        } else {
            c.args(["-o", "ControlMaster=no", "-o", "ControlPath=none"]);
        }
        c.arg(format!("{}@127.0.0.1", whoami()));
        c
    }

    /// A fresh connection through `port` on 127.0.0.1 (a proxy in front of
    /// this sshd): append the remote command.
    pub fn command_via(&self, port: u16) -> Command {
        let mut c = Command::new("ssh");
        self.options(&mut c);
        c.args(["-p", &port.to_string()]);
        c.args(["-o", "ControlMaster=no", "-o", "ControlPath=none"]);
        c.arg(format!("{}@127.0.0.1", whoami()));
        c
    }

    /// `pdsh -R ssh -f PARALLEL` over one host per port in `ports` (all
    /// 127.0.0.1, named h1..hN in an ssh_config written to `cfg`, with
    /// this sshd's key and options): append the remote command.
    pub fn pdsh_ports(&self, ports: &[u16], parallel: usize, cfg: &Path) -> Command {
        let mut text = String::new();
        for (i, p) in ports.iter().enumerate() {
            text += &format!("Host h{}\n  Port {p}\n", i + 1);
        }
        text += &format!(
            "Host h*\n  HostName 127.0.0.1\n  User {}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking no\n  \
             UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  \
             KexAlgorithms curve25519-sha256\n  Ciphers aes128-gcm@openssh.com\n  \
             ControlMaster no\n  ControlPath none\n",
            whoami(),
            self.dir.join("client_ed25519").display()
        );
        std::fs::write(cfg, text).unwrap();
        let mut c = Command::new("pdsh");
        c.args(["-R", "ssh", "-f", &parallel.to_string()])
            .args(["-w", &format!("h[1-{}]", ports.len())])
            .env("PDSH_SSH_ARGS", format!("-F {} %h", cfg.display()));
        c
    }

    /// Start a ControlMaster for multiplexed runs.
    pub fn start_master(&mut self) {
        let sock = self.dir.join("master.sock");
        let child = self
            .base()
            .args(["-M", "-N", "-S"])
            .arg(&sock)
            .arg(format!("{}@127.0.0.1", whoami()))
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh master");
        let start = Instant::now();
        while !sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ControlMaster did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.control = Some(child);
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut m) = self.control.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

pub fn version() -> String {
    let out = Command::new(SSHD).arg("-V").output().ok();
    out.map(|o| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
    .unwrap_or_default()
}
