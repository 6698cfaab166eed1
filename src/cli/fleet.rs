//! Several hosts in one `secsh` call: the fleet options, resolving the
//! targets (lists, ranges, `@group`, `-H` files, `--inventory`, `-x`), and
//! the run itself with its output mode, summary and exit status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::fleet_out::{Mode, Output};
use super::secsh::Args;
use crate::client::config::ClientConfig;
use crate::client::fleet::inventory::Inventory;
use crate::client::fleet::resolve::{resolve, Resolved};
use crate::client::fleet::{self, FleetCreds, FleetOptions, HostPlan, MaxErrors};
use crate::client::{self, ClientError, Target};
use crate::client::{seconds, ConnOptions};

/// Options for runs over several hosts.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Hosts file: one target (or list or range) per line, `#` comments.
    /// Repeatable.
    #[arg(short = 'H', long = "hosts-file", value_name = "FILE")]
    pub hosts_file: Vec<PathBuf>,
    /// Leave these targets out (a comma list with ranges; repeatable).
    #[arg(short = 'x', long = "exclude", value_name = "TARGETS")]
    pub exclude: Vec<String>,
    /// Ansible inventory (INI or YAML) for `@group` and host addresses.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Print the resolved hosts and exit (with --json: one JSON object per
    /// host with its name, address, port, user and inventory groups).
    #[arg(long)]
    pub list_hosts: bool,
    /// Hosts at once [default: 32].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Cancel every unfinished host after this long for the whole run
    /// (`90`, `90s`, `5m`, `500ms`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// Stop starting hosts once more than N (or P% of them) failed; the
    /// rest end as not_started.
    #[arg(long, value_name = "N|P%", value_parser = parse_max_errors)]
    pub max_errors: Option<MaxErrors>,
    /// Rolling batches of N hosts: the next batch starts when one ends.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Gather the output and print each distinct one once, under the hosts
    /// that produced it.
    #[arg(long, conflicts_with_all = ["json", "out_dir"])]
    pub group: bool,
    /// JSON Lines on stdout: one object per host, then a summary.
    #[arg(long, conflicts_with = "out_dir")]
    pub json: bool,
    /// Write HOST.stdout, HOST.stderr, HOST.status, hosts.ok and
    /// hosts.failed into DIR instead of printing the output.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Run one argv per line of FILE (shell-like quoting, no expansion)
    /// on one connection per host, stopping at the first failure.
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub script: Option<PathBuf>,
    /// With --script: run the rest after a command fails.
    #[arg(long, requires = "script")]
    pub keep_going: bool,
}

impl FleetArgs {
    /// Options that make even one host a fleet run (its output format).
    pub fn wants_fleet(&self) -> bool {
        self.json || self.wants_fleet_besides_json()
    }

    /// The same, `--json` aside (`--jobs --json` lists one host's jobs).
    pub fn wants_fleet_besides_json(&self) -> bool {
        self.group || self.out_dir.is_some() || self.script.is_some()
    }
}

/// Whether the command line is a fleet call: several targets, a range, a
/// group, a hosts file or an inventory, or a fleet output option. A fleet
/// call keeps the several-host exit statuses even when it resolves to one
/// host (a rerun of the one host that failed reads like the first run);
/// only a single plain TARGET keeps the single-host ones.
pub fn is_fleet_call(args: &Args, resolved: usize) -> bool {
    let f = &args.fleet;
    let plain = |t: &str| {
        let tokens = crate::client::fleet::targets::split_list(t);
        tokens.len() == 1
            && !tokens[0].starts_with('@')
            && crate::client::fleet::targets::expand(&tokens[0]).is_ok_and(|e| e == tokens)
    };
    resolved != 1
        // `--jobs --json` is one host's listing as JSON.
        || if args.jobs.list_jobs {
            f.wants_fleet_besides_json()
        } else {
            f.wants_fleet()
        }
        || !f.hosts_file.is_empty()
        || f.inventory.is_some()
        || !args.target.as_deref().is_some_and(plain)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 90, 90s, 5m, 2h or 500ms");
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

fn parse_max_errors(s: &str) -> Result<MaxErrors, String> {
    let bad = || format!("{s:?} is not a count (3) or a percentage (10%)");
    match s.strip_suffix('%') {
        Some(p) => {
            let p: f64 = p.parse().map_err(|_| bad())?;
            (0.0..=100.0)
                .contains(&p)
                .then_some(MaxErrors::Percent(p))
                .ok_or_else(bad)
        }
        None => s.parse().map(MaxErrors::Count).map_err(|_| bad()),
    }
}

/// The hosts the command line names.
pub fn resolve_hosts(args: &Args, cfg: &ClientConfig) -> Result<Vec<Resolved>, ClientError> {
    let f = &args.fleet;
    let usage = ClientError::Usage;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).map_err(|e| usage(format!("{}: {e}", p.display())))
    };
    let files = f
        .hosts_file
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let inventory = match &f.inventory {
        Some(p) => Some(
            Inventory::parse(&p.display().to_string(), &read(p)?)
                .map_err(|e| usage(e.to_string()))?,
        ),
        None => None,
    };
    let targets: Vec<String> = args.target.iter().cloned().collect();
    resolve(&targets, &files, &f.exclude, cfg, inventory.as_ref()).map_err(usage)
}

/// `--list-hosts`: one per line (with its address when that differs);
/// with `--json`, one JSON object per host with what secsh would use:
/// `name`, `address`, `port`, `user` (null when none is known) and the
/// inventory `groups`.
pub fn list_hosts(args: &Args, cfg: &ClientConfig, hosts: &[Resolved]) -> i32 {
    use std::io::Write;
    let mut out = String::new();
    use crate::logtext::visible;
    let conn = args.conn.options();
    for h in hosts {
        if args.fleet.json {
            let port = conn
                .port
                .or(h.port)
                .or(cfg.defaults.port)
                .unwrap_or(crate::proto::DEFAULT_PORT);
            let line = serde_json::json!({
                "name": h.label,
                "address": h.address,
                "port": port,
                "user": conn.user_for(cfg, h.user.clone()).ok(),
                "groups": h.groups,
            });
            out.push_str(&format!("{line}\n"));
            continue;
        }
        // Names and addresses from an inventory: shown escaped.
        let (label, address) = (visible(&h.label), visible(&h.address));
        match h.address == h.label {
            true => out.push_str(&format!("{label}\n")),
            false => out.push_str(&format!("{label} ({address})\n")),
        }
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    if hosts.is_empty() {
        crate::cli::say!("secsh: no hosts");
        return client::EXIT_USAGE;
    }
    0
}

/// Every host's plan: user, port, address and CA (one TLS configuration
/// per distinct CA bundle).
fn plans(
    conn: &ConnOptions,
    cfg: &ClientConfig,
    hosts: Vec<Resolved>,
) -> Result<Vec<HostPlan>, ClientError> {
    let mut tls: HashMap<PathBuf, Arc<rustls::ClientConfig>> = HashMap::new();
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        let cert = conn.cert_for(cfg, h.cert)?;
        let config = match tls.get(&cert) {
            Some(c) => c.clone(),
            None => {
                let c = crate::tls::client_config(&cert)?;
                tls.insert(cert.clone(), c.clone());
                c
            }
        };
        let user = conn.user_for(cfg, h.user)?;
        out.push(HostPlan {
            label: h.label,
            target: Target {
                user: None,
                host: h.address,
                port: conn.port.or(h.port).or(cfg.defaults.port),
            },
            user,
            tls: config,
            job: None,
        });
    }
    Ok(out)
}

async fn setup(
    args: &Args,
    cfg: &ClientConfig,
    hosts: Vec<Resolved>,
) -> Result<(Vec<HostPlan>, Vec<Vec<String>>, FleetCreds, FleetOptions), ClientError> {
    let commands = match &args.fleet.script {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| ClientError::Usage(format!("{}: {e}", p.display())))?;
            let cmds = client::fleet::script::parse(&text)
                .map_err(|e| ClientError::Usage(format!("{}: {e}", p.display())))?;
            if cmds.is_empty() {
                return Err(ClientError::Usage(format!("{}: no commands", p.display())));
            }
            cmds
        }
        None => vec![args.command.clone()],
    };
    let conn = args.conn.options();
    let plans = plans(&conn, cfg, hosts)?;
    // Never prompt once per host: a passphrase is asked at most once, here,
    // and a password never.
    let ask = super::conn::terminal_ask(args.conn.batch);
    let (key, password) = conn.secrets(cfg, ask.as_ref(), false)?;
    let keepalive = conn.keepalive()?;
    let timeout = args.timeout.or(cfg.defaults.timeout);
    let opts = FleetOptions {
        parallel: super::fdlimit::fit(
            args.fleet
                .parallel
                .or(cfg.defaults.parallel)
                .unwrap_or(32)
                .max(1),
        ),
        connect_timeout: conn.connect_timeout(cfg)?,
        keepalive,
        timeout: timeout.map(|t| seconds(t, "--timeout")).transpose()?,
        deadline: args.fleet.deadline,
        max_errors: args.fleet.max_errors,
        batch_size: args.fleet.batch_size.filter(|b| *b > 0),
        keep_going: args.fleet.keep_going,
        detach: args.jobs.detach,
    };
    let mut plans = plans;
    if let Some(dir) = &args.jobs.attach {
        let dir = std::path::Path::new(dir);
        if !dir.is_dir() {
            let why = format!(
                "--attach with several hosts takes the --out-dir of a --detach run; {} is not a directory",
                dir.display()
            );
            return Err(ClientError::Usage(why));
        }
        for p in &mut plans {
            let file = dir.join(format!("{}.job", super::fleet_out::file_name(&p.label)));
            let id = std::fs::read_to_string(file).unwrap_or_default();
            p.job = Some(id.trim().to_string());
        }
    }
    Ok((plans, commands, FleetCreds { key, password }, opts))
}

/// Run on every host; the exit status.
pub async fn run(args: Args, cfg: ClientConfig, hosts: Vec<Resolved>) -> i32 {
    let (plans, commands, creds, opts) = match setup(&args, &cfg, hosts).await {
        Ok(s) => s,
        Err(e) => {
            crate::cli::say!("secsh: {e}");
            return e.exit_code();
        }
    };
    let mode = match (&args.fleet.out_dir, args.fleet.json, args.fleet.group) {
        (Some(d), ..) => Mode::OutDir(d.clone()),
        (_, true, _) => Mode::Json,
        (_, _, true) => Mode::Group,
        _ => Mode::Stream,
    };
    // Prefixes on the terminal: an inventory's host names shown escaped.
    let labels: Vec<String> = plans
        .iter()
        .map(|p| crate::logtext::visible(&p.label).into_owned())
        .collect();
    let output = match Output::new(mode, labels) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            crate::cli::say!("secsh: {e}");
            return client::EXIT_USAGE;
        }
    };
    let (cancel_tx, cancel) = watch::channel(false);
    let mut interrupts = super::secsh::interrupts();
    tokio::spawn(async move {
        if interrupts.recv().await.is_some() {
            crate::cli::say!(
                "secsh: interrupted: cancelling the remote commands (again to quit now)"
            );
            let _ = cancel_tx.send(true);
            if interrupts.recv().await.is_some() {
                std::process::exit(130);
            }
        }
    });
    let started = Instant::now();
    let results = fleet::run_fleet(
        plans,
        Arc::new(commands),
        creds,
        opts,
        output.clone(),
        cancel,
    )
    .await;
    let code = fleet::exit_code(&results);
    output.finish(&results, code, started.elapsed());
    code
}
