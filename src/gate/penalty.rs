//! Per-source penalties, after OpenSSH's PerSourcePenalties: each failure
//! adds time to its source's penalty, the penalty drains in real time, and
//! while it exceeds a threshold new connections from the source are
//! refused with the time until they are welcome again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::SourceKey;

/// What a source did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// An `auth` attempt failed.
    AuthFailure,
    /// The connection ended or timed out without any `auth` attempt.
    NoAuth,
    /// It broke the protocol before authenticating.
    ProtocolError,
}

/// How penalties accrue and when they bite.
#[derive(Debug, Clone)]
pub struct PenaltySettings {
    /// Added per failed `auth` attempt.
    pub auth_failure: Duration,
    /// Added per connection that never tried to authenticate.
    pub no_auth: Duration,
    /// Added per pre-auth protocol error.
    pub protocol_error: Duration,
    /// A source is refused while its penalty exceeds this.
    pub threshold: Duration,
    /// Penalties never exceed this.
    pub max: Duration,
    /// Sources tracked at most; when full, the least penalised is forgotten.
    pub max_sources: usize,
    /// Sources never penalised.
    pub exempt: Vec<ipnet::IpNet>,
}

impl Default for PenaltySettings {
    fn default() -> Self {
        Self {
            auth_failure: Duration::from_secs(5),
            no_auth: Duration::from_secs(1),
            protocol_error: Duration::from_secs(5),
            threshold: Duration::from_secs(15),
            max: Duration::from_secs(600),
            max_sources: 65_536,
            exempt: Vec::new(),
        }
    }
}

/// The answer for a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Welcome.
    Allow,
    /// Refused; welcome again after `retry_after`.
    Refuse {
        /// Time until the penalty drops to the threshold.
        retry_after: Duration,
    },
}

/// The penalty table.
#[derive(Debug)]
pub struct Penalties {
    settings: PenaltySettings,
    /// When each source's penalty runs out.
    until: HashMap<SourceKey, Instant>,
}

impl Penalties {
    /// An empty table.
    pub fn new(settings: PenaltySettings) -> Self {
        Self {
            settings,
            until: HashMap::new(),
        }
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.settings.exempt.iter().any(|net| net.contains(&ip))
    }

    /// May a connection from `ip` proceed at `now`?
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        if self.exempt(ip) {
            return Verdict::Allow;
        }
        let key = SourceKey::of(ip);
        let Some(&until) = self.until.get(&key) else {
            return Verdict::Allow;
        };
        if until <= now {
            self.until.remove(&key);
            return Verdict::Allow;
        }
        let left = until - now;
        if left > self.settings.threshold {
            Verdict::Refuse {
                retry_after: left - self.settings.threshold,
            }
        } else {
            Verdict::Allow
        }
    }

    /// `ip` committed `offence` `times` times at `now`. When this pushed
    /// the source over the threshold (the moment worth one log line),
    /// returns how long it is now refused.
    pub fn record(
        &mut self,
        ip: IpAddr,
        offence: Offence,
        times: u32,
        now: Instant,
    ) -> Option<Duration> {
        if times == 0 || self.exempt(ip) {
            return None;
        }
        let each = match offence {
            Offence::AuthFailure => self.settings.auth_failure,
            Offence::NoAuth => self.settings.no_auth,
            Offence::ProtocolError => self.settings.protocol_error,
        };
        let key = SourceKey::of(ip);
        if !self.until.contains_key(&key) && self.until.len() >= self.settings.max_sources {
            self.make_room(now);
        }
        let before = self
            .until
            .get(&key)
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        let after = (before + each.saturating_mul(times)).min(self.settings.max);
        self.until.insert(key, now + after);
        (before <= self.settings.threshold && after > self.settings.threshold)
            .then(|| after - self.settings.threshold)
    }

    /// Drop expired entries; if none expired, the least penalised one.
    fn make_room(&mut self, now: Instant) {
        self.until.retain(|_, u| *u > now);
        if self.until.len() >= self.settings.max_sources {
            if let Some(k) = self.until.iter().min_by_key(|(_, u)| **u).map(|(k, _)| *k) {
                self.until.remove(&k);
            }
        }
    }

    /// Sources with a penalty running now.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when no source has a penalty.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}
