//! Ansible inventories, read directly (`--inventory FILE`), INI or YAML:
//! hosts, groups, `children`, `vars`, ranges (`web[01:20]`) and the
//! connection variables secsh uses (`ansible_host`, `ansible_port`,
//! `ansible_user`). Everything else is ignored.

use std::collections::{BTreeMap, HashSet};

use super::targets::expand;

/// How to reach one inventory host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostVars {
    /// `ansible_host`: the address to connect to.
    pub address: Option<String>,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user`.
    pub user: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    hosts: Vec<String>,
    /// The same hosts, for membership tests (a range can list 100,000).
    members: HashSet<String>,
    children: Vec<String>,
    vars: HostVars,
}

/// A parsed inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, HostVars>,
    groups: BTreeMap<String, Group>,
    /// Hosts in the order they were first listed.
    order: Vec<String>,
}

/// Why an inventory could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A line or value that makes no sense, with where it is.
    #[error("{at}: {why}")]
    Invalid {
        /// `FILE:LINE` (INI) or the YAML key path.
        at: String,
        /// What is wrong.
        why: String,
    },
    /// No such group.
    #[error("no group {0:?} in the inventory")]
    NoGroup(String),
}

fn set_var(vars: &mut HostVars, key: &str, value: &str) -> Result<(), String> {
    match key {
        "ansible_host" | "ansible_ssh_host" => vars.address = Some(value.to_string()),
        "ansible_user" | "ansible_ssh_user" => vars.user = Some(value.to_string()),
        "ansible_port" | "ansible_ssh_port" => {
            vars.port = Some(
                value
                    .parse()
                    .map_err(|_| format!("{key}={value:?} is not a port"))?,
            )
        }
        _ => {}
    }
    Ok(())
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

impl Inventory {
    /// Read `text` as YAML when it looks like YAML (`all:` or a mapping),
    /// else as INI; `name` labels errors.
    pub fn parse(name: &str, text: &str) -> Result<Self, InventoryError> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
        match first {
            Some(l) if l.starts_with('[') => Self::parse_ini(name, text),
            Some(l) if l == "---" || l.ends_with(':') => Self::parse_yaml(name, text),
            _ => Self::parse_ini(name, text),
        }
    }

    fn add_host(&mut self, pattern: &str, vars: &HostVars, group: &str) -> Result<(), String> {
        for h in expand(pattern).map_err(|e| e.to_string())? {
            let entry = self.hosts.entry(h.clone()).or_insert_with(|| {
                self.order.push(h.clone());
                HostVars::default()
            });
            entry.address = vars.address.clone().or(entry.address.take());
            entry.port = vars.port.or(entry.port);
            entry.user = vars.user.clone().or(entry.user.take());
            let g = self.groups.entry(group.to_string()).or_default();
            if g.members.insert(h.clone()) {
                g.hosts.push(h);
            }
        }
        Ok(())
    }

    /// Ansible's INI format.
    pub fn parse_ini(name: &str, text: &str) -> Result<Self, InventoryError> {
        let mut inv = Inventory::default();
        let (mut group, mut kind) = ("ungrouped".to_string(), "hosts");
        for (i, raw) in text.lines().enumerate() {
            let at = || format!("{name}:{}", i + 1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(head) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let (g, k) = head.split_once(':').unwrap_or((head, "hosts"));
                if !matches!(k, "hosts" | "children" | "vars") {
                    let why = format!("unknown section kind {k:?}");
                    return Err(InventoryError::Invalid { at: at(), why });
                }
                (group, kind) = (
                    g.to_string(),
                    if k == "children" {
                        "children"
                    } else if k == "vars" {
                        "vars"
                    } else {
                        "hosts"
                    },
                );
                inv.groups.entry(group.clone()).or_default();
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or_default();
            let invalid = |why: String| InventoryError::Invalid { at: at(), why };
            match kind {
                "children" => {
                    let g = inv.groups.entry(group.clone()).or_default();
                    g.children.push(first.to_string());
                }
                "vars" => {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| invalid("a vars line is KEY=VALUE".into()))?;
                    let g = inv.groups.entry(group.clone()).or_default();
                    set_var(&mut g.vars, k.trim(), unquote(v)).map_err(invalid)?;
                }
                _ => {
                    let mut vars = HostVars::default();
                    for w in words {
                        let (k, v) = w
                            .split_once('=')
                            .ok_or_else(|| invalid(format!("{w:?} is not KEY=VALUE")))?;
                        set_var(&mut vars, k, unquote(v)).map_err(invalid)?;
                    }
                    inv.add_host(first, &vars, &group).map_err(invalid)?;
                }
            }
        }
        Ok(inv)
    }

    /// Ansible's YAML format: `GROUP: {hosts: {NAME: VARS}, children:
    /// {GROUP: ...}, vars: {...}}`.
    pub fn parse_yaml(name: &str, text: &str) -> Result<Self, InventoryError> {
        let doc: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| InventoryError::Invalid {
                at: name.to_string(),
                why: e.to_string(),
            })?;
        let mut inv = Inventory::default();
        let top = doc.as_mapping().ok_or_else(|| InventoryError::Invalid {
            at: name.to_string(),
            why: "the top level is not a mapping of groups".into(),
        })?;
        for (g, body) in top {
            let g = g.as_str().unwrap_or_default();
            inv.yaml_group(name, g, body)?;
        }
        Ok(inv)
    }

    fn yaml_group(
        &mut self,
        file: &str,
        group: &str,
        body: &serde_norway::Value,
    ) -> Result<(), InventoryError> {
        let invalid = |why: String| InventoryError::Invalid {
            at: format!("{file}: {group}"),
            why,
        };
        self.groups.entry(group.to_string()).or_default();
        let Some(body) = body.as_mapping() else {
            return Ok(()); // `group:` with nothing under it
        };
        let vars_of = |v: Option<&serde_norway::Value>| -> Result<HostVars, String> {
            let mut vars = HostVars::default();
            for (k, v) in v.and_then(|v| v.as_mapping()).into_iter().flatten() {
                let value = match v {
                    serde_norway::Value::String(s) => s.clone(),
                    serde_norway::Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                set_var(&mut vars, k.as_str().unwrap_or_default(), &value)?;
            }
            Ok(vars)
        };
        let gvars = vars_of(body.get("vars")).map_err(invalid)?;
        self.groups.get_mut(group).expect("inserted").vars = gvars;
        if let Some(hosts) = body.get("hosts").and_then(|h| h.as_mapping()) {
            for (h, v) in hosts {
                let h = h.as_str().unwrap_or_default();
                let vars = vars_of(Some(v)).map_err(invalid)?;
                self.add_host(h, &vars, group).map_err(invalid)?;
            }
        }
        if let Some(children) = body.get("children").and_then(|c| c.as_mapping()) {
            for (c, cbody) in children {
                let c = c.as_str().unwrap_or_default().to_string();
                let g = self.groups.get_mut(group).expect("inserted");
                if !g.children.contains(&c) {
                    g.children.push(c.clone());
                }
                self.yaml_group(file, &c, cbody)?;
            }
        }
        Ok(())
    }

    /// The hosts of `group` (children included, in listing order); `all`
    /// is every host.
    pub fn group(&self, group: &str) -> Result<Vec<String>, InventoryError> {
        if group == "all" {
            return Ok(self.order.clone());
        }
        if !self.groups.contains_key(group) {
            return Err(InventoryError::NoGroup(group.to_string()));
        }
        let mut out = Vec::new();
        let mut seen = vec![group.to_string()];
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            let Some(body) = self.groups.get(&g) else {
                continue;
            };
            out.extend(body.hosts.iter().cloned());
            for c in body.children.iter().rev() {
                if !seen.contains(c) {
                    seen.push(c.clone());
                    stack.push(c.clone());
                }
            }
        }
        Ok(super::targets::dedup(out))
    }

    /// How to reach `host`: its own variables, then those of the groups
    /// that list it directly.
    pub fn vars(&self, host: &str) -> Option<HostVars> {
        let mut v = self.hosts.get(host)?.clone();
        for g in self.groups.values().filter(|g| g.members.contains(host)) {
            v.address = v.address.or(g.vars.address.clone());
            v.port = v.port.or(g.vars.port);
            v.user = v.user.or(g.vars.user.clone());
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "# fleet\nloose ansible_host=10.0.0.9\n[web]\nweb[1:3] ansible_host=10.0.0.1\n\n[db]\ndb1 ansible_host=10.0.1.1 ansible_port=7023 ansible_user='ops'\n\n[prod:children]\nweb\ndb\n\n[db:vars]\nansible_user=dbadmin\nansible_port=7024\n";

    #[test]
    fn ini_groups_children_ranges_and_vars() {
        let inv = Inventory::parse("inv.ini", INI).unwrap();
        assert_eq!(inv.group("web").unwrap(), ["web1", "web2", "web3"]);
        assert_eq!(inv.group("prod").unwrap(), ["web1", "web2", "web3", "db1"]);
        assert_eq!(
            inv.group("all").unwrap(),
            ["loose", "web1", "web2", "web3", "db1"]
        );
        assert_eq!(inv.group("ungrouped").unwrap(), ["loose"]);
        let db1 = inv.vars("db1").unwrap();
        assert_eq!(
            (db1.port, db1.user.as_deref()),
            (Some(7023), Some("ops")),
            "host vars win"
        );
        assert_eq!(
            inv.vars("web2").unwrap().address.as_deref(),
            Some("10.0.0.1")
        );
        assert!(matches!(inv.group("nope"), Err(InventoryError::NoGroup(_))));
        let e = Inventory::parse("x.ini", "[web]\nweb1 ansible_port=http\n").unwrap_err();
        assert!(e.to_string().starts_with("x.ini:2:"), "{e}");
    }

    #[test]
    fn yaml_groups_children_and_vars() {
        let text = "all:\n  children:\n    web:\n      hosts:\n        web1:\n          ansible_host: 127.0.0.11\n        web2:\n      vars:\n        ansible_port: 7022\n    db:\n      hosts:\n        db[1:2]:\n          ansible_user: ops\n";
        let inv = Inventory::parse("inv.yml", text).unwrap();
        assert_eq!(inv.group("web").unwrap(), ["web1", "web2"]);
        assert_eq!(inv.group("all").unwrap(), ["web1", "web2", "db1", "db2"]);
        let w1 = inv.vars("web1").unwrap();
        assert_eq!(
            (w1.address.as_deref(), w1.port),
            (Some("127.0.0.11"), Some(7022))
        );
        assert_eq!(inv.vars("db2").unwrap().user.as_deref(), Some("ops"));
        assert!(Inventory::parse("bad.yml", "all:\n  - x\n  y: [").is_err());
    }
}
