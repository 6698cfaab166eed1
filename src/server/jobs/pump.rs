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
                if let Err(e) = job.spools[i].write(&data) {
                    tracing::error!(job = %job.id, "spool write failed, later output is dropped: {e}");
                }
                if ctx.hash {
                    hashers[i].update(&data);
                }
                job.stored(stream);
            }
            Some((_, ExecEvent::StdinWritten(n))) => {
                if let Some((events, token)) = job.stdin_target() {
                    let _ = events.send((token, ExecEvent::StdinWritten(n))).await;
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
