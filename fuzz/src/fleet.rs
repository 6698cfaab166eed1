//! The fleet client's target syntax: lists, ranges, hosts files, single
//! targets and scripts, and Ansible-style inventories (INI and YAML).

use secsh::client::fleet::inventory::{Inventory, Limits};
use secsh::client::fleet::{script, targets};
use secsh::client::Target;

/// Target lists, ranges, `user@host:port` and script lines.
pub fn fleet_targets(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for item in targets::split_list(text) {
        if let Ok(hosts) = targets::expand(&item) {
            assert!(
                hosts.len() <= 100_000,
                "{} hosts from {item:?}",
                hosts.len()
            );
            for h in hosts.iter().take(64) {
                if let Ok(t) = Target::parse(h) {
                    assert!(!t.host.is_empty());
                    assert!(t.user.as_deref() != Some(""));
                }
            }
        }
    }
    let listed = targets::hosts_file(text);
    let unique = targets::dedup(listed.clone());
    assert!(unique.len() <= listed.len());
    let _ = script::parse(text);
    for line in text.lines().take(16) {
        let _ = script::words(line);
    }
}

/// Inventories: parse, then every group lookup and host's variables.
/// The limits are the product's own code path with small numbers: at the
/// default 100,000 hosts one range expression costs tens of milliseconds,
/// and the fuzzer would spend its time allocating host names.
pub fn inventory(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        hosts: 2_000,
        groups: 200,
    };
    let parsed = [
        Inventory::parse_limited("hosts", text, limits),
        Inventory::parse_limited("hosts.ini", text, limits),
        Inventory::parse_limited("hosts.yml", text, limits),
    ];
    for inv in parsed.into_iter().flatten() {
        for g in ["all", "web", "db", "ungrouped", "missing"] {
            if let Ok(hosts) = inv.group(g) {
                for h in hosts.iter().take(64) {
                    let _ = inv.vars(h);
                }
            }
        }
    }
}
