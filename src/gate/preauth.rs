//! Counting unauthenticated connections, per source and in total.

use std::collections::HashMap;

use super::SourceKey;

/// Caps on connections that have not authenticated yet.
#[derive(Debug, Clone, Copy)]
pub struct PreAuthLimits {
    /// In total.
    pub total: usize,
    /// Per source (IPv4 address or IPv6 /64).
    pub per_source: usize,
}

/// The answer for a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; call [`PreAuth::release`] when it authenticates or ends.
    Admitted,
    /// Its source already holds `per_source` unauthenticated connections.
    SourceFull,
    /// The total is at its cap, or random early drop picked it.
    Full,
}

/// Unauthenticated connections per source and in total.
#[derive(Debug)]
pub struct PreAuth {
    limits: PreAuthLimits,
    total: usize,
    per_source: HashMap<SourceKey, usize>,
}

impl PreAuth {
    /// Empty counters with these caps.
    pub fn new(limits: PreAuthLimits) -> Self {
        Self {
            limits,
            total: 0,
            per_source: HashMap::new(),
        }
    }

    /// Admit a connection from `source`? `random` is a uniformly random
    /// number: from half the total cap on, a connection is dropped with a
    /// probability rising linearly from 30% to 100% at the cap (as sshd's
    /// `MaxStartups 10:30:100` does), so a flood cannot fill every slot
    /// with certainty while legitimate clients still get most of theirs.
    pub fn admit(&mut self, source: SourceKey, random: u32) -> Admission {
        let held = self.per_source.get(&source).copied().unwrap_or(0);
        if held >= self.limits.per_source {
            return Admission::SourceFull;
        }
        let cap = self.limits.total;
        let start = cap / 2;
        if self.total >= cap {
            return Admission::Full;
        }
        if self.total >= start && cap > start {
            // Drop probability in parts per 2^32: 30% at `start`, 100% at `cap`.
            let span = (cap - start) as u64;
            let over = (self.total - start) as u64;
            let p = 0.3 + 0.7 * over as f64 / span as f64;
            if (random as f64) < p * u32::MAX as f64 {
                return Admission::Full;
            }
        }
        self.total += 1;
        *self.per_source.entry(source).or_insert(0) += 1;
        Admission::Admitted
    }

    /// An admitted connection authenticated or ended.
    pub fn release(&mut self, source: SourceKey) {
        if let Some(n) = self.per_source.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&source);
            }
            self.total -= 1;
        }
    }

    /// Unauthenticated connections now.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Unauthenticated connections from `source` now.
    pub fn from(&self, source: SourceKey) -> usize {
        self.per_source.get(&source).copied().unwrap_or(0)
    }
}
