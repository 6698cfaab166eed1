//! Inventories read as Ansible reads them. Each expectation here was
//! checked against `ansible-inventory --list` (ansible-core 2.19); the
//! differential test (tests/interop/ansible_diff.py) compares whole
//! inventories with it.

use super::*;

fn ini(text: &str) -> Inventory {
    Inventory::parse("inv.ini", text).unwrap()
}

fn yml(text: &str) -> Inventory {
    Inventory::parse("inv.yml", text).unwrap()
}

fn hosts(inv: &Inventory, g: &str) -> Vec<String> {
    inv.group(g).unwrap()
}

fn vars(inv: &Inventory, h: &str) -> HostVars {
    inv.vars(h).unwrap().unwrap()
}

#[test]
fn ungrouped_is_hosts_in_no_other_group() {
    let inv = ini("alpha ansible_host=127.0.0.11\nbeta\n[web]\nbeta\ndelta\n");
    assert_eq!(hosts(&inv, "ungrouped"), ["alpha"]);
    assert_eq!(hosts(&inv, "web"), ["beta", "delta"]);
    assert_eq!(hosts(&inv, "all"), ["alpha", "beta", "delta"]);
    let inv = yml("all:\n  hosts:\n    solo1:\n    solo2:\n  children:\n    g:\n      hosts:\n        solo2:\n");
    assert_eq!(hosts(&inv, "ungrouped"), ["solo1"]);
    assert_eq!(vars(&inv, "solo2").groups, ["all", "g"]);
}

#[test]
fn quoting_comments_and_literals_in_ini() {
    let inv = ini(concat!(
        "loose ansible_host=10.0.0.9   # a comment\n",
        "[web]   # tier\n",
        "web[01:02] motd=\"hello world\" labels=\"{'region': 'infra'}\" ansible_user='ops'\n",
        "h2 ansible_host=\"127.0.0.43\" say=\"he said \\\"hi\\\"\" e=\\#f secsh_port=\"7143\"\n",
        "[web:vars]\n",
        "ansible_user=webadmin # not a comment here\n",
        "secsh_port = 7022 # but after a number Python drops it\n",
    ));
    assert_eq!(vars(&inv, "loose").address.as_deref(), Some("10.0.0.9"));
    let w = vars(&inv, "web01");
    assert_eq!((w.user.as_deref(), w.port), (Some("ops"), Some(7022)));
    let h2 = vars(&inv, "h2");
    assert_eq!(
        (h2.address.as_deref(), h2.user.as_deref(), h2.port),
        (
            Some("127.0.0.43"),
            Some("webadmin # not a comment here"),
            Some(7143)
        )
    );
}

#[test]
fn precedence_is_depth_then_priority_then_name_then_the_host() {
    let inv = ini(concat!(
        "[alpha]\nh1\nh2 ansible_host=127.0.0.69\n[beta]\nh1\nh2\n[zeta]\nh1\n",
        "[parent:children]\nchild\n[child]\nh3\n[other]\nh3\n",
        "[alpha:vars]\nansible_host=127.0.0.61\nansible_user=a\n",
        "[beta:vars]\nansible_host=127.0.0.62\nansible_user=b\n",
        "[zeta:vars]\nansible_host=127.0.0.63\n",
        "[other:vars]\nansible_host=127.0.0.64\n[child:vars]\nansible_host=127.0.0.65\n",
        "[all:vars]\nansible_user=everyone\nsecsh_port=7101\n",
    ));
    let h1 = vars(&inv, "h1");
    assert_eq!(
        (h1.address.as_deref(), h1.user.as_deref()),
        (Some("127.0.0.63"), Some("b"))
    );
    assert_eq!(vars(&inv, "h2").address.as_deref(), Some("127.0.0.69"));
    // child (depth 2) beats other (depth 1), whatever the names.
    assert_eq!(vars(&inv, "h3").address.as_deref(), Some("127.0.0.65"));
    assert_eq!(vars(&inv, "h3").port, Some(7101));
    let inv = ini("[a]\nh\n[b]\nh\n[a:vars]\nansible_user=from_a\nansible_group_priority=5\n[b:vars]\nansible_user=from_b\n");
    assert_eq!(vars(&inv, "h").user.as_deref(), Some("from_a"));
}

#[test]
fn ports_come_from_secsh_port_only() {
    let inv = ini(
        "[web]\nweb1:7301 ansible_host=127.0.0.71\nweb2 ansible_port=2222\nweb3 secsh_port=7303\n",
    );
    assert_eq!(hosts(&inv, "web"), ["web1", "web2", "web3"]);
    assert_eq!(vars(&inv, "web1").port, None);
    assert_eq!(vars(&inv, "web2").port, None);
    assert_eq!(vars(&inv, "web3").port, Some(7303));
    let bad = ini("[g]\nh secsh_port=http\n");
    let e = bad.vars("h").unwrap_err().to_string();
    assert!(
        e.starts_with("inv.ini:2: ") && e.contains("secsh_port"),
        "{e}"
    );
}

#[test]
fn children_defined_later_and_groups_named_twice() {
    let inv =
        ini("[p:children]\nlater\n[later]\nh\n[web]\nw1\n[web:vars]\nansible_user=u\n[web]\nw2\n");
    assert_eq!(hosts(&inv, "p"), ["h"]);
    assert_eq!(hosts(&inv, "web"), ["w1", "w2"]);
    assert_eq!(vars(&inv, "w2").user.as_deref(), Some("u"));
    let inv = yml(concat!(
        "all:\n  children:\n    web:\n      hosts:\n        w1:\n      vars:\n        ansible_user: u\n",
        "    staging:\n      children:\n        web:\n          hosts:\n            w3:\n",
    ));
    assert_eq!(hosts(&inv, "web"), ["w1", "w3"]);
    assert_eq!(vars(&inv, "w3").user.as_deref(), Some("u"));
}

#[test]
fn yaml_anchors_and_merge_keys() {
    let inv = yml(concat!(
        "all:\n  children:\n    web:\n      vars: &wv\n        ansible_user: deploy\n",
        "      hosts: &wh\n        web1: &h1\n          ansible_host: 127.0.0.91\n          ansible_user: root\n",
        "        web2:\n          <<: *h1\n          ansible_host: 127.0.0.92\n",
        "    db:\n      vars:\n        <<: *wv\n        ansible_user: dba\n      hosts:\n        db1:\n          <<: *h1\n        db2:\n",
        "    canary:\n      hosts: *wh\n",
        "    both:\n      hosts:\n        b1:\n          <<: [*h1, {ansible_user: second}]\n",
    ));
    let w2 = vars(&inv, "web2");
    assert_eq!(
        (w2.address.as_deref(), w2.user.as_deref()),
        (Some("127.0.0.92"), Some("root"))
    );
    assert_eq!(vars(&inv, "db2").user.as_deref(), Some("dba"));
    assert_eq!(vars(&inv, "db1").user.as_deref(), Some("root"));
    assert_eq!(hosts(&inv, "canary"), ["web1", "web2"]);
    // Of a list of merged mappings, the later wins (as in Ansible 2.19).
    assert_eq!(vars(&inv, "b1").user.as_deref(), Some("second"));
}

#[test]
fn what_ansible_refuses_is_refused_with_the_line() {
    for (text, line) in [
        ("[g]\nok1\nweb1 ansible_host=\"127.0.0.1\n", 3),
        ("[g]\nok1\nweb[1:\n", 3),
        ("[g]\nok1\nweb1 ansible_host=127.0.0.1 stray\n", 3),
        ("[g]\nn[1-2]\n", 2),
        ("[g]\nn[01:3]\n", 2),
        ("[p:children]\nnope\n[g]\nh\n", 2),
        ("[nope:vars]\na=1\n[g]\nh\n", 1),
        ("[g:bogus]\nh\n", 1),
        ("[g] ; x\nh\n", 1),
        ("[g]\nh:\n", 2),
        ("[a:children]\nb\n[b:children]\na\n", 4),
    ] {
        let e = Inventory::parse("x.ini", text).unwrap_err().to_string();
        assert!(e.starts_with(&format!("x.ini:{line}: ")), "{text:?}: {e}");
    }
    let e = Inventory::parse(
        "x.yml",
        "all:\n  children:\n    g:\n      hosts:\n        1234:\n",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("1234") && e.to_string().contains("all.children.g.hosts"),
        "{e}"
    );
    assert!(Inventory::parse("bad.yml", "all:\n  - x\n  y: [").is_err());
    // A child that is no group definition; at the top level it is skipped.
    let e = Inventory::parse("x.yml", "all:\n  children:\n    lone: web9\n").unwrap_err();
    assert!(e.to_string().contains("all.children.lone"), "{e}");
    let inv = yml("lone: web9\nall:\n  hosts:\n    h:\n");
    assert!(inv.group("lone").is_err());
}

#[test]
fn names_ansible_keeps_as_they_are() {
    let inv = ini("[g]\nn1]\n1234 ansible_host=127.0.0.101\n10.1.2.3\n");
    assert_eq!(hosts(&inv, "g"), ["n1]", "1234", "10.1.2.3"]);
    assert!(matches!(inv.group("nope"), Err(InventoryError::NoGroup(_))));
}

#[test]
fn limits_hold() {
    let e = Inventory::parse("x.ini", "[g]\nh[0:99999]\ni[0:1]\n").unwrap_err();
    assert!(e.to_string().contains("more than 100000 hosts"), "{e}");
}
