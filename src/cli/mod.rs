//! Command-line front ends: clap definitions and `run()` for `secsh` and
//! `secshd`. The only modules that use anyhow; they turn library errors
//! into one clear line and a documented exit status.

/// `eprintln!` for secsh's own messages: the formatted text with every
/// control character escaped ([`crate::logtext::visible`]). Messages
/// quote what a server, an inventory or a file sent; none of it may reach
/// the operator's terminal raw (a title change, a cleared screen, a faked
/// prompt). The command's own output never goes through here.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::logtext::visible(&format!($($arg)*)))
    };
}
pub(crate) use say;

mod check;
mod conn;
mod dev;
mod docs;
mod fdlimit;
mod files;
mod files_run;
mod fleet;
mod fleet_out;
mod fleet_summary;
mod jobs;
mod progress;
pub mod secsh;
pub mod secshd;
mod signals;

/// Send tracing output to stderr, at `default` unless `RUST_LOG` says
/// otherwise, one record per line whatever its fields hold.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || OneLine { ansi })
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Stderr for log records. The formatter hands each record over in one
/// write; control characters in it (a newline in a path a peer sent, say)
/// are escaped here, so no field of any record, escaped at its call site
/// or not, can forge or split a log line.
struct OneLine {
    ansi: bool,
}

impl std::io::Write for OneLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = crate::logtext::one_line(&text, self.ansi);
        std::io::stderr().lock().write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
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
