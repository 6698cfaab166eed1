//! Fleet runs: one command on 100 loopback hosts (127.0.0.1-100, one port
//! each) at parallelism 32, secsh's fleet mode against `pdsh -R ssh` and
//! `parallel-ssh` and `ansible -m raw` with the same key and ciphers (one sshd listens on at
//! most 16 addresses, so there is one per 16 hosts); and many hosts for
//! secsh alone (250 addresses times 4 ports quick, times 40 full: 10,000),
//! with the client's peak RSS and open files.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::scenarios::median;
use super::secsh_side::{Secshd, SECSH, USER};
use super::sshd::{keygen, whoami, Sshd};
use super::{free_port, pairs, progress, Plan, Row};

/// Seconds, success and the client's peak RSS (KiB, from VmHWM). A
/// failed run's last lines of output go to the progress log.
fn run(cmd: &mut Command) -> (f64, bool, u64) {
    let (secs, ok, peak, _) = run_counted(cmd);
    (secs, ok, peak)
}

/// [`run`], and the most descriptors the client held at once (sampled
/// every 20 ms from /proc/PID/fd).
fn run_counted(cmd: &mut Command) -> (f64, bool, u64, usize) {
    let out = tempfile::tempfile().expect("temp file");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out.try_clone().unwrap())
        .spawn()
        .expect("spawn");
    let (mut peak, mut fds) = (0, 0);
    let status = loop {
        let open = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .map(|d| d.count())
            .unwrap_or(0);
        fds = fds.max(open);
        let hwm = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        peak = peak.max(hwm);
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        use std::io::{Read, Seek};
        let mut text = String::new();
        let mut out = out;
        let _ = out.rewind();
        let _ = out.read_to_string(&mut text);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(4)..].join(" | ");
        progress(&format!(
            "{:?} failed ({status}): {tail}",
            cmd.get_program()
        ));
    }
    (secs, status.success(), peak, fds)
}

/// `secsh --parallel N TARGETS -- ARGV` with `server`'s CA and key.
fn secsh_fleet(server: &Secshd, targets: &str, argv: &[&str], parallel: usize) -> Command {
    let mut c = Command::new(SECSH);
    c.arg("--cert")
        .arg(server.ca())
        .arg("-i")
        .arg(server.key_file())
        .args(["--parallel", &parallel.to_string(), targets, "--"])
        .args(argv)
        .env_remove("SSH_AUTH_SOCK");
    c
}

fn ssh_args(key: &Path, port: u16) -> Vec<String> {
    let mut v: Vec<String> = ["-F", "/dev/null", "-i"].map(String::from).to_vec();
    v.push(key.display().to_string());
    for o in [
        "IdentitiesOnly=yes",
        "BatchMode=yes",
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "KexAlgorithms=curve25519-sha256",
        "Ciphers=aes128-gcm@openssh.com",
        "ControlMaster=no",
        "ControlPath=none",
    ] {
        v.push("-o".into());
        v.push(o.into());
    }
    v.push("-p".into());
    v.push(port.to_string());
    v
}

/// Rows for `p.fleet_hosts` hosts (secsh, pdsh, parallel-ssh) and a line
/// for 1,000 hosts (secsh alone).
pub fn rows(tmp: &Path, p: &Plan) -> (Vec<Row>, String) {
    let n = p.fleet_hosts;
    let port = free_port();
    let ips: Vec<std::net::IpAddr> = (1..=n)
        .map(|i| format!("127.0.0.{i}").parse().unwrap())
        .collect();
    let listen: Vec<String> = ips.iter().map(|ip| format!("{ip}:{port}")).collect();
    let server = Secshd::start_on(&tmp.join("fleet-secsh"), &ips, &listen);
    let key = tmp.join("fleet_ed25519");
    keygen(&key);
    let ssh_port = free_port();
    let addrs: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
    let sshds: Vec<Sshd> = addrs
        .chunks(16)
        .enumerate()
        .map(|(k, chunk)| {
            Sshd::start_on(
                &tmp.join(format!("fleet-ssh-{k}")),
                ssh_port,
                chunk,
                Some(&key),
            )
        })
        .collect();
    let ssh_args = ssh_args(&key, ssh_port);
    let user = whoami();
    let hosts = format!("127.0.0.[1-{n}]");

    let secsh = |argv: &[&str]| secsh_fleet(&server, &format!("{USER}@{hosts}:{port}"), argv, 32);
    let pdsh = |argv: &[&str]| {
        let mut c = Command::new("pdsh");
        c.args(["-R", "ssh", "-f", "32", "-l", &user, "-w", &hosts])
            .env("PDSH_SSH_ARGS", format!("{} -l %u %h", ssh_args.join(" ")))
            .args(argv);
        c
    };
    let host_list: Vec<String> = addrs.iter().map(|a| format!("{a}:{ssh_port}")).collect();
    let pssh = |argv: &[&str]| {
        let mut c = Command::new("parallel-ssh");
        c.args([
            "-p",
            "32",
            "-t",
            "0",
            "-l",
            &user,
            "-H",
            &host_list.join(" "),
        ])
        .args(["-x", &ssh_args[..ssh_args.len() - 2].join(" ")])
        .args(argv);
        c
    };

    // Ansible ad-hoc (`-m raw`, no Python on the hosts needed), when
    // benches/run.sh installed it; its default ControlPersist is turned
    // off so that every tool opens fresh connections.
    let ansible = std::path::PathBuf::from("target/ansible-venv/bin/ansible");
    let inventory = tmp.join("fleet-inventory.ini");
    std::fs::write(
        &inventory,
        format!(
            "[fleet]\n{}\n[fleet:vars]\nansible_port={ssh_port}\nansible_user={user}\n\
             ansible_ssh_private_key_file={}\nansible_ssh_common_args='{}'\n",
            addrs.join("\n"),
            key.display(),
            // `-F /dev/null` and the `-o` options; key and port are
            // inventory variables.
            [&ssh_args[..2], &ssh_args[4..ssh_args.len() - 2]]
                .concat()
                .join(" ")
        ),
    )
    .unwrap();
    let ansible_cmd = |argv: &[&str]| {
        let mut c = Command::new(&ansible);
        c.args(["fleet", "-i"])
            .arg(&inventory)
            .args(["-m", "raw", "-f", "32", "-a", &argv.join(" ")])
            .env("ANSIBLE_SSH_ARGS", "")
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("LC_ALL", "C.UTF-8")
            .env("ANSIBLE_LOCAL_TEMP", tmp.join("ansible-tmp"));
        c
    };
    let with_ansible = ansible.exists();

    let mut rows = Vec::new();
    for argv in [&["true"][..], &["uname", "-a"][..]] {
        let shown = argv.join(" ");
        progress(&format!("fleet of {n}: `{shown}` x {}", p.fleet_rounds));
        let (mut a, mut b, mut c, mut d) = (vec![], vec![], vec![], vec![]);
        let mut fails = [0; 4];
        for _ in 0..p.fleet_rounds {
            let mut runs = vec![
                (secsh(argv), &mut a),
                (pdsh(argv), &mut b),
                (pssh(argv), &mut c),
            ];
            if with_ansible {
                runs.push((ansible_cmd(argv), &mut d));
            }
            for (k, (mut cmd, out)) in runs.into_iter().enumerate() {
                let (secs, ok, _) = run(&mut cmd);
                fails[k] += usize::from(!ok);
                out.push(secs);
            }
        }
        let mut others = vec![
            ("pdsh -R ssh", &b, fails[1]),
            ("parallel-ssh", &c, fails[2]),
        ];
        if with_ansible {
            others.push(("ansible -m raw", &d, fails[3]));
        }
        for (other, v, f) in others {
            rows.push(Row {
                name: format!("fleet of {n}, `{shown}`, parallel 32, vs {other} (s; failed runs)"),
                secsh: format!("{:.2}; {}", median(&a), fails[0]),
                ssh: format!("{:.2}; {f}", median(v)),
                ratio: pairs(&a, v),
                target: match (other, shown.as_str()) {
                    ("pdsh -R ssh", "true") => "<= 0.2, 0 failures",
                    ("ansible -m raw", "true") => "<= 0.1",
                    _ => "",
                },
            });
        }
    }
    drop(sshds);
    drop(server);

    // Many hosts, secsh alone: 250 addresses times `p.big_ports` ports on
    // one secshd, which stands in for every host (the bench's daemons raise
    // the per-user and unauthenticated limits each host would apply on its
    // own).
    let hosts = 250 * p.big_ports;
    progress(&format!("fleet of {hosts} (secsh alone)"));
    let ports: Vec<u16> = (0..p.big_ports).map(|_| free_port()).collect();
    let ips: Vec<std::net::IpAddr> = (1..=250)
        .map(|i| format!("127.0.1.{i}").parse().unwrap())
        .collect();
    let listen: Vec<String> = ips
        .iter()
        .flat_map(|ip| ports.iter().map(move |p| format!("{ip}:{p}")))
        .collect();
    let big = Secshd::start_on(&tmp.join("fleet-big"), &ips, &listen);
    let targets: Vec<String> = ports
        .iter()
        .map(|p| format!("{USER}@127.0.1.[1-250]:{p}"))
        .collect();
    let mut line = String::from(
        "\n| secsh alone | wall time | client peak RSS | client peak open files | target |\n\
         | --- | ---: | ---: | ---: | --- |",
    );
    for parallel in p.big_parallel {
        let mut cmd = secsh_fleet(&big, &targets.join(","), &["true"], *parallel);
        let (secs, ok, peak, fds) = run_counted(&mut cmd);
        line += &format!(
            "\n| fleet of {hosts} hosts, `true`, parallel {parallel} | {secs:.2} s, {} | {:.1} MB | {fds} | {} |",
            if ok { "all ok" } else { "FAILED" },
            peak as f64 / 1024.0,
            if hosts >= 10_000 && *parallel == 256 {
                "0 failures in <= 20 s, < 200 MB"
            } else {
                "completes, < 200 MB"
            }
        );
    }
    (rows, line)
}
