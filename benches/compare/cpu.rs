//! CPU seconds of one scenario run, client and server summed: the client
//! side is every child this process waited for (`getrusage` of
//! `RUSAGE_CHILDREN`: the client process, plus the local data source for
//! uploads, the same for both tools), the server side is the daemon's own
//! time plus that of the children it reaped (`/proc/PID/stat` utime,
//! stime, cutime, cstime: sshd's per-connection processes, secshd's
//! commands). Noise on a shared machine moves this far less than wall time.

use std::time::Duration;

/// CPU seconds of a finished run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// The client side.
    pub client: f64,
    /// The server side.
    pub server: f64,
}

impl Cpu {
    /// Both sides together.
    pub fn total(&self) -> f64 {
        self.client + self.server
    }
}

/// A measurement in progress.
pub struct Meter {
    server_pid: u32,
    client0: f64,
    server0: f64,
}

impl Meter {
    /// Start measuring, with `server_pid` as the server side.
    pub fn start(server_pid: u32) -> Self {
        Self {
            server_pid,
            client0: children(),
            server0: process(server_pid),
        }
    }

    /// CPU used since [`Meter::start`]. Waits briefly first, so that a
    /// server reaps the per-connection process the finished client left.
    pub fn stop(self) -> Cpu {
        std::thread::sleep(Duration::from_millis(150));
        Cpu {
            client: children() - self.client0,
            server: process(self.server_pid) - self.server0,
        }
    }
}

fn children() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(u.user_time()) + secs(u.system_time())
}

/// utime + stime + cutime + cstime of `pid`, in seconds.
fn process(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse().ok())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) }.max(1) as f64;
    fields.iter().sum::<f64>() / tick
}
