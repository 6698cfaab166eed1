//! The transfer progress bar (indicatif): bytes, rate and ETA on stderr,
//! only when stderr is a terminal, and only once a transfer has lasted
//! more than a moment (a small file leaves no trace).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::transfer::Progress;

/// A transfer shorter than this draws nothing.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// One file's bar.
pub struct Bar {
    label: String,
    /// Where shown bars go, one line each, so that several transfers at
    /// once do not draw over each other.
    multi: MultiProgress,
    enabled: bool,
    bar: Option<ProgressBar>,
    since: Instant,
    shown: bool,
}

impl Bar {
    /// A bar for `label`, drawn in `multi` when `wanted` and stderr is a
    /// terminal.
    pub fn new(label: &str, wanted: bool, multi: MultiProgress) -> Self {
        Self {
            label: label.to_string(),
            multi,
            enabled: wanted && std::io::stderr().is_terminal(),
            bar: None,
            since: Instant::now(),
            shown: false,
        }
    }

    /// The transfer ended: leave the final line if the bar was shown.
    pub fn done(&mut self, ok: bool) {
        if let Some(bar) = self.bar.take() {
            if self.shown && ok {
                bar.finish();
            } else {
                bar.finish_and_clear();
            }
        }
    }
}

impl Progress for Bar {
    fn start(&mut self, total: Option<u64>, offset: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let template = if total.is_some() {
            "{msg} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} [{wide_bar}] {percent}%"
        } else {
            "{msg} {bytes} {bytes_per_sec} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(self.label.clone());
        bar.set_position(offset);
        bar.reset_eta();
        self.since = Instant::now();
        self.bar = Some(bar);
    }

    fn finish(&mut self, ok: bool) {
        self.done(ok);
    }

    fn advance(&mut self, n: u64) {
        let Some(bar) = &self.bar else { return };
        bar.inc(n);
        if !self.shown && self.since.elapsed() >= SHOW_AFTER {
            self.shown = true;
            self.multi.add(bar.clone());
        }
    }
}
