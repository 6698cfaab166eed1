//! File transfer: `secsh put`/`get` against `scp` (SFTP protocol,
//! OpenSSH's default), `sftp -b` and `rsync -e ssh`, for one large file
//! of random bytes and for many small ones; whole client processes, tools
//! alternating each round, wall time and CPU seconds of both ends.
//!
//! Integrity each tool checks by default: secsh hashes both ends with
//! BLAKE3, fsyncs and renames into place (a partial never replaces a
//! file); rsync compares a whole-file checksum after the transfer and
//! renames a temporary into place; scp and sftp rely on the SSH channel's
//! MAC only and write in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cpu::Meter;
use super::scenarios::{median, time};
use super::secsh_side::Secshd;
use super::sshd::Sshd;
use super::{pairs, Row, MIB};

/// A file of `n` pseudo-random bytes (incompressible, not all-zero).
fn random_file(p: &Path, n: u64, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
    let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ seed;
    let mut left = n;
    let mut block = vec![0u8; MIB.min(n.max(8)) as usize];
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

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Secsh,
    Scp,
    Sftp,
    Rsync,
}

const OTHERS: [(Tool, &str); 3] = [
    (Tool::Scp, "scp"),
    (Tool::Sftp, "sftp -b"),
    (Tool::Rsync, "rsync -e ssh"),
];

/// Where each tool's files go on the "server" and come back to here.
struct Place {
    remote: PathBuf,
    back: PathBuf,
}

struct Ctx<'a> {
    server: &'a Secshd,
    ssh: &'a Sshd,
    tmp: &'a Path,
}

impl Ctx<'_> {
    fn place(&self, tool: Tool) -> Place {
        let name = match tool {
            Tool::Secsh => "secsh",
            Tool::Scp => "scp",
            Tool::Sftp => "sftp",
            Tool::Rsync => "rsync",
        };
        let remote = match tool {
            Tool::Secsh => self.server.files().join("in"),
            _ => self.tmp.join(format!("{name}-remote")),
        };
        let back = self.tmp.join(format!("{name}-back"));
        for d in [&remote, &back] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
        }
        Place { remote, back }
    }

    fn sftp(&self, batch: &str) -> Command {
        let path = self.tmp.join("batch.sftp");
        std::fs::write(&path, batch).unwrap();
        self.ssh.sftp(&path)
    }

    /// Send `files` into `place.remote`.
    fn put(&self, tool: Tool, files: &[PathBuf], place: &Place) -> Command {
        let dir = place.remote.display();
        match tool {
            Tool::Secsh => {
                let mut c = self.server.transfer("put");
                c.arg("--no-progress").args(files);
                c.arg(self.server.remote(&place.remote).to_string() + "/");
                c
            }
            Tool::Scp => {
                let mut c = self.ssh.scp();
                c.args(files).arg(self.ssh.remote(&place.remote));
                c
            }
            Tool::Sftp => {
                let src = if files.len() == 1 {
                    files[0].display().to_string()
                } else {
                    format!("{}/*", files[0].parent().unwrap().display())
                };
                self.sftp(&format!("put {src} {dir}/\n"))
            }
            Tool::Rsync => {
                let mut c = self.ssh.rsync();
                c.args(files).arg(self.ssh.remote(&place.remote) + "/");
                c
            }
        }
    }

    /// Fetch `names` from `place.remote` into `place.back`.
    fn get(&self, tool: Tool, names: &[String], place: &Place) -> Command {
        let back = &place.back;
        match tool {
            Tool::Secsh => {
                let mut c = self.server.transfer("get");
                c.arg("--no-progress");
                for n in names {
                    c.arg(self.server.remote(&place.remote.join(n)));
                }
                c.arg(back);
                c
            }
            Tool::Scp => {
                let mut c = self.ssh.scp();
                c.arg(self.ssh.remote(&place.remote.join("*"))).arg(back);
                c
            }
            Tool::Sftp => {
                let batch = format!("get {}/* {}/\n", place.remote.display(), back.display());
                self.sftp(&batch)
            }
            Tool::Rsync => {
                let mut c = self.ssh.rsync();
                c.arg("-r")
                    .arg(self.ssh.remote(&place.remote) + "/")
                    .arg(format!("{}/", back.display()));
                c
            }
        }
    }

    fn server_pid(&self, tool: Tool) -> u32 {
        if tool == Tool::Secsh {
            self.server.pid()
        } else {
            self.ssh.pid()
        }
    }
}

/// One timed run: (MB/s, MB per CPU-second). Each starts with no dirty
/// page cache (an untimed `sync` first): scp, sftp and rsync leave their
/// files to be written back later, and without it the next run, whichever
/// tool it is, would pay for that writeback (and secsh's fsync would wait
/// behind it), which a user running one command on a quiet host does not.
fn run(ctx: &Ctx, tool: Tool, mut cmd: Command, bytes: u64, what: &str) -> (f64, f64) {
    nix::unistd::sync();
    let m = Meter::start(ctx.server_pid(tool));
    let (secs, ok) = time(&mut cmd);
    let cpu = m.stop();
    assert!(ok, "{what} failed: {cmd:?}");
    let mb = bytes as f64 / 1e6;
    (mb / secs, mb / cpu.total())
}

/// Rows for put and get of `count` files of `size` bytes against each
/// other tool, `rounds` times.
pub fn transfers(
    server: &Secshd,
    ssh: &Sshd,
    tmp: &Path,
    (count, size): (usize, u64),
    rounds: usize,
) -> Vec<Row> {
    let ctx = Ctx { server, ssh, tmp };
    let src = tmp.join(format!("src-{count}"));
    std::fs::create_dir_all(&src).unwrap();
    let names: Vec<String> = (0..count).map(|i| format!("f{i:05}.bin")).collect();
    let files: Vec<PathBuf> = names.iter().map(|n| src.join(n)).collect();
    for (i, f) in files.iter().enumerate() {
        random_file(f, size, i as u64);
    }
    let total = count as u64 * size;
    let label = if count == 1 {
        format!("{} MiB file", size / MIB)
    } else {
        format!("{count} files of {} KiB", size / 1024)
    };
    let tools = [Tool::Secsh, Tool::Scp, Tool::Sftp, Tool::Rsync];
    // [tool][put, get][MB/s, MB/CPU-s] per round
    let mut r = vec![[[vec![], vec![]], [vec![], vec![]]]; tools.len()];
    for _ in 0..rounds {
        for (k, &tool) in tools.iter().enumerate() {
            let place = ctx.place(tool);
            let (s, c) = run(&ctx, tool, ctx.put(tool, &files, &place), total, "put");
            r[k][0][0].push(s);
            r[k][0][1].push(c);
            let (s, c) = run(&ctx, tool, ctx.get(tool, &names, &place), total, "get");
            r[k][1][0].push(s);
            r[k][1][1].push(c);
            let back = std::fs::read_dir(&place.back).unwrap().count();
            assert_eq!(back, count, "every file came back");
        }
    }
    let _ = std::fs::remove_dir_all(&src);
    let target = |tool: Tool| match (tool, count) {
        (Tool::Rsync, 1) => ">= 1.5",
        (_, 1) => ">= 2",
        (Tool::Scp, _) => ">= 3",
        _ => "",
    };
    let mut rows = Vec::new();
    for (dir, verb) in ["put", "get"].iter().enumerate() {
        for (k, (tool, name)) in OTHERS.iter().enumerate() {
            let (a, b) = (&r[0][dir][0], &r[k + 1][dir][0]);
            rows.push(Row {
                name: format!("{verb} {label} vs {name} (MB/s)"),
                secsh: format!("{:.0}", median(a)),
                ssh: format!("{:.0}", median(b)),
                ratio: pairs(a, b),
                target: target(*tool),
            });
        }
        let (a, b) = (&r[0][dir][1], &r[1][dir][1]);
        rows.push(Row {
            name: format!("{verb} {label} vs scp (MB per CPU-second, both ends)"),
            secsh: format!("{:.0}", median(a)),
            ssh: format!("{:.0}", median(b)),
            ratio: pairs(a, b),
            target: "",
        });
    }
    rows
}
