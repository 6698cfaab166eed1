//! Storing a put: resolve the target beneath an upload root, open (or,
//! for a resume, reopen and re-hash) its hidden partial file, write and
//! hash the bytes as they come, and on the client's `end` compare size and
//! BLAKE3, set the mode, fsync, rename over the target and fsync the
//! directory. A mismatch removes the partial. A put that ends any other
//! way (client gone, disk full) removes its partial unless a resume could
//! continue it (a put of known size); those are kept, counted against the
//! user's bound (`kept`). The previous file is untouched until the rename.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use blake3::Hasher;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::jail::{check_name, locate, open_beneath, open_error, open_root};
use super::kept::Place;
use super::partial::{part_name, try_lock};
use super::{hex, Inner, Job, PutMsg, TransferError, TransferHandle, DEFAULT_MODE};
use crate::session::{ExecEvent, PutSpec, Ready};

/// An open partial upload.
struct Open {
    dir: OwnedFd,
    /// Where the partial is, to find it again.
    place: Place,
    name: String,
    part: String,
    file: File,
    hasher: Hasher,
    /// Bytes in the partial (offset + received).
    held: u64,
    /// Writeback has been started up to here.
    flushed: u64,
    size: Option<u64>,
    mode: u32,
}

/// Start storing `spec` on its own thread.
pub fn start_put(job: Job, spec: PutSpec) -> std::io::Result<TransferHandle> {
    let (tx, rx) = mpsc::channel();
    let info = job.info.clone();
    std::thread::Builder::new()
        .name("secshd-put".into())
        .spawn(move || run(job, spec, rx))?;
    Ok(TransferHandle {
        inner: Inner::Put(tx),
        info,
        direction: "put",
    })
}

fn run(job: Job, spec: PutSpec, rx: mpsc::Receiver<PutMsg>) {
    let opened = job.become_user().and_then(|()| open(&job, &spec));
    let mut o = match opened {
        Ok(o) => o,
        Err(e) => return job.fail(e),
    };
    job.kept.taken(&job.user, &o.place);
    match receive(&job, &mut o, rx) {
        Ok(Some((size, blake3))) => match commit(o, size, &blake3) {
            Ok(blake3) => {
                job.report(ExecEvent::Done { size, blake3 });
            }
            Err(e) => job.fail(e),
        },
        // The client went away, or a write failed.
        ended => {
            left_behind(&job, o);
            if let Err(e) = ended {
                job.fail(e);
            }
        }
    }
}

/// A put that will not commit: keep its partial for a resume when one is
/// possible (known size, within the user's bound), else remove it now, so
/// a failed put never leaves the disk fuller than before it.
fn left_behind(job: &Job, o: Open) {
    let resumable = o.size.is_some() && o.held > 0;
    if !resumable {
        discard(&o);
        return;
    }
    // Unlocked first: past the bound, `left` removes it like any other.
    let Open {
        place, held, file, ..
    } = o;
    drop(file);
    let n = job.kept.left(&job.user, place, held, job.kept_limit);
    if n > 0 {
        tracing::info!(user = %crate::logtext::shown(&job.user), removed = n,
            "partial uploads over the user's partial_max_mib removed");
    }
}

/// Take the bytes as they come: `Some((size, blake3))` at the client's
/// `end`, `None` when the client went away first.
#[allow(clippy::type_complexity)]
fn receive(
    job: &Job,
    o: &mut Open,
    rx: mpsc::Receiver<PutMsg>,
) -> Result<Option<(u64, String)>, TransferError> {
    let prefix_blake3 = (o.held > 0).then(|| hex(o.hasher.finalize().as_bytes()));
    job.info.offset.store(o.held, Ordering::Relaxed);
    if !job.report(ExecEvent::Ready(Ready::Put {
        offset: o.held,
        prefix_blake3,
    })) {
        return Ok(None);
    }
    while let Ok(msg) = rx.recv() {
        match msg {
            PutMsg::Chunk(data) => {
                let n = data.len() as u64;
                if o.size.is_some_and(|s| o.held + n > s) {
                    discard(o);
                    let m = "more bytes than the announced size".into();
                    return Err(TransferError::Mismatch(m));
                }
                // An all-zero chunk becomes a hole (the length is set at
                // the commit): sparse files stay sparse.
                let written = if super::is_zero(&data) {
                    o.file.seek(SeekFrom::Current(n as i64)).map(|_| ())
                } else {
                    o.file.write_all(&data)
                };
                if let Err(e) = written {
                    return Err(TransferError::Io(format!("write: {e}")));
                }
                o.hasher.update(&data);
                o.held += n;
                if o.held - o.flushed >= super::WRITEBACK_EVERY {
                    super::start_writeback(&o.file, o.flushed, o.held - o.flushed);
                    o.flushed = o.held;
                }
                job.info.add(n);
                if !job.report(ExecEvent::StdinWritten(n)) {
                    return Ok(None);
                }
            }
            PutMsg::Commit { size, blake3 } => return Ok(Some((size, blake3))),
        }
    }
    Ok(None)
}

fn open(job: &Job, spec: &PutSpec) -> Result<Open, TransferError> {
    let loc = locate(&job.roots, &spec.path)?;
    let root = open_root(&loc.root)?;
    let dflags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
    let whole = if loc.rel.is_empty() {
        Ok(root
            .try_clone()
            .map_err(|e| TransferError::Io(e.to_string()))?)
    } else {
        open_beneath(&root, &loc.rel, dflags, Mode::empty())
    };
    let (dir, dir_rel, name, shown) = match whole {
        // The path is a directory: the file goes inside it.
        Ok(dir) => {
            let Some(name) = spec.name.clone() else {
                let m = "the path is a directory; name the file".into();
                return Err(TransferError::BadRequest(m));
            };
            (dir, loc.rel.clone(), name.clone(), loc.shown().join(name))
        }
        Err(Errno::ENOENT | Errno::ENOTDIR) => {
            let (last, parent) = loc.rel.split_last().expect("non-empty");
            let dir = open_beneath(&root, parent, dflags, Mode::empty())
                .map_err(|e| open_error(e, "the target's directory"))?;
            (dir, parent.to_vec(), last.clone(), loc.shown())
        }
        Err(e) => return Err(open_error(e, "the target")),
    };
    check_name(&name)?;
    let _ = job.info.path.set(shown);
    let existing = match fstatat(dir.as_fd(), name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(open_error(e, "the target")),
    };
    let kind = existing.map(|st| st.st_mode & nix::libc::S_IFMT);
    if kind == Some(nix::libc::S_IFLNK) {
        return Err(TransferError::Denied("the target is a symlink".into()));
    }
    if kind.is_some_and(|k| k != nix::libc::S_IFREG) {
        let m = "the target exists and is not a regular file".into();
        return Err(TransferError::BadRequest(m));
    }
    let mode = spec
        .mode
        .or(existing.map(|st| st.st_mode & 0o777))
        .unwrap_or(DEFAULT_MODE);
    let part = part_name(&job.user, &name, spec.size);
    let flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        dir.as_fd(),
        part.as_str(),
        flags,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| open_error(e, "the partial file"))?;
    if !try_lock(&fd) {
        let m = "another upload of this file is in progress".into();
        return Err(TransferError::Busy(m));
    }
    let mut file = File::from(fd);
    let io = |what: &str, e: std::io::Error| TransferError::Io(format!("{what}: {e}"));
    let mut hasher = Hasher::new();
    let mut held = file.metadata().map_err(|e| io("stat partial", e))?.len();
    let keep = spec.resume && spec.size.is_some_and(|s| held <= s);
    if keep && held > 0 {
        file.seek(SeekFrom::Start(0))
            .and_then(|_| super::hash_prefix(&mut file, held, &mut hasher))
            .map_err(|e| io("read partial", e))?;
    } else {
        held = 0;
        file.set_len(0).map_err(|e| io("truncate partial", e))?;
    }
    file.seek(SeekFrom::Start(held))
        .map_err(|e| io("seek partial", e))?;
    let place = Place {
        root: loc.root.clone(),
        dir: dir_rel,
        part: part.clone(),
    };
    Ok(Open {
        dir,
        place,
        name,
        part,
        file,
        hasher,
        held,
        flushed: held,
        size: spec.size,
        mode,
    })
}

fn discard(o: &Open) {
    let _ = unlinkat(o.dir.as_fd(), o.part.as_str(), UnlinkatFlags::NoRemoveDir);
}

/// Check the client's size and hash, then put the file in place; the
/// hash on success.
fn commit(o: Open, size: u64, blake3: &str) -> Result<String, TransferError> {
    let got = hex(o.hasher.finalize().as_bytes());
    let problem = if o.held != size {
        Some(format!(
            "received {} bytes, the client announced {size}",
            o.held
        ))
    } else if o.size.is_some_and(|s| s != size) {
        Some(format!(
            "the put announced {} bytes, its end {size}",
            o.size.unwrap_or(0)
        ))
    } else if !got.eq_ignore_ascii_case(blake3) {
        Some("the BLAKE3 of the bytes received does not match the client's".into())
    } else {
        None
    };
    if let Some(p) = problem {
        discard(&o);
        return Err(TransferError::Mismatch(p));
    }
    let io = |what: &str, e: String| TransferError::Io(format!("{what}: {e}"));
    let finish = || -> Result<(), TransferError> {
        o.file
            .set_len(o.held)
            .map_err(|e| io("set length", e.to_string()))?;
        fchmod(o.file.as_fd(), Mode::from_bits_truncate(o.mode))
            .map_err(|e| io("chmod", e.to_string()))?;
        o.file.sync_all().map_err(|e| io("fsync", e.to_string()))?;
        nix::fcntl::renameat(
            o.dir.as_fd(),
            o.part.as_str(),
            o.dir.as_fd(),
            o.name.as_str(),
        )
        .map_err(|e| io("rename", e.to_string()))?;
        nix::unistd::fsync(o.dir.as_fd()).map_err(|e| io("fsync directory", e.to_string()))
    };
    finish().inspect_err(|_| discard(&o))?;
    Ok(got)
}
