//! Stopping a whole process group: SIGTERM, a grace period, then SIGKILL.

use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// SIGTERM the group now and SIGKILL it after `grace`.
pub async fn stop_group(pgid: i32, grace: Duration) {
    signal_group(pgid, Signal::SIGTERM);
    tokio::time::sleep(grace).await;
    signal_group(pgid, Signal::SIGKILL);
}

/// SIGKILL whatever is left of the group.
pub fn kill_group_now(pgid: i32) {
    signal_group(pgid, Signal::SIGKILL);
}

fn signal_group(pgid: i32, signal: Signal) {
    if pgid > 1 {
        // ESRCH (group already gone) is the normal case and not an error.
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}
