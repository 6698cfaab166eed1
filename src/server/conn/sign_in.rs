//! Sign-in on a connection: the verifier's answer in the log, the audit
//! trail and the metrics, and the slots a successful sign-in must hold.

use std::time::Instant;

use super::Conn;
use crate::audit::{Auth, CertAudit, Event};
use crate::metrics::AuthResult;
use crate::proto::AuthMethod;
use crate::server::auth::Proof;
use crate::server::tally::Event as Tallied;
use crate::session::AuthVerdict;

impl Conn {
    /// Hand the verifier's answer to the session; a successful sign-in
    /// first needs a free authenticated-connection slot and room in the
    /// user's connection budget.
    pub(super) fn verdict(&mut self, user: &str, method: AuthMethod, proof: Proof) {
        let Proof {
            verdict,
            failure,
            key,
            cert,
        } = proof;
        let peer = self.peer;
        let method_name = match method {
            AuthMethod::Key => "key",
            AuthMethod::Password => "password",
        };
        let result = match &verdict {
            AuthVerdict::Ok(_) => AuthResult::ok,
            AuthVerdict::Partial { .. } => AuthResult::partial,
            AuthVerdict::Failed => AuthResult::failed,
        };
        self.shared.metrics.auth(method_name, result);
        if let Some(reason) = failure {
            let tally = &self.shared.door.tally;
            if tally.note(Tallied::AuthFailed, self.ticket.source()) {
                tracing::warn!(%peer, "authentication failed: {reason}");
            }
            self.audit(Event::AuthFailed {
                conn: self.id,
                peer: peer.to_string(),
                user: crate::logtext::shown(user),
                method: method_name.into(),
                key: key.clone(),
                reason,
            });
        }
        if key.is_some() && !matches!(verdict, AuthVerdict::Failed) {
            self.key = key;
            self.cert = cert;
        }
        if method == AuthMethod::Password && !matches!(verdict, AuthVerdict::Failed) {
            // What a reload must still hold for this sign-in to stand.
            let hash = self
                .live
                .config
                .users
                .get(user)
                .and_then(|u| u.password.clone());
            self.password = hash;
        }
        if matches!(verdict, AuthVerdict::Ok(_)) {
            match crate::server::admit::slot(&self.shared, &self.live, &self.ticket, user, peer) {
                Ok(slot) => self.slot = Some(slot),
                Err(message) => return self.session.reject_busy(&message),
            }
            self.ticket.release();
            let method = match (&self.key, method) {
                (Some(_), AuthMethod::Password) => "key+password",
                (_, AuthMethod::Key) => "key",
                (None, AuthMethod::Password) => "password",
            };
            let auth = Auth {
                method: method.into(),
                key: self.key.clone(),
                cert: self.cert.as_ref().map(|c| CertAudit {
                    key_id: c.key_id.clone(),
                    serial: c.serial,
                    ca: c.ca.clone(),
                    principal: c.principal.clone(),
                }),
            };
            self.auth = Some(auth.clone());
            self.audit(Event::AuthOk {
                conn: self.id,
                peer: peer.to_string(),
                user: user.to_string(),
                auth,
            });
        }
        self.session
            .handle_auth_result(user, verdict, Instant::now());
    }
}
