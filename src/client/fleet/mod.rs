//! Fleet runs: one call across many hosts. `targets` expands lists,
//! ranges and hosts files; `inventory` reads Ansible inventories; `run`
//! drives every host from one runtime with bounded parallelism and
//! reports exactly one [`Status`] per host; this file holds the result
//! types and the exit status a runbook can trust.

pub mod inventory;
pub mod resolve;
mod run;
pub mod script;
pub mod targets;

use std::sync::Arc;
use std::time::Duration;

pub use run::{run_fleet, FleetCreds, FleetOptions, MaxErrors, Sink};

use super::Target;

/// One host to run on.
#[derive(Clone)]
pub struct HostPlan {
    /// The name shown for it (as given, or its inventory name).
    pub label: String,
    /// Where to connect (address and port; the address is also the name
    /// checked against the server's certificate).
    pub target: Target,
    /// The account to sign in as.
    pub user: String,
    /// TLS settings (the CA bundle for this host).
    pub tls: Arc<rustls::ClientConfig>,
    /// Follow this job instead of running the commands (`--attach DIR`);
    /// empty: none was recorded for the host.
    pub job: Option<String>,
}

/// How one host ended: exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every command exited 0.
    Ok,
    /// A command exited with this code.
    Failed(i32),
    /// A signal killed a command.
    Signalled(i32),
    /// The server killed a command at its time limit.
    TimedOut,
    /// The allowlist refused a command.
    Denied,
    /// Authentication failed.
    AuthFailed,
    /// The server is at a limit (a per-user budget, or too many
    /// connections): retry later.
    Busy,
    /// The server refuses this source for a while (penalty).
    RateLimited,
    /// No TCP connection (name, route, refused, connect timeout).
    Unreachable,
    /// TLS or protocol failure after connecting.
    ProtocolError,
    /// Stopped by the deadline or Ctrl-C.
    Cancelled,
    /// Never started (`--max-errors` stopped dispatching).
    NotStarted,
}

impl Status {
    /// The status word (`failed`, `signalled`, ... without the number).
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed(_) => "failed",
            Status::Signalled(_) => "signalled",
            Status::TimedOut => "timed_out",
            Status::Denied => "denied",
            Status::AuthFailed => "auth_failed",
            Status::Busy => "busy",
            Status::RateLimited => "rate_limited",
            Status::Unreachable => "unreachable",
            Status::ProtocolError => "protocol_error",
            Status::Cancelled => "cancelled",
            Status::NotStarted => "not_started",
        }
    }

    /// The several-host exit class: 4 unreachable/auth/busy/rate-limit/protocol,
    /// 5 denied, 3 timed out/cancelled/not started, 1 failed/signalled,
    /// 0 ok. The highest in the order 4 > 5 > 3 > 1 wins.
    fn class(&self) -> (u8, i32) {
        match self {
            Status::Unreachable
            | Status::AuthFailed
            | Status::Busy
            | Status::RateLimited
            | Status::ProtocolError => (4, 4),
            Status::Denied => (3, 5),
            Status::TimedOut | Status::Cancelled | Status::NotStarted => (2, 3),
            Status::Failed(_) | Status::Signalled(_) => (1, 1),
            Status::Ok => (0, 0),
        }
    }

    /// The exit status of a run on this one host: what a single-host
    /// `secsh` exits with (README's outcome table; the remote code,
    /// 128+signal, 250-255, 130).
    pub fn single_host_code(&self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Failed(c) => *c,
            Status::Signalled(s) => 128 + s,
            Status::TimedOut => super::EXIT_TIMED_OUT,
            Status::Denied => super::EXIT_DENIED,
            Status::AuthFailed => super::EXIT_AUTH_FAILED,
            Status::Busy => super::EXIT_BUSY,
            Status::RateLimited => super::EXIT_RATE_LIMITED,
            Status::Unreachable | Status::ProtocolError => super::EXIT_CONNECTION,
            Status::Cancelled | Status::NotStarted => 130,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Failed(c) => write!(f, "failed({c})"),
            Status::Signalled(s) => write!(f, "signalled({s})"),
            other => f.write_str(other.word()),
        }
    }
}

/// The exit status of a fleet run (whatever the number of hosts it
/// resolved to: a rerun of one failed host reads like the first run).
pub fn exit_code(results: &[HostResult]) -> i32 {
    results
        .iter()
        .map(|r| r.status.class())
        .max()
        .map_or(0, |(_, code)| code)
}

/// What happened on one host.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// Its position in the target list.
    pub index: usize,
    /// Its name.
    pub label: String,
    /// The address connected to.
    pub address: String,
    /// How it ended.
    pub status: Status,
    /// The worst status of its commands (with `keep_going`).
    pub worst: Status,
    /// Commands that ran.
    pub commands: usize,
    /// Wall time on this host.
    pub duration: Duration,
    /// Output bytes.
    pub stdout_bytes: u64,
    /// Error bytes.
    pub stderr_bytes: u64,
    /// Why, when it did not end well (for the summary).
    pub error: Option<String>,
    /// The job started (`--detach`) or followed (`--attach`).
    pub job: Option<String>,
}

impl HostResult {
    /// A result with no work done yet.
    pub fn new(index: usize, label: String, address: String, status: Status) -> Self {
        Self {
            index,
            label,
            address,
            status,
            worst: Status::Ok,
            commands: 0,
            duration: Duration::ZERO,
            stdout_bytes: 0,
            stderr_bytes: 0,
            error: None,
            job: None,
        }
    }

    fn note(&mut self, s: &Status) {
        if s.class() > self.worst.class() {
            self.worst = s.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(statuses: &[Status]) -> Vec<HostResult> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| HostResult::new(i, format!("h{i}"), String::new(), s.clone()))
            .collect()
    }

    /// README's outcome table is the code's: each row's fleet status,
    /// single-host exit status and fleet exit class are what `Status`
    /// says, and every status has a row.
    #[test]
    fn the_readme_outcome_table_is_the_code() {
        use Status::*;
        let all = [
            Ok,
            Failed(7),
            Signalled(9),
            TimedOut,
            Cancelled,
            NotStarted,
            Denied,
            AuthFailed,
            Busy,
            RateLimited,
            Unreachable,
            ProtocolError,
        ];
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let table = readme
            .split("| outcome | exit status (one host) | fleet status | fleet exit class |")
            .nth(1)
            .expect("the outcome table");
        let rows: Vec<Vec<&str>> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        for status in all {
            let word = format!("`{}`", status.word());
            let row = rows
                .iter()
                .find(|r| r[2] == word)
                .unwrap_or_else(|| panic!("no README row for {word}"));
            let exit = match &status {
                Failed(_) => "N".to_string(),
                Signalled(_) => "128+N".to_string(),
                NotStarted => "—".to_string(),
                s => s.single_host_code().to_string(),
            };
            assert_eq!(row[1], exit, "{word}: exit status");
            assert_eq!(row[3], status.class().1.to_string(), "{word}: class");
        }
        assert_eq!(Failed(7).single_host_code(), 7);
        assert_eq!(Signalled(9).single_host_code(), 137);
    }

    #[test]
    fn several_host_exit_codes_follow_4_5_3_1() {
        use Status::*;
        let cases: &[(&[Status], i32)] = &[
            (&[Ok, Ok], 0),
            (&[Ok, Failed(3)], 1),
            (&[Signalled(15), Ok], 1),
            (&[Failed(2), TimedOut], 3),
            (&[Cancelled, Failed(1)], 3),
            (&[Denied, TimedOut], 5),
            (&[Denied, Unreachable], 4),
            (&[AuthFailed, Ok], 4),
            (&[NotStarted, Unreachable], 4),
            (&[Failed(7)], 1),
            (&[Denied], 5),
            (&[Unreachable], 4),
        ];
        for (s, code) in cases {
            assert_eq!(exit_code(&results(s)), *code, "{s:?}");
        }
        assert_eq!(Failed(3).to_string(), "failed(3)");
        assert_eq!(Signalled(9).single_host_code(), 137);
        assert_eq!(Denied.single_host_code(), 253);
        assert_eq!(NotStarted.to_string(), "not_started");
    }
}
