//! `secsh` with one host and a job option: `--detach` (print the job id),
//! `--jobs` (the caller's jobs, a table or `--json`), `--attach ID`,
//! `--cancel ID`, and the resumable run of `--resume-on-drop`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use super::conn::Reached;
use crate::client::job::{self, Detached, Notify};
use crate::client::{self, ClientError, ExecRequest, LocalIo, Outcome};
use crate::logtext::visible;
use crate::proto::JobInfo;

/// Jobs: commands that outlive the connection (docs/CLIENT.md, "Jobs").
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// Start the command as a job on the server and print its id at once;
    /// it runs on without this connection (the server's allowlist must
    /// allow detaching it). With several hosts and --out-dir DIR, each
    /// host's id goes to DIR/HOST.job.
    #[arg(long, conflicts_with_all = ["list", "list_jobs", "attach", "cancel"])]
    pub detach: bool,
    /// List your jobs on HOST: id, state, exit, start, end, output, argv
    /// (with --json: a JSON array).
    #[arg(long = "jobs", conflicts_with_all = ["command", "list", "attach", "cancel"])]
    pub list_jobs: bool,
    /// Print job ID's output from its first byte, then live, and exit with
    /// its exit status (Ctrl-C stops following; the job runs on). With
    /// several hosts: the --out-dir DIR of a `--detach` run, each host's
    /// job followed, with the usual summary and exit status.
    #[arg(long, value_name = "ID|DIR", conflicts_with_all = ["command", "list", "cancel"])]
    pub attach: Option<String>,
    /// Stop job ID (its whole process group: TERM, grace, KILL).
    #[arg(long, value_name = "ID", conflicts_with_all = ["command", "list"])]
    pub cancel: Option<String>,
    /// Keep the command running on the server if the connection drops;
    /// reconnect and continue its output and stdin exactly where they
    /// stopped (default from the client configuration's `resume_on_drop`).
    #[arg(long, conflicts_with = "no_resume_on_drop")]
    pub resume_on_drop: bool,
    /// Do not resume after a drop, whatever the client configuration says.
    #[arg(long)]
    pub no_resume_on_drop: bool,
}

impl JobArgs {
    /// A job option that needs no command.
    pub(super) fn without_command(&self) -> bool {
        self.list_jobs || self.attach.is_some() || self.cancel.is_some()
    }
}

/// How long a resumable run keeps trying to reconnect, unless the client
/// configuration's `resume_for_secs` says otherwise.
pub const RESUME_FOR: Duration = Duration::from_secs(300);

/// One line on stderr in a single write, so it never splits a line of
/// the remote stderr written beside it.
pub(crate) fn say_line(text: &str) {
    let line = format!("secsh: {}\n", visible(text));
    let _ = std::io::stderr().write_all(line.as_bytes());
}

fn notify() -> Notify {
    Box::new(say_line)
}

/// `--detach`: start the job, print its id on stdout.
pub(super) async fn detach(r: Reached, req: &ExecRequest, host: &str) -> Result<i32, ClientError> {
    match job::detach(r.conn, r.creds, req).await? {
        Detached::Started(id) => {
            let id = visible(&id);
            let _ = std::io::stdout().write_all(format!("{id}\n").as_bytes());
            say_line(&format!(
                "job {id} started on {host}; follow it with --attach {id}"
            ));
            Ok(0)
        }
        Detached::Denied(m) => {
            say_line(&format!("denied: {m}"));
            Ok(client::EXIT_DENIED)
        }
    }
}

/// `--jobs`: the caller's jobs on the host.
pub(super) async fn list(r: Reached, json: bool) -> Result<i32, ClientError> {
    let session = client::Session::start(r.conn, r.creds, &r.user, &r.options)?;
    let jobs = session.jobs().await?;
    let text = if json {
        let mut s = serde_json::to_string_pretty(&jobs).unwrap_or_default();
        s.push('\n');
        s
    } else {
        table(&jobs)
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(0)
}

/// `--cancel ID`.
pub(super) async fn cancel(r: Reached, id: &str) -> Result<i32, ClientError> {
    let session = client::Session::start(r.conn, r.creds, &r.user, &r.options)?;
    let shown = visible(id);
    match session.cancel_job(id).await {
        Ok(true) => {
            say_line(&format!("job {shown} is being stopped"));
            Ok(0)
        }
        Ok(false) => {
            say_line(&format!("job {shown} had already ended"));
            Ok(0)
        }
        Err(ClientError::Server {
            code: crate::proto::ErrorCode::NotFound,
            ..
        }) => {
            say_line(&format!("no job {shown} of yours on this host"));
            Ok(client::EXIT_FAILED)
        }
        Err(e) => Err(e),
    }
}

/// `--attach ID`: the job's output from its first byte, then its exit.
pub(super) async fn attach(r: Reached, id: &str, io: LocalIo) -> Result<Outcome, ClientError> {
    let found = job::attach(r.conn, r.creds, &r.user, &r.options, id, io, notify()).await;
    match found {
        Err(ClientError::Server {
            code: crate::proto::ErrorCode::NotFound,
            ..
        }) => Err(ClientError::Usage(format!(
            "no job {} of yours on this host",
            visible(id)
        ))),
        other => other,
    }
}

/// `--resume-on-drop`: run `req` as a resumable job.
pub(super) async fn resumable(
    r: Reached,
    req: &ExecRequest,
    io: LocalIo,
    resume_for: Duration,
) -> Result<Outcome, ClientError> {
    let (redial, creds) = (r.redial.clone(), r.creds.again());
    let reconnect: job::Reconnect = Box::new(move || {
        let (redial, creds) = (redial.clone(), creds.again());
        Box::pin(async move { Ok((redial.connect().await?, creds)) })
    });
    job::run_resumable(r.conn, r.creds, req, io, reconnect, resume_for, notify()).await
}

/// The `--jobs` table: one line per job, newest first.
fn table(jobs: &[JobInfo]) -> String {
    if jobs.is_empty() {
        return "no jobs\n".into();
    }
    let mut out = format!(
        "{:<12}  {:<10}  {:>4}  {:<23}  {:<23}  {:>10}  {}\n",
        "JOB", "STATE", "EXIT", "STARTED", "ENDED", "OUTPUT", "COMMAND"
    );
    for j in jobs {
        let at = |s: u64| crate::timefmt::utc(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let exit = match (j.code, j.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("sig{s}"),
            _ => "-".into(),
        };
        let mut argv = crate::logtext::argv(&j.argv);
        if j.argv_truncated {
            argv.push_str(" ...");
        }
        let mut state = visible(&j.state).into_owned();
        if j.dropped_bytes > 0 {
            state.push_str(&format!(
                " (spool truncated: {} bytes dropped)",
                j.dropped_bytes
            ));
        }
        out.push_str(&format!(
            "{:<12}  {:<10}  {:>4}  {:<23}  {:<23}  {:>10}  {}: {}\n",
            visible(&j.job),
            state,
            exit,
            at(j.started),
            j.ended.map_or_else(|| "-".into(), at),
            bytes(j.stdout_bytes + j.stderr_bytes),
            visible(&j.command),
            argv,
        ));
    }
    out
}

fn bytes(n: u64) -> String {
    match n {
        n if n < 10 * 1024 => format!("{n} B"),
        n if n < 10 << 20 => format!("{} KiB", n >> 10),
        n => format!("{} MiB", n >> 20),
    }
}
