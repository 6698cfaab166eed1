//! Running one command (or a script of them) on many hosts from one
//! runtime: bounded parallelism, optional rolling batches, a whole-run
//! deadline and Ctrl-C that cancel the remote commands (their process
//! groups) and still report every host, `--max-errors` that stops
//! dispatching, and exactly one [`Status`] per host. Output goes to a
//! [`Sink`] as it arrives; nothing is kept here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

use super::{HostPlan, HostResult, Status};
use crate::client::session::{RequestEvent, Session, SessionOptions};
use crate::client::{connect_with, ClientError, Credentials, Identity};
use crate::proto::{Secret, Stream};
use crate::session::{AttachParams, ExecParams, RemoteExit};

/// Where output and results go, as they happen.
pub trait Sink: Send + Sync {
    /// Bytes of `stream` from host number `host`.
    fn output(&self, host: usize, stream: Stream, data: &[u8]);
    /// Host number `result.index` ended.
    fn finished(&self, result: &HostResult);
}

/// Stop dispatching after this many failed hosts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxErrors {
    /// More than this many.
    Count(usize),
    /// More than this percentage of all hosts.
    Percent(f64),
}

/// How a fleet run behaves.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Hosts in flight at once.
    pub parallel: usize,
    /// Per host: TCP + TLS, and again the answer to `auth`.
    pub connect_timeout: Duration,
    /// Per host: ping a silent server.
    pub keepalive: Option<Duration>,
    /// Per command, enforced by the server.
    pub timeout: Option<Duration>,
    /// The whole run.
    pub deadline: Option<Duration>,
    /// Stop dispatching once exceeded.
    pub max_errors: Option<MaxErrors>,
    /// Rolling batches: a batch starts when the previous one has ended.
    pub batch_size: Option<usize>,
    /// With several commands: run the rest after one fails.
    pub keep_going: bool,
    /// Start the command as a detached job on every host (`--detach`).
    pub detach: bool,
}

/// What each host signs in with.
#[derive(Clone)]
pub struct FleetCreds {
    /// The key.
    pub key: Option<Identity>,
    /// A password from a file.
    pub password: Option<Secret>,
}

/// How long a cancelled command may take to report its end.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Run `commands` (in order, on one connection per host) on every host.
/// Results come back in host order; `cancel` turning true (Ctrl-C) ends
/// the run as a deadline does.
pub async fn run_fleet(
    hosts: Vec<HostPlan>,
    commands: Arc<Vec<Vec<String>>>,
    creds: FleetCreds,
    opts: FleetOptions,
    sink: Arc<dyn Sink>,
    mut cancel: watch::Receiver<bool>,
) -> Vec<HostResult> {
    let total = hosts.len();
    let (stop_tx, stop) = watch::channel(false);
    // The deadline and Ctrl-C both turn `stop` on.
    let deadline = opts.deadline.map(|d| tokio::time::Instant::now() + d);
    let stopper = {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            let at = deadline.unwrap_or_else(|| {
                tokio::time::Instant::now() + Duration::from_secs(10 * 365 * 86400)
            });
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = cancel.wait_for(|c| *c) => {}
            }
            let _ = stop_tx.send(true);
        })
    };
    let failed = Arc::new(AtomicUsize::new(0));
    let limit = match opts.max_errors {
        Some(MaxErrors::Count(n)) => Some(n),
        Some(MaxErrors::Percent(p)) => Some(((p / 100.0) * total as f64).floor() as usize),
        None => None,
    };
    let slots = Arc::new(Semaphore::new(opts.parallel.max(1)));
    let mut results: Vec<Option<HostResult>> = (0..total).map(|_| None).collect();
    let labels: Vec<(String, String)> = hosts
        .iter()
        .map(|h| (h.label.clone(), h.target.host.clone()))
        .collect();
    let batch = opts.batch_size.unwrap_or(total).max(1);
    let mut pending = hosts.into_iter().enumerate().peekable();
    let mut batch_tasks = tokio::task::JoinSet::new();
    'dispatch: while pending.peek().is_some() {
        for _ in 0..batch {
            let Some((i, host)) = pending.next() else {
                break;
            };
            // Undispatched hosts are filled in at the end.
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("never closed"),
                _ = wait_stop(stop.clone()) => break 'dispatch,
            };
            if *stop.borrow() || limit.is_some_and(|l| failed.load(Ordering::Relaxed) > l) {
                break 'dispatch;
            }
            let job = Job {
                index: i,
                host,
                commands: commands.clone(),
                creds: creds.clone(),
                opts: opts.clone(),
                stop: stop.clone(),
            };
            let (sink, failed) = (sink.clone(), failed.clone());
            batch_tasks.spawn(async move {
                let r = job.run(sink.as_ref()).await;
                if r.status != Status::Ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                sink.finished(&r);
                drop(permit);
                r
            });
        }
        // With batches, the next one waits for this one to end.
        if opts.batch_size.is_some() {
            while let Some(r) = batch_tasks.join_next().await {
                if let Ok(r) = r {
                    let i = r.index;
                    results[i] = Some(r);
                }
            }
        }
    }
    while let Some(r) = batch_tasks.join_next().await {
        if let Ok(r) = r {
            let i = r.index;
            results[i] = Some(r);
        }
    }
    stopper.abort();
    // Hosts never dispatched: not started after --max-errors, else
    // cancelled (the deadline passed or Ctrl-C came first).
    let why = if *stop.borrow() {
        Status::Cancelled
    } else {
        Status::NotStarted
    };
    let mut out = Vec::with_capacity(total);
    for (i, r) in results.into_iter().enumerate() {
        let r = r.unwrap_or_else(|| {
            let (label, address) = labels.get(i).cloned().unwrap_or_default();
            let r = HostResult::new(i, label, address, why.clone());
            sink.finished(&r);
            r
        });
        out.push(r);
    }
    out
}

async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

struct Job {
    index: usize,
    host: HostPlan,
    commands: Arc<Vec<Vec<String>>>,
    creds: FleetCreds,
    opts: FleetOptions,
    stop: watch::Receiver<bool>,
}

impl Job {
    async fn run(self, sink: &dyn Sink) -> HostResult {
        let started = Instant::now();
        let mut r = HostResult::new(
            self.index,
            self.host.label.clone(),
            self.host.target.host.clone(),
            Status::Ok,
        );
        if let Err((status, message)) = self.commands(sink, &mut r).await {
            r.status = status;
            r.error = Some(message);
        }
        r.duration = started.elapsed();
        r
    }

    /// Connect, sign in and run the commands; `Err` for a host-level end.
    async fn commands(&self, sink: &dyn Sink, r: &mut HostResult) -> Result<(), (Status, String)> {
        let fail = |e: ClientError| (e.status(), e.to_string());
        let cancelled = || (Status::Cancelled, "cancelled before it ran".to_string());
        // Connecting gives way to the deadline or Ctrl-C; a running
        // command is cancelled on the server instead (in `one`).
        let connecting = connect_with(
            &self.host.target,
            self.host.tls.clone(),
            self.opts.connect_timeout,
        );
        let conn = tokio::select! {
            c = connecting => c.map_err(fail)?,
            _ = wait_stop(self.stop.clone()) => return Err(cancelled()),
        };
        let creds = Credentials::new(
            self.creds.key.clone(),
            self.creds.password.clone(),
            // Never prompt once per host.
            None,
            format!("{}@{}", self.host.user, self.host.label),
        );
        let options = SessionOptions {
            auth_timeout: self.opts.connect_timeout,
            keepalive: self.opts.keepalive,
        };
        let session = Session::start(conn, creds, &self.host.user, &options).map_err(fail)?;
        if let Some(job) = &self.host.job {
            if job.is_empty() {
                let why = "no job recorded for this host in the --attach directory";
                return Err((Status::NotStarted, why.into()));
            }
            r.job = Some(job.clone());
            let params = AttachParams {
                job: job.clone(),
                offsets: [0, 0],
                exact: false,
                stdin: false,
                output_window: session.default_window(),
            };
            let req = session.attach(params).await.map_err(fail)?;
            r.status = self.follow(req, sink, r).await?;
            r.commands = 1;
            return Ok(());
        }
        for argv in self.commands.iter() {
            if *self.stop.borrow() {
                return Err(cancelled());
            }
            let status = self.one(&session, argv, sink, r).await?;
            r.commands += 1;
            let ok = status == Status::Ok;
            r.status = status;
            if !ok && !self.opts.keep_going {
                break;
            }
        }
        if self.commands.len() > 1 && self.opts.keep_going {
            // The host's status is its worst command's.
            if r.worst != Status::Ok {
                r.status = r.worst.clone();
            }
        }
        Ok(())
    }

    async fn one(
        &self,
        session: &Session,
        argv: &[String],
        sink: &dyn Sink,
        r: &mut HostResult,
    ) -> Result<Status, (Status, String)> {
        let fail = |e: ClientError| (e.status(), e.to_string());
        let params = ExecParams {
            argv: argv.to_vec(),
            stdin: false,
            timeout_ms: self.opts.timeout.map(|t| t.as_millis() as u64),
            output_window: session.default_window(),
        };
        if self.opts.detach {
            let mut req = session.job(params, true).await.map_err(fail)?;
            return match req.next().await {
                Some(RequestEvent::Detached(job)) => {
                    r.job = Some(job);
                    Ok(Status::Ok)
                }
                Some(RequestEvent::Denied(m)) => {
                    r.error = Some(m);
                    r.note(&Status::Denied);
                    Ok(Status::Denied)
                }
                Some(RequestEvent::Failed(e)) => Err(fail(e)),
                _ => Err((Status::ProtocolError, "the connection ended".into())),
            };
        }
        let req = session.exec(params).await.map_err(fail)?;
        self.follow(req, sink, r).await
    }

    /// Carry one request's output to the sink until its end.
    async fn follow(
        &self,
        mut req: crate::client::session::Request,
        sink: &dyn Sink,
        r: &mut HostResult,
    ) -> Result<Status, (Status, String)> {
        let fail = |e: ClientError| (e.status(), e.to_string());
        let mut cancelled_at: Option<Instant> = None;
        loop {
            let grace = async {
                match cancelled_at {
                    Some(t) => tokio::time::sleep_until((t + CANCEL_GRACE).into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = req.next() => match ev {
                    Some(RequestEvent::Output { stream, data, credit }) => {
                        match stream {
                            Stream::Stderr => r.stderr_bytes += data.len() as u64,
                            _ => r.stdout_bytes += data.len() as u64,
                        }
                        sink.output(self.index, stream, &data);
                        drop(credit);
                    }
                    Some(RequestEvent::Exit(exit)) => {
                        let s = match (cancelled_at, exit) {
                            (Some(_), _) => Status::Cancelled,
                            (_, RemoteExit::Code(0)) => Status::Ok,
                            (_, RemoteExit::Code(c)) => Status::Failed(c),
                            (_, RemoteExit::Signal(s)) => Status::Signalled(s),
                            (_, RemoteExit::TimedOut) => Status::TimedOut,
                        };
                        r.note(&s);
                        return Ok(s);
                    }
                    Some(RequestEvent::Denied(m)) => {
                        r.error = Some(m);
                        r.note(&Status::Denied);
                        return Ok(Status::Denied);
                    }
                    Some(RequestEvent::Failed(ClientError::Server {
                        code: crate::proto::ErrorCode::Cancelled,
                        ..
                    })) if cancelled_at.is_some() => return Ok(Status::Cancelled),
                    Some(RequestEvent::Failed(e)) => return Err(fail(e)),
                    Some(_) => {}
                    None => return Err((Status::ProtocolError, "the connection ended".into())),
                },
                _ = wait_stop(self.stop.clone()), if cancelled_at.is_none() => {
                    req.cancel();
                    cancelled_at = Some(Instant::now());
                }
                _ = grace => return Err((Status::Cancelled, "cancelled; the server did not confirm".into())),
            }
        }
    }
}
