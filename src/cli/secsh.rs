//! `secsh [OPTIONS] TARGETS [--] COMMAND [ARGS...]`: one host, or a fleet
//! (several targets, ranges, groups, hosts files or inventories; see
//! `fleet`). `put` and `get` as the first word go to `files`.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use clap::Parser;
use tokio::sync::mpsc;

use super::conn::{connect, load_config, seconds, ConnArgs, Reached};
use super::fleet::FleetArgs;
use super::jobs::JobArgs;
use crate::client::{self, ClientError, ExecRequest, LocalIo, Target};

/// Run an allowlisted command on secshd hosts over TLS 1.3.
#[derive(Debug, Parser)]
#[command(
    name = "secsh",
    version,
    about = "Run an allowlisted command on secshd hosts over TLS 1.3",
    after_help = "Exit status, one host: the remote command's code; 128+N if signal N killed \
                  it; 250 server busy (a budget); 251 rate limited; 252 timed out; 253 denied \
                  by the server's allowlist; 254 authentication failed; 255 connection, TLS or \
                  protocol failure; 2 usage.\n\nSeveral hosts: 0 all ok; 1 a command failed \
                  or was signalled; 3 timed out, cancelled or not started; 4 unreachable, \
                  authentication or rate-limit failure; 5 denied; the first that applies in \
                  the order 4, 5, 3, 1.\n\nFiles: `secsh put [OPTIONS] LOCAL... \
                  [USER@]HOST:PATH` and `secsh get [OPTIONS] [USER@]HOST:PATH... LOCAL` \
                  (see `secsh put --help`)."
)]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Send no stdin; the command reads /dev/null (always so with several
    /// hosts).
    #[arg(short = 'n')]
    pub no_stdin: bool,
    /// Ask the server to kill the command after SECS seconds (exit 252;
    /// with several hosts, status timed_out).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// [USER@]HOST[:PORT], or several: a comma list with ranges
    /// (`web[01-20]`, `db[1-3,7]`) and `@group`s.
    #[arg(value_name = "TARGETS")]
    pub target: Option<String>,
    /// List the commands you may run on HOST (templates and what each
    /// slot accepts) instead of running one.
    #[arg(long, conflicts_with = "command")]
    pub list: bool,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// The command and its arguments, passed as an exact argv.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `secsh [OPTIONS] put|get ...` as `secsh put|get [OPTIONS] ...`:
/// connection options may come before the verb, as with git. `None` when
/// the first argument that is not an option (or an option's value) is not
/// `put` or `get`.
fn verb_first(argv: &[std::ffi::OsString]) -> Option<Vec<std::ffi::OsString>> {
    use clap::CommandFactory;
    let cmd = Args::command();
    let takes_value = |a: &str| {
        if let Some(long) = a.strip_prefix("--") {
            !long.contains('=')
                && cmd
                    .get_arguments()
                    .any(|o| o.get_long() == Some(long) && o.get_action().takes_values())
        } else {
            // `-p 7022` takes the next argument; `-p7022` and `-vv` do not.
            let short = a.chars().nth(1);
            a.len() == 2
                && cmd
                    .get_arguments()
                    .any(|o| o.get_short() == short && o.get_action().takes_values())
        }
    };
    let mut i = 1;
    while let Some(a) = argv.get(i).and_then(|a| a.to_str()) {
        if a == "put" || a == "get" {
            let mut v = vec![argv[0].clone(), argv[i].clone()];
            v.extend_from_slice(&argv[1..i]);
            v.extend_from_slice(&argv[i + 1..]);
            return Some(v);
        }
        if a == "--" || a == "-" || !a.starts_with('-') {
            return None;
        }
        i += if takes_value(a) { 2 } else { 1 };
    }
    None
}

/// Parse the command line, run, and return the exit status.
pub fn main() -> i32 {
    crate::cli::keep_heap();
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(reordered) = verb_first(&argv) {
        argv = reordered;
    }
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("put") => return super::files::put_main(&argv[1..]),
        Some("get") => return super::files::get_main(&argv[1..]),
        Some("completions") => {
            let shell = argv.get(2).and_then(|s| s.to_str()).unwrap_or("");
            return super::docs::print_completion(super::docs::secsh_command(), shell);
        }
        _ => {}
    }
    // Everything after the first `--` is the command, whatever it looks
    // like (so `secsh -H FILE -- CMD` needs no TARGETS).
    let (head, tail) = match argv.iter().position(|a| a == "--") {
        Some(i) => (&argv[..i], Some(&argv[i + 1..])),
        None => (&argv[..], None),
    };
    let mut args = Args::parse_from(head);
    if let Some(tail) = tail {
        // The argv goes exactly as given, or not at all: an argument that
        // is not UTF-8 cannot travel in a JSON header, and replacing its
        // bytes would run something else.
        let mut command = Vec::with_capacity(tail.len());
        for (i, a) in tail.iter().enumerate() {
            match a.to_str() {
                Some(s) => command.push(s.to_string()),
                None => {
                    crate::cli::say!(
                        "secsh: argument {} of the command ({}) is not valid UTF-8; \
                         secsh sends an argv exactly or not at all",
                        i + 1,
                        crate::logtext::shown(&a.to_string_lossy())
                    );
                    return client::EXIT_USAGE;
                }
            }
        }
        args.command = command;
    }
    crate::cli::init_logging(match args.conn.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    });
    let cfg = match load_config(&args.conn) {
        Ok(c) => c,
        Err(e) => {
            crate::cli::say!("secsh: {e}");
            return e.exit_code();
        }
    };
    let hosts = match super::fleet::resolve_hosts(&args, &cfg) {
        Ok(h) => h,
        Err(e) => {
            crate::cli::say!("secsh: {e}");
            return e.exit_code();
        }
    };
    if args.fleet.list_hosts {
        return super::fleet::list_hosts(&args, &cfg, &hosts);
    }
    let problem = if hosts.is_empty() {
        Some("no hosts: give TARGETS, -H FILE or @group".to_string())
    } else if args.command.is_empty()
        && args.fleet.script.is_none()
        && !args.list
        && !args.jobs.without_command()
    {
        Some("no command: give it after the host (or after --)".to_string())
    } else {
        None
    };
    if let Some(p) = problem {
        crate::cli::say!("secsh: {p}");
        return client::EXIT_USAGE;
    }
    let Some(rt) = super::client_runtime() else {
        return client::EXIT_CONNECTION;
    };
    if super::fleet::is_fleet_call(&args, hosts.len()) {
        let one_host_only = args.jobs.list_jobs || args.jobs.cancel.is_some();
        if args.list || one_host_only || args.jobs.resume_on_drop {
            crate::cli::say!("secsh: --list, --jobs, --cancel and --resume-on-drop take one host");
            return client::EXIT_USAGE;
        }
        let code = rt.block_on(super::fleet::run(args, cfg, hosts));
        rt.shutdown_background();
        return code;
    }
    let one = &hosts[0];
    let target = Target {
        user: one.user.clone(),
        host: one.address.clone(),
        port: one.port,
    };
    let cert = one.cert.clone();
    let code = match rt.block_on(run(args, cfg, target, cert)) {
        Ok(outcome) => {
            if let client::Outcome::Denied(msg) = &outcome {
                crate::cli::say!("secsh: denied: {msg}");
            }
            outcome.exit_code()
        }
        Err(e) => {
            crate::cli::say!("secsh: {e}");
            e.exit_code()
        }
    };
    // Do not wait for anything still pending; the stdin thread ends with
    // the process.
    rt.shutdown_background();
    code
}

async fn run(
    args: Args,
    cfg: client::config::ClientConfig,
    target: Target,
    cert: Option<std::path::PathBuf>,
) -> Result<client::Outcome, ClientError> {
    let reached = connect(&args.conn, &cfg, target.clone(), cert).await?;
    if args.jobs.list_jobs {
        return super::jobs::list(reached, args.fleet.json).await.map(done);
    }
    if let Some(id) = &args.jobs.cancel {
        return super::jobs::cancel(reached, id).await.map(done);
    }
    let io = |stdin: bool| LocalIo {
        stdout: raw_fd_writer(1),
        stderr: raw_fd_writer(2),
        stdin: stdin.then(|| -> client::StdinSource {
            Box::new(|| {
                // Bulk input then arrives in large reads.
                crate::exec::grow_pipe(&std::io::stdin());
                client::stdin_reader(std::io::stdin())
            })
        }),
        interrupts: interrupts(),
    };
    if let Some(id) = &args.jobs.attach {
        return super::jobs::attach(reached, id, io(false)).await;
    }
    let resume = !args.jobs.no_resume_on_drop
        && (args.jobs.resume_on_drop || cfg.defaults.resume_on_drop == Some(true));
    let Reached {
        user,
        creds,
        conn,
        options,
        redial,
    } = reached;
    if args.list {
        let session = client::Session::start(conn, creds, &user, &options)?;
        let commands = session.list().await?;
        // Every text in the answer is the server's: shown escaped.
        use crate::logtext::visible;
        let mut out = format!("{user}@{} may run:\n", visible(&target.host));
        for c in &commands {
            let (name, template) = (visible(&c.command), visible(&c.template));
            out.push_str(&format!("  {name}: {template}\n"));
            for s in &c.slots {
                out.push_str(&format!("      {}\n", visible(s)));
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
        user: user.clone(),
        argv: args.command,
        stdin: !(args.no_stdin || args.jobs.detach),
        timeout: args
            .timeout
            .or(cfg.defaults.timeout)
            .map(|t| seconds(t, "--timeout"))
            .transpose()?,
        session: options.clone(),
    };
    let reached = Reached {
        user,
        creds,
        conn,
        options,
        redial,
    };
    if args.jobs.detach {
        let host = crate::logtext::visible(&target.host);
        return super::jobs::detach(reached, &req, &host).await.map(done);
    }
    if resume {
        let resume_for = cfg
            .defaults
            .resume_for_secs
            .map(|s| seconds(s, "resume_for_secs"))
            .transpose()?
            .unwrap_or(super::jobs::RESUME_FOR);
        return super::jobs::resumable(reached, &req, io(req.stdin), resume_for).await;
    }
    client::run_exec(reached.conn, reached.creds, &req, io(req.stdin)).await
}

/// A finished job command's exit status as an outcome.
fn done(code: i32) -> client::Outcome {
    client::Outcome::Exited(code)
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
