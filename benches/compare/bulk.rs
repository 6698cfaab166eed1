//! Bulk streams through a command: download (`head -c N /dev/zero` on the
//! server into /dev/null here) and upload (a local pipe into `cat >
//! /dev/null` there), wall time and CPU seconds of client and server
//! together, alternating secsh and ssh each round. The download is also
//! measured against a daemon with `[audit] output_hashes = false`, to show
//! what the audit record's BLAKE3 of the output costs, and with
//! `--resume-on-drop`, to show what the spool on disk a resumable run
//! goes through costs (ssh has nothing that survives a drop; its row is
//! the plain download).

use super::cpu::Meter;
use super::scenarios::{download, median, upload};
use super::secsh_side::Secshd;
use super::sshd::Sshd;
use super::{pairs, Plan, Row, MIB};

/// Rows for download and upload: MB/s and MB per CPU-second.
/// `unhashed`: a daemon that keeps no BLAKE3 of command output.
pub fn rows(server: &Secshd, unhashed: &Secshd, ssh: &Sshd, p: &Plan) -> Vec<Row> {
    let mb = |secs: f64| p.bulk_bytes as f64 / secs / 1e6;
    let mut rows = Vec::new();
    let cases: [(_, _, _, _, &[&str], _); 4] = [
        ("download", true, server, "", &[], ">= 2"),
        ("upload", false, server, "", &[], ">= 2"),
        (
            "download",
            true,
            unhashed,
            ", output_hashes = false",
            &[],
            "",
        ),
        (
            "download",
            true,
            server,
            ", --resume-on-drop",
            &["--resume-on-drop"],
            "",
        ),
    ];
    for (label, down, server, note, opts, target) in cases {
        super::progress(&format!(
            "{label} {} MiB{note} x {}",
            p.bulk_bytes / MIB,
            p.bulk_rounds
        ));
        let (mut a, mut b, mut ca, mut cb) = (vec![], vec![], vec![], vec![]);
        for _ in 0..p.bulk_rounds {
            let m = Meter::start(server.pid());
            let s = if down {
                download(server.command_with(opts), p.bulk_bytes)
            } else {
                let sink = ["/bin/sh", "-c", "cat > /dev/null"];
                upload(server.command_with(opts), p.bulk_bytes, &sink)
            };
            let sc = m.stop();
            let m = Meter::start(ssh.pid());
            let o = if down {
                download(ssh.command(false), p.bulk_bytes)
            } else {
                upload(ssh.command(false), p.bulk_bytes, &["cat > /dev/null"])
            };
            let oc = m.stop();
            assert!(
                s.1 && o.1,
                "{label} failed (secsh ok={}, ssh ok={})",
                s.1,
                o.1
            );
            a.push(mb(s.0));
            b.push(mb(o.0));
            ca.push(p.bulk_bytes as f64 / 1e6 / sc.total());
            cb.push(p.bulk_bytes as f64 / 1e6 / oc.total());
        }
        rows.push(Row {
            name: format!("{label} {} MiB{note} (MB/s)", p.bulk_bytes / MIB),
            secsh: format!("{:.0}", median(&a)),
            ssh: format!("{:.0}", median(&b)),
            ratio: pairs(&a, &b),
            target,
        });
        rows.push(Row {
            name: format!(
                "{label} {} MiB{note} (MB per CPU-second, both ends)",
                p.bulk_bytes / MIB
            ),
            secsh: format!("{:.0}", median(&ca)),
            ssh: format!("{:.0}", median(&cb)),
            ratio: pairs(&ca, &cb),
            target,
        });
    }
    rows
}
