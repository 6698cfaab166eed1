//! Prometheus metrics: the daemon's counters, gauges and the exec
//! duration histogram, and a small HTTP/1 endpoint serving them on
//! `[metrics] listen` (its own address, never the secsh port). Off unless
//! configured.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

mod http;

pub use http::serve;

/// How a sign-in attempt went.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AuthResult {
    /// Signed in.
    ok,
    /// Held, another method is required.
    partial,
    /// Failed.
    failed,
}

/// How an exec ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ExecResult {
    /// Exit code 0.
    ok,
    /// A non-zero exit code, or it could not be started.
    failed,
    /// A signal killed it.
    signalled,
    /// Killed at its time limit.
    timed_out,
    /// The allowlist refused it.
    denied,
    /// Not started: a budget, or the audit log could not be written.
    refused,
    /// Stopped with its connection (the client went away, or the drain
    /// ended) before it exited.
    interrupted,
}

/// Which way bytes went.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Direction {
    /// Client to command.
    stdin,
    /// Command to client.
    stdout,
    /// Command to client.
    stderr,
    /// A put's file bytes, client to server.
    upload,
    /// A get's file bytes, server to client.
    download,
}

/// Labels of `secsh_transfers_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransferLabels {
    /// `put` or `get`.
    pub direction: String,
    /// `ok`, `denied`, `not_found`, `checksum_mismatch`, `cancelled`, ...
    pub result: String,
}

/// Labels of `secsh_auth_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    /// `key` or `password`.
    pub method: String,
    /// The outcome.
    pub result: AuthResult,
}

/// Labels of `secsh_exec_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExecLabels {
    /// The outcome.
    pub result: ExecResult,
}

/// Labels of `secsh_bytes_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirLabels {
    /// The stream.
    pub direction: Direction,
}

/// Labels of `secsh_reloads_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `error`.
    pub result: String,
}

/// Every metric the daemon keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Connections open now (past admission).
    pub connections_open: Gauge,
    /// Connections admitted.
    pub connections: Counter,
    /// Sign-in attempts.
    pub auth: Family<AuthLabels, Counter>,
    /// Execs by outcome.
    pub execs: Family<ExecLabels, Counter>,
    /// Sources that went over the penalty threshold.
    pub penalties: Counter,
    /// Connections refused as rate limited.
    pub rate_limited: Counter,
    /// Bytes through commands.
    pub bytes: Family<DirLabels, Counter>,
    /// Exec duration, seconds.
    pub exec_seconds: Histogram,
    /// Reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// File transfers by direction and result.
    pub transfers: Family<TransferLabels, Counter>,
    /// When the server's TLS certificate expires (seconds since 1970).
    pub tls_expiry: Gauge,
    /// Jobs whose command runs now.
    pub jobs_running: Gauge,
    /// Jobs started.
    pub jobs_started: Counter,
}

impl Metrics {
    /// All metrics at zero, registered under `secsh_`.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("secsh");
        let m = Metrics {
            connections_open: Gauge::default(),
            connections: Counter::default(),
            auth: Family::default(),
            execs: Family::default(),
            penalties: Counter::default(),
            rate_limited: Counter::default(),
            bytes: Family::default(),
            exec_seconds: Histogram::new(exponential_buckets(0.005, 4.0, 10)),
            reloads: Family::default(),
            transfers: Family::default(),
            tls_expiry: Gauge::default(),
            jobs_running: Gauge::default(),
            jobs_started: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "connections_open",
            "Connections open now",
            m.connections_open.clone(),
        );
        r.register("connections", "Connections admitted", m.connections.clone());
        r.register(
            "auth",
            "Sign-in attempts by method and result",
            m.auth.clone(),
        );
        r.register("exec", "Commands by result", m.execs.clone());
        r.register(
            "penalties",
            "Sources that went over the penalty threshold",
            m.penalties.clone(),
        );
        r.register(
            "rate_limited",
            "Connections refused as rate limited",
            m.rate_limited.clone(),
        );
        r.register(
            "bytes",
            "Bytes through commands and transfers by stream",
            m.bytes.clone(),
        );
        r.register(
            "transfers",
            "File transfers by direction and result",
            m.transfers.clone(),
        );
        r.register(
            "exec_duration_seconds",
            "Command run time",
            m.exec_seconds.clone(),
        );
        r.register(
            "reloads",
            "Configuration reloads by result",
            m.reloads.clone(),
        );
        r.register(
            "tls_certificate_expiry_timestamp_seconds",
            "When the server's TLS certificate expires (seconds since 1970; 0: unknown)",
            m.tls_expiry.clone(),
        );
        r.register(
            "jobs_running",
            "Jobs (detached or resumable) whose command runs now",
            m.jobs_running.clone(),
        );
        r.register("jobs_started", "Jobs started", m.jobs_started.clone());
        Arc::new(Metrics { registry, ..m })
    }

    /// Count one sign-in attempt.
    pub fn auth(&self, method: &str, result: AuthResult) {
        let labels = AuthLabels {
            method: method.into(),
            result,
        };
        self.auth.get_or_create(&labels).inc();
    }

    /// Count one exec outcome.
    pub fn exec(&self, result: ExecResult) {
        self.execs.get_or_create(&ExecLabels { result }).inc();
    }

    /// Count bytes through a command.
    pub fn bytes(&self, direction: Direction, n: usize) {
        self.bytes
            .get_or_create(&DirLabels { direction })
            .inc_by(n as u64);
    }

    /// Count one finished transfer.
    pub fn transfer(&self, direction: &str, result: &str) {
        let labels = TransferLabels {
            direction: direction.into(),
            result: result.into(),
        };
        self.transfers.get_or_create(&labels).inc();
    }

    /// Count a reload.
    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" }.to_string();
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// The OpenMetrics text exposition of everything.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_openmetrics_text() {
        let m = Metrics::new();
        m.connections.inc();
        m.auth("key", AuthResult::ok);
        m.exec(ExecResult::timed_out);
        m.bytes(Direction::stdout, 12);
        m.exec_seconds.observe(0.02);
        let text = m.encode();
        assert!(text.contains("secsh_connections_total 1\n"), "{text}");
        assert!(
            text.contains("secsh_auth_total{method=\"key\",result=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("secsh_exec_total{result=\"timed_out\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("secsh_bytes_total{direction=\"stdout\"} 12\n"),
            "{text}"
        );
        assert!(
            text.contains("secsh_exec_duration_seconds_count 1\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
