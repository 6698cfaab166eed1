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
