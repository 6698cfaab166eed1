//! Output of a run over several hosts: lines prefixed `host: ` as they
//! arrive (stdout and stderr apart, a partial line never split), or
//! `--group` (each distinct output once, under its hosts), or `--json`
//! (JSON Lines, one object per host, then a summary), or `--out-dir`
//! (files per host plus `hosts.ok` and `hosts.failed`); and always the
//! summary on stderr: a table on a terminal when it fits, then a count and
//! the failed hosts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::client::fleet::{HostResult, Sink, Status};
use crate::proto::Stream;

/// Output kept per host and stream in the gathering modes; beyond it the
/// rest is dropped and the record says so.
const KEEP: usize = 16 * 1024 * 1024;

/// How output is shown.
pub enum Mode {
    /// Prefixed lines as they arrive.
    Stream,
    /// Gathered, identical outputs merged.
    Group,
    /// JSON Lines.
    Json,
    /// Files in a directory.
    OutDir(PathBuf),
}

#[derive(Default)]
struct Host {
    /// Stream mode: the unfinished line; gathering modes: everything.
    buf: [Vec<u8>; 2],
    truncated: bool,
    files: [Option<std::fs::File>; 2],
}

/// The fleet run's output.
pub struct Output {
    mode: Mode,
    labels: Vec<String>,
    hosts: Mutex<Vec<Host>>,
    /// Finished hosts' gathered output (group mode).
    done: Mutex<Vec<(usize, [Vec<u8>; 2])>>,
}

fn idx(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

/// A file-name-safe form of a host label.
pub(crate) fn file_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-:@[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_out(stream: usize, bytes: &[u8]) {
    // One write per line (or block): lines of different hosts never mix.
    let _ = match stream {
        1 => std::io::stderr().lock().write_all(bytes),
        _ => std::io::stdout().lock().write_all(bytes),
    };
}

impl Output {
    /// Output for hosts named `labels` (in target order).
    pub fn new(mode: Mode, labels: Vec<String>) -> std::io::Result<Self> {
        if let Mode::OutDir(d) = &mode {
            std::fs::create_dir_all(d)?;
        }
        let hosts = (0..labels.len()).map(|_| Host::default()).collect();
        Ok(Self {
            mode,
            labels,
            hosts: Mutex::new(hosts),
            done: Mutex::new(Vec::new()),
        })
    }

    fn prefixed(&self, host: usize, line: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(line.len() + self.labels[host].len() + 3);
        v.extend_from_slice(self.labels[host].as_bytes());
        v.extend_from_slice(b": ");
        v.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            v.push(b'\n');
        }
        v
    }
}

impl Sink for Output {
    fn output(&self, host: usize, stream: Stream, data: &[u8]) {
        let s = idx(stream);
        let mut hosts = self.hosts.lock().expect("output lock");
        let h = &mut hosts[host];
        match &self.mode {
            Mode::Stream => {
                h.buf[s].extend_from_slice(data);
                if let Some(end) = h.buf[s].iter().rposition(|b| *b == b'\n') {
                    let rest = h.buf[s].split_off(end + 1);
                    let lines = std::mem::replace(&mut h.buf[s], rest);
                    let mut out = Vec::with_capacity(lines.len() * 2);
                    for line in lines.split_inclusive(|b| *b == b'\n') {
                        out.extend(self.prefixed(host, line));
                    }
                    write_out(s, &out);
                }
            }
            Mode::Group | Mode::Json => {
                let room = KEEP.saturating_sub(h.buf[s].len());
                h.truncated |= data.len() > room;
                h.buf[s].extend_from_slice(&data[..data.len().min(room)]);
            }
            Mode::OutDir(dir) => {
                if h.files[s].is_none() {
                    let ext = if s == 1 { "stderr" } else { "stdout" };
                    let p = dir.join(format!("{}.{ext}", file_name(&self.labels[host])));
                    h.files[s] = std::fs::File::create(p).ok();
                }
                if let Some(f) = h.files[s].as_mut() {
                    let _ = f.write_all(data);
                }
            }
        }
    }

    fn finished(&self, r: &HostResult) {
        let mut hosts = self.hosts.lock().expect("output lock");
        let h = std::mem::take(&mut hosts[r.index]);
        drop(hosts);
        match &self.mode {
            Mode::Stream => {
                for (s, rest) in h.buf.iter().enumerate() {
                    if !rest.is_empty() {
                        write_out(s, &self.prefixed(r.index, rest));
                    }
                }
                if let (Some(job), 0) = (&r.job, r.stdout_bytes + r.stderr_bytes) {
                    let line = format!("job {}\n", crate::logtext::visible(job));
                    write_out(0, &self.prefixed(r.index, line.as_bytes()));
                }
            }
            Mode::Json => {
                let mut line = serde_json::to_vec(&json_record(r, &h)).unwrap_or_default();
                line.push(b'\n');
                write_out(0, &line);
            }
            Mode::Group => self.done.lock().expect("done lock").push((r.index, h.buf)),
            Mode::OutDir(dir) => {
                let base = file_name(&self.labels[r.index]);
                for (s, ext) in ["stdout", "stderr"].iter().enumerate() {
                    if h.files[s].is_none() {
                        let _ = std::fs::write(dir.join(format!("{base}.{ext}")), b"");
                    }
                }
                let status = format!("{}\n", json_record(r, &Host::default()));
                let _ = std::fs::write(dir.join(format!("{base}.status")), status);
                if let Some(job) = &r.job {
                    let _ = std::fs::write(dir.join(format!("{base}.job")), format!("{job}\n"));
                }
            }
        }
    }
}

fn text_or_base64(bytes: &[u8]) -> (serde_json::Value, serde_json::Value) {
    match std::str::from_utf8(bytes) {
        Ok(t) => (t.into(), serde_json::Value::Null),
        Err(_) => (
            serde_json::Value::Null,
            <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes).into(),
        ),
    }
}

fn json_record(r: &HostResult, h: &Host) -> serde_json::Value {
    let (code, signal) = match r.status {
        Status::Ok => (Some(0), None),
        Status::Failed(c) => (Some(c), None),
        Status::Signalled(s) => (None, Some(s)),
        _ => (None, None),
    };
    let (stdout, stdout_b64) = text_or_base64(&h.buf[0]);
    let (stderr, stderr_b64) = text_or_base64(&h.buf[1]);
    serde_json::json!({
        "host": r.label,
        "address": r.address,
        "status": r.status.word(),
        "exit_code": code,
        "signal": signal,
        "stdout": stdout,
        "stdout_base64": stdout_b64,
        "stderr": stderr,
        "stderr_base64": stderr_b64,
        "output_truncated": h.truncated,
        "stdout_bytes": r.stdout_bytes,
        "stderr_bytes": r.stderr_bytes,
        "commands": r.commands,
        "duration_ms": r.duration.as_millis() as u64,
        "error": r.error,
        "job": r.job,
    })
}

impl Output {
    /// After the run: grouped output, out-dir lists, JSON summary, and the
    /// summary on stderr.
    pub fn finish(&self, results: &[HostResult], code: i32, elapsed: Duration) {
        let ok: Vec<&HostResult> = results.iter().filter(|r| r.status == Status::Ok).collect();
        let failed: Vec<&HostResult> = results.iter().filter(|r| r.status != Status::Ok).collect();
        match &self.mode {
            Mode::Group => self.print_groups(results),
            Mode::OutDir(dir) => {
                let list = |v: &[&HostResult]| {
                    v.iter()
                        .map(|r| format!("{}\n", r.label))
                        .collect::<String>()
                };
                let _ = std::fs::write(dir.join("hosts.ok"), list(&ok));
                let _ = std::fs::write(dir.join("hosts.failed"), list(&failed));
            }
            Mode::Json => {
                let mut counts = BTreeMap::new();
                for r in results {
                    *counts.entry(r.status.word()).or_insert(0usize) += 1;
                }
                let summary = serde_json::json!({
                    "summary": {
                        "hosts": results.len(),
                        "counts": counts,
                        "failed": failed.iter().map(|r| &r.label).collect::<Vec<_>>(),
                        "exit_code": code,
                        "duration_ms": elapsed.as_millis() as u64,
                    }
                });
                write_out(0, format!("{summary}\n").as_bytes());
            }
            Mode::Stream => {}
        }
        super::fleet_summary::print(results, elapsed);
    }

    fn print_groups(&self, results: &[HostResult]) {
        let mut done = std::mem::take(&mut *self.done.lock().expect("done lock"));
        done.sort_by_key(|(i, _)| *i);
        // Same stdout, stderr and status: one group.
        type Key = ([Vec<u8>; 2], String);
        let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
        for (i, bufs) in done {
            let key = (bufs, results[i].status.to_string());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        for ((bufs, status), members) in groups {
            let names: Vec<&str> = members.iter().map(|i| self.labels[*i].as_str()).collect();
            let head = format!(
                "----- {} ({} host{}): {status} -----\n",
                names.join(","),
                names.len(),
                if names.len() == 1 { "" } else { "s" }
            );
            write_out(0, head.as_bytes());
            write_out(0, &bufs[0]);
            if !bufs[1].is_empty() {
                write_out(1, head.as_bytes());
                write_out(1, &bufs[1]);
            }
        }
    }
}
