//! Sign-in by an OpenSSH user certificate (`[auth] user_ca_keys`): the
//! signature must be by the certificate's key, and the certificate must
//! pass [`crate::auth::cert::check`] for the account's principals, at the
//! address the client connects from.

use std::net::SocketAddr;
use std::time::SystemTime;

use ssh_key::{PublicKey, SshSig};

use super::auth::{decide, failed, failed_key, shown, Proof};
use super::Live;
use crate::auth::cert;
use crate::proto::AuthMethod;
use crate::session::AuthVerdict;

/// A key not listed for `name`, admitted (or not) by its certificate
/// `line`. The signature itself was verified by the caller.
pub(super) fn by_certificate(
    live: &Live,
    peer: SocketAddr,
    name: &str,
    signature: &str,
    line: &str,
    proven: &[AuthMethod],
) -> Proof {
    let who = shown(name);
    let Some(signer) = SshSig::from_pem(signature)
        .ok()
        .map(|s| PublicKey::from(s.public_key().clone()))
    else {
        return failed(format!("user {who}: signature is not a valid SSHSIG"));
    };
    let fp = signer.fingerprint(Default::default());
    // An unknown user's certificate is parsed and checked all the same
    // (against no principals), so the work tells no account apart.
    let user = live.config.users.get(name);
    let principals: &[String] = user.map_or(&[], |u| &u.principals);
    let unknown = || failed(format!("user {who}: unknown user"));
    let certificate = match cert::parse(line) {
        Ok(c) => c,
        Err(_) if user.is_none() => return unknown(),
        Err(e) => return failed_key(format!("user {who} key {fp}: {e}"), &fp),
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cas = &live.config.auth.user_cas;
    let checked = cert::check(&certificate, cas, principals, now, peer.ip());
    let Some(user) = user else {
        return unknown();
    };
    if certificate.cert.public_key() != signer.key_data() {
        let e = cert::CertError::KeyMismatch;
        return failed_key(format!("user {who} key {fp}: {e}"), &fp);
    }
    let id = shown(certificate.cert.key_id());
    let serial = certificate.cert.serial();
    if live.config.auth.revoked.cert(&certificate.cert) {
        let why = format!(
            "user {who} key {fp}: certificate {id} serial {serial} is revoked (revoked_keys)"
        );
        return failed_key(why, &fp);
    }
    let info = match checked {
        Ok(info) => info,
        Err(e) => {
            let why = format!("user {who} key {fp}: certificate {id} serial {serial}: {e}");
            return failed_key(why, &fp);
        }
    };
    if !user.allowed_from(peer.ip()) {
        let why = format!("user {who} key {fp}: not allowed from this address (from)");
        return failed_key(why, &fp);
    }
    let v = decide(Some(user), AuthMethod::Key, true, proven);
    match &v {
        AuthVerdict::Failed => {
            let why = format!("user {who} key {fp}: key sign-in is not allowed for this user");
            return failed_key(why, &fp);
        }
        _ => tracing::info!(%peer, user = %who, key = %fp, cert = %id, serial,
            ca = %info.ca, principal = %shown(&info.principal), method = "key", "authenticated by certificate"),
    }
    Proof {
        verdict: v,
        failure: None,
        key: Some(fp.to_string()),
        cert: Some(info),
    }
}
