//! Giving memory back after a burst. A thousand connections ending at once
//! free hundreds of megabytes of buffers, but glibc's allocator keeps freed
//! memory in its per-thread arenas (and raises its mmap threshold after the
//! first large frees), so the daemon's RSS would stay at its peak for good.
//! Once a second this task looks at how many connections are open; when
//! that number has fallen by at least half (and by at least
//! [`MIN_DROP`]) since its peak, it asks the allocator to return its free
//! pages to the kernel (`malloc_trim`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Connections that must have ended since the peak before trimming.
pub const MIN_DROP: usize = 16;

/// What the trimmer decides from one sample of open connections.
#[derive(Debug, Default)]
pub struct Watch {
    peak: usize,
}

impl Watch {
    /// `open` connections now: true when it is time to trim.
    pub fn sample(&mut self, open: usize) -> bool {
        self.peak = self.peak.max(open);
        let dropped = self.peak - open;
        if dropped >= MIN_DROP && open <= self.peak / 2 {
            self.peak = open;
            return true;
        }
        false
    }
}

/// Watch `all` (one permit held per open connection, `total` in all)
/// forever.
pub async fn when_quiet(all: Arc<Semaphore>, total: usize) {
    let mut watch = Watch::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let open = total.saturating_sub(all.available_permits());
        if watch.sample(open) {
            let _ = tokio::task::spawn_blocking(release).await;
        }
    }
}

/// Return the allocator's free memory to the kernel.
fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists;
        // it is thread-safe and has no preconditions.
        let freed = unsafe { nix::libc::malloc_trim(0) };
        tracing::debug!("malloc_trim released memory: {}", freed == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_large_drop_only() {
        let mut w = Watch::default();
        assert!(!w.sample(0));
        assert!(!w.sample(1000));
        assert!(!w.sample(600), "dropped by less than half");
        assert!(w.sample(10));
        assert!(!w.sample(0), "nothing new since the last trim");
        assert!(!w.sample(20));
        assert!(!w.sample(8), "12 < MIN_DROP");
        assert!(!w.sample(40));
        assert!(w.sample(3));
    }
}
