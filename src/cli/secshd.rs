//! `secshd [--config FILE] [--listen ADDR]...`, `secshd --dev`, and
//! `secshd pki init|issue`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use super::signals;
use crate::config::{LoadOptions, ServerConfig};
use crate::server::Server;

/// Exit status for configuration errors (sysexits EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

/// The secsh daemon: serves allowlisted commands over TLS 1.3.
#[derive(Debug, Parser)]
#[command(
    name = "secshd",
    version,
    about = "The secsh daemon: serves allowlisted commands over TLS 1.3",
    after_help = "Exit status 78: configuration error (reported as FILE:LINE:COLUMN).",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = "/etc/secsh/secshd.toml")]
    pub config: PathBuf,
    /// Listen on ADDR instead of the configured addresses (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Development mode: create a CA, server certificate, user key and demo
    /// config under --state-dir once, then serve them.
    #[arg(long)]
    pub dev: bool,
    /// Where --dev keeps its files.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "certs/dev",
        requires = "dev"
    )]
    pub state_dir: PathBuf,
    /// Seconds to let running commands finish after SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub drain: u64,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certificates for secshd.
    #[command(subcommand)]
    Pki(Pki),
    /// Validate a configuration as the daemon would (exit 0, or 1 with
    /// FILE:LINE:COLUMN), warn about risky rules; with --user, list what
    /// the user may run (--list) or decide on one argv (after --): exit 0
    /// allowed, 3 denied.
    Check(super::check::CheckArgs),
    /// Print an argon2id hash (m=19456 KiB, t=2, p=1) of a password for
    /// `[users.NAME] password`. Asks twice on a terminal, without echo;
    /// reads one line from stdin when it is piped.
    HashPassword,
    /// Print a shell completion script for secshd (bash, zsh or fish).
    Completions {
        /// The shell.
        #[arg(value_parser = ["bash", "zsh", "fish"])]
        shell: String,
    },
    /// Write the man pages (secsh.1, secshd.8, secshd.toml.5) and the
    /// completion scripts of both binaries into DIR (packaging).
    #[command(hide = true)]
    Man {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Certificate subcommands.
#[derive(Debug, Subcommand)]
pub enum Pki {
    /// Create a CA (ca.pem, ca.key) and a server certificate (server.pem,
    /// server.key) in DIR.
    Init {
        /// Directory to create the files in.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// DNS name for the server certificate (repeatable).
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// IP address for the server certificate (repeatable).
        #[arg(long = "ip", value_name = "IP")]
        ips: Vec<IpAddr>,
    },
    /// Issue another server certificate from an existing CA.
    Issue {
        /// Directory holding ca.pem and ca.key.
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// DNS name (repeatable).
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// IP address (repeatable).
        #[arg(long = "ip", value_name = "IP")]
        ips: Vec<IpAddr>,
        /// Directory for server.pem and server.key.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Parse the command line, run, and return the exit status.
pub fn main() -> i32 {
    crate::cli::keep_heap();
    let args = Args::parse();
    crate::cli::init_logging("info");
    match args.command {
        Some(Command::Pki(pki)) => report(run_pki(pki)),
        Some(Command::HashPassword) => report(hash_password()),
        Some(Command::Check(check)) => super::check::run(&check),
        Some(Command::Completions { shell }) => {
            super::docs::print_completion(super::docs::secshd_command(), &shell)
        }
        Some(Command::Man { dir }) => report(
            super::docs::write_all(&dir)
                .with_context(|| format!("cannot write into {}", dir.display())),
        ),
        None if args.dev => match super::dev::prepare(&args.state_dir) {
            Ok(config) => serve(&config, &args.listen, args.drain, true),
            Err(e) => report(Err(e)),
        },
        None => serve(&args.config, &args.listen, args.drain, false),
    }
}

fn report(r: anyhow::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("secshd: {e:#}");
            1
        }
    }
}

fn hash_password() -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal};
    use zeroize::Zeroizing;
    let password = if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password("Password: ")?);
        let again = Zeroizing::new(rpassword::prompt_password("Again: ")?);
        anyhow::ensure!(*first == *again, "the passwords differ");
        first
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\r', '\n']).to_string();
        Zeroizing::new(trimmed)
    };
    anyhow::ensure!(!password.is_empty(), "empty password");
    anyhow::ensure!(
        password.len() <= crate::auth::MAX_PASSWORD_LEN,
        "longer than {} bytes",
        crate::auth::MAX_PASSWORD_LEN
    );
    let phc = crate::auth::hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    println!("{phc}");
    Ok(())
}

fn run_pki(pki: Pki) -> anyhow::Result<()> {
    match pki {
        Pki::Init { dir, names, ips } => {
            crate::pki::init(&dir, &names, &ips)?;
            println!(
                "wrote {0}/ca.pem, {0}/ca.key, {0}/server.pem, {0}/server.key",
                dir.display()
            );
        }
        Pki::Issue {
            ca_dir,
            names,
            ips,
            out,
        } => {
            crate::pki::issue(&ca_dir, &names, &ips, &out)?;
            println!("wrote {0}/server.pem, {0}/server.key", out.display());
        }
    }
    Ok(())
}

/// Raise the soft open-file limit to the hard limit: every connection and
/// every running command's pipes take descriptors.
fn raise_nofile_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

fn serve(config_path: &Path, listen: &[SocketAddr], drain: u64, dev: bool) -> i32 {
    raise_nofile_limit();
    // First, while single-threaded and before the configuration (keys) is
    // in memory or any socket is open.
    if let Err(e) = crate::exec::sentinel::start() {
        tracing::warn!("{e}; commands fall back to a parent-death signal");
    }
    let mut config = match ServerConfig::load(config_path, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("secshd: {e}");
            return EXIT_CONFIG;
        }
    };
    if !listen.is_empty() {
        config.listen = listen.to_vec();
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let rt = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secshd: cannot start the runtime: {e}");
            return 1;
        }
    };
    let path = config_path.to_path_buf();
    let listen = listen.to_vec();
    let result = rt.block_on(async move {
        let server = Server::bind(config.clone()).context("cannot start")?;
        for addr in server.local_addrs() {
            tracing::info!("listening on {addr}");
        }
        if let Some(addr) = server.metrics_addr() {
            tracing::info!("metrics on http://{addr}/metrics");
        }
        if dev {
            super::dev::print_instructions(&config, &server.local_addrs());
        }
        let reloads = tokio::spawn(signals::reload_on_hup(path, listen, server.reloader()));
        let watchdog = tokio::spawn(signals::watchdog());
        signals::notify(&[sd_notify::NotifyState::Ready]);
        server
            .run(signals::shutdown(), Duration::from_secs(drain))
            .await;
        reloads.abort();
        watchdog.abort();
        anyhow::Ok(())
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    report(result)
}
