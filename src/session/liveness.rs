//! Keepalive bookkeeping shared by both sides: after `interval` without a
//! frame from the peer, send `ping`; after [`MAX_MISSED`] unanswered pings,
//! the peer is gone.

use std::time::{Duration, Instant};

/// Pings without any frame in return before the peer is declared gone.
pub const MAX_MISSED: u32 = 3;

/// What the keepalive wants done at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing yet.
    Nothing,
    /// Send a `ping`.
    Ping,
    /// [`MAX_MISSED`] pings went unanswered.
    Dead,
}

/// Time of the last frame from the peer and pings sent since.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Option<Duration>,
    last_rx: Instant,
    sent: u32,
}

impl Keepalive {
    /// Keepalive every `interval` (`None`: off), counting from `now`.
    pub fn new(interval: Option<Duration>, now: Instant) -> Self {
        Self {
            interval,
            last_rx: now,
            sent: 0,
        }
    }

    /// A frame arrived: the peer is alive.
    pub fn received(&mut self, now: Instant) {
        self.last_rx = now;
        self.sent = 0;
    }

    /// When [`Keepalive::due`] next has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let i = self.interval?;
        self.last_rx.checked_add(i.checked_mul(self.sent + 1)?)
    }

    /// Advance to `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        match self.deadline() {
            Some(d) if now >= d => {
                if self.sent >= MAX_MISSED {
                    Due::Dead
                } else {
                    self.sent += 1;
                    Due::Ping
                }
            }
            _ => Due::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_then_gives_up() {
        let t0 = Instant::now();
        let s = Duration::from_secs(15);
        let mut k = Keepalive::new(Some(s), t0);
        assert_eq!(k.deadline(), Some(t0 + s));
        assert_eq!(k.due(t0 + s - Duration::from_millis(1)), Due::Nothing);
        assert_eq!(k.due(t0 + s), Due::Ping);
        assert_eq!(k.deadline(), Some(t0 + 2 * s));
        assert_eq!(k.due(t0 + 2 * s), Due::Ping);
        assert_eq!(k.due(t0 + 3 * s), Due::Ping);
        assert_eq!(k.due(t0 + 4 * s), Due::Dead);
        k.received(t0 + 4 * s);
        assert_eq!(k.due(t0 + 4 * s), Due::Nothing);
        assert_eq!(k.deadline(), Some(t0 + 5 * s));
        let mut off = Keepalive::new(None, t0);
        assert_eq!(off.deadline(), None);
        assert_eq!(off.due(t0 + 1000 * s), Due::Nothing);
    }
}
