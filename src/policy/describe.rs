//! Rules in words, for people deciding whether a policy is safe: a
//! rule's template and slot constraints (`secshd check --list`, `secsh
//! --list`), and warnings about rules that hand out more than they seem
//! to (`secshd check`).

use super::rule::{Element, Rule};
use super::slot::SlotKind;

/// Programs that can run other programs, open a shell, a pager or an
/// editor, or write arbitrary files, given the right arguments (after
/// GTFOBins): allowing them with a variable argument is allowing a shell.
const ESCAPES: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "csh",
    "tcsh",
    "fish",
    "busybox",
    "env",
    "xargs",
    "find",
    "nice",
    "nohup",
    "timeout",
    "stdbuf",
    "setsid",
    "watch",
    "script",
    "expect",
    "less",
    "more",
    "most",
    "pg",
    "man",
    "vi",
    "vim",
    "nvim",
    "view",
    "rvim",
    "nano",
    "pico",
    "ed",
    "emacs",
    "git",
    "tar",
    "zip",
    "unzip",
    "rsync",
    "scp",
    "ssh",
    "sftp",
    "curl",
    "wget",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
    "perl",
    "python",
    "python2",
    "python3",
    "ruby",
    "node",
    "lua",
    "php",
    "tclsh",
    "wish",
    "gdb",
    "strace",
    "ltrace",
    "make",
    "docker",
    "podman",
    "kubectl",
    "systemd-run",
    "sudo",
    "su",
    "doas",
    "pkexec",
    "crontab",
    "at",
    "tee",
    "dd",
    "cp",
    "mv",
    "install",
    "chmod",
    "chown",
    "ln",
    "journalctl",
];

/// The template as the user would type it: `/usr/bin/systemctl status {unit}`.
pub fn template(rule: &Rule) -> String {
    let mut out = rule.program().to_string();
    for e in rule.elements() {
        out.push(' ');
        match e {
            Element::Literal(l) if l.is_empty() || l.contains([' ', '"', '\'', '\\']) => {
                out.push_str(&format!("{l:?}"));
            }
            Element::Literal(l) => out.push_str(l),
            Element::Slot(s) => out.push_str(&format!("{{{}}}", s.name())),
            Element::Variadic(s) => out.push_str(&format!("{{{}...}}", s.name())),
        }
    }
    out
}

/// One line per slot: `unit: one of nginx, postgresql, not starting with '-'`.
pub fn constraints(rule: &Rule) -> Vec<String> {
    rule.elements()
        .iter()
        .filter_map(|e| match e {
            Element::Slot(s) => Some(format!("{}: {}", s.name(), s.describe())),
            Element::Variadic(s) => Some(format!(
                "{}...: zero or more arguments, each {}",
                s.name(),
                s.describe()
            )),
            Element::Literal(_) => None,
        })
        .collect()
}

fn matches_anything(pattern: &str) -> bool {
    let p = pattern
        .strip_prefix("^(?:")
        .and_then(|p| p.strip_suffix(")$"))
        .unwrap_or(pattern);
    let p = p.strip_prefix("(?s)").unwrap_or(p);
    matches!(
        p,
        ".*" | ".+" | "(.*)" | "(.+)" | "[^\\x00]*" | "[\\s\\S]*" | "(?:.*)"
    )
}

/// What is risky about `rule`, one warning per finding.
pub fn lint(rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    let name = rule.name();
    let base = rule.program().rsplit('/').next().unwrap_or("");
    let base = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let varies = rule
        .elements()
        .iter()
        .any(|e| !matches!(e, Element::Literal(_)));
    if ESCAPES.contains(&base) || ESCAPES.contains(&rule.program().rsplit('/').next().unwrap_or(""))
    {
        let how = if varies {
            "the client chooses some of its arguments: make sure no choice reaches a shell, pager or editor"
        } else {
            "check that these fixed arguments cannot reach a shell, pager or editor"
        };
        out.push(format!(
            "command {name:?}: {} can run other programs or open a shell, pager or editor; {how}",
            rule.program()
        ));
    }
    for e in rule.elements() {
        let (slot, variadic) = match e {
            Element::Slot(s) => (s, false),
            Element::Variadic(s) => (s, true),
            Element::Literal(_) => continue,
        };
        if variadic && slot.allows_dash() {
            out.push(format!(
                "command {name:?}: {{{}...}} accepts any number of arguments starting with '-': the client can pass {} any option it has",
                slot.name(),
                rule.program()
            ));
        }
        if let SlotKind::Regex(re) = slot.kind() {
            if matches_anything(re.as_str()) {
                out.push(format!(
                    "command {name:?}: slot {{{}}} has a regex that matches anything; say what it should accept",
                    slot.name()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::slot::Slot;
    use super::*;

    fn rule(program: &str, args: &[&str], slots: Vec<Slot>) -> Rule {
        let slots: BTreeMap<String, Slot> = slots
            .into_iter()
            .map(|s| (s.name().to_string(), s))
            .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Rule::new("r", program, &args, slots).unwrap()
    }

    #[test]
    fn templates_and_constraints_read_like_the_config() {
        let r = rule(
            "/usr/bin/systemctl",
            &["status", "{unit}", "{more...}"],
            vec![
                Slot::one_of("unit", vec!["nginx".into(), "ssh".into()], false).unwrap(),
                Slot::int("more", 1, 9, false).unwrap(),
            ],
        );
        assert_eq!(template(&r), "/usr/bin/systemctl status {unit} {more...}");
        assert_eq!(
            constraints(&r),
            vec![
                "unit: one of nginx, ssh, not starting with '-'",
                "more...: zero or more arguments, each an integer from 1 to 9, not starting with '-'"
            ]
        );
        assert!(lint(&r).is_empty(), "{:?}", lint(&r));
    }

    #[test]
    fn risky_rules_are_named() {
        let r = rule(
            "/usr/bin/find",
            &["{args...}"],
            vec![Slot::regex("args", ".*", true).unwrap()],
        );
        let w = lint(&r);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("/usr/bin/find can run other programs"));
        assert!(w[1].contains("any number of arguments starting with '-'"));
        assert!(w[2].contains("matches anything"));
        let fixed = rule("/usr/bin/python3.11", &["/opt/report.py"], vec![]);
        assert!(lint(&fixed)[0].contains("fixed arguments"));
        let fine = rule(
            "/usr/bin/uptime",
            &["{x}"],
            vec![Slot::regex("x", "[a-z]+", false).unwrap()],
        );
        assert!(lint(&fine).is_empty());
    }
}
