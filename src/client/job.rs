//! Jobs from the client (docs/CLIENT.md, "Jobs"): start a command
//! detached, follow a job from the start (`--attach`), and a resumable run
//! (`--resume-on-drop`): the command runs as a job; when the connection is
//! lost, the client reconnects with backoff and attaches at exactly the
//! byte offsets it already wrote, refusing (`spool_truncated`) rather than
//! losing or repeating a byte.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::exec::{Ended, Streams};
use super::session::{RequestEvent, Session, SessionOptions};
use super::{ClientError, Connection, Credentials, ExecRequest, LocalIo, Outcome};
use crate::proto::ErrorCode;
use crate::session::AttachParams;

/// Opens a new signed-in-able connection to the same host.
pub type Reconnect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<(Connection, Credentials), ClientError>> + Send>>
        + Send
        + Sync,
>;

/// Where a resumable run says what it does (one line each, no newline).
pub type Notify = Box<dyn Fn(&str) + Send + Sync>;

/// How a `--detach` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detached {
    /// The job runs under this id.
    Started(String),
    /// The allowlist refused it (or refused to detach it).
    Denied(String),
}

/// Start `req` as a detached job.
pub async fn detach(
    conn: Connection,
    creds: Credentials,
    req: &ExecRequest,
) -> Result<Detached, ClientError> {
    let session = Session::start(conn, creds, &req.user, &req.session)?;
    let mut params = req.params(&session);
    params.stdin = false;
    let mut request = session.job(params, true).await?;
    loop {
        match request.next().await {
            Some(RequestEvent::Detached(job)) => return Ok(Detached::Started(job)),
            Some(RequestEvent::Denied(m)) => return Ok(Detached::Denied(m)),
            Some(RequestEvent::Failed(e)) => return Err(e),
            Some(_) => {}
            None => return Err(ClientError::Protocol("the connection ended".into())),
        }
    }
}

/// Follow job `job` from its first byte to its exit; stdin is not read.
pub async fn attach(
    conn: Connection,
    creds: Credentials,
    user: &str,
    options: &SessionOptions,
    job: &str,
    io: LocalIo,
    notify: Notify,
) -> Result<Outcome, ClientError> {
    let session = Session::start(conn, creds, user, options)?;
    let params = AttachParams {
        job: job.to_string(),
        offsets: [0, 0],
        exact: false,
        stdin: false,
        output_window: session.default_window(),
    };
    let mut request = session.attach(params).await?;
    drop(session);
    let mut streams = Streams::new(io);
    let ended = streams.follow(&mut request).await;
    for (i, name) in ["stdout", "stderr"].into_iter().enumerate() {
        if streams.skipped[i] > 0 {
            notify(&format!(
                "{} bytes of the job's {name} were dropped by the server's spool bound",
                streams.skipped[i]
            ));
        }
    }
    match ended {
        Ended::Done(outcome) => Ok(streams.finish(outcome).await),
        // Our Ctrl-C: the server stopped sending; the job runs on.
        Ended::Lost(ClientError::Server {
            code: ErrorCode::Cancelled,
            ..
        }) if streams.cancelled => Ok(streams.finish(Outcome::Abandoned).await),
        Ended::Lost(e) => Err(e),
    }
}

/// Run `req` as a resumable job: like [`super::run_exec`], but a lost
/// connection is re-established (for up to `resume_for`) and the output
/// continues exactly where it stopped.
pub async fn run_resumable(
    conn: Connection,
    creds: Credentials,
    req: &ExecRequest,
    io: LocalIo,
    reconnect: Reconnect,
    resume_for: Duration,
    notify: Notify,
) -> Result<Outcome, ClientError> {
    let session = Session::start(conn, creds, &req.user, &req.session)?;
    let mut request = session.job(req.params(&session), false).await?;
    drop(session);
    let mut streams = Streams::new(io);
    streams.keep_stdin = req.stdin;
    loop {
        let lost = match streams.follow(&mut request).await {
            Ended::Done(outcome) => return Ok(streams.finish(outcome).await),
            Ended::Lost(e) => e,
        };
        let Some(job) = streams.job.clone() else {
            return Err(lost);
        };
        if !resumable(&lost) {
            return Err(lost);
        }
        notify(&format!("connection lost ({lost}); resuming job {job}"));
        let deadline = Instant::now() + resume_for;
        let mut wait = Duration::from_millis(200);
        let session = loop {
            let attempt = tokio::select! {
                r = reconnect() => r,
                Some(()) = streams.interrupts.recv() => {
                    notify(&format!("gave up; job {job} stops when the server's resume grace ends"));
                    return Ok(Outcome::Abandoned);
                }
            };
            match attempt {
                Ok((conn, creds)) => break Session::start(conn, creds, &req.user, &req.session)?,
                Err(e) if retryable(&e) && Instant::now() + wait < deadline => {
                    tracing::info!("reconnect failed: {e}; again in {wait:?}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        };
        let params = AttachParams {
            job: job.clone(),
            offsets: streams.received,
            exact: true,
            stdin: req.stdin,
            output_window: session.default_window(),
        };
        request = session.attach(params).await?;
        notify(&format!(
            "resumed job {job} at stdout byte {}, stderr byte {}",
            streams.received[0], streams.received[1]
        ));
    }
}

/// A failure after which the job may still be running and reachable.
fn resumable(e: &ClientError) -> bool {
    match e {
        ClientError::Server { code, .. } => matches!(
            code,
            ErrorCode::ShuttingDown | ErrorCode::Timeout | ErrorCode::Internal
        ),
        // A local failure (stdin that cannot be resent exactly): another
        // connection cannot help.
        ClientError::AuthFailed | ClientError::RateLimited { .. } | ClientError::Transfer(_) => {
            false
        }
        _ => true,
    }
}

/// A reconnect failure worth another try.
fn retryable(e: &ClientError) -> bool {
    !matches!(e, ClientError::AuthFailed | ClientError::TlsConfig(_))
}
