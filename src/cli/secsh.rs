//! `secsh [OPTIONS] [USER@]HOST[:PORT] [--] COMMAND [ARGS...]`

use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc;

use crate::client::{self, ClientError, ExecRequest, Identity, LocalIo, Target};

/// Run an allowlisted command on a secshd host over TLS 1.3.
///
/// Exit status: the remote command's code; 128+N if signal N killed it;
/// 252 timed out; 253 denied by policy; 254 authentication failed;
/// 255 connection, TLS or protocol failure; 2 usage.
#[derive(Debug, Parser)]
#[command(
    name = "secsh",
    version,
    about = "Run an allowlisted command on a secshd host over TLS 1.3",
    after_help = "Exit status: the remote command's code; 128+N if signal N killed it; \
                  250 server busy (a budget); 251 rate limited; 252 timed out; 253 denied by \
                  the server's allowlist; 254 authentication failed; 255 connection, TLS or \
                  protocol failure; 2 usage.\n\nFiles: `secsh put [OPTIONS] LOCAL... \
                  [USER@]HOST:PATH` and `secsh get [OPTIONS] [USER@]HOST:PATH... LOCAL` \
                  (see `secsh put --help`)."
)]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Send no stdin; the command reads /dev/null.
    #[arg(short = 'n')]
    pub no_stdin: bool,
    /// Ask the server to kill the command after SECS seconds (exit 252).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// [USER@]HOST[:PORT]
    #[arg(value_name = "[USER@]HOST[:PORT]")]
    pub target: String,
    /// List the commands you may run on HOST (templates and what each
    /// slot accepts) instead of running one.
    #[arg(long, conflicts_with = "command")]
    pub list: bool,
    /// The command and its arguments, passed as an exact argv.
    #[arg(
        value_name = "COMMAND",
        required_unless_present = "list",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// How to reach and sign in to a host (exec, put and get alike).
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// CA bundle (PEM) that must have issued the server's certificate.
    #[arg(long = "cert", value_name = "FILE", env = "SECSH_CERT")]
    pub cert: PathBuf,
    /// OpenSSH private key (default: ssh-agent, then ~/.ssh/id_ed25519).
    #[arg(short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// User to log in as (default: USER@ in the target, then $USER).
    #[arg(short = 'l', value_name = "USER")]
    pub login: Option<String>,
    /// Port (default: :PORT in the target, then 7022).
    #[arg(short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Never prompt (for a key passphrase or a password).
    #[arg(long)]
    pub batch: bool,
    /// Read the password from the first line of FILE (mode 0600) when the
    /// server asks for one. Weaker than a key: prefer keys for automation.
    #[arg(long, value_name = "FILE", env = "SECSH_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Seconds allowed for TCP connect plus TLS handshake, and again for
    /// the server's answer to authentication.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Ping a silent server after SECS seconds; give up (exit 255) after 3
    /// unanswered pings. 0 turns keepalives off.
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub keepalive: f64,
    /// Log connection details to stderr (repeat for more).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
}

pub(crate) fn seconds(v: f64, what: &str) -> Result<Duration, ClientError> {
    Duration::try_from_secs_f64(v).map_err(|_| ClientError::Usage(format!("invalid {what} {v}")))
}

/// Parse the command line, run, and return the exit status.
pub fn main() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("put") => return super::files::put_main(&argv[1..]),
        Some("get") => return super::files::get_main(&argv[1..]),
        _ => {}
    }
    let args = Args::parse();
    crate::cli::init_logging(match args.conn.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    });
    let target = match Target::parse(&args.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("secsh: {e}");
            return client::EXIT_USAGE;
        }
    };
    let Some(rt) = super::client_runtime() else {
        return client::EXIT_CONNECTION;
    };
    let code = match rt.block_on(run(args, target)) {
        Ok(outcome) => {
            if let client::Outcome::Denied(msg) = &outcome {
                eprintln!("secsh: denied: {msg}");
            }
            outcome.exit_code()
        }
        Err(e) => {
            eprintln!("secsh: {e}");
            e.exit_code()
        }
    };
    // Do not wait for anything still pending; the stdin thread ends with
    // the process.
    rt.shutdown_background();
    code
}

async fn run(args: Args, target: Target) -> Result<client::Outcome, ClientError> {
    let Reached {
        user,
        creds,
        conn,
        options,
    } = connect(&args.conn, target.clone()).await?;
    if args.list {
        let session = client::Session::start(conn, creds, &user, &options)?;
        let commands = session.list().await?;
        let mut out = format!("{user}@{} may run:\n", target.host);
        for c in &commands {
            out.push_str(&format!("  {}: {}\n", c.command, c.template));
            for s in &c.slots {
                out.push_str(&format!("      {s}\n"));
            }
        }
        if commands.is_empty() {
            out.push_str("  nothing\n");
        }
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(out.as_bytes());
        return Ok(client::Outcome::Exited(0));
    }
    let req = ExecRequest {
        user,
        argv: args.command,
        stdin: !args.no_stdin,
        timeout: args.timeout.map(|t| seconds(t, "--timeout")).transpose()?,
        session: options,
    };
    let io = LocalIo {
        stdout: raw_fd_writer(1),
        stderr: raw_fd_writer(2),
        stdin: req.stdin.then(|| -> client::StdinSource {
            Box::new(|| {
                // Bulk input then arrives in large reads.
                crate::exec::grow_pipe(&std::io::stdin());
                client::stdin_reader(std::io::stdin())
            })
        }),
        interrupts: interrupts(),
    };
    client::run_exec(conn, creds, &req, io).await
}

/// Resolve the user and credentials, connect and complete TLS: what every
/// request on a host starts with.
pub(crate) async fn connect(args: &ConnArgs, mut target: Target) -> Result<Reached, ClientError> {
    if args.port.is_some() {
        target.port = args.port;
    }
    let user = args
        .login
        .clone()
        .or_else(|| target.user.clone())
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ClientError::Usage("no user: give USER@HOST or -l USER".into()))?;
    let password = args
        .password_file
        .as_deref()
        .map(client::read_password_file)
        .transpose()?;
    let can_prompt = !args.batch && client::has_terminal();
    let key = match Identity::load(args.identity.as_deref(), !args.batch) {
        Ok(key) => {
            tracing::info!(source = ?key.source(), "identity loaded");
            Some(key)
        }
        // No key anywhere, but a password to offer instead.
        Err(e) if args.identity.is_none() && (password.is_some() || can_prompt) => {
            tracing::info!("no key: {e}; signing in with a password");
            None
        }
        Err(e) => return Err(e),
    };
    let label = format!("{user}@{}", target.host);
    let creds = client::Credentials::new(key, password, can_prompt, label);
    let connect_timeout = seconds(args.connect_timeout, "--connect-timeout")?;
    let conn = client::connect(&target, &args.cert, connect_timeout).await?;
    tracing::info!(host = %target.host, port = target.port_or_default(), "connected");
    let options = client::SessionOptions {
        auth_timeout: connect_timeout,
        keepalive: Some(seconds(args.keepalive, "--keepalive")?).filter(|k| !k.is_zero()),
    };
    Ok(Reached {
        user,
        creds,
        conn,
        options,
    })
}

/// A host reached: TLS done, sign-in ready to go.
pub(crate) struct Reached {
    pub user: String,
    pub creds: client::Credentials,
    pub conn: client::Connection,
    pub options: client::SessionOptions,
}

/// An unbuffered writer on an inherited descriptor: remote bytes are passed
/// through exactly, with no decoding and no line buffering.
pub(crate) fn raw_fd_writer(fd: i32) -> Box<dyn Write + Send> {
    struct Fd(ManuallyDrop<std::fs::File>);
    impl Write for Fd {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // SAFETY: fds 1 and 2 are inherited and stay open for the process's
    // life; ManuallyDrop keeps us from closing them.
    Box::new(Fd(ManuallyDrop::new(unsafe {
        std::fs::File::from_raw_fd(fd)
    })))
}

/// SIGINT, SIGTERM and SIGHUP each become one interrupt message.
pub(crate) fn interrupts() -> mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = mpsc::unbounded_channel();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        if let Ok(mut s) = signal(kind) {
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            });
        }
    }
    rx
}
