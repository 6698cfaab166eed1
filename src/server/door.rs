//! The front door as the accept loop and connections use it: admission by
//! source (unauthenticated caps, penalties) under one lock, a ticket that
//! gives the unauthenticated slot back, and penalties recorded when a
//! connection ends.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::tally::{Event, Tally};
use crate::config::ServerConfig;
use crate::gate::{Admission, Offence, Penalties, PreAuth, PreAuthLimits, SourceKey, Verdict};

struct Books {
    preauth: PreAuth,
    penalties: Penalties,
}

/// Admission and penalties for every listener.
pub(crate) struct FrontDoor {
    books: Mutex<Books>,
    /// Counters for the bounded log.
    pub tally: Tally,
    dice: RandomState,
    metrics: Arc<crate::metrics::Metrics>,
}

/// An unauthenticated slot, given back when dropped or released.
pub(crate) struct Ticket {
    door: Arc<FrontDoor>,
    source: SourceKey,
    held: bool,
}

impl Ticket {
    /// The connection authenticated: it no longer counts as unauthenticated.
    pub fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            self.door
                .books
                .lock()
                .expect("door lock")
                .preauth
                .release(self.source);
        }
    }

    /// Its source.
    pub fn source(&self) -> SourceKey {
        self.source
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.release();
    }
}

impl FrontDoor {
    /// A front door for `config`.
    pub fn new(config: &ServerConfig, metrics: Arc<crate::metrics::Metrics>) -> Arc<Self> {
        let limits = PreAuthLimits {
            total: config.limits.max_unauthenticated,
            per_source: config.limits.max_unauthenticated_per_source,
        };
        Arc::new(Self {
            books: Mutex::new(Books {
                preauth: PreAuth::new(limits),
                penalties: Penalties::new(config.penalties.clone()),
            }),
            tally: Tally::default(),
            dice: RandomState::new(),
            metrics,
        })
    }

    /// A new connection from `peer`: `None` to close it at once (no TLS),
    /// else its ticket and whether it is to be refused as rate limited.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr, serial: u64) -> Option<(Ticket, Verdict)> {
        let source = SourceKey::of(peer.ip());
        let roll = self.dice.hash_one((peer, serial)) as u32;
        let now = Instant::now();
        let (admission, verdict) = {
            let mut b = self.books.lock().expect("door lock");
            let verdict = b.penalties.check(peer.ip(), now);
            (b.preauth.admit(source, roll), verdict)
        };
        match admission {
            Admission::Admitted => {
                let ticket = Ticket {
                    door: self.clone(),
                    source,
                    held: true,
                };
                Some((ticket, verdict))
            }
            Admission::SourceFull | Admission::Full => {
                let event = if admission == Admission::SourceFull {
                    Event::SourceFull
                } else {
                    Event::Full
                };
                if self.tally.note(event, source) {
                    tracing::info!(%peer, "closed at accept: too many unauthenticated connections");
                }
                None
            }
        }
    }

    /// `ip` committed `offence` `times` times.
    pub fn penalise(&self, ip: IpAddr, offence: Offence, times: u32) {
        let over = {
            let mut b = self.books.lock().expect("door lock");
            b.penalties.record(ip, offence, times, Instant::now())
        };
        if let Some(refused) = over {
            self.metrics.penalties.inc();
            tracing::warn!(source = %SourceKey::of(ip),
                "penalised after repeated failures: new connections refused for {} s",
                refused.as_secs().max(1));
        }
    }

    /// A reload: penalties start over under the new settings. The
    /// unauthenticated caps keep their start-up values (the counts of
    /// connections already admitted stay valid).
    pub fn reconfigure(&self, config: &ServerConfig) {
        self.books.lock().expect("door lock").penalties = Penalties::new(config.penalties.clone());
    }
}
