//! Where each follower of a job is: a resumable job's pump waits before
//! dropping spooled bytes until every follower has read far enough past
//! them, and is woken when one moves or leaves, or the job is stopped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

/// The followers' offsets, by key.
#[derive(Default)]
pub(crate) struct Readers {
    at: Mutex<HashMap<u64, [u64; 2]>>,
    next: AtomicU64,
    moved: Notify,
}

impl Readers {
    /// A follower starts reading at `offsets`; its key.
    pub fn start(&self, offsets: [u64; 2]) -> u64 {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.at.lock().expect("readers lock").insert(key, offsets);
        key
    }

    /// Follower `key` has read up to `offsets`.
    pub fn at(&self, key: u64, offsets: [u64; 2]) {
        if let Some(o) = self.at.lock().expect("readers lock").get_mut(&key) {
            *o = offsets;
        }
        self.wake();
    }

    /// Follower `key` is gone.
    pub fn end(&self, key: u64) {
        self.at.lock().expect("readers lock").remove(&key);
        self.wake();
    }

    /// Someone follows, and every follower has read stream `i` at least
    /// `margin` past `edge`.
    pub fn all_past(&self, i: usize, edge: u64, margin: u64) -> bool {
        let at = self.at.lock().expect("readers lock");
        !at.is_empty() && at.values().all(|o| edge.saturating_add(margin) <= o[i])
    }

    /// Wake whoever waits in [`Readers::moved`].
    pub fn wake(&self) {
        self.moved.notify_waiters();
    }

    /// Completes at the next [`Readers::wake`] (enable it before checking).
    pub fn moved(&self) -> tokio::sync::futures::Notified<'_> {
        self.moved.notified()
    }
}
