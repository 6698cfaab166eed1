//! Ansible's YAML inventory format, as its `yaml` plugin reads it: a
//! mapping of groups, each with `hosts` (patterns to variables), `vars`
//! and `children` (more groups), processed in document order; a group
//! named again adds to what it had. Anchors, aliases and `<<` merge keys
//! are resolved first, as Ansible's loader does (keys written beside a
//! merge win).

use serde_norway::{Mapping, Value as Y};

use super::literal::Value;
use super::pattern::expand_pattern;
use super::{Inventory, InventoryError, Limits};

/// Groups may nest this deep.
const MAX_DEPTH: usize = 64;

/// Parse `text` (the file `file`) into a reconciled inventory.
pub fn parse(file: &str, text: &str, limits: Limits) -> Result<Inventory, InventoryError> {
    let invalid = |at: &str, why: String| InventoryError::Invalid {
        at: format!("{file}: {at}"),
        why,
    };
    let doc: Y = serde_norway::from_str(text).map_err(|e| InventoryError::Invalid {
        at: match e.location() {
            Some(l) => format!("{file}:{}:{}", l.line(), l.column()),
            None => file.to_string(),
        },
        why: e.to_string(),
    })?;
    let doc = merged(doc, 0).map_err(|why| invalid("(document)", why))?;
    let top = match doc {
        Y::Mapping(m) if !m.is_empty() => m,
        Y::Null => return Err(invalid("(document)", "the file is empty".into())),
        _ => {
            return Err(invalid(
                "(document)",
                "the top level is not a mapping of groups".into(),
            ))
        }
    };
    if top.contains_key("plugin") {
        return Err(invalid(
            "plugin",
            "a plugin configuration, not an inventory".into(),
        ));
    }
    let mut inv = Inventory::new(limits);
    for (name, body) in &top {
        let name = name_of(name)
            .ok_or_else(|| invalid("(top)", format!("group name {} is not text", show(name))))?;
        group(&mut inv, file, name, body, name, 0)?;
    }
    inv.reconcile();
    Ok(inv)
}

fn name_of(v: &Y) -> Option<&str> {
    v.as_str()
}

fn show(v: &Y) -> String {
    serde_norway::to_string(v)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn value(v: &Y) -> Value {
    match v {
        Y::String(s) => Value::Str(s.clone()),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i.into()),
            None => match n.as_u64() {
                Some(u) => Value::Int(u.into()),
                None => Value::Other("a number"),
            },
        },
        Y::Bool(_) => Value::Other("a boolean"),
        Y::Null => Value::Other("None"),
        Y::Sequence(_) => Value::Other("a list"),
        Y::Mapping(_) => Value::Other("a mapping"),
        Y::Tagged(_) => Value::Other("a tagged value"),
    }
}

/// Group `name` with body `body`, at YAML path `path`.
fn group(
    inv: &mut Inventory,
    file: &str,
    name: &str,
    body: &Y,
    path: &str,
    depth: usize,
) -> Result<Option<usize>, InventoryError> {
    let invalid = |at: &str, why: String| InventoryError::Invalid {
        at: format!("{file}: {at}"),
        why,
    };
    if depth > MAX_DEPTH {
        return Err(invalid(
            path,
            format!("groups nest more than {MAX_DEPTH} deep"),
        ));
    }
    let body = match body {
        Y::Mapping(m) => Some(m),
        Y::Null => None,
        // Ansible skips it (and a parent naming it as a child fails).
        _ => return Ok(None),
    };
    let g = inv.add_group(name).map_err(|why| invalid(path, why))?;
    let Some(body) = body else {
        return Ok(Some(g));
    };
    for (key, section) in body {
        let Some(key) = key.as_str() else { continue };
        let at = format!("{path}.{key}");
        // A section that is one string means a mapping of it to nothing.
        let one;
        let section = match section {
            Y::String(s) if matches!(key, "hosts" | "children" | "vars") => {
                let mut m = Mapping::new();
                m.insert(Y::String(s.clone()), Y::Null);
                one = Y::Mapping(m);
                &one
            }
            other => other,
        };
        let entries = match section {
            Y::Mapping(m) => m,
            Y::Null => continue,
            _ if matches!(key, "hosts" | "children" | "vars") => {
                return Err(invalid(
                    &at,
                    format!("{key} of group {name:?} must be a mapping"),
                ))
            }
            _ => continue,
        };
        match key {
            "vars" => {
                for (k, v) in entries {
                    if let Some(k) = k.as_str() {
                        inv.set_group_var(g, k, value(v), &format!("{file}: {at}.{k}"))
                            .map_err(|why| invalid(&format!("{at}.{k}"), why))?;
                    }
                }
            }
            "children" => {
                for (c, cbody) in entries {
                    let c = name_of(c).ok_or_else(|| {
                        invalid(&at, format!("group name {} is not text", show(c)))
                    })?;
                    let cpath = format!("{at}.{c}");
                    let child =
                        group(inv, file, c, cbody, &cpath, depth + 1)?.ok_or_else(|| {
                            let why =
                                format!("{c:?} is no group definition (a mapping or nothing)");
                            invalid(&cpath, why)
                        })?;
                    inv.add_child(g, child)
                        .map_err(|why| invalid(&cpath, why))?;
                }
            }
            "hosts" => {
                for (p, hv) in entries {
                    let Some(p) = p.as_str() else {
                        let why = format!(
                            "host pattern {} must be text: quote a numeric host name",
                            show(p)
                        );
                        return Err(invalid(&at, why));
                    };
                    let hpath = format!("{at}.{p}");
                    let (hosts, _port) =
                        expand_pattern(p, inv.limits.hosts).map_err(|why| invalid(&hpath, why))?;
                    let vars = match hv {
                        Y::Mapping(m) => Some(m),
                        Y::Null => None,
                        _ => {
                            return Err(invalid(
                                &hpath,
                                "a host's variables must be a mapping".into(),
                            ))
                        }
                    };
                    for h in hosts {
                        let id = inv.add_host(&h, g).map_err(|why| invalid(&hpath, why))?;
                        for (k, v) in vars.into_iter().flatten() {
                            if let Some(k) = k.as_str() {
                                inv.set_host_var(id, k, value(v), &format!("{file}: {hpath}.{k}"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some(g))
}

/// `v` with every `<<` merge key resolved as Ansible's loader does: the
/// mapping's own keys win over merged ones, and of a list of merged
/// mappings the later wins (checked against ansible-core 2.19).
fn merged(v: Y, depth: usize) -> Result<Y, String> {
    if depth > MAX_DEPTH * 4 {
        return Err("the document nests too deep".into());
    }
    Ok(match v {
        Y::Mapping(m) => {
            let mut own = Mapping::new();
            let mut sources = Vec::new();
            for (k, v) in m {
                if k.as_str() == Some("<<") {
                    match merged(v, depth + 1)? {
                        Y::Mapping(src) => sources.push(src),
                        Y::Sequence(list) => {
                            for item in list {
                                match item {
                                    Y::Mapping(src) => sources.push(src),
                                    _ => return Err("a << merge list holds a non-mapping".into()),
                                }
                            }
                        }
                        _ => return Err("a << merge key needs a mapping or a list of them".into()),
                    }
                } else {
                    own.insert(k, merged(v, depth + 1)?);
                }
            }
            if sources.is_empty() {
                Y::Mapping(own)
            } else {
                let mut out = Mapping::new();
                for src in sources {
                    for (k, v) in src {
                        out.insert(k, v);
                    }
                }
                // Own keys override; PyYAML puts merged keys first.
                for (k, v) in own {
                    out.insert(k, v);
                }
                Y::Mapping(out)
            }
        }
        Y::Sequence(s) => Y::Sequence(
            s.into_iter()
                .map(|x| merged(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Tagged(t) => merged(t.value, depth + 1)?,
        other => other,
    })
}
