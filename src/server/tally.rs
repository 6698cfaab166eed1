//! Bounded logging of what peers do at the front door: every event is
//! counted, the first few from each source per interval are logged in
//! detail, and the rest appear only in one summary line per interval. A
//! flood from one address costs a few log lines, not one per attempt.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::gate::SourceKey;

/// Detailed log lines per source and kind of event in one interval.
const DETAILED: u32 = 5;
/// Sources remembered per interval (beyond this, new ones are counted in
/// the totals only, and logged in detail never).
const SOURCES: usize = 4096;

/// A front-door event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Event {
    /// Closed at accept: the source holds its share of unauthenticated slots.
    SourceFull,
    /// Closed at accept: all unauthenticated slots taken (or early drop).
    Full,
    /// Refused with `rate_limited`.
    RateLimited,
    /// TLS handshake failed or timed out.
    TlsFailed,
    /// A failed `auth` attempt.
    AuthFailed,
    /// A protocol error before authentication.
    ProtocolError,
    /// Closed after authenticating: the server was at a limit.
    Busy,
}

impl Event {
    const ALL: [Event; 7] = [
        Event::SourceFull,
        Event::Full,
        Event::RateLimited,
        Event::TlsFailed,
        Event::AuthFailed,
        Event::ProtocolError,
        Event::Busy,
    ];

    fn label(self) -> &'static str {
        match self {
            Event::SourceFull => "closed at accept (source at its unauthenticated limit)",
            Event::Full => "closed at accept (unauthenticated limit)",
            Event::RateLimited => "refused as rate limited",
            Event::TlsFailed => "failed TLS handshakes",
            Event::AuthFailed => "failed auth attempts",
            Event::ProtocolError => "pre-auth protocol errors",
            Event::Busy => "refused as busy",
        }
    }
}

#[derive(Default)]
struct Interval {
    counts: HashMap<Event, u64>,
    seen: HashMap<(SourceKey, Event), u32>,
    per_source: HashMap<SourceKey, u64>,
}

/// Counters for one summary interval.
#[derive(Default)]
pub(crate) struct Tally {
    now: Mutex<Interval>,
}

impl Tally {
    /// Count `event` from `source`; true when it should also be logged in
    /// detail (the source's first few of this kind in this interval).
    pub fn note(&self, event: Event, source: SourceKey) -> bool {
        let mut i = self.now.lock().expect("tally lock");
        *i.counts.entry(event).or_insert(0) += 1;
        if i.per_source.len() < SOURCES || i.per_source.contains_key(&source) {
            *i.per_source.entry(source).or_insert(0) += 1;
        }
        if i.seen.len() >= SOURCES && !i.seen.contains_key(&(source, event)) {
            return false;
        }
        let n = i.seen.entry((source, event)).or_insert(0);
        *n += 1;
        *n <= DETAILED
    }

    /// The interval's summary line (None when nothing happened), and a new
    /// interval.
    pub fn summary(&self) -> Option<String> {
        let i = std::mem::take(&mut *self.now.lock().expect("tally lock"));
        if i.counts.is_empty() {
            return None;
        }
        let parts: Vec<String> = Event::ALL
            .iter()
            .filter_map(|e| i.counts.get(e).map(|n| format!("{n} {}", e.label())))
            .collect();
        let top = i.per_source.iter().max_by_key(|(_, n)| **n);
        let sources = i.per_source.len();
        let top = top.map_or(String::new(), |(s, n)| {
            format!("; {sources} sources, most from {s} ({n})")
        });
        Some(format!("{}{top}", parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_for_the_first_few_then_only_counts() {
        let t = Tally::default();
        let a = SourceKey::of("192.0.2.1".parse().unwrap());
        let b = SourceKey::of("192.0.2.2".parse().unwrap());
        let detailed = (0..100).filter(|_| t.note(Event::AuthFailed, a)).count();
        assert_eq!(detailed, DETAILED as usize);
        assert!(
            t.note(Event::AuthFailed, b),
            "another source still gets detail"
        );
        assert!(
            t.note(Event::TlsFailed, a),
            "another kind still gets detail"
        );
        let line = t.summary().unwrap();
        assert!(line.contains("101 failed auth attempts"), "{line}");
        assert!(line.contains("1 failed TLS handshakes"), "{line}");
        assert!(
            line.contains("2 sources, most from 192.0.2.1 (101)"),
            "{line}"
        );
        assert_eq!(t.summary(), None, "a fresh interval");
        assert!(
            t.note(Event::AuthFailed, a),
            "detail again in a new interval"
        );
    }
}
