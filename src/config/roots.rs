//! File-transfer settings: each user's and group's `upload` and
//! `download` roots (absolute directories, normalised, `..` refused) and
//! the `[files]` section.

use std::path::{Component, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::RawFiles;
use super::server::Cx;
use super::ConfigError;

/// `[files]`: how partial uploads are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    /// A partial upload untouched this long is removed (it can no longer
    /// be resumed).
    pub partial_max_age: Duration,
    /// Bytes of resumable partials kept per user; past it the oldest are
    /// removed.
    pub partial_max_bytes: u64,
}

/// Resumable partials a user may leave, MiB, unless `[files]
/// partial_max_mib` says otherwise.
pub const DEFAULT_PARTIAL_MAX_MIB: u64 = 8192;

/// Partials are kept for a day unless `[files] partial_max_age_secs` says
/// otherwise.
pub const DEFAULT_PARTIAL_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

pub(super) fn files(cx: &Cx<'_>, raw: &RawFiles) -> Result<FileSettings, ConfigError> {
    let age = cx.ranged(
        &raw.partial_max_age_secs,
        "partial_max_age_secs",
        60,
        365 * 86_400,
    )?;
    let mib = cx.ranged(&raw.partial_max_mib, "partial_max_mib", 0, 16 << 20)?;
    Ok(FileSettings {
        partial_max_age: age.map_or(DEFAULT_PARTIAL_MAX_AGE, Duration::from_secs),
        partial_max_bytes: mib.unwrap_or(DEFAULT_PARTIAL_MAX_MIB) << 20,
    })
}

/// One `upload = [...]` or `download = [...]` list, normalised.
pub(super) fn roots(
    cx: &Cx<'_>,
    key: &str,
    list: &[Spanned<String>],
    warnings: &mut Vec<String>,
) -> Result<Vec<PathBuf>, ConfigError> {
    let mut out: Vec<PathBuf> = Vec::with_capacity(list.len());
    for r in list {
        let text = r.get_ref();
        if !text.starts_with('/') {
            return Err(cx.at(r, format!("{key} root {text:?} is not an absolute path")));
        }
        let mut p = PathBuf::from("/");
        for c in std::path::Path::new(text).components() {
            match c {
                Component::Normal(n) => p.push(n),
                Component::RootDir | Component::CurDir => {}
                _ => return Err(cx.at(r, format!("{key} root {text:?} contains `..`"))),
            }
        }
        if p == std::path::Path::new("/") {
            return Err(cx.at(
                r,
                format!("{key} root \"/\" would open the whole filesystem; name a directory"),
            ));
        }
        if !p.is_dir() {
            warnings.push(format!(
                "{key} root {} is not a directory (transfers into it will fail)",
                p.display()
            ));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Add a group's roots to a member's, keeping order and dropping repeats.
pub(super) fn merge(into: &mut Vec<PathBuf>, more: &[PathBuf]) {
    for p in more {
        if !into.contains(p) {
            into.push(p.clone());
        }
    }
}
