//! File-transfer requests as they arrive: a `put`/`get` header is parsed,
//! its path placed in the user's roots by the jail and its name checked.
//! A placed path never leaves its root, and the partial name is always
//! one plain reserved file name.

use std::path::PathBuf;

use secsh::proto::{parse_header, Message};
use secsh::transfer::{jail, partial};

/// Any header; for a `put` or `get`, the jail's placement of its path.
pub fn transfer(data: &[u8]) {
    let Ok(m) = parse_header(data) else {
        return;
    };
    let (path, name, size) = match m {
        Message::Put {
            path, name, size, ..
        } => (path, name, size),
        Message::Get { path, .. } => (path, None, None),
        _ => return,
    };
    let roots = [
        PathBuf::from("/srv/drop"),
        PathBuf::from("/srv/drop/deep"),
        PathBuf::from("/var/log"),
    ];
    if let Ok(l) = jail::locate(&roots, &path) {
        assert!(roots.contains(&l.root));
        for c in &l.rel {
            assert!(
                !c.is_empty() && c != "." && c != ".." && !c.contains(['/', '\0']),
                "{c:?}"
            );
            assert!(
                !c.starts_with(".secsh-part."),
                "a partial's name placed: {c:?}"
            );
        }
        assert!(l.shown().starts_with(&l.root));
        if path.starts_with('/') {
            assert_eq!(
                l.shown(),
                PathBuf::from(&path).components().collect::<PathBuf>()
            );
        }
    } else {
        assert!(
            path.is_empty()
                || path.contains('\0')
                || path
                    .split('/')
                    .any(|c| c == ".." || c.starts_with(".secsh-part."))
                || path.starts_with('/')
        );
    }
    if let Some(name) = name {
        if jail::check_name(&name).is_ok() {
            assert!(!name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']));
            let part = partial::part_name("alice", &name, size.or(Some(0)));
            assert!(
                jail::check_name(&part).is_err(),
                "partial names are reserved"
            );
            assert!(!part.contains('/'));
        }
    }
}
