//! Running allowed commands: spawn the resolved argv with no shell, a
//! cleared environment and its own process group, registered with the
//! sentinel that kills it if the daemon dies;
//! read stdout and stderr one chunk at a time (the next read waits until
//! the session has sent the last chunk, so a client that does not grant
//! output credit stalls only this command); feed stdin; stop the whole
//! group (TERM, grace, KILL) when asked or when the handle is dropped;
//! report everything as [`ExecEvent`]s. This module builds no wire
//! messages: the session does.

mod fs;
mod guard;
mod kill;
mod pump;
pub mod sentinel;
mod stdin;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use fs::RealFs;
pub use stdin::StdinQueue;

use crate::config::RunAs;
use crate::proto::Stream;
use crate::session::{out_index, ExecEvent, ExitStatus};

/// Events of one connection's commands, tagged with the request id.
pub type Events = mpsc::Sender<(u64, ExecEvent)>;

/// After a stopped command's direct child is reaped, how long its pipes
/// may stay open (a `setsid` grandchild holding them) before they are
/// abandoned and the exit is reported.
pub const PIPE_BOUND: Duration = Duration::from_millis(500);

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
    /// Time between SIGTERM and SIGKILL when the command is stopped.
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
}

/// The server's handle on one running command. Dropping it closes stdin
/// and stops the command's process group.
#[derive(Debug)]
pub struct ExecHandle {
    pid: u32,
    stdin: Option<Arc<StdinQueue>>,
    acks: [Arc<Semaphore>; 2],
    stop: Option<oneshot::Sender<()>>,
}

impl ExecHandle {
    /// The command's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Queue bytes for the command's stdin (the session enforces the window).
    pub fn push_stdin(&self, data: &[u8]) {
        if let Some(q) = &self.stdin {
            q.push(data);
        }
    }

    /// No more stdin.
    pub fn close_stdin(&self) {
        if let Some(q) = &self.stdin {
            q.close();
        }
    }

    /// The session sent the last chunk read from `stream`: read the next.
    pub fn output_taken(&self, stream: Stream) {
        self.acks[out_index(stream)].add_permits(1);
    }

    /// Stop the process group: SIGTERM, then SIGKILL after the grace.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Drop for ExecHandle {
    fn drop(&mut self) {
        self.close_stdin();
        for a in &self.acks {
            a.close();
        }
        self.stop();
    }
}

/// Spawn `spec` as request `id` and drive it on its own task, reporting to
/// `events`. Call from a runtime worker thread: without a sentinel, the
/// parent-death signal is tied to the thread that forks, and worker
/// threads live as long as the runtime.
pub fn start(spec: &Spec, id: u64, events: Events) -> Result<ExecHandle, ExecError> {
    let child = spawn(spec)?;
    let pid = child.id().unwrap_or(0);
    let stdin = spec.stdin.then(|| Arc::new(StdinQueue::new()));
    let acks = [Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0))];
    let (stop_tx, stop_rx) = oneshot::channel();
    let job = Job {
        id,
        events,
        grace: spec.kill_grace,
    };
    tokio::spawn(job.drive(child, stdin.clone(), acks.clone(), stop_rx));
    Ok(ExecHandle {
        pid,
        stdin,
        acks,
        stop: Some(stop_tx),
    })
}

fn spawn(spec: &Spec) -> Result<Child, ExecError> {
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
    guard::prepare_child(&mut cmd, spec.run_as.as_ref());
    let child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.clone(),
        source,
    })?;
    if let Some(out) = &child.stdout {
        grow_pipe(out);
    }
    if let Some(err) = &child.stderr {
        grow_pipe(err);
    }
    if let Some(input) = &child.stdin {
        grow_pipe(input);
    }
    Ok(child)
}

struct Job {
    id: u64,
    events: Events,
    grace: Duration,
}

impl Job {
    async fn emit(&self, event: ExecEvent) {
        let _ = self.events.send((self.id, event)).await;
    }

    async fn drive(
        self,
        mut child: Child,
        stdin: Option<Arc<StdinQueue>>,
        acks: [Arc<Semaphore>; 2],
        mut stop_rx: oneshot::Receiver<()>,
    ) {
        let pgid = child.id().map_or(0, |p| p as i32);
        let mut group = guard::GroupGuard::new(pgid);
        let feeder = match (child.stdin.take(), stdin) {
            (Some(pipe), Some(queue)) => Some(tokio::spawn(pump::feed(
                self.id,
                pipe,
                queue,
                self.events.clone(),
            ))),
            _ => None,
        };
        let (id, ev) = (self.id, &self.events);
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let out = pump::drain(id, Stream::Stdout, stdout, ev.clone(), acks[0].clone());
        let err = pump::drain(id, Stream::Stderr, stderr, ev.clone(), acks[1].clone());
        tokio::pin!(out, err);
        let mut done = [false; 2];
        let mut status = None;
        let mut killer: Option<tokio::task::JoinHandle<()>> = None;
        let mut abandon_at: Option<tokio::time::Instant> = None;
        loop {
            if status.is_some() && done == [true; 2] {
                break;
            }
            let stop_now = tokio::select! {
                s = child.wait(), if status.is_none() => {
                    status = Some(s.ok());
                    if killer.is_some() {
                        abandon_at = Some(tokio::time::Instant::now() + PIPE_BOUND);
                    }
                    false
                }
                r = &mut out, if !done[0] => { done[0] = true; r.is_err() }
                r = &mut err, if !done[1] => { done[1] = true; r.is_err() }
                _ = &mut stop_rx, if killer.is_none() => true,
                // Disabled (never polled) while there is no deadline.
                _ = tokio::time::sleep_until(abandon_at.unwrap_or_else(tokio::time::Instant::now)),
                    if abandon_at.is_some() => break,
            };
            if stop_now && killer.is_none() {
                killer = Some(tokio::spawn(kill::stop_group(pgid, self.grace)));
                if status.is_some() {
                    abandon_at = Some(tokio::time::Instant::now() + PIPE_BOUND);
                }
            }
        }
        if let Some(k) = killer {
            k.abort();
            kill::kill_group_now(pgid);
        }
        group.disarm();
        // Nothing about this request may follow its exit.
        if let Some(feeder) = feeder {
            feeder.abort();
            let _ = feeder.await;
        }
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            if !done[i] {
                self.emit(ExecEvent::Eof { stream }).await;
            }
        }
        use std::os::unix::process::ExitStatusExt;
        let status = status.flatten();
        self.emit(ExecEvent::Exited(ExitStatus {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
        }))
        .await;
    }
}

/// Ask for a 1 MiB pipe buffer (the unprivileged maximum by default):
/// fewer, larger reads and writes for bulk data. Failure (not a pipe, or a
/// lower system limit) only costs speed.
pub fn grow_pipe(fd: &impl std::os::fd::AsFd) {
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}
