//! The command line's side of a batch of puts or gets: progress bars on a
//! terminal, each failure on stderr as it happens, and the worst exit
//! status. Scheduling (several at once, `busy` retries, stopping on a
//! connection failure) is the library's [`run_batch`].

use indicatif::MultiProgress;

use super::files::worse;
use super::progress::Bar;
use crate::client::transfer::{run_batch, Job};
use crate::client::Session;

/// Run `jobs` on `session` (one at a time, in order, with `in_order`);
/// the worst exit status.
pub async fn run_jobs(
    session: Session,
    jobs: Vec<(String, Job)>,
    progress: bool,
    in_order: bool,
) -> i32 {
    let multi = MultiProgress::new();
    let watcher = |label: &str| -> Box<dyn crate::client::transfer::Progress + Send> {
        Box::new(Bar::new(label, progress, multi.clone()))
    };
    let report = |label: &str, verb: &str, e: &crate::client::ClientError| {
        crate::cli::say!("secsh: {verb} {label}: {e}");
    };
    let errors = run_batch(session, jobs, in_order, watcher, report).await;
    errors.iter().fold(0, |code, e| worse(code, e.exit_code()))
}
