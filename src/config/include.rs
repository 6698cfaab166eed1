//! Drop-in files: `include = ["/etc/secsh/secshd.d/*.toml"]` reads every
//! file the patterns match (`*` and `?` in the file name; sorted; none
//! matching is fine), each checked for owner and mode like the main file
//! and holding only `[users.*]`, `[commands.*]` and `[groups.*]`. They are
//! merged with the main file's; the same name defined twice is an error
//! naming both places. Loading is all or nothing, so a reload with one
//! bad drop-in keeps the whole old configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use toml::Spanned;

use super::raw::{RawCommand, RawDropIn, RawGroup, RawServer, RawUser};
use super::server::{check_name, Cx, LoadOptions};
use super::{ConfigError, Location, User, UserLimits};
use crate::policy::Policy;

/// Files one configuration may include.
const MAX_DROP_INS: usize = 1000;

/// One drop-in file, read and parsed.
pub(super) struct DropIn {
    path: PathBuf,
    text: String,
    raw: RawDropIn,
}

impl DropIn {
    fn cx(&self) -> Cx<'_> {
        Cx {
            path: &self.path,
            text: &self.text,
        }
    }
}

/// Read the files `patterns` match (relative to the main file's directory).
pub(super) fn read(
    cx: &Cx<'_>,
    patterns: &[Spanned<String>],
    options: &LoadOptions,
) -> Result<Vec<DropIn>, ConfigError> {
    let mut out = Vec::new();
    for pattern in patterns {
        let full = cx.relative(pattern.get_ref());
        let (dir, name) = match (full.parent(), full.file_name()) {
            (Some(d), Some(n)) => (d.to_path_buf(), n.to_string_lossy().into_owned()),
            _ => return Err(cx.at(pattern, "include needs a file name pattern (DIR/*.toml)")),
        };
        if dir.to_string_lossy().contains(['*', '?', '[']) {
            return Err(cx.at(pattern, "wildcards are allowed in the file name only"));
        }
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| matches(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(cx.at(pattern, format!("cannot read {}: {e}", dir.display()))),
        };
        files.sort();
        for path in files {
            if path == cx.path || out.iter().any(|d: &DropIn| d.path == path) {
                continue;
            }
            if out.len() >= MAX_DROP_INS {
                return Err(cx.at(pattern, format!("more than {MAX_DROP_INS} included files")));
            }
            let io = |source| ConfigError::Io {
                path: path.clone(),
                source,
            };
            let meta = std::fs::metadata(&path).map_err(io)?;
            if !meta.is_file() {
                continue;
            }
            if options.check_permissions {
                super::files::check_config_file(&path, &meta)?;
            }
            let text = std::fs::read_to_string(&path).map_err(io)?;
            let raw = toml::from_str(&text).map_err(|e| {
                let offset = e.span().map_or(0, |s| s.start);
                let file = Cx {
                    path: &path,
                    text: &text,
                };
                file.err(
                    offset,
                    format!(
                        "{} (a drop-in holds only [users.*], [commands.*] and [groups.*])",
                        e.message().trim_end()
                    ),
                )
            })?;
            out.push(DropIn { path, text, raw });
        }
    }
    Ok(out)
}

/// `*` (any run) and `?` (one character) against a file name; a leading
/// dot is matched only by a leading dot.
fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

type Built = (Policy, HashMap<String, User>, BTreeMap<String, String>);

/// One file's commands, users and groups, with its context for errors.
type Sections<'a> = (
    Cx<'a>,
    &'a BTreeMap<Spanned<String>, RawCommand>,
    &'a BTreeMap<Spanned<String>, Spanned<RawUser>>,
    &'a BTreeMap<Spanned<String>, RawGroup>,
);

/// The main file's and the drop-ins' commands, users and groups, merged.
pub(super) fn allowlist(
    main: &Cx<'_>,
    raw: &RawServer,
    drop_ins: &[DropIn],
    search: &str,
    options: &LoadOptions,
    (limits, certificates): (UserLimits, bool),
    warnings: &mut Vec<String>,
) -> Result<Built, ConfigError> {
    let files: Vec<Sections<'_>> = std::iter::once((
        Cx {
            path: main.path,
            text: main.text,
        },
        &raw.commands,
        &raw.users,
        &raw.groups,
    ))
    .chain(
        drop_ins
            .iter()
            .map(|d| (d.cx(), &d.raw.commands, &d.raw.users, &d.raw.groups)),
    )
    .collect();
    let mut sources = BTreeMap::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut once = |cx: &Cx<'_>, kind: &str, name: &Spanned<String>| -> Result<(), ConfigError> {
        let here = Location::at(cx.path, cx.text, name.span().start).to_string();
        let key = format!("{kind}.{}", name.get_ref());
        if let Some(first) = seen.insert(key.clone(), here.clone()) {
            let what = &kind[..kind.len() - 1];
            return Err(cx.at(
                name,
                format!(
                    "{what} {:?} is defined twice: at {first} and here",
                    name.get_ref()
                ),
            ));
        }
        if cx.path != main.path {
            sources.insert(key, here);
        }
        Ok(())
    };
    let mut rules = Vec::new();
    for (cx, commands, _, _) in &files {
        let mut list: Vec<_> = commands.iter().collect();
        list.sort_by_key(|(name, _)| name.span().start);
        for (name, cmd) in list {
            check_name(cx, name, "command")?;
            once(cx, "commands", name)?;
            let rule = cx.rule(name.get_ref(), cmd, search)?;
            rules.push(rule.with_detach(cmd.detach.unwrap_or(false)));
        }
    }
    let mut policy = Policy::new(rules);
    let mut users = HashMap::new();
    let mut key_owner: HashMap<String, String> = HashMap::new();
    for (cx, _, list, _) in &files {
        for (name, user) in list.iter() {
            check_name(cx, name, "user")?;
            once(cx, "users", name)?;
            for c in &user.get_ref().commands {
                policy
                    .grant(name.get_ref(), c.get_ref())
                    .map_err(|e| cx.at(c, e.to_string()))?;
            }
            let account =
                super::user::build(cx, name, user, options, (limits, certificates), warnings)?;
            for key in &account.keys {
                let fp = key.fingerprint(Default::default()).to_string();
                if let Some(other) = key_owner.insert(fp.clone(), name.get_ref().clone()) {
                    warnings.push(format!(
                        "key {fp} is listed for both {other:?} and {:?}: whoever holds it can sign in as either",
                        name.get_ref()
                    ));
                }
            }
            users.insert(name.get_ref().clone(), account);
        }
    }
    for (cx, _, _, groups) in &files {
        for (name, group) in groups.iter() {
            check_name(cx, name, "group")?;
            once(cx, "groups", name)?;
            for m in &group.members {
                if !users.contains_key(m.get_ref()) {
                    let why = format!("group member {:?} is not a configured user", m.get_ref());
                    return Err(cx.at(m, why));
                }
                for c in &group.commands {
                    policy
                        .grant(m.get_ref(), c.get_ref())
                        .map_err(|e| cx.at(c, e.to_string()))?;
                }
            }
            let up = super::roots::roots(cx, "upload", &group.upload, warnings)?;
            let down = super::roots::roots(cx, "download", &group.download, warnings)?;
            for m in &group.members {
                if let Some(u) = users.get_mut(m.get_ref()) {
                    super::roots::merge(&mut u.upload, &up);
                    super::roots::merge(&mut u.download, &down);
                }
            }
        }
    }
    Ok((policy, users, sources))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn file_name_patterns() {
        assert!(matches("*.toml", "10-team.toml"));
        assert!(!matches("*.toml", "10-team.toml.bak"));
        assert!(!matches("*.toml", ".hidden.toml"));
        assert!(matches("team-?.toml", "team-a.toml"));
        assert!(matches("*", "x"));
        assert!(!matches("a*b", "acb-"));
    }
}
