//! The real filesystem's answer to `path_under` symlink questions.

use std::path::{Path, PathBuf};

use crate::policy::PathResolver;

/// Resolves symlinks with the running process's view of the filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl PathResolver for RealFs {
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        let mut existing = path.to_path_buf();
        let mut missing = Vec::new();
        loop {
            match std::fs::canonicalize(&existing) {
                Ok(real) => {
                    let mut real = real;
                    real.extend(missing.iter().rev());
                    return Some(real);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A dangling symlink "does not exist" but could be
                    // written through: refuse rather than guess.
                    if std::fs::symlink_metadata(&existing).is_ok() {
                        return None;
                    }
                    missing.push(existing.file_name()?.to_os_string());
                    existing = existing.parent()?.to_path_buf();
                }
                Err(_) => return None,
            }
        }
    }
}
