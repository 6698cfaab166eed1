//! A job's pump: every chunk the command writes is appended to its
//! stream's spool and hashed, and the next is asked for at once (a job
//! never waits for a reader); the time limit is enforced here, since no
//! connection may be there to do it; the end is recorded (meta.json and
//! the `job_ended` audit record).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::job::Job;
use crate::audit::{Auditor, Event, JobEvent};
use crate::session::{out_index, ExecEvent, ExitStatus};

/// What the pump needs besides the job.
pub(crate) struct PumpCtx {
    pub audit: Arc<Auditor>,
    pub hash: bool,
    pub timeout: Option<Duration>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Move the command's output into the spool until it exits; then record
/// the end (meta.json and the `job_ended` record).
pub(crate) async fn pump(job: Arc<Job>, mut rx: mpsc::Receiver<(u64, ExecEvent)>, ctx: PumpCtx) {
    let deadline = ctx.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut hashers = [blake3::Hasher::new(), blake3::Hasher::new()];
    let begun = Instant::now();
    let status = loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() && !job.stopping() => {
                job.stop("timed_out");
                continue;
            }
        };
        match ev {
            Some((_, ExecEvent::Output { stream, data })) => {
                let i = out_index(stream);
                // In pieces of at most a tail segment, so that one piece
                // never drops bytes written with it.
                let piece = (job.spools[i].tail_cap() / 4).max(1) as usize;
                for part in data.chunks(piece) {
                    wait_for_readers(&job, i, part.len() as u64, deadline).await;
                    if let Err(e) = job.spools[i].write(part) {
                        tracing::error!(job = %job.id, "spool write failed, later output is dropped: {e}");
                    }
                    job.notify();
                }
                if ctx.hash {
                    hashers[i].update(&data);
                }
                job.stored(stream);
            }
            Some((_, ExecEvent::StdinWritten(n))) => {
                if let Some((events, token, credit)) = job.stdin_written(n) {
                    let _ = events.send((token, ExecEvent::StdinWritten(credit))).await;
                }
            }
            Some((_, ExecEvent::Exited(status))) => break status,
            Some(_) => {}
            None => {
                break ExitStatus {
                    code: None,
                    signal: Some(9),
                }
            }
        }
    };
    let state = job.ended(status);
    ctx.metrics.jobs_running.dec();
    let [(out, d1), (err, d2)] = [job.spools[0].counts(), job.spools[1].counts()];
    let hex = |h: &blake3::Hasher| ctx.hash.then(|| h.finalize().to_hex().to_string());
    tracing::info!(job = %job.id, user = %job.user, state, code = ?status.code,
        signal = ?status.signal, "job ended");
    ctx.audit.record(Event::Job(JobEvent::JobEnded {
        user: job.user.to_string(),
        job: job.id.clone(),
        command: job.command.clone(),
        pid: job.pid,
        ended: state,
        exit_code: status.code,
        signal: status.signal,
        duration_ms: begun.elapsed().as_millis() as u64,
        stdout_bytes: out,
        stderr_bytes: err,
        stdout_blake3: hex(&hashers[0]),
        stderr_blake3: hex(&hashers[1]),
        dropped_bytes: d1 + d2,
    }));
}

/// A resumable job's command waits for a slow follower (or for its client
/// to come back) rather than lose output: before `n` bytes of stream `i`
/// that would drop spooled bytes go in, every follower must have read at
/// least half a tail past what would be dropped (so a client that loses
/// its connection with that much in flight still resumes exactly). The
/// time limit still applies while it waits.
async fn wait_for_readers(job: &Job, i: usize, n: u64, deadline: Option<tokio::time::Instant>) {
    let margin = job.spools[i].tail_cap() / 2;
    while let Some(edge) = job.spools[i].drop_edge(n) {
        let moved = job.readers.moved();
        tokio::pin!(moved);
        moved.as_mut().enable();
        if job.may_drop(i, edge, margin) {
            return;
        }
        tokio::select! {
            _ = moved => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() && !job.stopping() => {
                job.stop("timed_out");
            }
        }
    }
}
