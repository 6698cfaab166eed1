//! Bar charts of a run as SVG files, for docs/BENCHMARKS.md: each row of
//! the report becomes a pair of bars (secsh and the tool it is compared
//! with), grouped into one chart per unit. Written by hand: horizontal
//! bars and text are all these charts need, and a plotting crate would
//! bring a font stack with it.

use std::fmt::Write;
use std::path::Path;

use super::Row;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 430.0;
const BAR: f64 = 13.0;
const GAP: f64 = 10.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "")
}

/// The number at the start of a cell ("467", "0.71; 0").
fn value(cell: &str) -> Option<f64> {
    cell.split(';').next()?.trim().parse().ok()
}

/// One chart of the rows whose name ends with `unit` (e.g. "(MB/s)").
pub fn chart(path: &Path, title: &str, unit: &str, rows: &[Row]) {
    let bars: Vec<(&Row, f64, f64)> = rows
        .iter()
        .filter(|r| r.name.ends_with(unit))
        .filter_map(|r| Some((r, value(&r.secsh)?, value(&r.ssh)?)))
        .collect();
    if bars.is_empty() {
        return;
    }
    let max = bars
        .iter()
        .map(|b| b.1.max(b.2))
        .fold(0.0, f64::max)
        .max(1e-9);
    let scale = (WIDTH - LABEL - 90.0) / max;
    let height = 50.0 + bars.len() as f64 * (2.0 * BAR + GAP) + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="15" font-weight="bold">{}</text>
<rect x="{LABEL}" y="32" width="12" height="10" fill="#2b6cb0"/><text x="{}" y="41">secsh</text>
<rect x="{}" y="32" width="12" height="10" fill="#a0aec0"/><text x="{}" y="41">compared tool (ssh unless the row names another)</text>
"##,
        esc(title),
        LABEL + 16.0,
        LABEL + 80.0,
        LABEL + 96.0
    );
    for (i, (row, a, b)) in bars.iter().enumerate() {
        let y = 50.0 + i as f64 * (2.0 * BAR + GAP);
        let name = row.name.trim_end_matches(unit).trim();
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text>
<rect x="{LABEL}" y="{y}" width="{:.1}" height="{BAR}" fill="#2b6cb0"/><text x="{:.1}" y="{}">{}</text>
<rect x="{LABEL}" y="{}" width="{:.1}" height="{BAR}" fill="#a0aec0"/><text x="{:.1}" y="{}">{}</text>
"##,
            LABEL - 6.0,
            y + BAR + 4.0,
            esc(name),
            a * scale,
            LABEL + a * scale + 4.0,
            y + BAR - 2.0,
            esc(&row.secsh),
            y + BAR,
            b * scale,
            LABEL + b * scale + 4.0,
            y + 2.0 * BAR - 2.0,
            esc(&row.ssh),
        );
    }
    let _ = write!(
        s,
        r##"<text x="10" y="{}" fill="#555">{} — longer is {}</text>
</svg>
"##,
        height - 10.0,
        esc(unit.trim_matches(['(', ')'])),
        if unit.contains("ms") || unit.contains("(s") {
            "slower"
        } else {
            "better"
        }
    );
    std::fs::write(path, s).unwrap();
}
