//! Partial uploads left behind: all of them are removed when the daemon
//! starts (nothing can resume them: their uploads ended with the last
//! run), and while it runs, those untouched for `[files]
//! partial_max_age_secs`, checked a few times per period. Finished jobs
//! past `[jobs] keep_finished_secs`, likewise.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::transfer::partial::sweep;

/// Remove every partial under the current upload roots.
pub(super) async fn at_start(shared: &Arc<Shared>) {
    let roots = shared.live().config.upload_roots();
    if roots.is_empty() {
        return;
    }
    let n = tokio::task::spawn_blocking(move || sweep(&roots, None))
        .await
        .unwrap_or(0);
    if n > 0 {
        tracing::info!("removed {n} partial uploads left by the last run");
    }
}

/// Forever: remove partials older than the configured age.
pub(super) async fn periodically(shared: Arc<Shared>) {
    loop {
        let age = shared.live().config.files.partial_max_age;
        let every = (age / 4).clamp(Duration::from_secs(15), Duration::from_secs(900));
        tokio::time::sleep(every).await;
        // The configuration may have been reloaded meanwhile.
        let live = shared.live();
        let (roots, age) = (
            live.config.upload_roots(),
            live.config.files.partial_max_age,
        );
        let n = tokio::task::spawn_blocking(move || sweep(&roots, Some(age)))
            .await
            .unwrap_or(0);
        if n > 0 {
            tracing::info!(
                "removed {n} partial uploads untouched for {} s",
                age.as_secs()
            );
        }
    }
}

/// Forever: remove finished jobs kept past `[jobs] keep_finished_secs`.
pub(super) async fn jobs(shared: Arc<Shared>) {
    loop {
        let keep = shared.live().config.jobs.keep_finished;
        let every = (keep / 4).clamp(Duration::from_secs(5), Duration::from_secs(900));
        tokio::time::sleep(every).await;
        let (shared2, settings) = (shared.clone(), shared.live().config.jobs.clone());
        let _ = tokio::task::spawn_blocking(move || {
            shared2.jobs.sweep(&settings, std::time::SystemTime::now())
        })
        .await;
    }
}
