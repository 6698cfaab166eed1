//! What keeps commands from outliving their supervision: the child's
//! credentials (set between fork and exec), the sentinel (or, without
//! one, a parent-death signal) for when the daemon dies, and a guard that
//! SIGKILLs the process group if the task driving it is dropped (panic,
//! runtime shutdown) before the command was reaped.

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};
use tokio::process::Command;

use crate::config::RunAs;

/// Arrange for the child to switch to `account` (groups, gid, uid, read
/// when the configuration loaded). Any code between fork and exec forces a
/// full fork of the daemon instead of `posix_spawn`, so there is none when
/// no account switch is needed and the sentinel is running. Otherwise the
/// child also asks for SIGKILL when the daemon dies: PR_SET_PDEATHSIG is
/// cleared by a credential change, so it is set after setuid; if the
/// daemon died before that, the child exits at once.
pub fn prepare_child(cmd: &mut Command, account: Option<&RunAs>) {
    if account.is_none() && super::sentinel::active() {
        return;
    }
    let parent = Pid::this();
    let creds = account.map(|a| {
        let groups: Vec<Gid> = a.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        (groups, Gid::from_raw(a.gid), Uid::from_raw(a.uid))
    });
    // SAFETY: the closure only makes async-signal-safe system calls
    // (setgroups, setgid, setuid, prctl, getppid) on data prepared before
    // the fork, and neither allocates nor locks: its errors are OS error
    // codes (tests/purity.rs keeps it so).
    unsafe {
        cmd.pre_exec(move || {
            if let Some((groups, gid, uid)) = &creds {
                nix::unistd::setgroups(groups)?;
                nix::unistd::setgid(*gid)?;
                nix::unistd::setuid(*uid)?;
            }
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != parent {
                // The daemon exited during the spawn. An OS error code:
                // building a custom io::Error would allocate.
                return Err(nix::errno::Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

/// SIGKILLs a process group when dropped while armed; keeps the sentinel
/// informed of the group.
#[derive(Debug)]
pub struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl GroupGuard {
    /// Guard group `pgid` (its leader is not reaped yet, so the id cannot
    /// have been reused).
    pub fn new(pgid: i32) -> Self {
        super::sentinel::register(pgid);
        Self {
            pgid,
            armed: pgid > 1,
        }
    }

    /// The command was reaped and its group handled: nothing to do on drop.
    pub fn disarm(&mut self) {
        if self.armed {
            super::sentinel::unregister(self.pgid);
        }
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            super::kill::kill_group_now(self.pgid);
            super::sentinel::unregister(self.pgid);
        }
    }
}
