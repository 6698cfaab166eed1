//! Receive-window autotuning for a request's output (the client's
//! `output_window`): start at the configured window and double it while
//! the application consumes half of it in less than two round trips, the
//! rule QUIC stacks use (quic-go's `maybeAdjustWindowSize`). A window that
//! is the bottleneck on a long link grows towards the bandwidth-delay
//! product; one whose reader is slow (a pipe into a slow consumer) never
//! grows, because the reader's pace is what is measured. Growth is bounded
//! per request by the protocol's `MAX_WINDOW` and per connection by the
//! caller's budget; a window never shrinks while its request lives.
//!
//! Two refinements for long links, where a window that starts small costs
//! whole round trips: [`initial_window`] sizes a request's first window
//! from the handshake's round trip (what [`LINK_GUESS`] fills in it, never
//! below the default, at most half the connection's budget; the client
//! uses it for its default windows), and a window found too small jumps to
//! twice the bandwidth-delay product the epoch measured (a burst arrives at
//! the link's rate), not just to twice its size.
//!
//! Pure: times are passed in.

use std::time::{Duration, Instant};

use crate::proto::MAX_WINDOW;

/// The rate a long link is assumed to carry before anything is measured
/// (bytes per second): sizes a request's first window from the round trip.
pub const LINK_GUESS: f64 = 1e9;

/// A new request's window for a caller with no size of its own in mind:
/// `asked`, or what [`LINK_GUESS`] fills in one round trip, at most half
/// of `budget` (and [`MAX_WINDOW`]).
pub fn initial_window(asked: u64, rtt: Rtt, budget: u64) -> u64 {
    let asked = asked.clamp(1, MAX_WINDOW);
    let Some(rtt) = rtt.get() else {
        return asked;
    };
    let guess = (rtt.as_secs_f64() * LINK_GUESS) as u64;
    asked.max(guess.min(budget / 2)).min(MAX_WINDOW)
}

/// The round-trip estimate of one connection: the smallest time seen from
/// sending a request to its first answer (`started` or `file`). The
/// server's work before that answer (a fork, an open) only makes it
/// larger, which makes growth a little more eager, never wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rtt(Option<Duration>);

impl Rtt {
    /// An estimate seeded with `hint` (the TLS handshake's time), if any.
    pub fn seeded(hint: Option<Duration>) -> Self {
        Self(hint)
    }

    /// Take one sample.
    pub fn sample(&mut self, d: Duration) {
        self.0 = Some(self.0.map_or(d, |m| m.min(d)));
    }

    /// The estimate, once there is one.
    pub fn get(&self) -> Option<Duration> {
        self.0
    }
}

/// One request's output window.
#[derive(Debug, Clone)]
pub struct RecvWindow {
    size: u64,
    epoch_start: Option<Instant>,
    epoch_consumed: u64,
    /// When the window was offered (or first consumed from), and all it
    /// has consumed since: the request's average rate.
    since: Option<Instant>,
    total: u64,
}

impl RecvWindow {
    /// A window of `initial` bytes (already clamped by the caller).
    pub fn new(initial: u64) -> Self {
        Self {
            size: initial,
            epoch_start: None,
            epoch_consumed: 0,
            since: None,
            total: 0,
        }
    }

    /// A window of `initial` bytes offered at `now`: its first epoch
    /// starts then, not at the first bytes consumed (for a sender that
    /// fills the whole window at once, as a client's stdin can).
    pub fn offered(initial: u64, now: Instant) -> Self {
        Self {
            epoch_start: Some(now),
            since: Some(now),
            ..Self::new(initial)
        }
    }

    /// The window's current size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The application consumed `n` bytes at `now`. Returns the extra
    /// credit to grant on top of `n` (the window's growth, at most
    /// `budget`), or 0.
    pub fn consumed(&mut self, n: u64, now: Instant, rtt: Rtt, budget: u64) -> u64 {
        let start = *self.epoch_start.get_or_insert(now);
        let since = *self.since.get_or_insert(now);
        self.epoch_consumed += n;
        self.total = self.total.saturating_add(n);
        if self.epoch_consumed <= self.size / 2 {
            return 0;
        }
        let mut grow = 0;
        if let Some(rtt) = rtt.get() {
            // Half the window (or more) went in under two round trips: the
            // window, not the reader, is what limits the rate.
            let fraction = self.epoch_consumed as f64 / self.size as f64;
            let elapsed = now.saturating_duration_since(start).as_secs_f64();
            // And the window is less than twice the bandwidth-delay
            // product at the request's average rate: on a short link
            // (loopback, a LAN) a fast reader needs no more window, and a
            // larger one only holds more in memory. (The average, not this
            // epoch's rate: consumption is timed when the driver gets to
            // it, and a batch handled at once would look infinitely fast.)
            let lifetime = now.saturating_duration_since(since).as_secs_f64().max(1e-3);
            let average = self.total as f64 / lifetime;
            let short_of_bdp = 2.0 * average * rtt.as_secs_f64() >= self.size as f64;
            if elapsed < 4.0 * fraction * rtt.as_secs_f64() && short_of_bdp {
                // Twice the size, or twice the bandwidth-delay product
                // measured in this epoch, whichever is more.
                let mut target = self.size.saturating_mul(2);
                if elapsed > 0.0 {
                    let rate = self.epoch_consumed as f64 / elapsed;
                    target = target.max((2.0 * rate * rtt.as_secs_f64()) as u64);
                }
                grow = (target - self.size).min(MAX_WINDOW - self.size).min(budget);
                self.size += grow;
            }
        }
        self.epoch_start = Some(now);
        self.epoch_consumed = 0;
        grow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn rtt(ms: u64) -> Rtt {
        let mut r = Rtt::default();
        r.sample(Duration::from_millis(ms + 5));
        r.sample(Duration::from_millis(ms));
        r.sample(Duration::from_millis(ms + 1));
        r
    }

    /// Consume `total` bytes in 1 MiB reads at `rate` bytes per second,
    /// the window alone on a connection whose windows may sum to `bound`;
    /// the window's final size.
    fn run(w: &mut RecvWindow, rtt: Rtt, rate: f64, total: u64, bound: u64) -> u64 {
        let t0 = Instant::now();
        let mut done = 0;
        while done < total {
            done += MIB;
            let now = t0 + Duration::from_secs_f64(done as f64 / rate);
            w.consumed(MIB, now, rtt, bound.saturating_sub(w.size()));
        }
        w.size()
    }

    #[test]
    fn a_fast_reader_on_a_long_link_grows_the_window() {
        // 800 MB/s over 100 ms: 16 MiB lasts 21 ms, far under two RTTs.
        let mut w = RecvWindow::new(16 * MIB);
        let size = run(&mut w, rtt(100), 800e6, 2048 * MIB, 256 * MIB);
        // Until it holds twice the bandwidth-delay product (160 MB), no
        // further: more would only hold more in memory.
        assert!((160_000_000..=256 * MIB).contains(&size), "{size}");
        let mut w = RecvWindow::new(16 * MIB);
        let size = run(&mut w, rtt(100), 800e6, 2048 * MIB, 64 * MIB);
        assert_eq!(size, 64 * MIB, "grows until the bound stops it");
    }

    #[test]
    fn consumption_handled_in_batches_on_a_short_link_keeps_the_window() {
        // 1 GB/s on loopback (0.5 ms), but the driver gets to the
        // consumption 20 MiB at a time, all at one instant (so an epoch
        // can fill up within one such batch, at no elapsed time).
        let mut rtt = Rtt::default();
        rtt.sample(Duration::from_micros(500));
        let t0 = Instant::now();
        let mut w = RecvWindow::offered(16 * MIB, t0);
        for batch in 1..=80u64 {
            let at = t0 + Duration::from_secs_f64((batch * 20 * MIB) as f64 / 1e9);
            for _ in 0..20 {
                assert_eq!(w.consumed(MIB, at, rtt, 1 << 40), 0, "batch {batch}");
            }
        }
        assert_eq!(w.size(), 16 * MIB);
    }

    #[test]
    fn a_fast_reader_on_a_short_link_keeps_its_window() {
        // 2 GB/s over loopback (a 1 ms estimate): 16 MiB is already far
        // more than twice the bandwidth-delay product (4 MB).
        let mut w = RecvWindow::new(16 * MIB);
        assert_eq!(run(&mut w, rtt(1), 2e9, 1024 * MIB, 256 * MIB), 16 * MIB);
    }

    #[test]
    fn the_first_window_follows_the_handshake_round_trip() {
        let none = Rtt::default();
        assert_eq!(initial_window(16 * MIB, none, 256 * MIB), 16 * MIB);
        // Loopback: the asked size.
        let mut lo = Rtt::default();
        lo.sample(Duration::from_micros(900));
        assert_eq!(initial_window(16 * MIB, lo, 256 * MIB), 16 * MIB);
        // 100 ms: 100 MB, within half the budget.
        assert_eq!(initial_window(16 * MIB, rtt(100), 256 * MIB), 100_000_000);
        assert_eq!(initial_window(16 * MIB, rtt(100), 64 * MIB), 32 * MIB);
        assert_eq!(initial_window(u64::MAX, rtt(100), 0), MAX_WINDOW);
    }

    #[test]
    fn a_burst_at_the_link_rate_sizes_the_window_in_one_step() {
        // 8 MiB arrive in 8 ms (1 GB/s) on a 100 ms link: 2 x BDP = 200 MB.
        let mut w = RecvWindow::new(16 * MIB);
        let t0 = Instant::now();
        assert_eq!(w.consumed(MIB, t0, rtt(100), 1 << 40), 0);
        let mut g = 0;
        for i in 1..=8u64 {
            g += w.consumed(MIB, t0 + Duration::from_millis(i), rtt(100), 1 << 40);
        }
        let bdp2 = (2.0 * 9.0 * MIB as f64 / 0.008 * 0.1) as u64;
        assert_eq!(w.size(), bdp2, "{g}");
    }

    #[test]
    fn the_budget_bounds_growth() {
        let mut w = RecvWindow::new(16 * MIB);
        assert_eq!(run(&mut w, rtt(100), 800e6, 1024 * MIB, 40 * MIB), 40 * MIB);
    }

    #[test]
    fn loopback_and_slow_readers_keep_the_window() {
        // 1 GB/s with a 0.1 ms round trip: 8 MiB take 8 ms, far over two RTTs.
        let mut w = RecvWindow::new(16 * MIB);
        let mut r = Rtt::default();
        r.sample(Duration::from_micros(100));
        assert_eq!(run(&mut w, r, 1e9, 1024 * MIB, 1 << 40), 16 * MIB);
        // A long link but a reader at 20 MB/s: 8 MiB take 0.4 s > 0.2 s.
        let mut w = RecvWindow::new(16 * MIB);
        assert_eq!(run(&mut w, rtt(100), 20e6, 256 * MIB, 1 << 40), 16 * MIB);
        // No estimate yet: no growth.
        let mut w = RecvWindow::new(16 * MIB);
        let none = Rtt::default();
        assert_eq!(run(&mut w, none, 1e9, 256 * MIB, 1 << 40), 16 * MIB);
    }

    #[test]
    fn never_past_the_protocol_limit() {
        let mut w = RecvWindow::new(MAX_WINDOW - MIB);
        let t0 = Instant::now();
        let g = w.consumed(MAX_WINDOW, t0, rtt(100), u64::MAX);
        assert_eq!(g, MIB);
        assert_eq!(w.size(), MAX_WINDOW);
        assert_eq!(w.consumed(MAX_WINDOW, t0, rtt(100), u64::MAX), 0);
    }
}
