//! The end of every fleet run on stderr: a table (host, status, exit,
//! duration, bytes) when stderr is a terminal tall enough for it, then
//! always one count line and the failed hosts with why.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{presets, Cell, ContentArrangement, Table};

use crate::client::fleet::{HostResult, Status};

/// The terminal's rows on stderr, if it is one.
fn terminal_rows() -> Option<usize> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the struct we pass; fd 2 is ours.
    let r = unsafe { nix::libc::ioctl(2, nix::libc::TIOCGWINSZ, &mut ws) };
    Some(if r == 0 && ws.ws_row > 0 {
        ws.ws_row as usize
    } else {
        24
    })
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn exit_cell(s: &Status) -> String {
    match s {
        Status::Ok => "0".into(),
        Status::Failed(c) => c.to_string(),
        Status::Signalled(sig) => format!("sig {sig}"),
        _ => "-".into(),
    }
}

/// Print the summary of `results` to stderr. Host names (from an
/// inventory) and reasons (a server's messages) are shown escaped.
pub fn print(results: &[HostResult], elapsed: Duration) {
    use crate::logtext::visible;
    let mut out = String::new();
    if terminal_rows().is_some_and(|rows| results.len() + 8 <= rows) {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(["host", "status", "exit", "duration", "bytes"]);
        for r in results {
            let label = if r.label == r.address {
                visible(&r.label).into_owned()
            } else {
                format!("{} ({})", visible(&r.label), visible(&r.address))
            };
            t.add_row([
                Cell::new(label),
                Cell::new(r.status.word()),
                Cell::new(exit_cell(&r.status)),
                Cell::new(format!("{:.2} s", r.duration.as_secs_f64())),
                Cell::new(bytes(r.stdout_bytes + r.stderr_bytes)),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *counts.entry(r.status.word()).or_default() += 1;
    }
    let ok = counts.remove("ok").unwrap_or(0);
    let mut parts = vec![format!("{ok} ok")];
    parts.extend(counts.iter().map(|(w, n)| format!("{n} {w}")));
    out.push_str(&format!(
        "{} host{}: {} ({:.1} s)\n",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        parts.join(", "),
        elapsed.as_secs_f64()
    ));
    let failed: Vec<&HostResult> = results.iter().filter(|r| r.status != Status::Ok).collect();
    if !failed.is_empty() {
        out.push_str("failed hosts:");
        for r in &failed {
            out.push_str(&format!(" {} ({})", visible(&r.label), r.status));
        }
        out.push('\n');
        for r in failed.iter().filter(|r| r.error.is_some()).take(20) {
            let e = visible(r.error.as_deref().unwrap_or_default());
            out.push_str(&format!("  {}: {} ({e})\n", visible(&r.label), r.status));
        }
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}
