//! `secsh put`/`get` against `scp` (SFTP protocol, OpenSSH's default) for
//! one file of random bytes, whole client processes, alternating. secsh
//! hashes both ends with SHA-256, fsyncs and renames; scp does neither, so
//! the ratio is what an operator pays (or saves) for the guarantees.

use std::path::Path;

use super::scenarios::{median, time};
use super::secsh_side::Secshd;
use super::sshd::Sshd;
use super::{pairs, Row, MIB};

/// A file of `n` pseudo-random bytes (incompressible, not all-zero).
fn random_file(p: &Path, n: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut left = n;
    let mut block = vec![0u8; MIB as usize];
    while left > 0 {
        for c in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let k = left.min(block.len() as u64) as usize;
        f.write_all(&block[..k]).unwrap();
        left -= k as u64;
    }
}

/// Rows for put and get of `bytes`, `rounds` times each.
pub fn put_get(server: &Secshd, ssh: &Sshd, tmp: &Path, bytes: u64, rounds: usize) -> Vec<Row> {
    let src = tmp.join("bulk.bin");
    random_file(&src, bytes);
    let (remote_secsh, remote_ssh) = (server.files().join("up.bin"), tmp.join("scp-up.bin"));
    let (back_secsh, back_ssh) = (tmp.join("secsh-back.bin"), tmp.join("scp-back.bin"));
    let mb = |secs: f64| bytes as f64 / secs / 1e6;
    let (mut pa, mut pb, mut ga, mut gb) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (s, ok1) = time(
            server
                .transfer("put")
                .arg(&src)
                .arg(server.remote(&remote_secsh)),
        );
        let (o, ok2) = time(ssh.scp().arg(&src).arg(ssh.remote(&remote_ssh)));
        assert!(ok1 && ok2, "put failed (secsh ok={ok1}, scp ok={ok2})");
        pa.push(mb(s));
        pb.push(mb(o));
        let (s, ok1) = time(
            server
                .transfer("get")
                .arg(server.remote(&remote_secsh))
                .arg(&back_secsh),
        );
        let (o, ok2) = time(ssh.scp().arg(ssh.remote(&remote_ssh)).arg(&back_ssh));
        assert!(ok1 && ok2, "get failed (secsh ok={ok1}, scp ok={ok2})");
        ga.push(mb(s));
        gb.push(mb(o));
        for p in [&remote_ssh, &back_secsh, &back_ssh] {
            let _ = std::fs::remove_file(p);
        }
    }
    let _ = std::fs::remove_file(&src);
    let row = |what: &str, a: &[f64], b: &[f64]| Row {
        name: format!("{what} {} MiB file vs scp (MB/s)", bytes / MIB),
        secsh: format!("{:.0}", median(a)),
        ssh: format!("{:.0}", median(b)),
        ratio: pairs(a, b),
        target: ">= 1.0 (secsh hashes and fsyncs)",
    };
    vec![row("put", &pa, &pb), row("get", &ga, &gb)]
}
