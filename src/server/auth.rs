//! Checking one `auth` proof for the connection driver: keys inline (a
//! signature check is microseconds), passwords on a bounded pool of
//! blocking threads (argon2id takes tens of milliseconds and 19 MiB), so a
//! flood of password attempts waits its turn and never starves the
//! runtime that key-authenticated sessions run on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;

use super::Live;
use crate::auth::{verify_key_auth, verify_password, Verified};
use crate::config::User;
use crate::proto::{AuthMethod, Secret};
use crate::session::{AuthVerdict, Grant};

/// Password verifications running at once, process-wide.
pub(crate) fn password_pool() -> Arc<Semaphore> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(Semaphore::new(cpus.clamp(1, 8)))
}

/// Peer-controlled text for a log line: at most 64 characters, escaped.
pub(crate) fn shown(s: &str) -> String {
    let head: String = s
        .chars()
        .take(64)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if s.chars().count() > 64 {
        format!("{head}... ({} bytes)", s.len())
    } else {
        head
    }
}

/// The verdict once `method` was proven (`ok`) or not for `user`.
fn decide(user: Option<&User>, method: AuthMethod, ok: bool, proven: &[AuthMethod]) -> AuthVerdict {
    let Some(user) = user.filter(|u| ok && u.allows(method)) else {
        return AuthVerdict::Failed;
    };
    let mut all = proven.to_vec();
    all.push(method);
    match user.missing(&all) {
        None => AuthVerdict::Ok(Grant {
            stdin_budget: user.limits.stdin_buffer,
        }),
        Some(remaining) => AuthVerdict::Partial { method, remaining },
    }
}

/// One proof checked: the verdict, and for a failure the real reason
/// (for the log, which the caller writes within the per-source bound; the
/// client only ever learns that the attempt failed).
pub(crate) struct Proof {
    pub verdict: AuthVerdict,
    pub failure: Option<String>,
    /// The signing key's fingerprint, when a signature verified.
    pub key: Option<String>,
}

fn failed(reason: String) -> Proof {
    Proof {
        verdict: AuthVerdict::Failed,
        failure: Some(reason),
        key: None,
    }
}

fn failed_key(reason: String, fp: &ssh_key::Fingerprint) -> Proof {
    Proof {
        key: Some(fp.to_string()),
        ..failed(reason)
    }
}

/// Check an SSHSIG proof.
pub(crate) fn key(
    live: &Live,
    peer: SocketAddr,
    name: &str,
    signature: &str,
    exporter: &[u8; 32],
    proven: &[AuthMethod],
) -> Proof {
    let user = live.config.users.get(name);
    let keys = user.map(|u| u.keys.as_slice());
    let key = match verify_key_auth(name, keys, exporter, signature) {
        Ok(key) => key,
        Err(e) => return failed(format!("user {}: {e}", shown(name))),
    };
    let fp = key.fingerprint(Default::default());
    let expired = user
        .and_then(|u| u.key_expires(&key))
        .filter(|t| *t <= SystemTime::now());
    if let Some(t) = expired {
        let when = crate::timefmt::utc(t);
        return failed_key(
            format!(
                "user {} key {fp}: the key expired at {when} (expiry-time)",
                shown(name)
            ),
            &fp,
        );
    }
    if user.is_some_and(|u| !u.allowed_from(peer.ip())) {
        return failed_key(
            format!(
                "user {} key {fp}: not allowed from this address (from)",
                shown(name)
            ),
            &fp,
        );
    }
    let v = decide(user, AuthMethod::Key, true, proven);
    match &v {
        AuthVerdict::Failed => {
            return failed_key(
                format!(
                    "user {} key {fp}: key sign-in is not allowed for this user",
                    shown(name)
                ),
                &fp,
            )
        }
        AuthVerdict::Partial { .. } => tracing::info!(%peer, user = %shown(name), key = %fp,
            "key accepted; the user must also give a password"),
        AuthVerdict::Ok(_) => tracing::info!(%peer, user = %shown(name), key = %fp,
            method = "key", "authenticated"),
    }
    Proof {
        verdict: v,
        failure: None,
        key: Some(fp.to_string()),
    }
}

/// Check a password proof on the bounded pool. Unknown users and users
/// without a password are verified against a dummy hash: the same work.
pub(crate) async fn password(
    pool: Arc<Semaphore>,
    live: Arc<Live>,
    peer: SocketAddr,
    name: String,
    password: Secret,
    proven: Vec<AuthMethod>,
) -> Proof {
    let Ok(_permit) = pool.acquire_owned().await else {
        return failed("the password pool is closed".into());
    };
    let hash = live
        .config
        .users
        .get(&name)
        .and_then(|u| u.password.clone());
    let result =
        tokio::task::spawn_blocking(move || verify_password(hash.as_ref(), password.expose()))
            .await;
    let user = live.config.users.get(&name);
    let verified = result.unwrap_or(Verified::Mismatch);
    let who = shown(&name);
    if verified == Verified::Match && user.is_some_and(|u| !u.allowed_from(peer.ip())) {
        return failed(format!("user {who}: not allowed from this address (from)"));
    }
    let matched = verified == Verified::Match;
    let v = decide(user, AuthMethod::Password, matched, &proven);
    let reason = match (&v, verified) {
        (AuthVerdict::Ok(_), _) => {
            tracing::info!(%peer, user = %who, method = "password", "authenticated");
            None
        }
        (AuthVerdict::Partial { .. }, _) => {
            tracing::info!(%peer, user = %who, "password accepted; the user must also sign with a key");
            None
        }
        (AuthVerdict::Failed, Verified::Dummy) if user.is_none() => Some("unknown user"),
        (AuthVerdict::Failed, Verified::Dummy) => Some("the user has no password"),
        (AuthVerdict::Failed, Verified::Match) => {
            Some("password sign-in is not allowed for this user")
        }
        (AuthVerdict::Failed, Verified::Mismatch) => Some("wrong password"),
    };
    match reason {
        Some(r) => failed(format!("user {who}: {r}")),
        None => Proof {
            verdict: v,
            failure: None,
            key: None,
        },
    }
}
