//! Taking on a user's `run_as` account for one thread: a transfer runs on
//! its own thread, which switches its groups, gid and uid with raw system
//! calls before it touches the filesystem, so every permission check and
//! every file it creates is that account's. Linux keeps credentials per
//! thread; the C library's wrappers would switch the whole daemon, so
//! they are not used. The thread is never reused (it ends with the
//! transfer).

use crate::config::RunAs;

/// Switch the calling thread to `account` for good. Fails (and the
/// transfer is refused) if any step fails.
pub fn become_account(account: &RunAs) -> std::io::Result<()> {
    use nix::libc;
    let groups: Vec<libc::gid_t> = account.groups.clone();
    // SAFETY: plain system calls on this thread's own credentials, with a
    // valid pointer and length for the group list.
    unsafe {
        check(libc::syscall(
            libc::SYS_setgroups,
            groups.len() as libc::c_long,
            groups.as_ptr(),
        ))?;
        let g = account.gid as libc::c_long;
        check(libc::syscall(libc::SYS_setresgid, g, g, g))?;
        let u = account.uid as libc::c_long;
        check(libc::syscall(libc::SYS_setresuid, u, u, u))?;
    }
    Ok(())
}

fn check(r: nix::libc::c_long) -> std::io::Result<()> {
    if r == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}
