//! A follower: the process layer of a request that reads a job. It reports
//! the job's spooled output from the request's offsets as the same
//! [`ExecEvent`]s a running command produces (one chunk per stream until
//! the session took it), then the live output as the pump stores it, then
//! each stream's end and the job's exit. Bytes the spool dropped are
//! skipped with `Skipped`, or, for an exact attach (a resume), end the
//! request with `spool_truncated`.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::job::{stream_of, Job};
use super::spool::Found;
use crate::exec::Events;
use crate::proto::{ErrorCode, Stream, DATA_CHUNK};
use crate::session::{out_index, ExecEvent};

/// The driver's handle on one follower. Dropping it stops the follower.
#[derive(Debug)]
pub(crate) struct Follower {
    acks: [Arc<Semaphore>; 2],
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// The session sent the last chunk of `stream`: read the next.
    pub fn output_taken(&self, stream: Stream) {
        self.acks[out_index(stream)].add_permits(1);
    }

    /// Report nothing more.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one follower reads and where it reports.
pub(crate) struct Reading {
    pub job: Arc<Job>,
    pub offsets: [u64; 2],
    pub exact: bool,
    pub token: u64,
    pub events: Events,
}

/// Start following.
pub(crate) fn start(r: Reading) -> Follower {
    let acks = [Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0))];
    let task = tokio::spawn(run(r, acks.clone()));
    Follower { acks, task }
}

async fn run(r: Reading, acks: [Arc<Semaphore>; 2]) {
    let Reading {
        job,
        mut offsets,
        exact,
        token,
        events,
    } = r;
    let emit = |ev: ExecEvent| {
        let events = events.clone();
        async move { events.send((token, ev)).await.is_ok() }
    };
    let mut changes = job.subscribe();
    let reader = Reader::new(&job, offsets);
    let mut inflight = [false; 2];
    let mut eof = [false; 2];
    loop {
        changes.borrow_and_update();
        let mut progressed = false;
        for i in 0..2 {
            if eof[i] || inflight[i] {
                continue;
            }
            let spool = &job.spools[i];
            let found = match spool.read(offsets[i], DATA_CHUNK) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(job = %job.id, "cannot read the spool: {e}");
                    let message = "the job's output cannot be read".into();
                    let code = ErrorCode::Internal;
                    emit(ExecEvent::Refused { code, message }).await;
                    return;
                }
            };
            let stream = stream_of(i);
            let ok = match found {
                Found::Bytes(b) => {
                    offsets[i] += b.len() as u64;
                    reader.at(offsets);
                    inflight[i] = true;
                    emit(ExecEvent::Output {
                        stream,
                        data: b.into(),
                    })
                    .await
                }
                Found::Gap(_) if exact => {
                    let message = format!(
                        "the job's spool no longer holds its {} from byte {}: \
                         resuming would lose output",
                        if i == 0 { "stdout" } else { "stderr" },
                        offsets[i]
                    );
                    let code = ErrorCode::SpoolTruncated;
                    emit(ExecEvent::Refused { code, message }).await;
                    return;
                }
                Found::Gap(to) => {
                    let bytes = to - offsets[i];
                    offsets[i] = to;
                    reader.at(offsets);
                    emit(ExecEvent::Skipped { stream, bytes }).await
                }
                Found::End => {
                    // The end is known only once the pump stored the
                    // last byte: then the count is final.
                    if job.end().is_some() && offsets[i] >= spool.counts().0 {
                        eof[i] = true;
                        emit(ExecEvent::Eof { stream }).await
                    } else {
                        continue;
                    }
                }
            };
            if !ok {
                return;
            }
            progressed = true;
        }
        if eof == [true; 2] {
            if let Some(end) = job.end() {
                if end.state == "timed_out" {
                    emit(ExecEvent::TimedOut).await;
                }
                emit(ExecEvent::Exited(end.status)).await;
            }
            return;
        }
        if progressed {
            continue;
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            p = acks[0].acquire(), if inflight[0] => {
                if let Ok(p) = p { p.forget() }
                inflight[0] = false;
            }
            p = acks[1].acquire(), if inflight[1] => {
                if let Ok(p) = p { p.forget() }
                inflight[1] = false;
            }
        }
    }
}

/// This follower's place in the job's list of readers, for as long as it
/// runs (an aborted follower leaves it too).
struct Reader {
    job: Arc<Job>,
    key: u64,
}

impl Reader {
    fn new(job: &Arc<Job>, offsets: [u64; 2]) -> Self {
        let key = job.readers.start(offsets);
        Self {
            job: job.clone(),
            key,
        }
    }

    fn at(&self, offsets: [u64; 2]) {
        self.job.readers.at(self.key, offsets);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.job.readers.end(self.key);
    }
}
