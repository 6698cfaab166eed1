//! Checking one `auth` proof for the connection driver: keys inline (a
//! signature check is microseconds), passwords on a bounded pool of
//! blocking threads (argon2id takes tens of milliseconds and 19 MiB), so a
//! flood of password attempts waits its turn and never starves the
//! runtime that key-authenticated sessions run on. A pool slot is held
//! until the verification itself ends, even when the connection that
//! asked for it is gone. Every password attempt takes the time of the
//! costliest hash configured ([`Floor`]), so timing tells no account
//! apart from another or from an unknown name.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use super::Live;
use crate::auth::{verify_key_auth, verify_password, AuthError, PasswordCost, Verified};
use crate::config::User;
use crate::proto::{AuthMethod, Secret};
use crate::session::{AuthVerdict, Grant};

/// Password verifications running at once, process-wide.
pub(crate) fn password_pool() -> Arc<Semaphore> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(Semaphore::new(cpus.clamp(1, 8)))
}

/// Run `work` on the blocking pool once `pool` has a slot. The slot goes
/// with the work, not with the caller: a caller that gives up (its
/// connection reached the auth deadline) frees it only when the work is
/// done, so no more verifications run at once than the pool allows.
/// `None` when the pool is closed or the work panicked.
pub(crate) async fn on_pool<T: Send + 'static>(
    pool: Arc<Semaphore>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let permit = pool.acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || {
        let out = work();
        drop(permit);
        out
    })
    .await
    .ok()
}

/// The time every password attempt takes under one configuration: what
/// a verification at the costliest configured hash takes (a running
/// average of those measured), plus a margin. Unknown users and users
/// without a password are verified at that cost; cheaper hashes are
/// padded to it.
pub(crate) struct Floor {
    ceiling: PasswordCost,
    /// Running average of verifications at `ceiling`, microseconds (0:
    /// none measured yet).
    average_us: AtomicU64,
}

/// Headroom over the average, so that few attempts at the ceiling end
/// after the floor (percent).
const FLOOR_MARGIN_PCT: u64 = 15;

impl Floor {
    /// For a configuration's password hashes.
    pub fn new(config: &crate::config::ServerConfig) -> Self {
        let hashes = config.users.values().filter_map(|u| u.password.as_ref());
        Self {
            ceiling: PasswordCost::ceiling(hashes),
            average_us: AtomicU64::new(0),
        }
    }

    fn measured(&self, took: Duration) {
        let sample = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.average_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.average_us.store(new, Ordering::Relaxed);
    }

    fn known(&self) -> bool {
        self.average_us.load(Ordering::Relaxed) != 0
    }

    /// How long an attempt takes from the start of its verification.
    fn time(&self) -> Duration {
        let avg = self.average_us.load(Ordering::Relaxed);
        Duration::from_micros(avg + avg * FLOOR_MARGIN_PCT / 100)
    }
}

/// Verify on the pool (measuring the ceiling when this attempt ran at
/// it), then wait out the floor counted from when the verification began.
async fn verify_padded(
    pool: Arc<Semaphore>,
    live: Arc<Live>,
    name: &str,
    password: Secret,
) -> Option<Verified> {
    let hash = live.config.users.get(name).and_then(|u| u.password.clone());
    let l = live.clone();
    let (verified, began) = on_pool(pool, move || {
        let floor = &l.floor;
        let began = Instant::now();
        let at_ceiling = hash.as_ref().is_none_or(|h| h.cost() == floor.ceiling);
        let verified = verify_password(hash.as_ref(), password.expose(), floor.ceiling);
        if at_ceiling {
            floor.measured(began.elapsed());
        } else if !floor.known() {
            // First attempt under this configuration, on a cheaper hash:
            // measure the ceiling once so this attempt is padded too.
            let t = Instant::now();
            let _ = verify_password(None, password.expose(), floor.ceiling);
            floor.measured(t.elapsed());
        }
        (verified, began)
    })
    .await?;
    let until = began + live.floor.time();
    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
    Some(verified)
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
pub(super) fn decide(
    user: Option<&User>,
    method: AuthMethod,
    ok: bool,
    proven: &[AuthMethod],
) -> AuthVerdict {
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
    /// The user certificate that admitted the key, when one did.
    pub cert: Option<crate::auth::cert::CertInfo>,
}

pub(super) fn failed(reason: String) -> Proof {
    Proof {
        verdict: AuthVerdict::Failed,
        failure: Some(reason),
        key: None,
        cert: None,
    }
}

pub(super) fn failed_key(reason: String, fp: &ssh_key::Fingerprint) -> Proof {
    Proof {
        key: Some(fp.to_string()),
        ..failed(reason)
    }
}

/// Check an SSHSIG proof: a key listed for the user signs in on its own;
/// a key that is not listed may be admitted by its user `certificate`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn key(
    live: &Live,
    peer: SocketAddr,
    name: &str,
    signature: &str,
    certificate: Option<&str>,
    exporter: &[u8; 32],
    proven: &[AuthMethod],
) -> Proof {
    let user = live.config.users.get(name);
    let keys = user.map(|u| u.keys.as_slice());
    let key = match (
        verify_key_auth(name, keys, exporter, signature),
        certificate,
    ) {
        (Ok(key), _) => key,
        (Err(AuthError::KeyNotAuthorized(_)), Some(line)) => {
            return super::auth_cert::by_certificate(live, peer, name, signature, line, proven)
        }
        (Err(e), _) => return failed(format!("user {}: {e}", shown(name))),
    };
    let fp = key.fingerprint(Default::default());
    if live.config.auth.revoked.key(key.key_data()) {
        let why = format!(
            "user {} key {fp}: the key is revoked (revoked_keys)",
            shown(name)
        );
        return failed_key(why, &fp);
    }
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
        cert: None,
    }
}

/// Check a password proof on the bounded pool. Unknown users and users
/// without a password are verified at the costliest configured cost, and
/// every attempt takes the [`Floor`]'s time.
pub(crate) async fn password(
    pool: Arc<Semaphore>,
    live: Arc<Live>,
    peer: SocketAddr,
    name: String,
    password: Secret,
    proven: Vec<AuthMethod>,
) -> Proof {
    let verified = verify_padded(pool, live.clone(), &name, password).await;
    let Some(verified) = verified else {
        return failed("the password check did not run (pool closed)".into());
    };
    let user = live.config.users.get(&name);
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
            cert: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller that gives up does not free the slot of work still running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_check_keeps_its_pool_slot_until_it_ends() {
        let pool = Arc::new(Semaphore::new(1));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let p = pool.clone();
        let caller = tokio::spawn(async move { on_pool(p, move || rx.recv()).await });
        for _ in 0..500 {
            if pool.available_permits() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(pool.available_permits(), 0, "the work never started");
        caller.abort();
        let _ = caller.await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            pool.available_permits(),
            0,
            "the slot was freed while its verification still ran"
        );
        tx.send(()).unwrap();
        for _ in 0..500 {
            if pool.available_permits() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the slot was never given back");
    }
}
