//! The allowlist, free of I/O: compiled rules, per-user grants, and the
//! decision for an exact argv. Filesystem questions (symlinks under a
//! `path_under` root) go through the [`PathResolver`] the caller supplies.
//!
//! Semantics: a rule matches only the exact argv that will be executed;
//! slots match one argument each; a leading `-` is refused unless the slot
//! allows it; the first matching rule in file order wins; no match denies.

pub mod describe;
mod rule;
mod slot;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use rule::{Element, Rule};
pub use slot::{Slot, SlotKind};

/// Resolves symlinks for `path_under` checks.
pub trait PathResolver {
    /// The path with every existing symlink resolved (missing trailing
    /// components appended as written), or `None` when it cannot be
    /// resolved safely (dangling link, permission error).
    fn real_path(&self, path: &Path) -> Option<PathBuf>;
}

/// A resolver for tests and pure contexts: no symlinks exist.
pub struct NoSymlinks;

impl PathResolver for NoSymlinks {
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        Some(path.to_path_buf())
    }
}

/// Errors building a policy; each names the offending value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// A slot's regular expression does not compile.
    #[error("invalid regex for slot {slot}: {detail}")]
    BadRegex {
        /// Slot name.
        slot: String,
        /// The regex crate's message.
        detail: String,
    },
    /// An `enum` slot lists no values.
    #[error("enum slot {0} has no values")]
    EmptyEnum(String),
    /// An `int` slot has min > max.
    #[error("int slot {slot} has min {min} > max {max}")]
    BadRange {
        /// Slot name.
        slot: String,
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
    },
    /// A `path_under` root is not a normalised absolute path.
    #[error("path_under root {root:?} of slot {slot} must be a normalised absolute path")]
    BadRoot {
        /// Slot name.
        slot: String,
        /// The root as written.
        root: String,
    },
    /// The template uses a slot that is not declared.
    #[error("template uses undeclared slot {{{0}}}")]
    UndeclaredSlot(String),
    /// A slot is declared but the template never uses it.
    #[error("slot {0} is declared but not used in argv")]
    UnusedSlot(String),
    /// `{name...}` appears before the end of the template.
    #[error("variadic slot {0} must be the last element")]
    VariadicNotLast(String),
    /// An element has braces but is not exactly `{name}` or `{name...}`.
    #[error("element {0:?} mixes text and braces; a slot must be a whole element like {{name}}")]
    BadElement(String),
    /// The program is not an absolute, normalised path.
    #[error("program {0:?} is not an absolute path")]
    ProgramNotAbsolute(String),
    /// A grant names a command that does not exist.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
}

/// The outcome of checking an argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run `argv` (absolute program first); `rule` is the matching command.
    Allow {
        /// Name of the first matching command.
        rule: String,
        /// The argv to execute.
        argv: Vec<String>,
    },
    /// Nothing matched; `reasons` has one line per rule the user may run.
    Deny {
        /// `(command, why it did not match)` in file order.
        reasons: Vec<(String, String)>,
    },
}

/// Compiled rules in file order and the commands each user may run.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    by_name: HashMap<String, usize>,
    grants: HashMap<String, Vec<usize>>,
}

impl Policy {
    /// A policy over `rules`, given in file order, with no grants yet.
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut by_name = HashMap::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            by_name.entry(r.name().to_string()).or_insert(i);
        }
        Self {
            rules,
            by_name,
            grants: HashMap::new(),
        }
    }

    /// Let `user` run the command named `command`.
    pub fn grant(&mut self, user: &str, command: &str) -> Result<(), PolicyError> {
        let index = *self
            .by_name
            .get(command)
            .ok_or_else(|| PolicyError::UnknownCommand(command.to_string()))?;
        let list = self.grants.entry(user.to_string()).or_default();
        if let Err(pos) = list.binary_search(&index) {
            list.insert(pos, index);
        }
        Ok(())
    }

    /// Whether the rule called `name` may run as a detached job
    /// (`detach = true`).
    pub fn may_detach(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|&i| self.rules[i].may_detach())
    }

    /// The rules `user` was granted, in configuration order.
    pub fn rules_for<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a Rule> + 'a {
        let indexes = self.grants.get(user).map(Vec::as_slice).unwrap_or(&[]);
        indexes.iter().map(|&i| &self.rules[i])
    }

    /// Decide whether `user` may run exactly `argv`.
    pub fn check(&self, user: &str, argv: &[String], fs: &dyn PathResolver) -> Decision {
        let mut reasons = Vec::new();
        if argv.is_empty() {
            reasons.push((String::new(), "empty argv".to_string()));
            return Decision::Deny { reasons };
        }
        if argv.iter().any(|a| a.contains('\0')) {
            reasons.push((String::new(), "argument contains a NUL byte".to_string()));
            return Decision::Deny { reasons };
        }
        for rule in self.rules_for(user) {
            match rule.check(argv, fs) {
                Ok(exec) => {
                    return Decision::Allow {
                        rule: rule.name().to_string(),
                        argv: exec,
                    }
                }
                Err(why) => reasons.push((rule.name().to_string(), why)),
            }
        }
        if reasons.is_empty() {
            reasons.push((String::new(), format!("user {user:?} may run no commands")));
        }
        Decision::Deny { reasons }
    }
}

#[cfg(test)]
mod tests;
