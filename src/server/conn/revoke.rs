//! A reload reaching an open connection: from then on its requests are
//! judged by the new configuration, and when the new one no longer admits
//! the identity that signed in (the user removed, the key it signed with
//! gone or expired, its password changed, its address or sign-in methods
//! no longer allowed), the session is revoked: no new requests, running
//! ones stopped after `[exec] revoke_grace_ms`, the connection closed.

use std::time::{Instant, SystemTime};

use super::Conn;
use crate::config::ServerConfig;
use crate::proto::AuthMethod;

impl Conn {
    /// The configuration was reloaded.
    pub(super) fn reloaded(&mut self) {
        let live = self.shared.live();
        if std::sync::Arc::ptr_eq(&live, &self.live) {
            return;
        }
        self.live = live.clone();
        let Some(who) = self.who.as_mut() else {
            // Not signed in yet: the next attempt is checked against the
            // new configuration (and an attempt in flight by `judge`
            // once it succeeds).
            return;
        };
        who.live = live.clone();
        self.judge();
    }

    /// Revoke the session if the current configuration no longer admits
    /// the identity that signed in.
    pub(super) fn judge(&mut self) {
        let Some(who) = &self.who else {
            return;
        };
        let Some(why) = self.refused_by(&self.live.config) else {
            return;
        };
        let grace = self.live.config.exec.revoke_grace;
        tracing::info!(peer = %self.peer, user = %crate::logtext::shown(&who.user),
            "access revoked by the configuration: {why}; {} requests stopped after {grace:?}",
            self.session.live_requests());
        self.session.revoke(Instant::now(), grace);
    }

    /// Why `config` would not sign this connection's user in the way it
    /// did; `None` while it still would.
    fn refused_by(&self, config: &ServerConfig) -> Option<String> {
        let name = &self.who.as_ref()?.user;
        let Some(user) = config.users.get(&**name) else {
            return Some("the user was removed".into());
        };
        let mut proven = Vec::new();
        if let (Some(fp), Some(cert)) = (&self.key, &self.cert) {
            proven.push(AuthMethod::Key);
            let trusted = config
                .auth
                .user_cas
                .iter()
                .any(|k| k.fingerprint(Default::default()).to_string() == cert.ca);
            if !trusted {
                return Some(format!("the user CA {} is no longer trusted", cert.ca));
            }
            if config.auth.revoked.cert(&cert.certificate) {
                return Some(format!("certificate {} {fp} was revoked", cert.key_id));
            }
            if !user.principals.contains(&cert.principal) {
                return Some(format!(
                    "principal {:?} no longer admits the user",
                    cert.principal
                ));
            }
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if now >= cert.valid_before + crate::auth::cert::CLOCK_SKEW_SECS {
                return Some(format!("certificate {} {fp} expired", cert.key_id));
            }
        } else if let Some(fp) = &self.key {
            proven.push(AuthMethod::Key);
            let key = user
                .keys
                .iter()
                .find(|k| k.fingerprint(Default::default()).to_string() == *fp);
            let Some(key) = key else {
                return Some(format!("key {fp} was removed"));
            };
            if config.auth.revoked.key(key.key_data()) {
                return Some(format!("key {fp} was revoked"));
            }
            if user
                .key_expires(key)
                .is_some_and(|t| t <= SystemTime::now())
            {
                return Some(format!("key {fp} expired"));
            }
        }
        if let Some(hash) = &self.password {
            proven.push(AuthMethod::Password);
            if user.password.as_ref() != Some(hash) {
                return Some("the password was changed or removed".into());
            }
        }
        if !user.allowed_from(self.peer.ip()) {
            return Some("no longer allowed from this address (from)".into());
        }
        if !proven.iter().all(|m| user.allows(*m)) || user.missing(&proven).is_some() {
            return Some("the sign-in methods it used are no longer enough (auth)".into());
        }
        None
    }
}
