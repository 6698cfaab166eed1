//! The same scenarios over a long link: a delay proxy ([`WanProxy`]) in
//! front of secshd and of sshd adds a fixed one-way delay each way (25 ms
//! and 50 ms: 50 and 100 ms round trips). Rows: `true` (wall time, and in
//! round trips), a bulk download and an upload, each beside ssh through
//! an identical proxy and beside the raw rate of the link (a plain TCP
//! stream through a third one), which is the ceiling.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scenarios::{download, median, time, upload};
use super::secsh_side::{Secshd, SECSH, USER};
use super::sshd::Sshd;
use super::wanproxy::WanProxy;
use super::{pairs, Plan, Row, MIB};

/// MB/s of a plain TCP stream of `bytes` through `proxy`'s link from a
/// local sender.
async fn raw_rate(delay: Duration, bytes: u64) -> f64 {
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = sink.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut c, _)) = sink.accept().await {
            let buf = vec![0u8; MIB as usize];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(MIB);
                if c.write_all(&buf[..n as usize]).await.is_err() {
                    return;
                }
                left -= n;
            }
        }
    });
    let proxy = WanProxy::start(upstream, delay, None).await.unwrap();
    let start = Instant::now();
    let mut c = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let mut got = 0u64;
    while let Ok(n) = c.read(&mut buf).await {
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    got as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// Hosts in the fleet row, and the parallelism.
const FLEET: usize = 100;
const FLEET_PARALLEL: usize = 32;

/// `true` on 100 targets at parallelism 32, each its own delay proxy in
/// front of the one daemon (secsh) or sshd (`pdsh -R ssh`): seconds.
fn fleet_row(
    rt: &tokio::runtime::Runtime,
    server: &Secshd,
    ssh: &Sshd,
    delay: Duration,
    tag: &str,
    p: &Plan,
) -> Row {
    let ssh_addr = SocketAddr::from(([127, 0, 0, 1], ssh.port));
    let (sp, hp): (Vec<WanProxy>, Vec<WanProxy>) = rt.block_on(async {
        let mut sp = Vec::new();
        let mut hp = Vec::new();
        for _ in 0..FLEET {
            sp.push(WanProxy::start(server.addr, delay, None).await.unwrap());
            hp.push(WanProxy::start(ssh_addr, delay, None).await.unwrap());
        }
        (sp, hp)
    });
    let targets: Vec<String> = sp.iter().map(|x| format!("{USER}@{}", x.addr)).collect();
    let ports: Vec<u16> = hp.iter().map(|x| x.addr.port()).collect();
    let cfg =
        std::env::temp_dir().join(format!("secsh-bench-wan-{}.ssh_config", std::process::id()));
    super::progress(&format!(
        "{tag}: fleet of {FLEET} `true` x {}",
        p.wan_rounds.min(3)
    ));
    let (mut a, mut b, mut fails) = (vec![], vec![], [0usize; 2]);
    for _ in 0..p.wan_rounds.min(3) {
        let mut c = std::process::Command::new(SECSH);
        c.arg("--cert")
            .arg(server.ca())
            .arg("-i")
            .arg(server.key_file())
            .args([
                "--parallel",
                &FLEET_PARALLEL.to_string(),
                &targets.join(","),
                "--",
                "true",
            ])
            .env_remove("SSH_AUTH_SOCK");
        let (s, ok1) = time(&mut c);
        let mut c = ssh.pdsh_ports(&ports, FLEET_PARALLEL, &cfg);
        c.arg("true");
        let (o, ok2) = time(&mut c);
        fails[0] += usize::from(!ok1);
        fails[1] += usize::from(!ok2);
        a.push(s);
        b.push(o);
    }
    let _ = std::fs::remove_file(&cfg);
    Row {
        name: format!("{tag}: fleet of {FLEET} `true`, parallel {FLEET_PARALLEL}, vs pdsh -R ssh (s; failed runs)"),
        secsh: format!("{:.2}; {}", median(&a), fails[0]),
        ssh: format!("{:.2}; {}", median(&b), fails[1]),
        ratio: pairs(&a, &b),
        target: "",
    }
}

/// Rows for one-way delays of 25 and 50 ms.
pub fn rows(server: &Secshd, ssh: &Sshd, p: &Plan) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ssh_addr = SocketAddr::from(([127, 0, 0, 1], ssh.port));
    let mut rows = Vec::new();
    for one_way in [25u64, 50] {
        let delay = Duration::from_millis(one_way);
        let rtt = 2.0 * delay.as_secs_f64();
        let (sp, hp) = rt.block_on(async {
            let sp = WanProxy::start(server.addr, delay, None).await.unwrap();
            let hp = WanProxy::start(ssh_addr, delay, None).await.unwrap();
            (sp, hp)
        });
        let tag = format!("{} ms RTT", 2 * one_way);
        super::progress(&format!("{tag}: `true` x {}", p.wan_rounds));
        let (mut a, mut b) = (vec![], vec![]);
        for _ in 0..p.wan_rounds {
            let mut c = server.command_via(sp.addr);
            c.arg("true");
            let (s, ok1) = time(&mut c);
            let mut c = ssh.command_via(hp.addr.port());
            c.arg("true");
            let (o, ok2) = time(&mut c);
            assert!(ok1 && ok2, "a `true` over the delay proxy failed");
            a.push(s);
            b.push(o);
        }
        rows.push(Row {
            name: format!("{tag}: `true` (ms; round trips)"),
            secsh: format!("{:.0}; {:.1}", median(&a) * 1e3, median(&a) / rtt),
            ssh: format!("{:.0}; {:.1}", median(&b) * 1e3, median(&b) / rtt),
            ratio: pairs(&a, &b),
            target: "<= 0.5",
        });
        let bytes = p.wan_bytes;
        let raw = rt.block_on(raw_rate(delay, bytes));
        let mb = |secs: f64| bytes as f64 / secs / 1e6;
        for (label, down) in [("download", true), ("upload", false)] {
            super::progress(&format!("{tag}: {label} {} MiB", bytes / MIB));
            let (mut a, mut b) = (vec![], vec![]);
            for _ in 0..p.wan_rounds.min(2) {
                let sink = ["/bin/sh", "-c", "cat > /dev/null"];
                let s = if down {
                    download(server.command_via(sp.addr), bytes)
                } else {
                    upload(server.command_via(sp.addr), bytes, &sink)
                };
                let o = if down {
                    download(ssh.command_via(hp.addr.port()), bytes)
                } else {
                    upload(ssh.command_via(hp.addr.port()), bytes, &["cat > /dev/null"])
                };
                assert!(s.1 && o.1, "{label} over the delay proxy failed");
                a.push(mb(s.0));
                b.push(mb(o.0));
            }
            rows.push(Row {
                name: format!(
                    "{tag}: {label} {} MiB (MB/s; share of the raw link, {raw:.0} MB/s)",
                    bytes / MIB
                ),
                secsh: format!("{:.0}; {:.2}", median(&a), median(&a) / raw),
                ssh: format!("{:.0}; {:.2}", median(&b), median(&b) / raw),
                ratio: pairs(&a, &b),
                target: if down && one_way == 50 {
                    ">= 0.5 of raw"
                } else {
                    ""
                },
            });
        }
        rows.push(fleet_row(&rt, server, ssh, delay, &tag, p));
        // The most bytes kept in flight each way: what the windows allowed
        // (secsh's output window grows on a long link; its stdin window is
        // the server's fixed `stdin_window_kib`).
        let mib = |n: u64| n as f64 / MIB as f64;
        rows.push(Row {
            name: format!("{tag}: most in flight, to client; to server (MiB)"),
            secsh: format!("{:.0}; {:.0}", mib(sp.down.max()), mib(sp.up.max())),
            ssh: format!("{:.0}; {:.0}", mib(hp.down.max()), mib(hp.up.max())),
            ratio: sp.down.max() as f64 / hp.down.max().max(1) as f64,
            target: "",
        });
    }
    rows
}
