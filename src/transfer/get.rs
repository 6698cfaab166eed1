//! Reading a get: open the file beneath a download root (a regular file,
//! no symlink on the way), check the client's prefix hash for a resume,
//! then read exactly the size it had when opened, one chunk ahead of the
//! connection (the next read and hash overlap the send of the last), and
//! report the whole file's BLAKE3 at the end.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use blake3::Hasher;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::jail::{locate, open_beneath, open_error, open_root};
use super::{hex, Inner, Job, TransferError, TransferHandle, READ_CHUNK};
use crate::bufpool::BufPool;
use crate::proto::Stream;
use crate::session::{ExecEvent, GetSpec, Ready};

/// Start reading `spec` on its own thread.
pub fn start_get(job: Job, spec: GetSpec) -> std::io::Result<TransferHandle> {
    let (tx, rx) = mpsc::channel();
    let info = job.info.clone();
    std::thread::Builder::new()
        .name("secshd-get".into())
        .spawn(move || run(job, spec, rx))?;
    Ok(TransferHandle {
        inner: Inner::Get(tx),
        info,
        direction: "get",
    })
}

fn open(job: &Job, spec: &GetSpec) -> Result<(File, u64, u32), TransferError> {
    let loc = locate(&job.roots, &spec.path)?;
    let _ = job.info.path.set(loc.shown());
    let root = open_root(&loc.root)?;
    // Without O_NONBLOCK, opening a FIFO would wait for a writer and hold
    // this thread forever; the type is checked on the open descriptor.
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    let fd = open_beneath(&root, &loc.rel, flags, Mode::empty())
        .map_err(|e| open_error(e, "the file"))?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| TransferError::Io(format!("stat: {e}")))?;
    if !meta.is_file() {
        let m = "not a regular file".into();
        return Err(TransferError::NotFound(m));
    }
    use std::os::unix::fs::PermissionsExt;
    Ok((file, meta.len(), meta.permissions().mode() & 0o7777))
}

/// Read exactly `want` bytes into `buf` (appending); fewer only at EOF.
fn read_up_to(file: &mut File, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    let start = buf.len();
    while buf.len() - start < want {
        let n = file
            .by_ref()
            .take((want - (buf.len() - start)) as u64)
            .read_to_end(buf)?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.len() - start)
}

fn run(job: Job, spec: GetSpec, acks: mpsc::Receiver<()>) {
    if let Err(e) = job.become_user() {
        return job.fail(e);
    }
    let (mut file, size, mode) = match open(&job, &spec) {
        Ok(f) => f,
        Err(e) => return job.fail(e),
    };
    let io = |what: &str, e: std::io::Error| TransferError::Io(format!("{what}: {e}"));
    let mut hasher = Hasher::new();
    let mut pos = 0u64;
    if spec.offset > 0 && spec.offset <= size {
        // Hash the prefix the client holds; resume only if it matches.
        match super::hash_prefix(&mut file, spec.offset, &mut hasher) {
            Ok(()) => pos = spec.offset,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return job.fail(TransferError::Io("the file shrank".into()))
            }
            Err(e) => return job.fail(io("read", e)),
        }
        let same = spec
            .prefix_blake3
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&hex(hasher.finalize().as_bytes())));
        if !same {
            use std::io::{Seek, SeekFrom};
            if let Err(e) = file.seek(SeekFrom::Start(0)) {
                return job.fail(io("seek", e));
            }
            hasher = Hasher::new();
            pos = 0;
        }
    }
    job.info.offset.store(pos, Ordering::Relaxed);
    if !job.report(ExecEvent::Ready(Ready::Get {
        size,
        mode,
        offset: pos,
    })) {
        return;
    }
    let pool = BufPool::new(READ_CHUNK, 3);
    let mut outstanding = false;
    while pos < size {
        let mut buf = pool.take_empty();
        let want = (size - pos).min(READ_CHUNK as u64) as usize;
        match read_up_to(&mut file, &mut buf, want) {
            Ok(n) if n == want => {}
            Ok(_) => {
                let m = "the file shrank while it was being sent".into();
                return job.fail(TransferError::Io(m));
            }
            Err(e) => return job.fail(io("read", e)),
        }
        hasher.update(&buf);
        // One chunk in the session at a time: wait until the last is sent.
        if outstanding && acks.recv().is_err() {
            return;
        }
        let data = pool.freeze(buf, want);
        let output = ExecEvent::Output {
            stream: Stream::Stdout,
            data,
        };
        if !job.report(output) {
            return;
        }
        outstanding = true;
        pos += want as u64;
        job.info.add(want as u64);
    }
    let blake3 = hex(hasher.finalize().as_bytes());
    if job.report(ExecEvent::Eof {
        stream: Stream::Stdout,
    }) {
        job.report(ExecEvent::Done { size, blake3 });
    }
}
