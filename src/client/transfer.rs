//! Put and get on a [`Session`]: each file's bytes stream under the
//! request's flow control while a local thread reads or writes and hashes
//! them; the receiver checks size and BLAKE3 before anything replaces the
//! target. `resume` continues from the bytes the receiver already holds
//! once both sides agree on their hash; when they do not, the transfer
//! starts over from byte 0.

mod batch;
mod local;

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use blake3::Hasher;

use super::session::{RequestEvent, Session};
use super::ClientError;
use crate::proto::{ErrorCode, Stream};
use crate::session::{GetParams, PutSpec};
pub use batch::{run_batch, Job, IN_FLIGHT};
pub use local::part_path;
use local::{ReadDone, Sink};

#[derive(Debug, Clone)]
/// Where a put's bytes come from.
pub enum Source {
    /// A regular file.
    File(PathBuf),
    /// Standard input (size unknown; cannot be resumed).
    Stdin,
}

/// Where a get's bytes go.
pub enum Dest {
    /// A file (written beside it first, renamed into place when checked).
    File(PathBuf),
    /// Standard output, as they arrive (checked at the end).
    Stdout(Box<dyn std::io::Write + Send>),
}

/// One put.
#[derive(Debug, Clone)]
pub struct PutJob {
    /// The local bytes.
    pub source: Source,
    /// The remote path.
    pub remote: String,
    /// File name to use when the remote path is a directory.
    pub name: Option<String>,
    /// Permission bits for the stored file (default: the local file's).
    pub mode: Option<u32>,
    /// Continue a partial upload.
    pub resume: bool,
}

/// One get.
pub struct GetJob {
    /// The remote path.
    pub remote: String,
    /// The local end.
    pub dest: Dest,
    /// Continue a partial download.
    pub resume: bool,
}

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes in the file.
    pub size: u64,
    /// Its BLAKE3 (hex), agreed by both sides.
    pub blake3: String,
    /// Bytes that were already there (a resume).
    pub resumed_from: u64,
}

/// Someone watching a transfer (a progress bar).
pub trait Progress {
    /// Bytes start moving: `total` when known, `offset` already there.
    fn start(&mut self, total: Option<u64>, offset: u64);
    /// `n` more bytes moved.
    fn advance(&mut self, n: u64);
    /// The transfer ended (`ok`: it went through).
    fn finish(&mut self, _ok: bool) {}
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _: Option<u64>, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

fn local(what: &str, e: impl std::fmt::Display) -> ClientError {
    ClientError::Transfer(format!("{what}: {e}"))
}

fn ended() -> ClientError {
    ClientError::Protocol("the connection ended".into())
}

/// The next event that is not output.
async fn next(req: &mut super::Request) -> Result<RequestEvent, ClientError> {
    match req.next().await {
        Some(RequestEvent::Denied(m)) => Err(ClientError::Denied(m)),
        // The request's own failures (no such file, a bad hash, the
        // server's disk): exit 1, not a connection failure.
        Some(RequestEvent::Failed(ClientError::Server {
            code:
                code @ (ErrorCode::NotFound
                | ErrorCode::ChecksumMismatch
                | ErrorCode::TransferFailed
                | ErrorCode::BadRequest
                | ErrorCode::Cancelled),
            message,
        })) => Err(ClientError::Transfer(format!("{message} ({code})"))),
        Some(RequestEvent::Failed(e)) => Err(e),
        Some(ev) => Ok(ev),
        None => Err(ended()),
    }
}

fn unexpected(what: &str) -> ClientError {
    ClientError::Protocol(format!("unexpected event during a {what}"))
}

/// Store one file on the server.
pub async fn put(
    session: &Session,
    job: &PutJob,
    progress: &mut (dyn Progress + Send),
) -> Result<Transferred, ClientError> {
    let (size, mode) = match &job.source {
        Source::File(p) => {
            let meta = std::fs::metadata(p).map_err(|e| local(&p.display().to_string(), e))?;
            if !meta.is_file() {
                let m = format!("{}: not a regular file", p.display());
                return Err(ClientError::Usage(m));
            }
            use std::os::unix::fs::PermissionsExt;
            (Some(meta.len()), Some(meta.permissions().mode() & 0o777))
        }
        Source::Stdin => (None, None),
    };
    let mut resume = job.resume && size.is_some();
    loop {
        let params = PutSpec {
            path: job.remote.clone(),
            name: job.name.clone(),
            size,
            mode: job.mode.or(mode),
            resume,
        };
        let mut req = session.put(params).await?;
        let (offset, prefix) = match next(&mut req).await? {
            RequestEvent::PutReady {
                offset,
                prefix_blake3,
            } => (offset, prefix_blake3),
            _ => return Err(unexpected("put")),
        };
        let mut source: Box<dyn std::io::Read + Send> = match &job.source {
            Source::File(p) => Box::new(File::open(p).map_err(|e| local("open", e))?),
            Source::Stdin => Box::new(std::io::stdin()),
        };
        let mut hasher = Hasher::new();
        if offset > 0 {
            let expect = prefix.unwrap_or_default();
            let checked = tokio::task::spawn_blocking(move || {
                let same = crate::transfer::hash_prefix(&mut source, offset, &mut hasher).is_ok()
                    && crate::transfer::hex(hasher.finalize().as_bytes()) == expect;
                (same, source, hasher)
            })
            .await
            .map_err(|e| local("hash", e))?;
            if !checked.0 {
                // The server's partial is not a prefix of this file: start over.
                tracing::info!("the partial upload on the server differs; sending it all");
                req.cancel();
                while next(&mut req).await.is_ok() {}
                resume = false;
                continue;
            }
            (source, hasher) = (checked.1, checked.2);
        }
        progress.start(size, offset);
        let (mut chunks, reader) = local::spawn_reader(source, offset, size, hasher);
        let sink = req.take_stdin().ok_or_else(|| unexpected("put"))?;
        while let Some(chunk) = chunks.recv().await {
            let n = chunk.len() as u64;
            if sink.send(chunk).await.is_err() {
                break;
            }
            progress.advance(n);
        }
        drop(chunks);
        let done: ReadDone = tokio::task::spawn_blocking(move || reader.join())
            .await
            .map_err(|e| local("read", e))?
            .map_err(|_| local("read", "the reader failed"))?
            .map_err(|e| {
                req.cancel();
                local("read", e)
            })?;
        sink.finish(done.size, done.blake3.clone());
        return match next(&mut req).await? {
            RequestEvent::Stored { size, blake3 } if blake3 == done.blake3 => Ok(Transferred {
                size,
                blake3,
                resumed_from: offset,
            }),
            RequestEvent::Stored { .. } => Err(ClientError::Transfer(
                "the server stored a different BLAKE3 than was sent".into(),
            )),
            _ => Err(unexpected("put")),
        };
    }
}

/// Fetch one file from the server.
pub async fn get(
    session: &Session,
    job: GetJob,
    progress: &mut (dyn Progress + Send),
) -> Result<Transferred, ClientError> {
    let target = match &job.dest {
        Dest::File(t) => Some(t.clone()),
        Dest::Stdout(_) => None,
    };
    let part = target.as_deref().map(part_path);
    let mut held = 0u64;
    let mut prefix = Hasher::new();
    let mut file = None;
    // Resume from a partial download, if there is one; nothing is
    // created until the server has opened the file.
    if let (true, Some(p)) = (job.resume, &part) {
        if let Ok(mut f) = OpenOptions::new().read(true).write(true).open(p) {
            held = f.metadata().map_err(|e| local("stat", e))?.len();
            let (r, f2, h) = tokio::task::spawn_blocking(move || {
                let mut h = Hasher::new();
                let r = crate::transfer::hash_prefix(&mut f, held, &mut h);
                (r, f, h)
            })
            .await
            .map_err(|e| local("hash", e))?;
            r.map_err(|e| local("read the partial download", e))?;
            (prefix, file) = (h, Some(f2));
        }
    }
    let resume_from =
        (held > 0).then(|| (held, crate::transfer::hex(prefix.finalize().as_bytes())));
    let params = GetParams {
        path: job.remote.clone(),
        resume_from,
        output_window: session.default_window(),
    };
    let mut req = session.get(params).await?;
    let (size, mode, offset) = match next(&mut req).await? {
        RequestEvent::File { size, mode, offset } => (size, mode, offset),
        _ => return Err(unexpected("get")),
    };
    if offset != held {
        prefix = Hasher::new();
    }
    let sink = match (&part, job.dest) {
        (Some(p), _) => {
            let f = match file {
                Some(f) => f,
                None => File::create(p).map_err(|e| local(&p.display().to_string(), e))?,
            };
            if offset == 0 {
                f.set_len(0).map_err(|e| local("truncate", e))?;
            }
            Sink::File(f)
        }
        (None, Dest::Stdout(w)) => Sink::Stdout(w),
        (None, Dest::File(_)) => return Err(unexpected("get")),
    };
    progress.start(Some(size), offset);
    let (tx, writer) = local::spawn_writer(sink, offset, prefix);
    let end = loop {
        match next(&mut req).await {
            Ok(RequestEvent::Output {
                stream: Stream::Stdout,
                data,
                credit,
            }) => {
                let n = data.len() as u64;
                if tx.send((data, credit)).await.is_err() {
                    break Err(local("write", "the writer stopped"));
                }
                progress.advance(n);
            }
            Ok(RequestEvent::End { size, blake3 }) => break Ok((size, blake3)),
            Ok(_) => break Err(unexpected("get")),
            Err(e) => break Err(e),
        }
    };
    drop(tx);
    let written = tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| local("write", e))?
        .map_err(|_| local("write", "the writer failed"))?;
    let (size_sent, sha_sent) = end?;
    let written = written.map_err(|e| local("write", e))?;
    let ours = crate::transfer::hex(written.hasher.finalize().as_bytes());
    if written.size != size_sent || size_sent != size || !ours.eq_ignore_ascii_case(&sha_sent) {
        if let Some(p) = &part {
            let _ = std::fs::remove_file(p);
        }
        return Err(ClientError::Transfer(
            "the bytes received do not match the server's size and BLAKE3 (checksum_mismatch)"
                .into(),
        ));
    }
    if let (Sink::File(f), Some(p), Some(target)) = (written.sink, part, target) {
        tokio::task::spawn_blocking(move || local::commit(f, &p, &target, mode))
            .await
            .map_err(|e| local("store", e))?
            .map_err(|e| local("store", e))?;
    }
    Ok(Transferred {
        size,
        blake3: ours,
        resumed_from: offset,
    })
}
