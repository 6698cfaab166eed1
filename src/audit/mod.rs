//! The audit trail: one JSON object per line for every connection,
//! sign-in, exec and reload (schema in docs/AUDIT.md). Records go over a
//! channel to a writer thread, so writing never blocks the runtime; a
//! clean shutdown drains the channel before the daemon exits. The sink is
//! a file (appended, created 0600, reopened on SIGHUP for logrotate) or
//! stderr. A failing sink is logged loudly; with `on_failure = "deny"` new
//! commands are refused until it works again.

mod event;
mod job;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::SystemTime;

pub use event::{bounded_argv, line, Auth, CertAudit, Ending, Event, DENIED_ARGV_BYTES};
pub use job::JobEvent;

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard error (journald under systemd).
    Stderr,
    /// Append to this file.
    File(PathBuf),
}

/// What to do while records cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Keep serving; the error log says records are being lost.
    Log,
    /// Refuse new commands rather than run them unaudited.
    Deny,
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The sink.
    pub sink: Sink,
    /// The policy while it fails.
    pub on_failure: OnFailure,
    /// Record BLAKE3 of each command's stdout and stderr (costs about a
    /// quarter of a CPU-second per GiB of output).
    pub output_hashes: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            sink: Sink::Stderr,
            on_failure: OnFailure::Log,
            output_hashes: true,
        }
    }
}

enum Msg {
    Line(String),
    Reopen(Sink),
    Close,
}

/// The audit writer's handle.
pub struct Auditor {
    tx: Mutex<mpsc::Sender<Msg>>,
    healthy: Arc<AtomicBool>,
    on_failure: Mutex<OnFailure>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Auditor {
    /// Start the writer for `config`. An unopenable file is not fatal: it
    /// is logged, and with `on_failure = "deny"` commands are refused until
    /// a reload or reopen succeeds.
    pub fn start(config: &AuditConfig) -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let mut writer = Writer {
            out: None,
            sink: config.sink.clone(),
            healthy: healthy.clone(),
        };
        writer.open();
        let thread = std::thread::Builder::new()
            .name("secshd-audit".into())
            .spawn(move || writer.run(rx))
            .expect("spawn the audit writer");
        Arc::new(Self {
            tx: Mutex::new(tx),
            healthy,
            on_failure: Mutex::new(config.on_failure),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Record `event` now. Never blocks on the sink.
    pub fn record(&self, event: Event) {
        let line = line(SystemTime::now(), &event);
        let _ = self.tx.lock().expect("audit lock").send(Msg::Line(line));
    }

    /// False while records cannot be written and the policy is to deny.
    pub fn accepting(&self) -> bool {
        *self.on_failure.lock().expect("audit lock") == OnFailure::Log
            || self.healthy.load(Ordering::Relaxed)
    }

    /// Reopen (after logrotate moved the file), possibly at a new place and
    /// with a new policy (a reload).
    pub fn reopen(&self, config: &AuditConfig) {
        *self.on_failure.lock().expect("audit lock") = config.on_failure;
        let _ = self
            .tx
            .lock()
            .expect("audit lock")
            .send(Msg::Reopen(config.sink.clone()));
    }

    /// Write everything queued, then stop the writer.
    pub fn close(&self) {
        let _ = self.tx.lock().expect("audit lock").send(Msg::Close);
        if let Some(t) = self.thread.lock().expect("audit lock").take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    out: Option<Box<dyn Write + Send>>,
    sink: Sink,
    healthy: Arc<AtomicBool>,
}

impl Writer {
    fn open(&mut self) {
        self.out = match &self.sink {
            Sink::Stderr => Some(Box::new(std::io::stderr())),
            Sink::File(path) => {
                use std::os::unix::fs::OpenOptionsExt;
                match std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(path)
                {
                    Ok(f) => Some(Box::new(f)),
                    Err(e) => {
                        self.failed(&format!("cannot open {}: {e}", path.display()));
                        None
                    }
                }
            }
        };
        if self.out.is_some() {
            self.recovered();
        }
    }

    fn failed(&self, why: &str) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::error!("audit log failing, records are being lost: {why}");
        }
    }

    fn recovered(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::warn!("audit log writable again");
        }
    }

    fn write(&mut self, line: &str) {
        if self.out.is_none() {
            self.open();
        }
        let Some(out) = self.out.as_mut() else { return };
        match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => self.recovered(),
            Err(e) => {
                self.out = None;
                self.failed(&e.to_string());
            }
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Line(l) => self.write(&l),
                Msg::Reopen(sink) => {
                    self.sink = sink;
                    self.open();
                }
                Msg::Close => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
