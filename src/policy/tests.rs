use std::collections::BTreeMap;

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn slots(list: Vec<Slot>) -> BTreeMap<String, Slot> {
    list.into_iter()
        .map(|s| (s.name().to_string(), s))
        .collect()
}

fn demo() -> Policy {
    let rules = vec![
        Rule::new("uptime", "/usr/bin/uptime", &[], BTreeMap::new()).unwrap(),
        Rule::new(
            "svc-status",
            "/usr/bin/systemctl",
            &s(&["status", "{unit}"]),
            slots(vec![
                Slot::regex("unit", r"[a-z0-9@._-]+\.service", false).unwrap()
            ]),
        )
        .unwrap(),
        Rule::new(
            "tail-log",
            "/usr/bin/tail",
            &s(&["-n", "{n}", "{file}"]),
            slots(vec![
                Slot::int("n", 1, 10000, false).unwrap(),
                Slot::path_under("file", "/var/log", false).unwrap(),
            ]),
        )
        .unwrap(),
        Rule::new(
            "echo",
            "/bin/echo",
            &s(&["{words...}"]),
            slots(vec![Slot::regex("words", ".*", true).unwrap()]),
        )
        .unwrap(),
        Rule::new(
            "mode",
            "/usr/bin/mode",
            &s(&["{m}"]),
            slots(vec![Slot::one_of("m", s(&["on", "off"]), false).unwrap()]),
        )
        .unwrap(),
    ];
    let mut p = Policy::new(rules);
    for c in ["uptime", "svc-status", "tail-log", "echo", "mode"] {
        p.grant("alice", c).unwrap();
    }
    p.grant("bob", "uptime").unwrap();
    p
}

fn allowed(p: &Policy, user: &str, argv: &[&str]) -> bool {
    matches!(p.check(user, &s(argv), &NoSymlinks), Decision::Allow { .. })
}

#[test]
fn slot_matching_table() {
    let p = demo();
    let table: &[(&[&str], bool)] = &[
        (&["uptime"], true),
        (&["/usr/bin/uptime"], true),
        (&["/usr/local/bin/uptime"], false),
        (&["./uptime"], false),
        (&["uptime", "-p"], false),
        (&["systemctl", "status", "nginx.service"], true),
        (&["systemctl", "status", "nginx"], false),
        (&["systemctl", "status"], false),
        (&["systemctl", "status", "a.service", "b.service"], false),
        (&["systemctl", "status", "a.service b.service"], false),
        (&["systemctl", "status", "a.service\tb.service"], false),
        (&["systemctl", "status", "a.service\n"], false),
        (&["systemctl", "status", "-a.service"], false),
        (&["systemctl", "restart", "nginx.service"], false),
        (&["systemctl", "status", "xnginx.servicex"], false),
        (&["tail", "-n", "10", "/var/log/syslog"], true),
        (&["tail", "-n", "10", "/var/log"], true),
        (&["tail", "-n", "0", "/var/log/syslog"], false),
        (&["tail", "-n", "010", "/var/log/syslog"], false),
        (&["tail", "-n", "+10", "/var/log/syslog"], false),
        (&["tail", "-n", "10001", "/var/log/syslog"], false),
        (&["tail", "-n", "10", "/var/log/../../etc/shadow"], false),
        (&["tail", "-n", "10", "/var/log/./syslog"], false),
        (&["tail", "-n", "10", "/var/log//syslog"], false),
        (&["tail", "-n", "10", "/var/logs/syslog"], false),
        (&["tail", "-n", "10", "/var/log/"], false),
        (&["tail", "-n", "10", "syslog"], false),
        (&["tail", "-f", "10", "/var/log/syslog"], false),
        (&["echo"], true),
        (&["echo", "-n", "hello world"], true),
        (&["echo", "a\nb"], false),
        (&["mode", "on"], true),
        (&["mode", "maybe"], false),
        (&["mode", "on", "off"], false),
        (&["rm", "-rf", "/"], false),
        (&[], false),
        (&["uptime\0"], false),
    ];
    for (argv, want) in table {
        assert_eq!(allowed(&p, "alice", argv), *want, "alice {argv:?}");
    }
}

#[test]
fn grants_are_per_user() {
    let p = demo();
    assert!(allowed(&p, "bob", &["uptime"]));
    assert!(!allowed(&p, "bob", &["echo", "hi"]));
    assert!(!allowed(&p, "mallory", &["uptime"]));
}

#[test]
fn allow_returns_resolved_program_and_exact_args() {
    let p = demo();
    let d = p.check("alice", &s(&["echo", "-n", "x  y"]), &NoSymlinks);
    assert_eq!(
        d,
        Decision::Allow {
            rule: "echo".into(),
            argv: s(&["/bin/echo", "-n", "x  y"])
        }
    );
}

#[test]
fn deny_explains_each_rule() {
    let p = demo();
    let Decision::Deny { reasons } = p.check("alice", &s(&["mode", "maybe"]), &NoSymlinks) else {
        panic!("allowed")
    };
    assert_eq!(reasons.len(), 5);
    let mode = reasons.iter().find(|(r, _)| r == "mode").unwrap();
    assert!(mode.1.contains("not one of"), "{}", mode.1);
}

struct FakeLinks;
impl PathResolver for FakeLinks {
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        let p = path.to_str()?;
        if let Some(rest) = p.strip_prefix("/var/log/evil") {
            return Some(PathBuf::from(format!("/etc{rest}")));
        }
        if p.starts_with("/var/log/dangling") {
            return None;
        }
        Some(path.to_path_buf())
    }
}

#[test]
fn symlink_escape_is_denied() {
    let p = demo();
    let check = |f: &str| {
        matches!(
            p.check("alice", &s(&["tail", "-n", "5", f]), &FakeLinks),
            Decision::Allow { .. }
        )
    };
    assert!(check("/var/log/syslog"));
    assert!(!check("/var/log/evil/shadow"));
    assert!(!check("/var/log/dangling"));
}

#[test]
fn build_errors() {
    let none = BTreeMap::new;
    assert!(matches!(
        Slot::regex("x", "(", false),
        Err(PolicyError::BadRegex { .. })
    ));
    assert!(Slot::int("x", 5, 1, false).is_err());
    assert!(Slot::one_of("x", vec![], false).is_err());
    assert!(Slot::path_under("x", "var/log", false).is_err());
    assert!(Slot::path_under("x", "/var/../log", false).is_err());
    assert_eq!(
        Rule::new("r", "/bin/x", &s(&["{a}"]), none()).unwrap_err(),
        PolicyError::UndeclaredSlot("a".into())
    );
    let one = || slots(vec![Slot::int("a", 1, 2, false).unwrap()]);
    assert_eq!(
        Rule::new("r", "/bin/x", &[], one()).unwrap_err(),
        PolicyError::UnusedSlot("a".into())
    );
    assert_eq!(
        Rule::new("r", "/bin/x", &s(&["{a...}", "z"]), one()).unwrap_err(),
        PolicyError::VariadicNotLast("{a...}".into())
    );
    assert_eq!(
        Rule::new("r", "/bin/x", &s(&["--n={a}"]), one()).unwrap_err(),
        PolicyError::BadElement("--n={a}".into())
    );
    assert!(Rule::new("r", "x", &[], none()).is_err());
    let mut p = Policy::new(vec![]);
    assert_eq!(
        p.grant("u", "nope").unwrap_err(),
        PolicyError::UnknownCommand("nope".into())
    );
}

#[test]
fn first_match_in_file_order_wins() {
    let rules = vec![
        Rule::new("specific", "/bin/echo", &s(&["hi"]), BTreeMap::new()).unwrap(),
        Rule::new(
            "general",
            "/bin/echo",
            &s(&["{w}"]),
            slots(vec![Slot::regex("w", "[a-z]+", false).unwrap()]),
        )
        .unwrap(),
    ];
    let mut p = Policy::new(rules);
    p.grant("u", "general").unwrap();
    p.grant("u", "specific").unwrap();
    let Decision::Allow { rule, .. } = p.check("u", &s(&["echo", "hi"]), &NoSymlinks) else {
        panic!()
    };
    assert_eq!(rule, "specific");
}
