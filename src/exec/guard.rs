//! What keeps commands from outliving their supervision: the child's
//! credentials and parent-death signal (set between fork and exec), and a
//! guard that SIGKILLs the process group if the task driving it is dropped
//! (panic, runtime shutdown) before the command was reaped.

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};
use tokio::process::Command;

use crate::config::RunAs;

/// Arrange for the child to switch to `account` (groups, gid, uid, read
/// when the configuration loaded), then ask for SIGKILL when the daemon
/// dies. PR_SET_PDEATHSIG is cleared by a credential change, so it is set
/// after setuid; if the daemon died before that, the child exits at once.
pub fn prepare_child(cmd: &mut Command, account: Option<&RunAs>) {
    let parent = Pid::this();
    let creds = account.map(|a| {
        let groups: Vec<Gid> = a.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        (groups, Gid::from_raw(a.gid), Uid::from_raw(a.uid))
    });
    // SAFETY: the closure only makes async-signal-safe system calls
    // (setgroups, setgid, setuid, prctl, getppid) on data prepared before
    // the fork.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((groups, gid, uid)) = &creds {
                nix::unistd::setgroups(groups)?;
                nix::unistd::setgid(*gid)?;
                nix::unistd::setuid(*uid)?;
            }
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("secshd exited during spawn"));
            }
            Ok(())
        });
    }
}

/// SIGKILLs a process group when dropped while armed.
#[derive(Debug)]
pub struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl GroupGuard {
    /// Guard group `pgid` (its leader is not reaped yet, so the id cannot
    /// have been reused).
    pub fn new(pgid: i32) -> Self {
        Self {
            pgid,
            armed: pgid > 1,
        }
    }

    /// The command was reaped and its group handled: nothing to do on drop.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            super::kill::kill_group_now(self.pgid);
        }
    }
}
