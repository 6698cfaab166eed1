//! Helpers for fleet tests: one secshd listening on many loopback
//! addresses (and ports), with a certificate naming all of them, and
//! `secsh` fleet command lines against it.

use std::path::PathBuf;
use std::process::Command;

use super::{Daemon, Env, SECSH, SECSHD};

/// A daemon on 127.0.0.1..=127.0.0.N at one or more ports.
pub struct Fleet {
    pub env: Env,
    pub daemon: Daemon,
    pub port: u16,
    pub ports: Vec<u16>,
    pub ca: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Fleet {
    /// `n` addresses, `ports` ports each; alice may run `true`, `echo`,
    /// `sleep`, `exit3`, `selfterm`, `printf` (a partial line).
    pub fn start(n: u8, ports: usize) -> Self {
        let env = Env::new();
        let mut pki = Command::new(SECSHD);
        pki.args(["pki", "init", "--dir"])
            .arg(env.path("fleet-pki"))
            .args(["--name", "localhost"]);
        for i in 1..=n {
            pki.args(["--ip", &format!("127.0.0.{i}")]);
        }
        assert!(pki.output().unwrap().status.success(), "pki init");
        let ports: Vec<u16> = (0..ports).map(|_| free_port()).collect();
        let listen: Vec<String> = (1..=n)
            .flat_map(|i| ports.iter().map(move |p| format!("\"127.0.0.{i}:{p}\"")))
            .collect();
        let text = format!(
            r#"listen = [{listen}]
[tls]
cert = "fleet-pki/server.pem"
key = "fleet-pki/server.key"
[exec]
kill_grace_ms = 300
[limits]
max_unauthenticated_per_source = 1024
max_unauthenticated = 4096
[penalties]
exempt = ["127.0.0.0/8"]
[jobs]
dir = "{jobs}"
[users.alice]
keys = ["{alice}"]
commands = ["true", "echo", "sleep", "exit3", "selfterm", "partial"]
detach = true
[commands.true]
argv = ["/bin/true"]
[commands.echo]
argv = ["/bin/echo", "{{words...}}"]
slots.words = {{ regex = ".*", allow_dash = true }}
[commands.sleep]
argv = ["/bin/sleep", "{{secs}}"]
slots.secs = {{ int = [0, 600] }}
[commands.exit3]
argv = ["/bin/sh", "-c", "exit 3"]
[commands.selfterm]
argv = ["/bin/sh", "-c", "kill -TERM $$"]
[commands.partial]
argv = ["/bin/sh", "-c", "printf 'a'; sleep 0.2; printf 'b\\nc'"]
"#,
            listen = listen.join(", "),
            alice = env.public_key(1),
            jobs = env.path("jobs").display(),
        );
        let config = env.path("fleet.toml");
        super::write_config(&config, &text);
        let daemon = Daemon::start(&["--config".into(), config.into()]);
        let ca = env.path("fleet-pki/ca.pem");
        Self {
            port: ports[0],
            ports,
            daemon,
            ca,
            env,
        }
    }

    /// `secsh --cert CA -i alice -l alice -p PORT ARGS...`, no agent, no
    /// $USER, no client configuration from the machine.
    pub fn secsh(&self, args: &[&str]) -> Command {
        self.secsh_key("alice", args)
    }

    /// [`Fleet::secsh`] signing with `key`'s key (still as alice).
    pub fn secsh_key(&self, key: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(SECSH);
        cmd.arg("--cert")
            .arg(&self.ca)
            .arg("-i")
            .arg(self.env.key_path(key))
            .args(["-l", "alice", "-p", &self.port.to_string()])
            .args(args)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("USER")
            .env("HOME", self.env.path("home"));
        cmd
    }
}

/// Running `/bin/sleep SECS` processes.
pub fn sleeps(secs: &str) -> Vec<i32> {
    super::pids_with_cmdline(format!("/bin/sleep\0{secs}\0").as_bytes())
}
