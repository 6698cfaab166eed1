//! Ansible's INI inventory format, as its `ini` plugin reads it: hosts
//! before any section are `ungrouped`; `[g]`, `[g:vars]` and
//! `[g:children]` sections (a child group may be defined later, a
//! `vars` section needs the group defined somewhere); host lines split
//! like a shell (`shlex`) with `#` comments, `KEY=VALUE` words whose value
//! is a Python literal or text; `vars` lines taken whole (`KEY = rest of
//! the line`, no comment stripping).

use super::literal::eval;
use super::pattern::expand_pattern;
use super::{shlex, Inventory, InventoryError, Limits};

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Hosts,
    Vars,
    Children,
}

/// A group named before it was defined.
struct Pending {
    name: String,
    line: usize,
    kind: Kind,
    parents: Vec<usize>,
}

/// Parse `text` (the file `file`) into a reconciled inventory.
pub fn parse(file: &str, text: &str, limits: Limits) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::new(limits);
    let mut pending: Vec<Pending> = Vec::new();
    let (mut group, mut kind) = (super::UNGROUPED, Kind::Hosts);
    for (i, raw) in text.lines().enumerate() {
        let at = format!("{file}:{}", i + 1);
        let invalid = |why: String| InventoryError::Invalid {
            at: at.clone(),
            why,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some((name, k)) = section(line) {
            kind = match k {
                None | Some("hosts") => Kind::Hosts,
                Some("vars") => Kind::Vars,
                Some("children") => Kind::Children,
                Some(other) => {
                    return Err(invalid(format!(
                        "section [{name}:{other}] has unknown type {other:?}"
                    )))
                }
            };
            let known = inv.group_id(name).is_some();
            group = inv.add_group(name).map_err(invalid)?;
            if !known && kind == Kind::Vars && !pending.iter().any(|p| p.name == name) {
                pending.push(Pending {
                    name: name.into(),
                    line: i + 1,
                    kind,
                    parents: vec![],
                });
            }
            if kind != Kind::Vars {
                if let Some(p) = pending.iter().position(|p| p.name == name) {
                    match pending[p].kind {
                        Kind::Children => {
                            add_pending_children(&mut inv, &mut pending, name).map_err(invalid)?
                        }
                        _ => drop(pending.remove(p)),
                    }
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(invalid(format!(
                "invalid section {line:?}: no spaces or other characters are allowed in a section name"
            )));
        }
        match kind {
            Kind::Hosts => host_line(&mut inv, group, line, &at).map_err(invalid)?,
            Kind::Vars => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("expected KEY=VALUE, got {line:?}")))?;
                inv.set_group_var(group, k.trim(), eval(v.trim()), &at)
                    .map_err(invalid)?;
            }
            Kind::Children => {
                let child = group_name(line)
                    .ok_or_else(|| invalid(format!("expected a group name, got {line:?}")))?;
                match inv.group_id(child) {
                    Some(c) => inv.add_child(group, c).map_err(invalid)?,
                    None => match pending.iter_mut().find(|p| p.name == child) {
                        Some(p) => p.parents.push(group),
                        None => pending.push(Pending {
                            name: child.into(),
                            line: i + 1,
                            kind: Kind::Children,
                            parents: vec![group],
                        }),
                    },
                }
            }
        }
    }
    if let Some(p) = pending.first() {
        let why = match p.kind {
            Kind::Vars => format!(
                "section [{}:vars] is for a group that is never defined",
                p.name
            ),
            _ => {
                let parent = &inv.groups[*p.parents.last().expect("a parent")].name;
                format!(
                    "section [{parent}:children] names group {:?}, which is never defined",
                    p.name
                )
            }
        };
        return Err(InventoryError::Invalid {
            at: format!("{file}:{}", p.line),
            why,
        });
    }
    inv.reconcile();
    Ok(inv)
}

/// A group defined at last: join the parents that named it early (and
/// theirs, when they were pending too).
fn add_pending_children(
    inv: &mut Inventory,
    pending: &mut Vec<Pending>,
    name: &str,
) -> Result<(), String> {
    let Some(p) = pending.iter().position(|p| p.name == name) else {
        return Ok(());
    };
    let entry = pending.remove(p);
    let child = inv.group_id(name).expect("defined");
    for parent in entry.parents {
        inv.add_child(parent, child)?;
        let pname = inv.groups[parent].name.clone();
        if pending
            .iter()
            .any(|p| p.name == pname && p.kind == Kind::Children)
        {
            add_pending_children(inv, pending, &pname)?;
        }
    }
    Ok(())
}

/// `[name]` or `[name:kind]`, then only whitespace or a `#` comment.
fn section(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(|c: char| c == ':' || c == ']' || c.is_whitespace())?;
    let name = &rest[..end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &rest[end..];
    let mut kind = None;
    if let Some(r) = rest.strip_prefix(':') {
        let n = r
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        if n == 0 {
            return None;
        }
        kind = Some(&r[..n]);
        rest = &r[n..];
    }
    let tail = rest.strip_prefix(']')?.trim_start();
    (tail.is_empty() || tail.starts_with('#')).then_some((name, kind))
}

/// A `[g:children]` line: a name, then only whitespace or a comment.
fn group_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(line.len());
    let tail = line[end..].trim_start();
    (end > 0 && (tail.is_empty() || tail.starts_with('#'))).then_some(&line[..end])
}

/// A host line: a host pattern, then `KEY=VALUE` words.
fn host_line(inv: &mut Inventory, group: usize, line: &str, at: &str) -> Result<(), String> {
    let words = shlex::split(line).map_err(|e| format!("cannot split {line:?}: {e}"))?;
    let Some((first, rest)) = words.split_first() else {
        return Ok(());
    };
    let (hosts, port) = expand_pattern(first, inv.limits.hosts)?;
    if first.trim().ends_with(':') && port.is_none() {
        return Err(format!(
            "host pattern {first:?} ends in ':', which is kept for a port"
        ));
    }
    if hosts.iter().any(|h| h.trim() == "---") {
        return Err(format!(
            "host pattern {first:?}: '---' suggests a YAML file"
        ));
    }
    let mut vars = Vec::with_capacity(rest.len());
    for w in rest {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE host variables, got {w:?}"))?;
        vars.push((k, eval(v)));
    }
    for h in hosts {
        let id = inv.add_host(&h, group)?;
        for (k, v) in &vars {
            inv.set_host_var(id, k, v.clone(), at);
        }
    }
    Ok(())
}
