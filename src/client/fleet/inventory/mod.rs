//! Ansible inventories (`--inventory FILE`), INI or YAML, read as
//! `ansible-inventory` reads them: groups, `children`, `vars` at every
//! level, `all` and `ungrouped`, Ansible's host ranges and `host:port`
//! patterns, and Ansible's variable precedence (`all`, then groups by
//! depth, `ansible_group_priority` and name, the last one winning, then
//! the host's own). secsh takes the address (`ansible_host`), the user
//! (`secsh_user`, else `ansible_user`) and the port (`secsh_port` only:
//! `ansible_port` and `host:port` give SSH's port); every other variable
//! is ignored. Anything Ansible refuses is refused, naming FILE:LINE (or
//! the YAML path).

mod ini;
mod literal;
mod members;
mod pattern;
mod shlex;
mod yaml;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use literal::Value;

/// How large an inventory may be; past a limit it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Hosts (after ranges are expanded): 100,000 by default.
    pub hosts: usize,
    /// Groups: 10,000 by default.
    pub groups: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            hosts: 100_000,
            groups: 10_000,
        }
    }
}

/// The variables secsh reads; the rest are not kept.
const KEPT: [&str; 7] = [
    "ansible_host",
    "ansible_ssh_host",
    "ansible_user",
    "ansible_ssh_user",
    "secsh_user",
    "secsh_port",
    "ansible_group_priority",
];

/// A kept variable's value and where it was set (`FILE:LINE` or a YAML
/// path), for errors found when a host's variables are combined.
type Vars = BTreeMap<&'static str, (Value, String)>;

/// How to reach one inventory host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostVars {
    /// `ansible_host` (or `ansible_ssh_host`): the address to connect to.
    pub address: Option<String>,
    /// `secsh_port`.
    pub port: Option<u16>,
    /// `secsh_user`, else `ansible_user` (or `ansible_ssh_user`).
    pub user: Option<String>,
    /// Every group the host is in, parents and `all` included, sorted.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    hosts: Vec<usize>,
    host_set: HashSet<usize>,
    children: Vec<usize>,
    parents: Vec<usize>,
    vars: Vars,
    priority: i128,
}

#[derive(Debug, Clone)]
struct Host {
    name: String,
    vars: Vars,
    /// Groups that list the host itself.
    groups: Vec<usize>,
}

/// A parsed inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: Vec<Host>,
    host_index: HashMap<String, usize>,
    groups: Vec<Group>,
    group_index: HashMap<String, usize>,
    /// Each group's distance from `all` (after [`Inventory::reconcile`]).
    depth: Vec<u32>,
    limits: Limits,
}

/// Why an inventory could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A line or value that Ansible refuses too, with where it is.
    #[error("{at}: {why}")]
    Invalid {
        /// `FILE:LINE` (INI) or `FILE: YAML path`.
        at: String,
        /// What is wrong.
        why: String,
    },
    /// No such group.
    #[error("no group {0:?} in the inventory")]
    NoGroup(String),
}

const ALL: usize = 0;
const UNGROUPED: usize = 1;

impl Inventory {
    /// Read `text` as Ansible would a file named `name`: YAML first for
    /// `.yml`, `.yaml`, `.json` and names without an extension, then INI
    /// (what Ansible's `yaml` and `ini` plugins accept, in that order).
    pub fn parse(name: &str, text: &str) -> Result<Self, InventoryError> {
        Self::parse_limited(name, text, Limits::default())
    }

    /// [`Inventory::parse`] within `limits`.
    pub fn parse_limited(name: &str, text: &str, limits: Limits) -> Result<Self, InventoryError> {
        let ext = std::path::Path::new(name)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let yaml_first = matches!(ext.as_deref(), None | Some("yml" | "yaml" | "json"));
        let yaml_err = match yaml_first {
            true => match yaml::parse(name, text, limits) {
                Ok(inv) => return Ok(inv),
                Err(e) => Some(e),
            },
            false => None,
        };
        if ext.as_deref() == Some("toml") {
            return Err(yaml_err.unwrap_or_else(|| InventoryError::Invalid {
                at: name.to_string(),
                why: "TOML inventories are not supported".into(),
            }));
        }
        match (ini::parse(name, text, limits), yaml_err) {
            (Ok(inv), _) => Ok(inv),
            // A YAML file that is no INI either: the YAML reason.
            (Err(_), Some(y)) if ext.is_some() => Err(y),
            (Err(e), _) => Err(e),
        }
    }

    fn new(limits: Limits) -> Self {
        let mut inv = Self {
            limits,
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            depth: Vec::new(),
        };
        inv.add_group("all").expect("room for all");
        inv.add_group("ungrouped").expect("room for ungrouped");
        inv.add_child(ALL, UNGROUPED).expect("no loop yet");
        inv
    }

    fn group_id(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    fn add_group(&mut self, name: &str) -> Result<usize, String> {
        if let Some(g) = self.group_id(name) {
            return Ok(g);
        }
        if name.is_empty() {
            return Err("an empty group name".into());
        }
        if self.groups.len() >= self.limits.groups {
            return Err(format!("more than {} groups", self.limits.groups));
        }
        self.groups.push(Group {
            name: name.to_string(),
            hosts: Vec::new(),
            host_set: HashSet::new(),
            children: Vec::new(),
            parents: Vec::new(),
            vars: Vars::new(),
            priority: 1,
        });
        self.group_index
            .insert(name.to_string(), self.groups.len() - 1);
        Ok(self.groups.len() - 1)
    }

    /// `parent` gets `child`; Ansible refuses a group in itself or a loop.
    fn add_child(&mut self, parent: usize, child: usize) -> Result<(), String> {
        if parent == child {
            let n = &self.groups[child].name;
            return Err(format!("group {n:?} cannot be a child of itself"));
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.is_ancestor(child, parent) {
            let (p, c) = (&self.groups[parent].name, &self.groups[child].name);
            return Err(format!("adding {c:?} to {p:?} makes a loop of groups"));
        }
        self.groups[parent].children.push(child);
        self.groups[child].parents.push(parent);
        Ok(())
    }

    /// Is `a` an ancestor of `g` (or `g` itself)?
    fn is_ancestor(&self, a: usize, g: usize) -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![g];
        while let Some(x) = todo.pop() {
            if x == a {
                return true;
            }
            if seen.insert(x) {
                todo.extend(&self.groups[x].parents);
            }
        }
        false
    }

    /// Add `name` (to `group`), as Ansible's `add_host`.
    fn add_host(&mut self, name: &str, group: usize) -> Result<usize, String> {
        if name.is_empty() {
            return Err("an empty host name".into());
        }
        let h = match self.host_index.get(name) {
            Some(&h) => h,
            None => {
                if self.hosts.len() >= self.limits.hosts {
                    return Err(format!("more than {} hosts", self.limits.hosts));
                }
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars: Vars::new(),
                    groups: Vec::new(),
                });
                self.host_index
                    .insert(name.to_string(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        self.add_to_group(group, h);
        Ok(h)
    }

    fn add_to_group(&mut self, g: usize, h: usize) {
        if self.groups[g].host_set.insert(h) {
            self.groups[g].hosts.push(h);
            self.hosts[h].groups.push(g);
        }
    }

    fn set_host_var(&mut self, h: usize, key: &str, value: Value, at: &str) {
        if let Some(k) = KEPT.iter().find(|k| **k == key) {
            self.hosts[h].vars.insert(k, (value, at.to_string()));
        }
    }

    fn set_group_var(&mut self, g: usize, key: &str, value: Value, at: &str) -> Result<(), String> {
        if key == "ansible_group_priority" {
            self.groups[g].priority = match &value {
                Value::Int(n) => *n,
                Value::Str(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| format!("ansible_group_priority {s:?} is not an integer"))?,
                Value::Other(what) => {
                    return Err(format!("ansible_group_priority is {what}, not an integer"))
                }
            };
        }
        if let Some(k) = KEPT.iter().find(|k| **k == key) {
            self.groups[g].vars.insert(k, (value, at.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
