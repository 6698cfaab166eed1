//! From what the operator typed to the hosts to run on: target lists and
//! ranges, `@group` (the inventory's, else the client configuration's),
//! hosts files, exclusions; then each host's address, port, user and CA
//! from the inventory and the configuration's overrides. Command-line
//! `-l`/`-p` and defaults are applied by the caller.

use std::path::PathBuf;

use super::inventory::Inventory;
use super::targets::{expand, split_list};
use crate::client::config::ClientConfig;
use crate::client::Target;

/// One resolved host, before defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The name shown (as listed, or the inventory name).
    pub label: String,
    /// Where to connect.
    pub address: String,
    /// Port from the target, inventory or configuration.
    pub port: Option<u16>,
    /// User from the target, inventory or configuration.
    pub user: Option<String>,
    /// CA bundle from a host override.
    pub cert: Option<PathBuf>,
    /// The inventory groups the host is in (parents and `all` included).
    pub groups: Vec<String>,
}

/// How deep `@group` may refer to other groups.
const MAX_NESTING: usize = 8;

/// One name a token stands for: an inventory host (its name is taken as
/// it is) or a target as typed (`user@host:port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    Inventory(String),
    Typed(String),
}

fn names(
    token: &str,
    cfg: &ClientConfig,
    inv: Option<&Inventory>,
    depth: usize,
) -> Result<Vec<Name>, String> {
    let Some(group) = token.strip_prefix('@') else {
        let hosts = expand(token).map_err(|e| e.to_string())?;
        return Ok(hosts.into_iter().map(Name::Typed).collect());
    };
    if let Some(inv) = inv {
        match inv.group(group) {
            Ok(hosts) => return Ok(hosts.into_iter().map(Name::Inventory).collect()),
            Err(_) if cfg.groups.contains_key(group) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let entries = cfg
        .groups
        .get(group)
        .ok_or_else(|| format!("no group {group:?} in the client configuration or inventory"))?;
    if depth >= MAX_NESTING {
        return Err(format!(
            "group {group:?} nests more than {MAX_NESTING} deep"
        ));
    }
    let mut out = Vec::new();
    for e in entries {
        for t in split_list(e) {
            out.extend(names(&t, cfg, inv, depth + 1)?);
        }
    }
    Ok(out)
}

fn excluded(name: &str, host: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| p == name || p == host)
}

/// Resolve `targets` (each a comma list) and `files` (hosts files' text),
/// minus `exclude` (each a comma list of names or ranges).
pub fn resolve(
    targets: &[String],
    files: &[String],
    exclude: &[String],
    cfg: &ClientConfig,
    inv: Option<&Inventory>,
) -> Result<Vec<Resolved>, String> {
    let mut tokens: Vec<String> = targets.iter().flat_map(|t| split_list(t)).collect();
    for text in files {
        tokens.extend(super::targets::hosts_file(text));
    }
    let mut all = Vec::new();
    for t in &tokens {
        all.extend(names(t, cfg, inv, 0)?);
    }
    let mut ex = Vec::new();
    for e in exclude.iter().flat_map(|e| split_list(e)) {
        for n in names(&e, cfg, inv, 0)? {
            ex.push(match n {
                Name::Inventory(s) | Name::Typed(s) => s,
            });
        }
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in all {
        if !seen.insert(name.clone()) {
            continue;
        }
        // An inventory host's name is the whole name; a typed target may
        // carry a user and a port, and may also be an inventory host.
        let (t, from_inventory) = match &name {
            Name::Inventory(h) => (
                Target {
                    user: None,
                    host: h.clone(),
                    port: None,
                },
                true,
            ),
            Name::Typed(s) => (Target::parse(s)?, false),
        };
        let vars = match inv {
            Some(i) => i.vars(&t.host).map_err(|e| e.to_string())?,
            None => None,
        };
        let known = vars.is_some();
        let vars = vars.unwrap_or_default();
        let over = cfg.host(&t.host).cloned().unwrap_or_default();
        let address = vars
            .address
            .or(over.address)
            .unwrap_or_else(|| t.host.clone());
        let typed = match &name {
            Name::Inventory(h) | Name::Typed(h) => h,
        };
        if excluded(&t.host, &address, &ex) || excluded(typed, &address, &ex) {
            continue;
        }
        // The same host at two ports is two targets: label them apart.
        let label = match t.port {
            Some(p) if !from_inventory && !known => format!("{}:{p}", t.host),
            _ => t.host.clone(),
        };
        out.push(Resolved {
            label,
            address,
            port: t.port.or(vars.port).or(over.port),
            user: t.user.or(vars.user).or(over.user),
            cert: over.cert,
            groups: vars.groups,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ClientConfig {
        let text = "[hosts.\"db*\"]\nport = 7100\nuser = \"dba\"\n[groups]\nweb = [\"web[1-2]\", \"@edge\"]\nedge = [\"lb1\"]\n";
        ClientConfig::parse(std::path::Path::new("c.toml"), text).unwrap()
    }

    fn labels(v: &[Resolved]) -> Vec<&str> {
        v.iter().map(|r| r.label.as_str()).collect()
    }

    #[test]
    fn lists_groups_files_and_exclusions() {
        let c = cfg();
        let r = resolve(&["@web,db1".into()], &[], &[], &c, None).unwrap();
        assert_eq!(labels(&r), ["web1", "web2", "lb1", "db1"]);
        assert_eq!((r[3].port, r[3].user.as_deref()), (Some(7100), Some("dba")));
        let r = resolve(
            &[],
            &["# hosts\nh1\nh[2-3]\n".into()],
            &["h2".into()],
            &c,
            None,
        )
        .unwrap();
        assert_eq!(labels(&r), ["h1", "h3"]);
        let r = resolve(&["alice@h1:7022,h1".into()], &[], &[], &c, None).unwrap();
        assert_eq!(
            (r[0].user.as_deref(), r[0].port),
            (Some("alice"), Some(7022))
        );
        assert!(resolve(&["@nope".into()], &[], &[], &c, None).is_err());
        assert!(resolve(&[], &["# none\n".into()], &[], &c, None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn inventory_hosts_take_their_address_port_and_user() {
        let inv = Inventory::parse(
            "i.ini",
            "[api]\napi1 ansible_host=127.0.0.21 secsh_port=9 ansible_user=alice\n",
        )
        .unwrap();
        let r = resolve(&["@api".into()], &[], &[], &cfg(), Some(&inv)).unwrap();
        assert_eq!(
            r,
            [Resolved {
                label: "api1".into(),
                address: "127.0.0.21".into(),
                port: Some(9),
                user: Some("alice".into()),
                cert: None,
                groups: vec!["all".into(), "api".into()],
            }]
        );
        // Excluding by address works too.
        let r = resolve(
            &["@api".into()],
            &[],
            &["127.0.0.21".into()],
            &cfg(),
            Some(&inv),
        )
        .unwrap();
        assert!(r.is_empty());
    }
}
