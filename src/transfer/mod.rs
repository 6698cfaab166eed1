//! File transfer on the server: the path jail (`jail`), the thread that
//! stores a put (`put`: hidden partial file, streaming BLAKE3, checked,
//! synced and renamed into place) and the one that reads a get (`get`),
//! each on its own thread running as the user's `run_as` account
//! (`creds`), and the partial-upload sweep (`partial`). Progress and
//! results go to the connection as [`ExecEvent`]s, like a command's; this
//! module builds no wire messages.

pub mod creds;
mod get;
pub mod jail;
pub mod kept;
pub mod partial;
mod put;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

pub use get::start_get;
pub use put::start_put;

use crate::config::RunAs;
use crate::exec::Events;
use crate::proto::ErrorCode;
use crate::session::ExecEvent;

/// Names of partial uploads start with this (hidden, reserved).
pub const PART_PREFIX: &str = ".secsh-part.";
/// Bytes a get reads at a time.
pub const READ_CHUNK: usize = 1024 * 1024;
/// Mode of a stored file when the put names none and none existed.
pub const DEFAULT_MODE: u32 = 0o644;

/// Why a transfer could not go on. The text is for the server's log; the
/// client gets [`TransferError::client_message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Outside the user's roots, through a symlink, or not permitted.
    #[error("denied: {0}")]
    Denied(String),
    /// Nothing there.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request itself makes no sense (a directory as a file).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Another put of the same file is running.
    #[error("busy: {0}")]
    Busy(String),
    /// The bytes do not match what their sender announced.
    #[error("checksum mismatch: {0}")]
    Mismatch(String),
    /// The filesystem failed us.
    #[error("i/o error: {0}")]
    Io(String),
}

impl TransferError {
    /// The text the client sees: no server paths, no OS errors.
    pub fn client_message(&self) -> String {
        match self {
            TransferError::Denied(_) => {
                "the path is outside your roots or crosses a symlink".into()
            }
            TransferError::NotFound(_) => "no such file".into(),
            TransferError::BadRequest(m) | TransferError::Busy(m) | TransferError::Mismatch(m) => {
                m.clone()
            }
            TransferError::Io(_) => "the server could not read or store the file".into(),
        }
    }

    /// The event that ends the request with this error.
    pub fn event(&self) -> ExecEvent {
        let message = self.client_message();
        let code = match self {
            TransferError::Denied(_) => return ExecEvent::Denied { message },
            TransferError::NotFound(_) => ErrorCode::NotFound,
            TransferError::BadRequest(_) => ErrorCode::BadRequest,
            TransferError::Busy(_) => ErrorCode::Busy,
            TransferError::Mismatch(_) => ErrorCode::ChecksumMismatch,
            TransferError::Io(_) => ErrorCode::TransferFailed,
        };
        ExecEvent::Refused { code, message }
    }

    /// The result word for audit records and metrics.
    pub fn result(&self) -> &'static str {
        match self {
            TransferError::Denied(_) => "denied",
            TransferError::NotFound(_) => "not_found",
            TransferError::BadRequest(_) => "bad_request",
            TransferError::Busy(_) => "busy",
            TransferError::Mismatch(_) => "checksum_mismatch",
            TransferError::Io(_) => "failed",
        }
    }
}

/// What the driver learns about a transfer while it runs (for its audit
/// record).
#[derive(Debug, Default)]
pub struct Info {
    /// The file it resolved to.
    pub path: OnceLock<PathBuf>,
    /// Where the bytes started (a resume).
    pub offset: AtomicU64,
    /// Bytes moved on this connection.
    pub bytes: AtomicU64,
    /// Why it failed, when it did.
    pub error: OnceLock<TransferError>,
}

impl Info {
    fn add(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// One transfer's setting: who, where, and where to report.
#[derive(Debug, Clone)]
pub struct Job {
    /// Request id.
    pub id: u64,
    /// The signed-in user.
    pub user: String,
    /// Their upload or download roots.
    pub roots: Vec<PathBuf>,
    /// The account the thread takes on (root daemon only).
    pub run_as: Option<RunAs>,
    /// The connection's event queue.
    pub events: Events,
    /// Shared with the driver.
    pub info: Arc<Info>,
    /// Resumable partials kept, per user (puts only).
    pub kept: Arc<kept::Kept>,
    /// Bytes of them one user may keep.
    pub kept_limit: u64,
}

impl Job {
    fn report(&self, event: ExecEvent) -> bool {
        self.events.blocking_send((self.id, event)).is_ok()
    }

    fn fail(&self, e: TransferError) {
        let _ = self.info.error.set(e.clone());
        self.report(e.event());
    }

    /// Take on the user's account, when there is one.
    fn become_user(&self) -> Result<(), TransferError> {
        match &self.run_as {
            Some(a) => creds::become_account(a)
                .map_err(|e| TransferError::Io(format!("cannot switch to {}: {e}", a.name))),
            None => Ok(()),
        }
    }
}

enum PutMsg {
    Chunk(Bytes),
    Commit { size: u64, blake3: String },
}

enum Inner {
    Put(std::sync::mpsc::Sender<PutMsg>),
    Get(std::sync::mpsc::Sender<()>),
}

/// The driver's handle on a running transfer. Dropping it stops a get and
/// abandons a put (its partial file stays for a resume).
pub struct TransferHandle {
    inner: Inner,
    /// What the transfer has learnt so far.
    pub info: Arc<Info>,
    /// `put` or `get`.
    pub direction: &'static str,
}

impl std::fmt::Debug for TransferHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferHandle")
            .field("direction", &self.direction)
            .field("info", &self.info)
            .finish()
    }
}

impl TransferHandle {
    /// A put's next bytes.
    pub fn push(&self, data: Bytes) {
        if let Inner::Put(tx) = &self.inner {
            let _ = tx.send(PutMsg::Chunk(data));
        }
    }

    /// A put's end: check and store.
    pub fn commit(&self, size: u64, blake3: String) {
        if let Inner::Put(tx) = &self.inner {
            let _ = tx.send(PutMsg::Commit { size, blake3 });
        }
    }

    /// A get's last chunk is sent.
    pub fn output_taken(&self) {
        if let Inner::Get(tx) = &self.inner {
            let _ = tx.send(());
        }
    }
}

/// Bytes written before writeback of them is started (so the fsync at the
/// end finds little left to do, and dirty pages stay few).
pub const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

/// Ask the kernel to start writing `len` bytes at `offset` of `file` to
/// disk now, without waiting (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`). Only a hint: durability comes from the
/// fsync before the rename.
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a descriptor we own; it reads no
    // memory of ours.
    unsafe {
        nix::libc::sync_file_range(
            file.as_raw_fd(),
            offset as i64,
            len as i64,
            nix::libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

/// True when every byte is zero (such chunks are stored as holes);
/// compares against a block of zeros, which is a `memcmp`.
pub fn is_zero(data: &[u8]) -> bool {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    data.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Hash the next `len` bytes of `r` into `hasher` (a resume's prefix);
/// an error if there are fewer.
pub fn hash_prefix(
    r: &mut impl std::io::Read,
    len: u64,
    hasher: &mut blake3::Hasher,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
