//! secsh vs OpenSSH, side by side on loopback. Run with `benches/run.sh`
//! (or `cargo bench --bench compare -- [--quick]` once openssh-server is
//! installed). Progress goes to stderr; the markdown report to stdout.

mod bulk;
mod cpu;
mod files;
mod fleet;
mod memory;
mod scenarios;
mod secsh_side;
mod sshd;
mod svg;
mod wan;
mod wanproxy;

use std::process::Command;

use scenarios::{concurrent, median, time};
use secsh_side::Secshd;
use sshd::Sshd;

pub(crate) struct Plan {
    pub(crate) latency_rounds: usize,
    pub(crate) bulk_bytes: u64,
    pub(crate) bulk_rounds: usize,
    pub(crate) file_bytes: u64,
    pub(crate) fleet_hosts: usize,
    pub(crate) fleet_rounds: usize,
    pub(crate) small_files: usize,
    pub(crate) small_size: u64,
    pub(crate) concurrent: usize,
    pub(crate) concurrent_rounds: usize,
    pub(crate) idle: usize,
    pub(crate) slow_bytes: u64,
    pub(crate) slow_rate: u64,
    pub(crate) wan_rounds: usize,
    pub(crate) wan_bytes: u64,
    pub(crate) big_ports: usize,
    pub(crate) big_parallel: &'static [usize],
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn plan(quick: bool) -> Plan {
    if quick {
        Plan {
            latency_rounds: 5,
            bulk_bytes: 256 * MIB,
            bulk_rounds: 1,
            file_bytes: 256 * MIB,
            fleet_hosts: 100,
            fleet_rounds: 1,
            small_files: 1000,
            small_size: 10 * 1024,
            concurrent: 200,
            concurrent_rounds: 1,
            idle: 200,
            slow_bytes: 128 * MIB,
            slow_rate: 64 * MIB,
            wan_rounds: 3,
            wan_bytes: 128 * MIB,
            big_ports: 4,
            big_parallel: &[32],
        }
    } else {
        Plan {
            latency_rounds: 21,
            bulk_bytes: 2 * GIB,
            bulk_rounds: 3,
            file_bytes: GIB,
            fleet_hosts: 100,
            fleet_rounds: 3,
            small_files: 1000,
            small_size: 10 * 1024,
            concurrent: 200,
            concurrent_rounds: 3,
            idle: 1000,
            slow_bytes: 2 * GIB,
            slow_rate: 128 * MIB,
            wan_rounds: 5,
            wan_bytes: 256 * MIB,
            big_ports: 40,
            big_parallel: &[256, 32],
        }
    }
}

fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn progress(s: &str) {
    eprintln!("[bench] {s}");
}

/// One table row: medians of both sides and the median per-pair ratio.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) secsh: String,
    pub(crate) ssh: String,
    pub(crate) ratio: f64,
    pub(crate) target: &'static str,
}

pub(crate) fn pairs(a: &[f64], b: &[f64]) -> f64 {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&r)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let p = plan(quick);
    raise_nofile();
    let tmp = tempfile::tempdir().unwrap();
    let server = Secshd::start(&tmp.path().join("secsh"));
    let mut ssh = Sshd::start(&tmp.path().join("ssh"), free_port());
    ssh.start_master();
    let mut rows = Vec::new();

    progress("latency of `true`");
    let (mut a, mut b, mut m) = (vec![], vec![], vec![]);
    for i in 0..p.latency_rounds + 1 {
        let mut secsh_true = server.command();
        secsh_true.arg("true");
        let mut ssh_true = ssh.command(false);
        ssh_true.arg("true");
        let mut master_true = ssh.command(true);
        master_true.arg("true");
        let (s, ok1) = time(&mut secsh_true);
        let (o, ok2) = time(&mut ssh_true);
        let (c, ok3) = time(&mut master_true);
        assert!(ok1 && ok2 && ok3, "a `true` run failed");
        if i > 0 {
            // round 0 warms caches
            a.push(s);
            b.push(o);
            m.push(c);
        }
    }
    rows.push(Row {
        name: "`true`, new connection (ms)".into(),
        secsh: format!("{:.1}", median(&a) * 1e3),
        ssh: format!("{:.1}", median(&b) * 1e3),
        ratio: pairs(&a, &b),
        target: "<= 0.035",
    });
    progress("password sign-in vs key sign-in");
    let mut pw = vec![];
    for i in 0..p.latency_rounds.min(11) + 1 {
        let (s, ok) = time(&mut server.password_true());
        assert!(ok, "password sign-in failed");
        if i > 0 {
            pw.push(s);
        }
    }
    rows.push(Row {
        name: "`true`, password (argon2id) vs key sign-in, secsh both (ms)".into(),
        secsh: format!("{:.1}", median(&pw) * 1e3),
        ssh: format!("{:.1}", median(&a) * 1e3),
        ratio: median(&pw) / median(&a),
        target: "",
    });
    rows.push(Row {
        name: "`true` vs ssh ControlMaster (ms)".into(),
        secsh: format!("{:.1}", median(&a) * 1e3),
        ssh: format!("{:.1}", median(&m) * 1e3),
        ratio: pairs(&a, &m),
        target: "<= 0.4",
    });

    let unhashed = Secshd::start_with(
        &tmp.path().join("secsh-unhashed"),
        "[audit]\noutput_hashes = false\n",
    );
    rows.extend(bulk::rows(&server, &unhashed, &ssh, &p));
    drop(unhashed);
    rows.extend(wan::rows(&server, &ssh, &p));

    progress(&format!(
        "put and get: {} MiB file, {} files of {} KiB, x {}",
        p.file_bytes / MIB,
        p.small_files,
        p.small_size / 1024,
        p.bulk_rounds.max(3)
    ));
    // At least 3 rounds: one round's file numbers move by 2x with the
    // page cache and the disk.
    let one = (1, p.file_bytes);
    rows.extend(files::transfers(
        &server,
        &ssh,
        tmp.path(),
        one,
        p.bulk_rounds.max(3),
    ));
    let many = (p.small_files, p.small_size);
    rows.extend(files::transfers(
        &server,
        &ssh,
        tmp.path(),
        many,
        p.bulk_rounds.max(3),
    ));

    progress(&format!(
        "{} concurrent `true` x {}",
        p.concurrent, p.concurrent_rounds
    ));
    let (mut a, mut b, mut fa, mut fb) = (vec![], vec![], 0, 0);
    for _ in 0..p.concurrent_rounds {
        let (s, f1) = concurrent(
            || {
                let mut c = server.command();
                c.arg("true");
                c
            },
            p.concurrent,
        );
        let (o, f2) = concurrent(
            || {
                let mut c = ssh.command(false);
                c.arg("true");
                c
            },
            p.concurrent,
        );
        a.push(s);
        b.push(o);
        fa += f1;
        fb += f2;
    }
    rows.push(Row {
        name: format!("{} concurrent `true` (s; failures)", p.concurrent),
        secsh: format!("{:.2}; {fa}", median(&a)),
        ssh: format!("{:.2}; {fb}", median(&b)),
        ratio: pairs(&a, &b),
        target: "<= 0.2, 0 failures",
    });

    drop(ssh);
    drop(server);
    let (fleet_rows, fleet_big) = fleet::rows(tmp.path(), &p);
    rows.extend(fleet_rows);
    // Each memory scenario gets a fresh secshd, so heap that earlier runs
    // freed but the allocator kept does not count against it.
    progress(&format!("{} idle authenticated connections", p.idle));
    let fresh = Secshd::start(&tmp.path().join("secsh-idle"));
    let (before, with, failed) = memory::idle_connections(&fresh, p.idle);
    drop(fresh);
    progress(&format!(
        "slow reader: {} MiB at {} MiB/s",
        p.slow_bytes / MIB,
        p.slow_rate / MIB
    ));
    let fresh = Secshd::start(&tmp.path().join("secsh-slow"));
    let (peak, secs) = memory::slow_reader(&fresh, p.slow_bytes, p.slow_rate);
    drop(fresh);

    report(&p, quick, &rows, (before, with, failed), (peak, secs));
    println!("{fleet_big}");
    charts(&rows);
}

/// SVG charts next to the report: in the directory `--svg DIR` names,
/// else target/bench.
fn charts(rows: &[Row]) {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .iter()
        .position(|a| a == "--svg")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| "target/bench".into(), std::path::PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let charts = [
        ("latency.svg", "Latency of one command (ms)", "(ms)"),
        ("throughput.svg", "Throughput (MB/s)", "(MB/s)"),
        (
            "cpu.svg",
            "Work per CPU-second, client and server summed",
            "(MB per CPU-second, both ends)",
        ),
        ("wall.svg", "Wall time of many runs (s)", "(s; failures)"),
        (
            "fleet.svg",
            "Fleet of 100 hosts, parallelism 32: wall time (s)",
            "(s; failed runs)",
        ),
    ];
    for (file, title, unit) in charts {
        svg::chart(&dir.join(file), title, unit, rows);
    }
    progress(&format!("charts in {}", dir.display()));
}

fn cmd_out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn report(p: &Plan, quick: bool, rows: &[Row], idle: (u64, u64, usize), slow: (u64, f64)) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    println!("## Results{}\n", if quick { " (--quick)" } else { "" });
    println!(
        "- command: `benches/run.sh{}`",
        if quick { " --quick" } else { "" }
    );
    println!(
        "- machine: {} cores, {cpu}, Linux {}",
        cmd_out("nproc", &[]),
        cmd_out("uname", &["-r"])
    );
    println!(
        "- secsh {} (release build); {}",
        env!("CARGO_PKG_VERSION"),
        sshd::version()
    );
    println!(
        "- ssh: curve25519-sha256, aes128-gcm@openssh.com; secsh: TLS 1.3 (rustls, aws-lc-rs)"
    );
    println!("- medians over rounds; ratio = median of per-round secsh/ssh pairs\n");
    println!("| scenario | secsh | ssh | ratio | target |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} | {} |",
            r.name, r.secsh, r.ssh, r.ratio, r.target
        );
    }
    let (before, with, failed) = idle;
    println!(
        "\n| server memory | value | target |\n| --- | ---: | --- |\n\
         | secshd RSS, {} idle authenticated connections ({} failed) | {:.1} MB (idle server {:.1} MB) | < 100 MB |\n\
         | secshd peak RSS, client reading {} MiB at {} MiB/s ({:.1} s) | {:.1} MB | < 64 MB |",
        p.idle,
        failed,
        with as f64 / 1024.0,
        before as f64 / 1024.0,
        p.slow_bytes / MIB,
        p.slow_rate / MIB,
        slow.1,
        slow.0 as f64 / 1024.0
    );
}
