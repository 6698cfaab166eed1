//! Command-line front ends: clap definitions and `run()` for `secsh` and
//! `secshd`. The only modules that use anyhow; they turn library errors
//! into one clear line and a documented exit status.

mod check;
mod conn;
mod dev;
mod docs;
mod files;
mod files_run;
mod fleet;
mod fleet_out;
mod fleet_summary;
mod progress;
pub mod secsh;
pub mod secshd;
mod signals;

/// Send tracing output to stderr, at `default` unless `RUST_LOG` says
/// otherwise.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Keep freed I/O buffers in the heap. A bulk stream hands 256 KiB frame
/// bodies on while the next ones arrive; with glibc's defaults those
/// buffers are mmap'd or trimmed off the heap top and faulted back in page
/// by page: about 126,000 page faults per GB a client receives (as much
/// CPU as decrypting it) and 42,000 per GB the daemon receives. A fixed
/// mmap threshold above the largest frame buffer and a higher trim
/// threshold let the same memory be reused. The client is short-lived;
/// the daemon still hands memory back after a burst (`malloc_trim`, see
/// `server::trim`).
pub fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::libc::{mallopt, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD};
        // SAFETY: mallopt only sets allocator parameters; called first
        // thing in main, before any other thread exists.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 8 << 20);
            mallopt(M_TRIM_THRESHOLD, 64 << 20);
        }
    }
}

/// The client's runtime: one thread (the client is one connection; a
/// single thread avoids cross-thread wakeups per frame; local files and
/// stdin are read and written on threads of their own). `None` after
/// printing why it could not start.
pub fn client_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("secsh: cannot start: {e}");
            None
        }
    }
}

/// Build the runtime both binaries use.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
