//! Resumable partials kept after their upload ended early, counted per
//! user against `[files] partial_max_mib`. The daemon removes every
//! partial when it starts, so what this run recorded is all there is.
//! When a user's kept partials pass the bound, the oldest are removed
//! (a partial in use by an upload is locked and never touched). A partial
//! that cannot be resumed (a put of unknown size) is never kept at all:
//! `put` removes it as its upload ends.

use std::collections::{HashMap, VecDeque};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Mutex;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::jail::{open_beneath, open_root};
use super::partial::try_lock;

/// Where one kept partial is: its directory as a root plus the
/// components below it (resolved again, without symlinks, to remove it),
/// and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The upload root.
    pub root: PathBuf,
    /// Directories below the root.
    pub dir: Vec<String>,
    /// The partial's file name.
    pub part: String,
}

/// Every user's kept partials, oldest first.
#[derive(Debug, Default)]
pub struct Kept {
    users: Mutex<HashMap<String, VecDeque<(Place, u64)>>>,
}

impl Kept {
    /// A put opened `place` again (to resume or restart it): not counted
    /// while in use.
    pub fn taken(&self, user: &str, place: &Place) {
        let mut users = self.users.lock().expect("kept lock");
        if let Some(list) = users.get_mut(user) {
            list.retain(|(p, _)| p != place);
        }
    }

    /// `user`'s upload ended early and left `bytes` in `place`, which a
    /// resume can continue. Keep it, then remove the oldest of the user's
    /// partials (this one last) until they hold at most `limit` bytes.
    /// Returns how many were removed.
    pub fn left(&self, user: &str, place: Place, bytes: u64, limit: u64) -> usize {
        let evicted = {
            let mut users = self.users.lock().expect("kept lock");
            let list = users.entry(user.to_string()).or_default();
            list.retain(|(p, _)| *p != place);
            list.push_back((place, bytes));
            let mut total: u64 = list.iter().map(|(_, b)| *b).sum();
            let mut out = Vec::new();
            while total > limit {
                let Some((p, b)) = list.pop_front() else {
                    break;
                };
                total -= b;
                out.push(p);
            }
            if list.is_empty() {
                users.remove(user);
            }
            out
        };
        evicted.iter().filter(|p| remove(p)).count()
    }

    /// Bytes of `user`'s kept partials.
    pub fn held(&self, user: &str) -> u64 {
        let users = self.users.lock().expect("kept lock");
        users
            .get(user)
            .map_or(0, |l| l.iter().map(|(_, b)| *b).sum())
    }
}

/// Remove the partial at `place` unless an upload holds it.
fn remove(place: &Place) -> bool {
    let Ok(root) = open_root(&place.root) else {
        return false;
    };
    let dflags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
    let dir = if place.dir.is_empty() {
        root
    } else {
        match open_beneath(&root, &place.dir, dflags, Mode::empty()) {
            Ok(d) => d,
            Err(_) => return false,
        }
    };
    let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let Ok(fd) = openat(dir.as_fd(), place.part.as_str(), flags, Mode::empty()) else {
        return false;
    };
    // Locked by an upload resuming it: that upload counts it again when it ends.
    if !try_lock(&fd) {
        return false;
    }
    unlinkat(dir.as_fd(), place.part.as_str(), UnlinkatFlags::NoRemoveDir).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first_and_only_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let place = |n: &str| {
            std::fs::write(dir.path().join(n), vec![1u8; 10]).unwrap();
            Place {
                root: dir.path().to_path_buf(),
                dir: Vec::new(),
                part: n.into(),
            }
        };
        let kept = Kept::default();
        assert_eq!(kept.left("ann", place(".p1"), 10, 25), 0);
        assert_eq!(kept.left("ann", place(".p2"), 10, 25), 0);
        assert_eq!(kept.left("bob", place(".p9"), 10, 25), 0);
        assert_eq!(kept.held("ann"), 20);
        assert_eq!(kept.left("ann", place(".p3"), 10, 25), 1);
        assert!(!dir.path().join(".p1").exists());
        assert!(dir.path().join(".p2").exists() && dir.path().join(".p9").exists());
        kept.taken("ann", &place(".p2"));
        assert_eq!(kept.held("ann"), 10);
        // One partial larger than the bound is not kept either.
        assert_eq!(kept.left("bob", place(".big"), 30, 25), 2);
        assert!(!dir.path().join(".big").exists() && kept.held("bob") == 0);
    }
}
