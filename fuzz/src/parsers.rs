//! Text the server trusts from its administrator or a peer: the config
//! loader, the allowlist matcher on rules and argvs drawn by the fuzzer,
//! and the authentication proofs (SSHSIG armour, PHC password hashes).

use std::collections::BTreeMap;
use std::path::Path;

use arbitrary::{Result, Unstructured};
use secsh::auth::{cert, verify_key_auth, StoredHash};
use secsh::config::{ConfigError, LoadOptions, ServerConfig};
use secsh::policy::{Decision, Element, NoSymlinks, Policy, Rule, Slot, SlotKind};

use super::draw;

/// The server config loader: any text is a config or an error located
/// inside the text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = LoadOptions {
        is_root: false,
        check_permissions: false,
        load_tls: false,
    };
    let path = Path::new("/etc/secsh/secshd.toml");
    if let Err(ConfigError::Invalid { location, message }) =
        ServerConfig::parse(path, text, &options)
    {
        assert!(location.line >= 1 && location.column >= 1);
        assert!(
            location.line <= text.split('\n').count(),
            "line {} past the end",
            location.line
        );
        assert!(!message.is_empty());
    }
}

fn slot(u: &mut Unstructured, name: &str) -> Result<Option<Slot>> {
    let dash = u.arbitrary()?;
    let slot = match u.int_in_range(0u8..=3)? {
        0 => {
            let pattern = if u.ratio(2u8, 3)? {
                u.choose(&["[a-z]+", ".*", "[0-9]{1,3}", "a|b", "x?", "[^/]*"])?
                    .to_string()
            } else {
                draw::text(u)?
            };
            Slot::regex(name, &pattern, dash)
        }
        1 => Slot::one_of(name, vec![draw::text(u)?, draw::text(u)?], dash),
        2 => Slot::int(name, u.arbitrary()?, u.arbitrary()?, dash),
        _ => {
            let root = if u.ratio(3u8, 4)? {
                u.choose(&["/var/log", "/srv", "/"])?.to_string()
            } else {
                draw::text(u)?
            };
            Slot::path_under(name, &root, dash)
        }
    };
    Ok(slot.ok())
}

fn rule(u: &mut Unstructured, name: &str) -> Result<Option<Rule>> {
    let program = if u.ratio(3u8, 4)? {
        u.choose(&["/usr/bin/prog", "/bin/systemctl"])?.to_string()
    } else {
        draw::text(u)?
    };
    let mut slots = BTreeMap::new();
    let mut args = Vec::new();
    for _ in 0..u.int_in_range(0u8..=5)? {
        let a = match u.int_in_range(0u8..=4)? {
            0 => "{a}".to_string(),
            1 => "{b}".to_string(),
            2 => "{c...}".to_string(),
            _ => draw::text(u)?,
        };
        for s in ["a", "b", "c"] {
            if a.starts_with(&format!("{{{s}")) && !slots.contains_key(s) {
                if let Some(sl) = slot(u, s)? {
                    slots.insert(s.to_string(), sl);
                }
            }
        }
        args.push(a);
    }
    Ok(Rule::new(name, &program, &args, slots).ok())
}

/// The allowlist: whatever rules and argv, an allowed argv is executed
/// exactly as matched, element by element, and every slot value passes
/// its own constraint (no dash unless allowed, paths under their root).
pub fn allowlist(data: &[u8]) {
    let _ = allowlist_inner(&mut Unstructured::new(data));
}

fn allowlist_inner(u: &mut Unstructured) -> Result<()> {
    let mut rules = Vec::new();
    for name in ["one", "two"] {
        if let Some(r) = rule(u, name)? {
            rules.push(r);
        }
    }
    let mut policy = Policy::new(rules.clone());
    for r in &rules {
        policy.grant("u", r.name()).expect("granted rule exists");
    }
    let mut argv = Vec::new();
    for _ in 0..u.int_in_range(0u8..=7)? {
        argv.push(match rules.first() {
            Some(r) if u.ratio(1u8, 2)? => match r.elements().get(argv.len().saturating_sub(1)) {
                Some(Element::Literal(l)) if !argv.is_empty() => l.clone(),
                _ if argv.is_empty() => r.program().to_string(),
                _ => draw::text(u)?,
            },
            _ => draw::text(u)?,
        });
    }
    let Decision::Allow { rule, argv: exec } = policy.check("u", &argv, &NoSymlinks) else {
        return Ok(());
    };
    assert!(
        policy.check("nobody", &argv, &NoSymlinks)
            != Decision::Allow {
                rule: rule.clone(),
                argv: exec.clone()
            },
        "an ungranted user was allowed"
    );
    let r = rules.iter().find(|r| r.name() == rule).expect("named rule");
    assert!(r.names_program(&argv[0]));
    assert_eq!(exec[0], r.program());
    assert_eq!(
        exec[1..],
        argv[1..],
        "executed argv differs from the matched one"
    );
    let mut args = argv[1..].iter();
    for e in r.elements() {
        match e {
            Element::Literal(l) => assert_eq!(Some(l), args.next()),
            Element::Slot(s) => assert_slot(s, args.next().expect("slot argument")),
            Element::Variadic(s) => args.by_ref().for_each(|a| assert_slot(s, a)),
        }
    }
    assert!(args.next().is_none(), "argument beyond the template");
    Ok(())
}

fn assert_slot(s: &Slot, arg: &str) {
    assert!(s.allows_dash() || !arg.starts_with('-'), "dash in {arg:?}");
    match s.kind() {
        SlotKind::Enum(values) => assert!(values.iter().any(|v| v == arg)),
        SlotKind::Int { min, max } => {
            let n: i64 = arg.parse().expect("an int slot value is an integer");
            assert!((*min..=*max).contains(&n));
            assert_eq!(n.to_string(), arg, "int values are canonical");
        }
        SlotKind::PathUnder(root) => {
            let p = Path::new(arg);
            assert!(
                p.is_absolute() && p.starts_with(root),
                "{arg:?} not under {root:?}"
            );
            assert!(!arg.split('/').any(|c| c == "." || c == ".."), "{arg:?}");
        }
        SlotKind::Regex(re) => {
            let m = re.find(arg).expect("regex value matches");
            assert_eq!(
                (m.start(), m.end()),
                (0, arg.len()),
                "regex match is anchored"
            );
        }
    }
}

/// Authentication proofs: an SSHSIG armour is verified against the
/// session's signing message (an unknown user never succeeds, and nothing
/// the fuzzer writes signs for this exporter), and a PHC string parses or
/// is refused without panicking (an accepted one is argon2id
/// within the cost limits).
pub fn auth(data: &[u8]) {
    // A revocation list (binary KRL or text): read without panicking.
    let _ = secsh::auth::krl::Revoked::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let exporter = [7u8; 32];
    // A user certificate from a client: parsed and checked before any
    // account is known. Trusting no CA, none may ever pass.
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    let alice = ["alice".to_string()];
    for c in [cert::parse(text), cert::from_blob(data)]
        .into_iter()
        .flatten()
    {
        assert!(cert::check(&c, &[], &alice, 1_800_000_000, peer).is_err());
    }
    assert!(verify_key_auth("alice", None, &exporter, text).is_err());
    assert!(verify_key_auth("alice", Some(&[]), &exporter, text).is_err());
    if StoredHash::parse(text).is_ok() {
        // Accepted: argon2id with parameters in range, so verifying
        // against it is bounded work.
        assert!(text.starts_with("$argon2id$"), "accepted {text:?}");
    }
}
