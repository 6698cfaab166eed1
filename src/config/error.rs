//! Configuration errors, located at file:line:column where possible.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a configuration file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub fn at(file: &Path, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Self {
            file: file.to_path_buf(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is writable by someone other than its owner, or owned by
    /// someone other than root or the daemon's user.
    #[error("{path}: {why}; refusing to use it")]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with its ownership or mode.
        why: String,
    },
    /// TOML syntax, a wrong type, a missing or unknown key, or a value that
    /// fails validation.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What.
        message: String,
    },
}
