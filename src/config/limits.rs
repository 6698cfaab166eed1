//! `[limits]` and `[penalties]`: every number range-checked at its
//! FILE:LINE:COLUMN.

use std::time::Duration;

use super::raw::{RawLimits, RawPenalties, RawUserLimits};
use super::server::{Cx, DAY};
use super::{ConfigError, Limits, UserLimits};
use crate::gate::PenaltySettings;
use crate::proto::STDIN_WINDOW;

fn secs(v: Option<u64>, default: u64) -> Option<Duration> {
    match v.unwrap_or(default) {
        0 => None,
        n => Some(Duration::from_secs(n)),
    }
}

/// Validate `[limits]`.
pub(super) fn limits(cx: &Cx<'_>, l: &RawLimits) -> Result<Limits, ConfigError> {
    let max_unauthenticated = cx
        .ranged(&l.max_unauthenticated, "max_unauthenticated", 1, 1_000_000)?
        .unwrap_or(1024) as usize;
    let per_source = cx
        .ranged(
            &l.max_unauthenticated_per_source,
            "max_unauthenticated_per_source",
            1,
            max_unauthenticated as u64,
        )?
        .unwrap_or(256.min(max_unauthenticated as u64)) as usize;
    Ok(Limits {
        auth_timeout: Duration::from_secs(
            cx.ranged(&l.auth_timeout_secs, "auth_timeout_secs", 1, 600)?
                .unwrap_or(10),
        ),
        max_connections: cx
            .ranged(&l.max_connections, "max_connections", 1, 1_000_000)?
            .unwrap_or(4096) as usize,
        max_unauthenticated,
        max_unauthenticated_per_source: per_source,
        max_requests_per_connection: cx
            .ranged(
                &l.max_requests_per_connection,
                "max_requests_per_connection",
                1,
                1024,
            )?
            .unwrap_or(16) as usize,
        max_auth_tries: cx
            .ranged(&l.max_auth_tries, "max_auth_tries", 1, 20)?
            .unwrap_or(3) as u32,
        stdin_window: cx
            .ranged(&l.stdin_window_kib, "stdin_window_kib", 64, 1 << 20)?
            .map_or(STDIN_WINDOW, |k| k * 1024),
        idle_timeout: secs(
            cx.ranged(&l.idle_timeout_secs, "idle_timeout_secs", 0, 7 * DAY)?,
            300,
        ),
        keepalive: secs(cx.ranged(&l.keepalive_secs, "keepalive_secs", 0, 3600)?, 15),
        log_summary: Duration::from_secs(
            cx.ranged(&l.log_summary_secs, "log_summary_secs", 1, 3600)?
                .unwrap_or(60),
        ),
        per_user: UserLimits {
            max_connections: cx
                .ranged(
                    &l.max_connections_per_user,
                    "max_connections_per_user",
                    1,
                    1_000_000,
                )?
                .unwrap_or(256) as usize,
            max_commands: cx
                .ranged(
                    &l.max_commands_per_user,
                    "max_commands_per_user",
                    1,
                    1_000_000,
                )?
                .unwrap_or(256) as usize,
            stdin_buffer: cx
                .ranged(&l.stdin_buffer_kib, "stdin_buffer_kib", 64, 1 << 20)?
                .unwrap_or(32 * 1024)
                * 1024,
        },
    })
}

/// A user's `limits = { ... }` over the `[limits]` defaults.
pub(super) fn user_limits(
    cx: &Cx<'_>,
    raw: Option<&RawUserLimits>,
    defaults: UserLimits,
) -> Result<UserLimits, ConfigError> {
    let Some(l) = raw else { return Ok(defaults) };
    Ok(UserLimits {
        max_connections: cx
            .ranged(&l.max_connections, "max_connections", 1, 1_000_000)?
            .map_or(defaults.max_connections, |n| n as usize),
        max_commands: cx
            .ranged(&l.max_commands, "max_commands", 1, 1_000_000)?
            .map_or(defaults.max_commands, |n| n as usize),
        stdin_buffer: cx
            .ranged(&l.stdin_buffer_kib, "stdin_buffer_kib", 64, 1 << 20)?
            .map_or(defaults.stdin_buffer, |k| k * 1024),
    })
}

/// An address or CIDR block (`"10.0.0.0/8"`, `"192.0.2.7"`), host bits
/// cleared, located at its value on error.
pub(super) fn net(cx: &Cx<'_>, s: &toml::Spanned<String>) -> Result<ipnet::IpNet, ConfigError> {
    let text = s.get_ref();
    let net = text
        .parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| cx.at(s, format!("{text:?} is not an address or CIDR block")))?;
    Ok(net.trunc())
}

/// Validate `[penalties]`.
pub(super) fn penalties(cx: &Cx<'_>, p: &RawPenalties) -> Result<PenaltySettings, ConfigError> {
    let d = PenaltySettings::default();
    let s = |v, key, max, default: Duration| -> Result<Duration, ConfigError> {
        Ok(cx
            .ranged(v, key, 0, max)?
            .map_or(default, Duration::from_secs))
    };
    let exempt = p
        .exempt
        .iter()
        .flatten()
        .map(|e| net(cx, e))
        .collect::<Result<Vec<_>, _>>()?;
    let out = PenaltySettings {
        auth_failure: s(
            &p.auth_failure_secs,
            "auth_failure_secs",
            3600,
            d.auth_failure,
        )?,
        no_auth: s(&p.no_auth_secs, "no_auth_secs", 3600, d.no_auth)?,
        protocol_error: s(
            &p.protocol_error_secs,
            "protocol_error_secs",
            3600,
            d.protocol_error,
        )?,
        threshold: s(&p.threshold_secs, "threshold_secs", DAY, d.threshold)?,
        max: s(&p.max_secs, "max_secs", 7 * DAY, d.max)?,
        max_sources: cx
            .ranged(&p.max_sources, "max_sources", 16, 10_000_000)?
            .map_or(d.max_sources, |n| n as usize),
        exempt,
    };
    if out.max <= out.threshold {
        if let Some(m) = &p.max_secs {
            return Err(cx.at(
                m,
                "max_secs must be larger than threshold_secs, or nothing is ever refused",
            ));
        }
    }
    Ok(out)
}
