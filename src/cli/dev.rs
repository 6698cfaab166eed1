//! `secshd --dev`: a CA, a server certificate for localhost, a user key
//! and a small demo allowlist, created once under the state directory and
//! reused afterwards, plus the exact client command lines to try.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ssh_key::LineEnding;

use crate::config::ServerConfig;
use crate::pki;

const KEY_FILE: &str = "id_ed25519";
const CONFIG_FILE: &str = "secshd.toml";
/// Where the demo user may put and get files.
const FILES_DIR: &str = "files";

/// The local account running `secshd --dev`: the demo user's name.
fn invoking_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| {
            !u.is_empty()
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .unwrap_or_else(|| "dev".to_string())
}

/// Create what is missing under `dir`; return the config file's path.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    if !dir.join(pki::CA_CERT).exists() {
        let ips = ["127.0.0.1".parse()?, "::1".parse()?];
        pki::init(&dir, &["localhost".to_string()], &ips)?;
        eprintln!(
            "secshd: created a development CA and server certificate in {}",
            dir.display()
        );
    }
    let key_path = dir.join(KEY_FILE);
    if !key_path.exists() {
        let key = pki::new_user_key(&format!("{}@secsh-dev", invoking_user()))?;
        let pem = key.to_openssh(LineEnding::LF)?;
        pki::write_new(&key_path, pem.as_bytes(), 0o600)?;
        let public = key.public_key().to_openssh()?;
        pki::write_new(
            &dir.join(format!("{KEY_FILE}.pub")),
            format!("{public}\n").as_bytes(),
            0o644,
        )?;
    }
    std::fs::create_dir_all(dir.join(FILES_DIR))
        .with_context(|| format!("cannot create {}", dir.join(FILES_DIR).display()))?;
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        let public = std::fs::read_to_string(dir.join(format!("{KEY_FILE}.pub")))
            .context("cannot read the dev public key")?;
        let text = demo_config(&invoking_user(), public.trim(), &dir);
        pki::write_new(&config_path, text.as_bytes(), 0o600)?;
    }
    Ok(config_path)
}

fn demo_config(user: &str, public_key: &str, dir: &Path) -> String {
    format!(
        r#"# Development configuration written by `secshd --dev`. See docs/CONFIG.md.
listen = ["127.0.0.1:7022"]

[tls]
cert = "server.pem"
key = "server.key"

[exec]
default_timeout_secs = 300

[jobs]
dir = "{dir}/jobs"

[users.{user}]
keys = ["{public_key}"]
commands = ["uname", "uptime", "date", "echo", "cat", "ls", "sleep"]
upload = ["{dir}/files"]
download = ["{dir}/files"]

[commands.uname]
argv = ["uname", "{{flags...}}"]
slots.flags = {{ enum = ["-a", "-s", "-r", "-m", "-n"], allow_dash = true }}

[commands.uptime]
argv = ["uptime"]

[commands.date]
argv = ["date"]

[commands.echo]
argv = ["echo", "{{words...}}"]
slots.words = {{ regex = ".*", allow_dash = true }}

# Copies stdin to stdout.
[commands.cat]
argv = ["cat"]

[commands.ls]
argv = ["ls", "-l", "{{dir}}"]
slots.dir = {{ path_under = "{dir}" }}

# May run as a detached job: `secsh --detach ... -- sleep 60`, then `--jobs`.
[commands.sleep]
argv = ["sleep", "{{secs}}"]
slots.secs = {{ int = [1, 600] }}
detach = true
"#,
        dir = dir.display()
    )
}

/// Print the client command lines that work against this dev server.
pub fn print_instructions(config: &ServerConfig, addrs: &[SocketAddr]) {
    let Some(dir) = config.source.parent() else {
        return;
    };
    let Some(addr) = addrs.first() else { return };
    let Some(user) = config.users.keys().next() else {
        return;
    };
    let base = format!(
        "cargo run --release --bin secsh -- --cert {} -i {} {user}@{}",
        dir.join(pki::CA_CERT).display(),
        dir.join(KEY_FILE).display(),
        match addr {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        }
    );
    println!("secshd dev server ready. From another terminal in this directory, try:\n");
    println!("  {base} -- uname -a");
    println!("  {base} -- echo hello world");
    println!("  echo 'piped through the server' | {base} -- cat");
    println!("  {base} -- ls -l {}", dir.display());
    println!("  {base} -- rm -rf /     # denied by the allowlist: exit status 253");
    if config.policy.may_detach("sleep") {
        println!("  {base} --detach -- sleep 60   # prints a job id; then --jobs, --attach ID");
    }
    if let Some(root) = config.users.get(user).and_then(|u| u.upload.first()) {
        let files = format!(
            "cargo run --release --bin secsh -- {{}} --cert {} -i {} -p {}",
            dir.join(pki::CA_CERT).display(),
            dir.join(KEY_FILE).display(),
            addr.port()
        );
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let remote = format!("{user}@{host}:{}", root.display());
        println!("  {} README.md {remote}/", files.replace("{}", "put"));
        println!("  {} {remote}/README.md -", files.replace("{}", "get"));
    }
    println!("\n(after `cargo build --release`, target/release/secsh is the same client)");
}
