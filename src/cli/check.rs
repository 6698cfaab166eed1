//! `secshd check`: validate a configuration as the daemon would, warn about
//! risky rules, list what a user may run, and explain the decision for one
//! argv before anything runs (like `sshd -T` and `sudo -l`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{LoadOptions, ServerConfig};
use crate::policy::{describe, Decision};

/// Exit status: the argv would be denied.
pub const EXIT_DENIED: i32 = 3;

/// What to check.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = "/etc/secsh/secshd.toml")]
    pub config: PathBuf,
    /// The user to list or explain for.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Also apply the user's `from` restriction for this source address.
    #[arg(long, value_name = "IP", requires = "user")]
    pub from: Option<IpAddr>,
    /// List the commands the user may run (templates and slot constraints).
    #[arg(long, requires = "user")]
    pub list: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// The exact argv to decide on (after `--`).
    #[arg(last = true, value_name = "ARGV", requires = "user")]
    pub argv: Vec<String>,
}

#[derive(Serialize)]
struct Listed {
    command: String,
    template: String,
    slots: Vec<String>,
}

#[derive(Serialize)]
struct Reason {
    command: String,
    why: String,
}

#[derive(Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
enum Explained {
    Allowed { command: String, argv: Vec<String> },
    Denied { reasons: Vec<Reason> },
}

fn print_json(v: &impl Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Run `secshd check`; the exit status.
pub fn run(args: &CheckArgs) -> i32 {
    let config = match ServerConfig::load(&args.config, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("secshd check: {e}");
            return 1;
        }
    };
    let Some(user) = &args.user else {
        return validate(&args.config, &config, args.json);
    };
    let Some(account) = config.users.get(user) else {
        eprintln!(
            "secshd check: no user {user:?} in {}",
            args.config.display()
        );
        return 1;
    };
    if !args.json && (args.list || args.argv.is_empty()) {
        for line in sign_in(user, account, &config) {
            println!("{line}");
        }
    }
    if args.list {
        let listed: Vec<Listed> = config
            .policy
            .rules_for(user)
            .map(|r| Listed {
                command: r.name().to_string(),
                template: describe::template(r),
                slots: describe::constraints(r),
            })
            .collect();
        if args.json {
            print_json(&listed);
        } else {
            println!("{user} may run:");
            for l in &listed {
                let from = match config.sources.get(&format!("commands.{}", l.command)) {
                    Some(at) => format!("  (from {at})"),
                    None => String::new(),
                };
                println!("  {}: {}{from}", l.command, l.template);
                for s in &l.slots {
                    println!("      {s}");
                }
            }
            if listed.is_empty() {
                println!("  nothing");
            }
            let detachable: Vec<&str> = listed
                .iter()
                .map(|l| l.command.as_str())
                .filter(|c| account.detach || config.policy.may_detach(c))
                .collect();
            if account.detach && !detachable.is_empty() {
                println!("{user} may start any of them as a detached job (detach = true)");
            } else if !detachable.is_empty() {
                let rules = detachable.join(", ");
                println!("{user} may start as detached jobs: {rules} (their detach = true)");
            }
            let roots = |r: &[PathBuf]| {
                r.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !account.upload.is_empty() {
                println!("{user} may put files under: {}", roots(&account.upload));
            }
            if !account.download.is_empty() {
                println!("{user} may get files from: {}", roots(&account.download));
            }
        }
        return 0;
    }
    if args.argv.is_empty() {
        if args.json {
            eprintln!("secshd check: give the argv to decide on after --, or --list");
            return 2;
        }
        return 0;
    }
    let explained = match args.from {
        Some(ip) if !account.allowed_from(ip) => Explained::Denied {
            reasons: vec![Reason {
                command: String::new(),
                why: format!("{user} may not sign in from {ip} (from)"),
            }],
        },
        _ => match config.policy.check(user, &args.argv, &crate::exec::RealFs) {
            Decision::Allow { rule, argv } => Explained::Allowed {
                command: rule,
                argv,
            },
            Decision::Deny { reasons } => Explained::Denied {
                reasons: reasons
                    .into_iter()
                    .map(|(command, why)| Reason { command, why })
                    .collect(),
            },
        },
    };
    let code = match &explained {
        Explained::Allowed { .. } => 0,
        Explained::Denied { .. } => EXIT_DENIED,
    };
    if args.json {
        print_json(&explained);
        return code;
    }
    match explained {
        Explained::Allowed { command, argv } => {
            let from = match config.sources.get(&format!("commands.{command}")) {
                Some(at) => format!(" (from {at})"),
                None => String::new(),
            };
            println!(
                "ALLOWED by {command}{from}: {}",
                serde_json::to_string(&argv).unwrap_or_default()
            );
        }
        Explained::Denied { reasons } => {
            println!("DENIED");
            for r in reasons {
                match r.command.as_str() {
                    "" => println!("  {}", r.why),
                    c => println!("  {c}: {}", r.why),
                }
            }
        }
    }
    code
}

/// How `name` can sign in: keys, password, certificates (which CAs and
/// principals), the methods required and the addresses allowed.
fn sign_in(name: &str, user: &crate::config::User, config: &ServerConfig) -> Vec<String> {
    let fp = |k: &ssh_key::PublicKey| {
        let comment = k.comment();
        let comment = if comment.is_empty() {
            String::new()
        } else {
            format!(" {comment}")
        };
        format!(
            "{} ({}{comment})",
            k.fingerprint(Default::default()),
            k.algorithm()
        )
    };
    let from = match config.sources.get(&format!("users.{name}")) {
        Some(at) => format!(" (defined at {at})"),
        None => String::new(),
    };
    let mut out = vec![format!("{name}{from} signs in with:")];
    match user.keys.len() {
        0 => out.push("  keys: none".into()),
        _ => out.extend(user.keys.iter().map(|k| format!("  key {}", fp(k)))),
    }
    out.push(format!(
        "  password: {}",
        if user.password.is_some() {
            "yes (argon2id)"
        } else {
            "no"
        }
    ));
    if config.auth.user_cas.is_empty() {
        out.push("  certificates: no (no [auth] user_ca_keys)".into());
    } else {
        let principals = user
            .principals
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>();
        out.push(format!(
            "  certificates naming principal {} signed by:",
            principals.join(" or ")
        ));
        out.extend(
            config
                .auth
                .user_cas
                .iter()
                .map(|k| format!("    user CA {}", fp(k))),
        );
    }
    if !user.require.is_empty() {
        let all: Vec<&str> = user
            .require
            .iter()
            .map(|m| match m {
                crate::proto::AuthMethod::Key => "key",
                crate::proto::AuthMethod::Password => "password",
            })
            .collect();
        out.push(format!("  all of: {} (auth)", all.join(", ")));
    }
    if !user.from.is_empty() {
        let nets: Vec<String> = user.from.iter().map(ToString::to_string).collect();
        out.push(format!("  only from: {} (from)", nets.join(", ")));
    }
    out
}

fn validate(path: &Path, config: &ServerConfig, json: bool) -> i32 {
    let mut warnings = config.warnings.clone();
    let mut names: Vec<&String> = config.users.keys().collect();
    names.sort();
    let mut seen = std::collections::HashSet::new();
    for user in &names {
        for rule in config.policy.rules_for(user) {
            if seen.insert(rule.name().to_string()) {
                warnings.extend(describe::lint(rule));
            }
        }
    }
    if json {
        #[derive(Serialize)]
        struct Valid<'a> {
            valid: bool,
            users: usize,
            warnings: &'a [String],
        }
        print_json(&Valid {
            valid: true,
            users: names.len(),
            warnings: &warnings,
        });
    } else {
        println!("{}: valid ({} users)", path.display(), names.len());
        for w in &warnings {
            println!("warning: {w}");
        }
    }
    0
}
