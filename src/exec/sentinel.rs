//! The sentinel: a small process forked (twice, so that it is not the
//! daemon's child) at start-up that outlives the daemon for one purpose.
//! The daemon tells it, over a pipe, each command's process group as the
//! command starts and when it is reaped; if
//! the daemon dies, even by SIGKILL, the pipe reaches end-of-file and the
//! sentinel SIGKILLs every group still registered, then exits.
//!
//! This replaces a parent-death signal set between fork and exec, which
//! forces a full `fork` of the multi-threaded daemon for every command
//! (page-table copy plus copy-on-write faults afterwards, about 0.5 ms of
//! daemon CPU per command) where `posix_spawn` (vfork) suffices otherwise.
//! It also covers the whole group, not only the direct child. Without a
//! sentinel (a library user that never started one, or a sentinel that
//! died), commands fall back to the parent-death signal.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::{killpg, signal, SigHandler, Signal};
use nix::unistd::{ForkResult, Pid};

/// One record on the pipe: `+` or `-`, then the group id (little endian).
const RECORD: usize = 5;

static SENTINEL: OnceLock<Sentinel> = OnceLock::new();

struct Sentinel {
    pipe: Mutex<File>,
    broken: AtomicBool,
}

/// Errors starting the sentinel.
#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    /// Forking a multi-threaded process would leave the copy with locks
    /// held by threads that do not exist in it.
    #[error("the process already runs {0} threads; start the sentinel before the runtime")]
    Threaded(usize),
    /// pipe or fork failed.
    #[error("cannot start the sentinel: {0}")]
    Os(#[from] nix::Error),
    /// Started once already.
    #[error("the sentinel is already running")]
    Running,
}

/// Fork the sentinel. Call once, while the process is still
/// single-threaded (before the async runtime starts) and before any
/// listening socket is opened, so the sentinel holds nothing but its pipe.
pub fn start() -> Result<(), SentinelError> {
    if SENTINEL.get().is_some() {
        return Err(SentinelError::Running);
    }
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    if threads != 1 {
        return Err(SentinelError::Threaded(threads));
    }
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the process is single-threaded (checked above), so the child
    // is a complete copy and may run ordinary code.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            drop(write);
            // Fork again and let this middle process exit: the sentinel is
            // then not the daemon's child (init, or the nearest subreaper,
            // reaps it), so the daemon's children are exactly its commands.
            // If this fork fails, the pipe's reader is gone and the daemon
            // falls back to the parent-death signal at its first write.
            // SAFETY: this process is a single-threaded copy (see above).
            match unsafe { nix::unistd::fork() } {
                Ok(ForkResult::Child) => watch(read),
                // SAFETY: _exit skips the copied atexit handlers and stdio.
                _ => unsafe { nix::libc::_exit(0) },
            }
        }
        ForkResult::Parent { child } => {
            drop(read);
            // Reap the middle process (it exits at once).
            let _ = nix::sys::wait::waitpid(child, None);
            let sentinel = Sentinel {
                pipe: Mutex::new(File::from(write)),
                broken: AtomicBool::new(false),
            };
            SENTINEL.set(sentinel).map_err(|_| SentinelError::Running)
        }
    }
}

/// Whether a live sentinel will take care of commands if the daemon dies.
pub fn active() -> bool {
    SENTINEL
        .get()
        .is_some_and(|s| !s.broken.load(Ordering::Relaxed))
}

/// A command's process group started.
pub fn register(pgid: i32) {
    send(b'+', pgid);
}

/// A command's process group was reaped and handled.
pub fn unregister(pgid: i32) {
    send(b'-', pgid);
}

fn send(op: u8, pgid: i32) {
    let Some(s) = SENTINEL.get() else { return };
    if s.broken.load(Ordering::Relaxed) || pgid <= 1 {
        return;
    }
    let mut record = [op, 0, 0, 0, 0];
    record[1..].copy_from_slice(&pgid.to_le_bytes());
    // Records are smaller than PIPE_BUF, so each write is atomic; the
    // sentinel reads continuously, so the pipe does not fill.
    let result = s.pipe.lock().map(|mut p| p.write_all(&record));
    if !matches!(result, Ok(Ok(()))) && !s.broken.swap(true, Ordering::Relaxed) {
        // Commands from now on use the parent-death signal instead.
        tracing::error!(
            "the sentinel process is gone: commands fall back to a parent-death signal"
        );
    }
}

/// The sentinel's whole life: keep the set of live groups until the pipe
/// ends, then kill them all.
fn watch(read: OwnedFd) -> ! {
    // Only the daemon's end of the pipe ends this process: a terminal's ^C
    // or systemd's SIGTERM reach the whole group, and the sentinel must
    // outlast the daemon's drain to be of use.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let _ = nix::sys::prctl::set_name(c"secshd-sentinel");
    close_other_fds(read.as_raw_fd());
    let mut pipe = File::from(read);
    let mut groups = std::collections::HashSet::new();
    let mut buf = [0u8; RECORD * 819];
    let mut have = 0;
    loop {
        match pipe.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        let whole = have - have % RECORD;
        for r in buf[..whole].chunks_exact(RECORD) {
            let pgid = i32::from_le_bytes([r[1], r[2], r[3], r[4]]);
            if r[0] == b'+' {
                groups.insert(pgid);
            } else {
                groups.remove(&pgid);
            }
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
    for pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    // SAFETY: _exit ends the process without running the parent's atexit
    // handlers or flushing its copied stdio buffers.
    unsafe { nix::libc::_exit(0) }
}

/// Close every descriptor above stderr except `keep` (defensive: the fork
/// happens before sockets are opened).
fn close_other_fds(keep: i32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && *fd != keep)
        .collect();
    for fd in fds {
        // The directory's own descriptor is among them; closing it after
        // the listing is harmless.
        let _ = nix::unistd::close(fd);
    }
}
