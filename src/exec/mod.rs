//! Running allowed commands: spawn the resolved argv with no shell, a
//! cleared environment and its own process group; stream stdout and stderr
//! as they are produced through a bounded queue; feed stdin; stop the whole
//! group (TERM, grace, KILL) on cancel, disconnect or timeout; report the
//! exit only after both output streams are drained.

mod fs;
mod kill;
mod pump;
mod stdin;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

pub use fs::RealFs;
pub use stdin::{StdinQueue, WindowExceeded};

use crate::config::RunAs;
use crate::proto::Stream;

pub use crate::transport::Outbound;

/// Everything needed to start one command.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Absolute program path, then the arguments, exactly as matched.
    pub argv: Vec<String>,
    /// The complete environment of the child.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Switch to this account before exec (daemon must be root).
    pub run_as: Option<RunAs>,
    /// Give the child a stdin pipe (else /dev/null).
    pub stdin: bool,
    /// Kill the group after this long.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

/// Errors starting a command. Logged by the server; the peer sees only
/// `exec_failed`.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// fork/exec failed.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The supplementary groups of the run_as account could not be read.
    #[error("cannot read groups of {user}: {source}")]
    Groups {
        /// The account.
        user: String,
        /// The OS error.
        source: nix::Error,
    },
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// It was killed because its time limit passed.
    pub timed_out: bool,
    /// Spawn to exit.
    pub duration: Duration,
}

/// Why the group was stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Cancelled,
    TimedOut,
    PeerGone,
}

/// A spawned command whose I/O has not been driven yet.
#[derive(Debug)]
pub struct Running {
    child: Child,
    pgid: i32,
    started: Instant,
    timeout: Option<Duration>,
    kill_grace: Duration,
}

impl Running {
    /// Start `spec`'s program.
    pub fn spawn(spec: &Spec) -> Result<Self, ExecError> {
        let program = &spec.argv[0];
        let mut cmd = Command::new(program);
        cmd.args(&spec.argv[1..])
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(account) = &spec.run_as {
            drop_privileges(&mut cmd, account)?;
        }
        let child = cmd.spawn().map_err(|source| ExecError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pgid = child.id().map_or(0, |p| p as i32);
        if let Some(out) = &child.stdout {
            grow_pipe(out);
        }
        if let Some(err) = &child.stderr {
            grow_pipe(err);
        }
        if let Some(input) = &child.stdin {
            grow_pipe(input);
        }
        Ok(Self {
            child,
            pgid,
            started: Instant::now(),
            timeout: spec.timeout,
            kill_grace: spec.kill_grace,
        })
    }

    /// Stream the command's output as request `id` into `out`, feed it the
    /// chunks from `stdin` (each written chunk is credited back with a
    /// `window` frame), and return how it ended. Dropping or firing `cancel`
    /// stops the process group.
    pub async fn drive(
        mut self,
        id: u64,
        stdin: Option<Arc<StdinQueue>>,
        out: mpsc::Sender<Outbound>,
        mut cancel: oneshot::Receiver<()>,
    ) -> Outcome {
        let feeder = match (self.child.stdin.take(), stdin) {
            (Some(pipe), Some(queue)) => {
                Some(tokio::spawn(pump::feed(id, pipe, queue, out.clone())))
            }
            _ => None,
        };
        let stdout = self.child.stdout.take().expect("stdout piped");
        let stderr = self.child.stderr.take().expect("stderr piped");
        let pumps = async {
            let (a, b) = tokio::join!(
                pump::drain(id, Stream::Stdout, stdout, out.clone()),
                pump::drain(id, Stream::Stderr, stderr, out.clone())
            );
            a.and(b)
        };
        tokio::pin!(pumps);
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut status = None;
        let mut pumps_done = false;
        let mut stop: Option<(StopReason, tokio::task::JoinHandle<()>)> = None;
        while status.is_none() || !pumps_done {
            let reason = tokio::select! {
                s = self.child.wait(), if status.is_none() => {
                    status = Some(s);
                    None
                }
                r = &mut pumps, if !pumps_done => {
                    pumps_done = true;
                    r.err().map(|_| StopReason::PeerGone)
                }
                _ = &mut cancel, if stop.is_none() => Some(StopReason::Cancelled),
                _ = sleep_until(deadline), if stop.is_none() && deadline.is_some() => {
                    Some(StopReason::TimedOut)
                }
            };
            if let Some(reason) = reason {
                if stop.is_none() {
                    let killer = tokio::spawn(kill::stop_group(self.pgid, self.kill_grace));
                    stop = Some((reason, killer));
                }
            }
        }
        if let Some((_, killer)) = &stop {
            killer.abort();
            kill::kill_group_now(self.pgid);
        }
        // Nothing about this request may follow its exit frame.
        if let Some(feeder) = feeder {
            feeder.abort();
            let _ = feeder.await;
        }
        let status = status.and_then(Result::ok);
        use std::os::unix::process::ExitStatusExt;
        Outcome {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            timed_out: matches!(stop, Some((StopReason::TimedOut, _))),
            duration: self.started.elapsed(),
        }
    }
}

/// Ask for a 1 MiB pipe buffer (the unprivileged maximum by default):
/// fewer, larger reads and writes for bulk data. Failure (not a pipe, or a
/// lower system limit) only costs speed.
pub fn grow_pipe(fd: &impl std::os::fd::AsFd) {
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Arrange for the child to switch to `account` (groups, gid, uid) between
/// fork and exec. The group list is read here, before the fork, so the child
/// only makes async-signal-safe system calls.
fn drop_privileges(cmd: &mut Command, account: &RunAs) -> Result<(), ExecError> {
    use nix::unistd::{Gid, Uid};
    let name = std::ffi::CString::new(account.name.as_str()).map_err(|_| ExecError::Groups {
        user: account.name.clone(),
        source: nix::Error::EINVAL,
    })?;
    let gid = Gid::from_raw(account.gid);
    let groups = nix::unistd::getgrouplist(&name, gid).map_err(|source| ExecError::Groups {
        user: account.name.clone(),
        source,
    })?;
    let uid = Uid::from_raw(account.uid);
    // SAFETY: the closure only calls setgroups, setgid and setuid, which are
    // async-signal-safe system calls, on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setgroups(&groups)?;
            nix::unistd::setgid(gid)?;
            nix::unistd::setuid(uid)?;
            Ok(())
        });
    }
    Ok(())
}
