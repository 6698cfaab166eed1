//! What an inventory says once it is read: `all` and `ungrouped` as
//! Ansible settles them, each group's members, and each host's
//! variables combined in Ansible's order of precedence.

use std::collections::HashSet;

use super::{HostVars, Inventory, InventoryError, Value, ALL, UNGROUPED};

impl Inventory {
    /// Ansible's `reconcile_inventory`: groups without a parent go under
    /// `all`; a host listed in a group leaves `ungrouped`, a host in no
    /// group joins it. Then each group's depth.
    pub(super) fn reconcile(&mut self) {
        for g in 0..self.groups.len() {
            if g != ALL && self.groups[g].parents.is_empty() {
                // No parent, so neither a child of `all` nor an ancestor.
                self.groups[ALL].children.push(g);
                self.groups[g].parents.push(ALL);
            }
        }
        let mut leave = HashSet::new();
        for h in 0..self.hosts.len() {
            let grouped = self.hosts[h]
                .groups
                .iter()
                .any(|&g| g != ALL && g != UNGROUPED);
            if grouped {
                if self.groups[UNGROUPED].host_set.remove(&h) {
                    leave.insert(h);
                    self.hosts[h].groups.retain(|&g| g != UNGROUPED);
                }
            } else if !self.hosts[h].groups.contains(&UNGROUPED) {
                self.add_to_group(UNGROUPED, h);
            }
        }
        // One pass, not one per host: a long INI head may all be grouped later.
        self.groups[UNGROUPED].hosts.retain(|h| !leave.contains(h));
        // Longest path from `all`, in an order where parents come first.
        let mut depth = vec![0u32; self.groups.len()];
        let mut pending: Vec<usize> = self.groups.iter().map(|g| g.parents.len()).collect();
        let mut ready = vec![ALL];
        while let Some(g) = ready.pop() {
            for &c in &self.groups[g].children {
                depth[c] = depth[c].max(depth[g] + 1);
                pending[c] -= 1;
                if pending[c] == 0 {
                    ready.push(c);
                }
            }
        }
        self.depth = depth;
    }

    /// The hosts of `group`, children included, in the order listed
    /// (`all`: every host in the order first defined).
    pub fn group(&self, group: &str) -> Result<Vec<String>, InventoryError> {
        let g = self
            .group_id(group)
            .ok_or_else(|| InventoryError::NoGroup(group.to_string()))?;
        if g == ALL {
            return Ok(self.hosts.iter().map(|h| h.name.clone()).collect());
        }
        let mut out = Vec::new();
        let mut seen_hosts = HashSet::new();
        let mut seen = HashSet::from([g]);
        let mut stack = vec![g];
        while let Some(g) = stack.pop() {
            for &h in &self.groups[g].hosts {
                if seen_hosts.insert(h) {
                    out.push(self.hosts[h].name.clone());
                }
            }
            for &c in self.groups[g].children.iter().rev() {
                if seen.insert(c) {
                    stack.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Every group `h` is in: those listing it and their ancestors.
    fn groups_of(&self, h: usize) -> Vec<usize> {
        let mut seen = HashSet::new();
        let mut todo = self.hosts[h].groups.clone();
        while let Some(g) = todo.pop() {
            if seen.insert(g) {
                todo.extend(&self.groups[g].parents);
            }
        }
        seen.into_iter().collect()
    }

    /// How to reach `host`: `all`'s variables, then its groups' in
    /// Ansible's order (depth, priority, name; later wins), then its own.
    pub fn vars(&self, host: &str) -> Result<Option<HostVars>, InventoryError> {
        let Some(&h) = self.host_index.get(host) else {
            return Ok(None);
        };
        let mut groups = self.groups_of(h);
        groups.retain(|&g| g != ALL);
        let key = |&g: &usize| {
            (
                self.depth[g],
                self.groups[g].priority,
                self.groups[g].name.as_str(),
            )
        };
        groups.sort_by(|a, b| key(a).cmp(&key(b)));
        let mut vars = self.groups[ALL].vars.clone();
        for g in &groups {
            vars.extend(self.groups[*g].vars.clone());
        }
        vars.extend(self.hosts[h].vars.clone());
        let text = |k: &str| -> Result<Option<String>, InventoryError> {
            match vars.get(k) {
                None => Ok(None),
                Some((Value::Str(s), _)) => Ok(Some(s.clone())),
                Some((Value::Int(n), _)) => Ok(Some(n.to_string())),
                Some((Value::Other(what), at)) => Err(InventoryError::Invalid {
                    at: at.clone(),
                    why: format!("{k} of host {host:?} is {what}, not text"),
                }),
            }
        };
        let port = match vars.get("secsh_port") {
            None => None,
            Some((v, at)) => {
                let n = match v {
                    Value::Int(n) => Some(*n),
                    Value::Str(s) => s.trim().parse().ok(),
                    Value::Other(_) => None,
                };
                Some(
                    n.and_then(|n| u16::try_from(n).ok())
                        .filter(|&p| p > 0)
                        .ok_or_else(|| InventoryError::Invalid {
                            at: at.clone(),
                            why: format!("secsh_port of host {host:?} is not a port (1 to 65535)"),
                        })?,
                )
            }
        };
        let mut names: Vec<String> = self
            .groups_of(h)
            .iter()
            .map(|&g| self.groups[g].name.clone())
            .collect();
        names.sort();
        Ok(Some(HostVars {
            address: text("ansible_host")?.or(text("ansible_ssh_host")?),
            port,
            user: text("secsh_user")?
                .or(text("ansible_user")?)
                .or(text("ansible_ssh_user")?),
            groups: names,
        }))
    }
}
