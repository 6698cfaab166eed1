//! The path jail: which of the user's roots a requested path falls under
//! (pure, by component), and opening beneath that root with the kernel's
//! help: `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or where
//! the kernel lacks it, a walk one component at a time with `O_NOFOLLOW`
//! from the root's directory fd. No `..`, no symlink anywhere below the
//! root, and no gap between the check and the open.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use super::TransferError;

/// A requested path, placed under one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The root it falls under (absolute, normalised).
    pub root: PathBuf,
    /// The components below the root (none of them `.`, `..` or empty).
    pub rel: Vec<String>,
}

impl Located {
    /// The path the request resolves to, for logs and audit records.
    pub fn shown(&self) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(&self.rel);
        p
    }
}

/// Place `path` under one of `roots`: an absolute path under the root
/// that holds it most closely, a relative one under the first root.
/// `..` anywhere is refused (`Denied`), as is a path outside every root,
/// and a path through a partial upload's reserved name (nobody fetches,
/// overwrites or targets a partial through the protocol).
pub fn locate(roots: &[PathBuf], path: &str) -> Result<Located, TransferError> {
    if roots.is_empty() {
        return Err(TransferError::Denied(
            "no roots are configured for you".into(),
        ));
    }
    if path.is_empty() || path.contains('\0') {
        return Err(TransferError::BadRequest(
            "empty path or NUL in the path".into(),
        ));
    }
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(TransferError::Denied("`..` is not allowed in paths".into())),
            c if c.starts_with(super::PART_PREFIX) => {
                return Err(TransferError::Denied(
                    "names starting with .secsh-part. are reserved for partial uploads".into(),
                ))
            }
            c => parts.push(c.to_string()),
        }
    }
    if !path.starts_with('/') {
        return Ok(Located {
            root: roots[0].clone(),
            rel: parts,
        });
    }
    let best = roots
        .iter()
        .filter_map(|r| {
            let rc: Vec<&str> = r.iter().skip(1).filter_map(|c| c.to_str()).collect();
            let under = rc.len() <= parts.len() && rc.iter().zip(&parts).all(|(a, b)| a == b);
            under.then_some((r, rc.len()))
        })
        .max_by_key(|(_, n)| *n);
    match best {
        Some((root, n)) => Ok(Located {
            root: root.clone(),
            rel: parts[n..].to_vec(),
        }),
        None => Err(TransferError::Denied(
            "the path is outside your roots".into(),
        )),
    }
}

/// Open a root directory (configured by the administrator: symlinks in
/// its own path are theirs to choose).
pub fn open_root(root: &Path) -> Result<OwnedFd, TransferError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open(root, flags, Mode::empty()).map_err(|e| match e {
        Errno::ENOENT | Errno::ENOTDIR => {
            TransferError::NotFound(format!("root {} is missing", root.display()))
        }
        e => TransferError::Io(format!("open root {}: {e}", root.display())),
    })
}

/// Whether the kernel refused `openat2` itself (old kernel, seccomp).
fn unsupported(e: Errno) -> bool {
    matches!(e, Errno::ENOSYS | Errno::EPERM | Errno::E2BIG)
}

/// Open `rel` beneath the directory `dir` with `flags` (and `mode` when
/// creating), never leaving it and never following a symlink.
pub fn open_beneath(
    dir: impl AsFd,
    rel: &[String],
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let flags = flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let joined = if rel.is_empty() {
        ".".to_string()
    } else {
        rel.join("/")
    };
    let how = OpenHow::new().flags(flags).mode(mode).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_MAGICLINKS,
    );
    match openat2(dir.as_fd(), joined.as_str(), how) {
        Err(e) if unsupported(e) => walk_beneath(dir, rel, flags, mode),
        other => other,
    }
}

/// The fallback: one component at a time, each directory opened with
/// `O_NOFOLLOW | O_DIRECTORY` from the last one's fd (`..` and empty
/// components were refused before).
pub fn walk_beneath(
    dir: impl AsFd,
    rel: &[String],
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let flags = flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let dflags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let Some((last, dirs)) = rel.split_last() else {
        return openat(dir.as_fd(), ".", flags, mode);
    };
    let mut cur: Option<OwnedFd> = None;
    for c in dirs {
        if c == ".." || c.is_empty() || c.contains('/') {
            return Err(Errno::EXDEV);
        }
        let at = cur.as_ref().map_or(dir.as_fd(), |f| f.as_fd());
        match openat(at, c.as_str(), dflags, Mode::empty()) {
            Ok(fd) => cur = Some(fd),
            // O_NOFOLLOW | O_DIRECTORY on a symlink says ENOTDIR: report
            // it as the symlink it is, as openat2 does.
            Err(Errno::ENOTDIR) if is_symlink(at, c) => return Err(Errno::ELOOP),
            Err(e) => return Err(e),
        }
    }
    if last == ".." || last.is_empty() || last.contains('/') {
        return Err(Errno::EXDEV);
    }
    let at = cur.as_ref().map_or(dir.as_fd(), |f| f.as_fd());
    openat(at, last.as_str(), flags, mode)
}

fn is_symlink(dir: std::os::fd::BorrowedFd<'_>, name: &str) -> bool {
    use nix::fcntl::AtFlags;
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFLNK)
}

/// What an `open_beneath` failure means for the client.
pub fn open_error(e: Errno, what: &str) -> TransferError {
    match e {
        // A symlink on the way (ELOOP; O_NOFOLLOW on the last component
        // also gives ELOOP), or an attempt to leave the root (EXDEV).
        Errno::ELOOP | Errno::EXDEV => {
            TransferError::Denied(format!("{what}: a symlink or an escape from the root"))
        }
        Errno::ENOENT => TransferError::NotFound(format!("{what}: no such file or directory")),
        Errno::ENOTDIR => {
            TransferError::NotFound(format!("{what}: a component is not a directory"))
        }
        Errno::EACCES | Errno::EPERM => TransferError::Denied(format!("{what}: permission denied")),
        e => TransferError::Io(format!("{what}: {e}")),
    }
}

/// A plain file name: no `/`, not `.` or `..`, not empty, and not one of
/// the names partial uploads use.
pub fn check_name(name: &str) -> Result<(), TransferError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(TransferError::BadRequest(format!(
            "{:?} is not a file name",
            crate::logtext::shown(name)
        )));
    }
    if name.starts_with(super::PART_PREFIX) {
        return Err(TransferError::Denied(
            "names starting with .secsh-part. are reserved for partial uploads".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<PathBuf> {
        vec![
            "/srv/drop".into(),
            "/srv/drop/deep".into(),
            "/var/log".into(),
        ]
    }

    #[test]
    fn locate_by_component_and_closest_root() {
        let l = locate(&roots(), "/srv/drop/a/b.txt").unwrap();
        assert_eq!(l.root, PathBuf::from("/srv/drop"));
        assert_eq!(l.rel, ["a", "b.txt"]);
        let l = locate(&roots(), "/srv/drop/deep//./x").unwrap();
        assert_eq!(l.root, PathBuf::from("/srv/drop/deep"));
        assert_eq!(l.rel, ["x"]);
        let l = locate(&roots(), "rel/f").unwrap();
        assert_eq!(l.root, PathBuf::from("/srv/drop"));
        assert_eq!(l.shown(), PathBuf::from("/srv/drop/rel/f"));
        assert_eq!(
            locate(&roots(), "/var/log").unwrap().rel,
            Vec::<String>::new()
        );
    }

    #[test]
    fn locate_refuses_partial_names_anywhere() {
        let roots = [PathBuf::from("/srv/up")];
        for p in [
            "/srv/up/.secsh-part.0123",
            ".secsh-part.x",
            "/srv/up/sub/.secsh-part.ab/f",
        ] {
            assert!(
                matches!(locate(&roots, p), Err(TransferError::Denied(_))),
                "{p}"
            );
        }
        assert!(locate(&roots, "/srv/up/.secsh-partial-not").is_ok());
    }

    #[test]
    fn locate_refuses_escapes_and_prefix_tricks() {
        for bad in [
            "/srv/dropper/x",
            "/srv/drop/../etc/passwd",
            "/etc/passwd",
            "../x",
            "/srv",
            "/var/logs/x",
        ] {
            let e = locate(&roots(), bad).unwrap_err();
            assert!(matches!(e, TransferError::Denied(_)), "{bad}: {e:?}");
        }
        assert!(matches!(locate(&[], "/x"), Err(TransferError::Denied(_))));
        assert!(matches!(
            locate(&roots(), ""),
            Err(TransferError::BadRequest(_))
        ));
    }

    #[test]
    fn names() {
        assert!(check_name("a.txt").is_ok());
        for bad in ["", ".", "..", "a/b", ".secsh-part.0123"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_openers_refuse_symlinks_and_find_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/f"), b"x").unwrap();
        std::fs::write(dir.path().join("outside"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink("../outside", root.join("rel")).unwrap();
        let fd = open_root(&root).unwrap();
        let v = |s: &[&str]| s.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        type Opener = fn(&OwnedFd, &[String], OFlag, Mode) -> Result<OwnedFd, Errno>;
        let openers: [Opener; 2] = [
            |d, r, f, m| open_beneath(d, r, f, m),
            |d, r, f, m| walk_beneath(d, r, f, m),
        ];
        for open in openers {
            let ro = OFlag::O_RDONLY;
            assert!(open(&fd, &v(&["sub", "f"]), ro, Mode::empty()).is_ok());
            assert_eq!(
                open(&fd, &v(&["up", "outside"]), ro, Mode::empty()).unwrap_err(),
                Errno::ELOOP
            );
            assert_eq!(
                open(&fd, &v(&["rel"]), ro, Mode::empty()).unwrap_err(),
                Errno::ELOOP
            );
            assert_eq!(
                open(&fd, &v(&["sub", "nope"]), ro, Mode::empty()).unwrap_err(),
                Errno::ENOENT
            );
        }
    }
}
