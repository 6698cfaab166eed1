//! The front door's bookkeeping, free of I/O: which source a connection
//! comes from, how many unauthenticated connections each source and all
//! sources hold (with random early drop as the total nears its cap, as
//! OpenSSH's MaxStartups does), and per-source penalties for failures.
//! The accept loop asks; time and randomness come in as arguments.

mod penalty;
mod preauth;

use std::net::IpAddr;

pub use penalty::{Offence, Penalties, PenaltySettings, Verdict};
pub use preauth::{Admission, PreAuth, PreAuthLimits};

/// Where a connection comes from, for counting: an IPv4 address, or the
/// /64 an IPv6 address belongs to (one host usually owns a whole /64).
/// IPv4-mapped IPv6 addresses count as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// An IPv4 address.
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl SourceKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => SourceKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceKey::V4(a) => write!(f, "{}", std::net::Ipv4Addr::from(*a)),
            SourceKey::V6(p) => write!(f, "{}/64", std::net::Ipv6Addr::from(u128::from(*p) << 64)),
        }
    }
}

#[cfg(test)]
mod tests;
