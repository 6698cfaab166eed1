//! Partial uploads: the hidden temp file beside each target, named so a
//! resumed put finds the one it left (same user, same file name, same
//! size), and the sweep that removes partials left behind: all of them
//! when the daemon starts, and those untouched for `partial_max_age`
//! while it runs. A partial in use is locked (`flock`) and never swept.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use blake3::Hasher;
use nix::dir::{Dir, Type};
use nix::fcntl::{openat, FlockArg, OFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::PART_PREFIX;

/// How deep below a root the sweep looks.
const MAX_DEPTH: usize = 32;
/// Directory entries one sweep visits at most (per root).
const MAX_ENTRIES: usize = 200_000;

/// The partial's name for `user` storing `name` of `size` bytes; a put of
/// unknown size gets a unique name (it cannot be resumed).
pub fn part_name(user: &str, name: &str, size: Option<u64>) -> String {
    let mut h = Hasher::new();
    match size {
        Some(size) => {
            h.update(user.as_bytes());
            h.update(&[0]);
            h.update(name.as_bytes());
            h.update(&[0]);
            h.update(&size.to_be_bytes());
        }
        None => {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            h.update(&t.as_nanos().to_be_bytes());
            h.update(&std::process::id().to_be_bytes());
            h.update(&n.to_be_bytes());
        }
    }
    let digest = h.finalize();
    let hex: String = digest.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{PART_PREFIX}{hex}")
}

/// Lock `fd` for this upload; false when another upload holds it.
pub fn try_lock(fd: &OwnedFd) -> bool {
    #[allow(deprecated)]
    let r = nix::fcntl::flock(fd.as_raw_fd(), FlockArg::LockExclusiveNonblock);
    r.is_ok()
}

/// Remove partial uploads under `roots`: every one not locked when
/// `older_than` is `None`, else those whose last write is older. Returns
/// how many were removed. Symlinks are never followed.
pub fn sweep(roots: &[PathBuf], older_than: Option<Duration>) -> usize {
    let now = SystemTime::now();
    let mut removed = 0;
    for root in roots {
        let Ok(fd) = super::jail::open_root(root) else {
            continue;
        };
        let mut budget = MAX_ENTRIES;
        removed += sweep_dir(fd, 0, &mut budget, now, older_than);
    }
    removed
}

fn sweep_dir(
    fd: OwnedFd,
    depth: usize,
    budget: &mut usize,
    now: SystemTime,
    older_than: Option<Duration>,
) -> usize {
    let dup = match fd.try_clone() {
        Ok(d) => d,
        Err(_) => return 0,
    };
    let Ok(mut dir) = Dir::from_fd(dup) else {
        return 0;
    };
    let mut removed = 0;
    let mut subdirs = Vec::new();
    let mut parts = Vec::new();
    for entry in dir.iter().flatten() {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        match entry.file_type() {
            Some(Type::Directory) if depth < MAX_DEPTH => subdirs.push(name),
            Some(Type::File) | None if name.starts_with(PART_PREFIX) => parts.push(name),
            _ => {}
        }
    }
    for name in parts {
        if remove_if_stale(&fd, &name, now, older_than) {
            removed += 1;
        }
    }
    let dflags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for name in subdirs {
        if let Ok(sub) = openat(fd.as_fd(), name.as_str(), dflags, Mode::empty()) {
            removed += sweep_dir(sub, depth + 1, budget, now, older_than);
        }
    }
    removed
}

fn remove_if_stale(
    dir: &OwnedFd,
    name: &str,
    now: SystemTime,
    older_than: Option<Duration>,
) -> bool {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let Ok(f) = openat(dir.as_fd(), name, flags, Mode::empty()) else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(&f) else {
        return false;
    };
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG || !try_lock(&f) {
        return false;
    }
    if let Some(age) = older_than {
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(st.st_mtime.max(0) as u64);
        if now.duration_since(mtime).unwrap_or_default() < age {
            return false;
        }
    }
    // Still the file we locked (not swapped meanwhile)?
    let same = fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|s| s.st_ino == st.st_ino && s.st_dev == st.st_dev);
    same && unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_user_file_and_size() {
        let a = part_name("alice", "f.tar", Some(10));
        assert!(a.starts_with(PART_PREFIX) && a.len() == PART_PREFIX.len() + 32);
        assert_eq!(a, part_name("alice", "f.tar", Some(10)));
        assert_ne!(a, part_name("bob", "f.tar", Some(10)));
        assert_ne!(a, part_name("alice", "f.tar", Some(11)));
        assert_ne!(part_name("a", "f", None), part_name("a", "f", None));
    }

    #[test]
    fn sweep_removes_unlocked_partials_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join(".secsh-part.aa"), b"x").unwrap();
        std::fs::write(root.join("sub/.secsh-part.bb"), b"x").unwrap();
        std::fs::write(root.join("keep.txt"), b"x").unwrap();
        std::fs::write(root.join(".secsh-part.locked"), b"x").unwrap();
        let held = nix::fcntl::open(
            &root.join(".secsh-part.locked"),
            OFlag::O_RDONLY,
            Mode::empty(),
        )
        .unwrap();
        assert!(try_lock(&held));
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join(".secsh-part.cc"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        let roots = vec![root.clone()];
        assert_eq!(
            sweep(&roots, Some(Duration::from_secs(3600))),
            0,
            "too young"
        );
        assert_eq!(sweep(&roots, None), 2);
        assert!(root.join("keep.txt").exists());
        assert!(root.join(".secsh-part.locked").exists());
        assert!(outside.path().join(".secsh-part.cc").exists());
    }
}
