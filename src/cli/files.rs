//! `secsh put [OPTIONS] LOCAL... [USER@]HOST:REMOTE` and
//! `secsh get [OPTIONS] [USER@]HOST:REMOTE... LOCAL`: several files on one
//! connection, several at once (see `files_run`); progress bars on a
//! terminal.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;

use super::conn::{connect, load_config, ConnArgs, Reached};
use super::files_run::run_jobs;
use super::secsh::raw_fd_writer;
use crate::client::transfer::Job;
use crate::client::transfer::{Dest, GetJob, PutJob, Source};
use crate::client::{self, ClientError, Target};

const EXITS: &str = "Exit status: 0 every file transferred and checked; 1 a transfer failed \
                     (no such file, checksum mismatch, an I/O error; other files still go); \
                     250 server busy; 251 rate limited; 253 a path outside your roots or \
                     through a symlink; 254 authentication failed; 255 connection, TLS or \
                     protocol failure; 2 usage. With several files, the highest wins.";

/// Copy local files to a secshd host, checked with BLAKE3 and renamed
/// into place only when complete.
#[derive(Debug, Parser)]
#[command(name = "secsh put", version, after_help = EXITS)]
pub struct PutArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Permission bits of the stored files, in octal (default: each local
    /// file's).
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    mode: Option<u32>,
    #[command(flatten)]
    opts: Opts,
    /// LOCAL... (`-` for stdin) then [USER@]HOST:REMOTE_PATH; with several
    /// files, REMOTE_PATH is a directory.
    #[arg(value_name = "PATHS", num_args = 2.., required = true)]
    paths: Vec<String>,
}

/// Copy files from a secshd host, checked with BLAKE3 and renamed into
/// place only when complete.
#[derive(Debug, Parser)]
#[command(name = "secsh get", version, after_help = EXITS)]
pub struct GetArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    opts: Opts,
    /// [USER@]HOST:REMOTE_PATH... then LOCAL (`-` for stdout; a directory
    /// with several files).
    #[arg(value_name = "PATHS", num_args = 2.., required = true)]
    paths: Vec<String>,
}

/// Options of both directions.
#[derive(Debug, clap::Args)]
struct Opts {
    /// Continue interrupted transfers from the bytes already at the
    /// receiving end (checked by BLAKE3 first).
    #[arg(long)]
    resume: bool,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("{s:?} is not permission bits in octal (0 to 777)")),
    }
}

/// `[USER@]HOST:PATH` split into the host part and the path.
fn split_remote(s: &str) -> Result<(Target, String), ClientError> {
    let usage = || ClientError::Usage(format!("{s:?} is not [USER@]HOST:PATH"));
    let host_start = s.find('@').map_or(0, |i| i + 1);
    let colon = if s[host_start..].starts_with('[') {
        let close = s[host_start..].find(']').ok_or_else(usage)? + host_start;
        (s.as_bytes().get(close + 1) == Some(&b':'))
            .then_some(close + 1)
            .ok_or_else(usage)?
    } else {
        s[host_start..].find(':').ok_or_else(usage)? + host_start
    };
    let target = Target::parse(&s[..colon]).map_err(ClientError::Usage)?;
    Ok((target, s[colon + 1..].to_string()))
}

/// The one host all remote paths name.
fn one_host(specs: &[String]) -> Result<(Target, Vec<String>), ClientError> {
    let mut target: Option<Target> = None;
    let mut paths = Vec::new();
    for s in specs {
        let (t, p) = split_remote(s)?;
        if target.as_ref().is_some_and(|old| *old != t) {
            let m = "all remote paths must name the same [USER@]HOST".into();
            return Err(ClientError::Usage(m));
        }
        if p.is_empty() {
            return Err(ClientError::Usage(format!("{s:?} has an empty path")));
        }
        target = Some(t);
        paths.push(p);
    }
    Ok((target.expect("at least one"), paths))
}

fn run_cli<F>(verbose: u8, fut: F) -> i32
where
    F: std::future::Future<Output = Result<i32, ClientError>>,
{
    super::init_logging(if verbose > 0 { "info" } else { "warn" });
    let Some(rt) = super::client_runtime() else {
        return client::EXIT_CONNECTION;
    };
    let code = rt.block_on(fut).unwrap_or_else(|e| {
        crate::cli::say!("secsh: {e}");
        e.exit_code()
    });
    rt.shutdown_background();
    code
}

/// `secsh put ...`; the exit status.
pub fn put_main(argv: &[OsString]) -> i32 {
    let args = PutArgs::parse_from(argv);
    run_cli(args.conn.verbose, put(args))
}

/// `secsh get ...`; the exit status.
pub fn get_main(argv: &[OsString]) -> i32 {
    let args = GetArgs::parse_from(argv);
    run_cli(args.conn.verbose, get(args))
}

async fn session(conn: &ConnArgs, target: Target) -> Result<client::Session, ClientError> {
    let cfg = load_config(conn)?;
    let over = cfg.host(&target.host).cloned().unwrap_or_default();
    let mut target = target;
    target.user = target.user.or(over.user);
    target.port = target.port.or(over.port);
    if let Some(a) = over.address {
        target.host = a;
    }
    let r: Reached = connect(conn, &cfg, target, over.cert).await?;
    client::Session::start(r.conn, r.creds, &r.user, &r.options)
}

/// Worse exit status of two (a connection failure ends the run).
pub(super) fn worse(a: i32, b: i32) -> i32 {
    a.max(b)
}

async fn put(args: PutArgs) -> Result<i32, ClientError> {
    let (locals, remote) = args.paths.split_at(args.paths.len() - 1);
    let (target, remote) = one_host(remote)?;
    let remote = remote.into_iter().next().expect("one");
    if locals.iter().filter(|l| *l == "-").count() > 1 {
        return Err(ClientError::Usage("`-` (stdin) can be given once".into()));
    }
    let several = locals.len() > 1;
    let mut code = 0;
    let mut jobs = Vec::new();
    for l in locals {
        let (source, name) = if l == "-" {
            (Source::Stdin, None)
        } else {
            let name = Path::new(l)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (Source::File(PathBuf::from(l)), name)
        };
        // Several files, or a path ending in `/`, name a directory.
        let into_dir = several || remote.ends_with('/');
        let path = match (&name, into_dir) {
            (Some(n), true) => format!("{}/{n}", remote.trim_end_matches('/')),
            (None, true) => {
                crate::cli::say!("secsh: put -: give the remote file name (not a directory)");
                code = worse(code, client::EXIT_USAGE);
                continue;
            }
            _ => remote.clone(),
        };
        let job = PutJob {
            source,
            remote: path,
            name,
            mode: args.mode,
            resume: args.opts.resume,
        };
        jobs.push((l.clone(), Job::Put(job)));
    }
    let session = session(&args.conn, target).await?;
    let code = worse(
        code,
        run_jobs(session, jobs, !args.opts.no_progress, false).await,
    );
    Ok(code)
}

async fn get(args: GetArgs) -> Result<i32, ClientError> {
    let (remotes, local) = args.paths.split_at(args.paths.len() - 1);
    let local = &local[0];
    let (target, remotes) = one_host(remotes)?;
    let into_dir = Path::new(local).is_dir();
    if remotes.len() > 1 && !into_dir {
        let m = format!("{local}: with several files, LOCAL must be a directory");
        return Err(ClientError::Usage(m));
    }
    let mut code = 0;
    let mut jobs = Vec::new();
    for r in &remotes {
        let dest = if local == "-" {
            Dest::Stdout(raw_fd_writer(1))
        } else if into_dir {
            let name = Path::new(r).file_name().map(PathBuf::from);
            let Some(name) = name else {
                crate::cli::say!("secsh: get {r}: the remote path has no file name");
                code = worse(code, client::EXIT_USAGE);
                continue;
            };
            Dest::File(Path::new(local).join(name))
        } else {
            Dest::File(PathBuf::from(local))
        };
        let job = GetJob {
            remote: r.clone(),
            dest,
            resume: args.opts.resume,
        };
        jobs.push((r.clone(), Job::Get(job)));
    }
    let session = session(&args.conn, target).await?;
    let to_stdout = local == "-";
    let code = worse(
        code,
        run_jobs(session, jobs, !args.opts.no_progress, to_stdout).await,
    );
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_specs() {
        let (t, p) = split_remote("alice@web1:/srv/x").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), p.as_str()),
            (Some("alice"), "web1", "/srv/x")
        );
        let (t, p) = split_remote("[::1]:rel/f").unwrap();
        assert_eq!((t.host.as_str(), p.as_str()), ("::1", "rel/f"));
        let (t, p) = split_remote("bob@127.0.0.1:a:b").unwrap();
        assert_eq!((t.host.as_str(), p.as_str()), ("127.0.0.1", "a:b"));
        assert!(split_remote("nohostpath").is_err());
        assert!(one_host(&["a@h:/x".into(), "b@h:/y".into()]).is_err());
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert!(parse_mode("1777").is_err() && parse_mode("9").is_err());
    }
}
