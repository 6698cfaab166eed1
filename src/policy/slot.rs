//! Typed slots: the only places in a rule where client input varies. Each
//! matches exactly one argument (a variadic slot matches each tail element).

use std::path::{Component, Path, PathBuf};

use regex::Regex;

use super::{PathResolver, PolicyError};

/// What values a slot accepts.
#[derive(Debug, Clone)]
pub enum SlotKind {
    /// An implicitly anchored regular expression.
    Regex(Regex),
    /// One of a fixed list of strings.
    Enum(Vec<String>),
    /// A canonical decimal integer in an inclusive range.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A normalised absolute path at or beneath this directory, also after
    /// symlinks are resolved.
    PathUnder(PathBuf),
}

/// A named slot with its kind and its leading-dash rule.
#[derive(Debug, Clone)]
pub struct Slot {
    name: String,
    kind: SlotKind,
    allow_dash: bool,
}

impl Slot {
    /// A slot matching the whole argument against `pattern` (anchored).
    pub fn regex(name: &str, pattern: &str, allow_dash: bool) -> Result<Self, PolicyError> {
        let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| PolicyError::BadRegex {
            slot: name.to_string(),
            detail: e.to_string(),
        })?;
        Ok(Self::new(name, SlotKind::Regex(re), allow_dash))
    }

    /// A slot matching one of `values` exactly.
    pub fn one_of(name: &str, values: Vec<String>, allow_dash: bool) -> Result<Self, PolicyError> {
        if values.is_empty() {
            return Err(PolicyError::EmptyEnum(name.to_string()));
        }
        Ok(Self::new(name, SlotKind::Enum(values), allow_dash))
    }

    /// A slot matching a canonical decimal integer in `min..=max`.
    pub fn int(name: &str, min: i64, max: i64, allow_dash: bool) -> Result<Self, PolicyError> {
        if min > max {
            return Err(PolicyError::BadRange {
                slot: name.to_string(),
                min,
                max,
            });
        }
        Ok(Self::new(name, SlotKind::Int { min, max }, allow_dash))
    }

    /// A slot matching a path at or beneath `root`, which must be absolute
    /// and normalised.
    pub fn path_under(name: &str, root: &str, allow_dash: bool) -> Result<Self, PolicyError> {
        if !is_normal_absolute(root) {
            return Err(PolicyError::BadRoot {
                slot: name.to_string(),
                root: root.to_string(),
            });
        }
        Ok(Self::new(
            name,
            SlotKind::PathUnder(PathBuf::from(root)),
            allow_dash,
        ))
    }

    fn new(name: &str, kind: SlotKind, allow_dash: bool) -> Self {
        Self {
            name: name.to_string(),
            kind,
            allow_dash,
        }
    }

    /// The slot's name as written in the template.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether values may start with `-`.
    pub fn allows_dash(&self) -> bool {
        self.allow_dash
    }

    /// What the slot accepts, in words (for `secshd check --list`).
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            SlotKind::Regex(re) => {
                let p = re.as_str();
                let p = p
                    .strip_prefix("^(?:")
                    .and_then(|p| p.strip_suffix(")$"))
                    .unwrap_or(p);
                format!("matching regex {p:?}")
            }
            SlotKind::Enum(v) => format!("one of {}", v.join(", ")),
            SlotKind::Int { min, max } => format!("an integer from {min} to {max}"),
            SlotKind::PathUnder(root) => format!("a path under {}", root.display()),
        };
        let dash = if self.allow_dash {
            ""
        } else {
            ", not starting with '-'"
        };
        format!("{what}{dash}")
    }

    /// The slot's constraint.
    pub fn kind(&self) -> &SlotKind {
        &self.kind
    }

    /// Check one argument; the error says why it does not fit.
    pub fn check(&self, arg: &str, fs: &dyn PathResolver) -> Result<(), String> {
        let name = &self.name;
        if arg.starts_with('-') && !self.allow_dash {
            return Err(format!(
                "{arg:?} starts with '-' (slot {{{name}}} does not allow_dash)"
            ));
        }
        match &self.kind {
            SlotKind::Regex(re) => {
                if re.is_match(arg) {
                    Ok(())
                } else {
                    Err(format!("{arg:?} does not match the pattern of {{{name}}}"))
                }
            }
            SlotKind::Enum(values) => {
                if values.iter().any(|v| v == arg) {
                    Ok(())
                } else {
                    Err(format!("{arg:?} is not one of the values of {{{name}}}"))
                }
            }
            SlotKind::Int { min, max } => match canonical_int(arg) {
                Some(n) if (*min..=*max).contains(&n) => Ok(()),
                Some(_) => Err(format!("{arg} is outside {min}..={max} for {{{name}}}")),
                None => Err(format!("{arg:?} is not a plain integer for {{{name}}}")),
            },
            SlotKind::PathUnder(root) => {
                check_path(arg, root, fs).map_err(|why| format!("{arg:?} for {{{name}}}: {why}"))
            }
        }
    }
}

/// Parse a decimal integer written the one canonical way (no `+`, no
/// leading zeros, no spaces), so the checked text is the executed text.
fn canonical_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') || s == "-0" {
        return None;
    }
    s.parse().ok()
}

/// An absolute path with no `.`/`..`/empty components and no trailing slash.
pub(crate) fn is_normal_absolute(p: &str) -> bool {
    if !p.starts_with('/') || p.contains('\0') {
        return false;
    }
    if p == "/" {
        return true;
    }
    !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

fn check_path(arg: &str, root: &Path, fs: &dyn PathResolver) -> Result<(), &'static str> {
    if !is_normal_absolute(arg) {
        return Err("not a normalised absolute path (no '.', '..', '//' or trailing '/')");
    }
    let path = Path::new(arg);
    if !path.starts_with(root) {
        return Err("outside the allowed directory");
    }
    debug_assert!(path.components().all(|c| c != Component::ParentDir));
    let real_root = fs
        .real_path(root)
        .ok_or("allowed directory cannot be resolved")?;
    let real = fs.real_path(path).ok_or("cannot be resolved")?;
    if real.starts_with(&real_root) {
        Ok(())
    } else {
        Err("a symlink leads outside the allowed directory")
    }
}
