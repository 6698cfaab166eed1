//! Verification of SSHSIG key-auth signatures.

use ssh_key::{PublicKey, SshSig};

use super::{signing_message, AuthError, NAMESPACE};

/// Verify `signature_pem` as `user`'s proof for the session with
/// `exporter`. `authorized` is `None` for an unknown user: the signature is
/// still verified (against its own embedded key) so unknown users cost the
/// same work as known ones.
pub fn verify_key_auth(
    user: &str,
    authorized: Option<&[PublicKey]>,
    exporter: &[u8; 32],
    signature_pem: &str,
) -> Result<PublicKey, AuthError> {
    let sig = SshSig::from_pem(signature_pem).map_err(|_| AuthError::Malformed)?;
    let signer = PublicKey::from(sig.public_key().clone());
    let message = signing_message(user, exporter);
    let verified = signer.verify(NAMESPACE, &message, &sig).is_ok();
    let listed = authorized.map(|keys| keys.iter().any(|k| k.key_data() == sig.public_key()));
    match (verified, listed) {
        (_, None) => Err(AuthError::UnknownUser),
        (false, _) => Err(AuthError::BadSignature),
        (true, Some(false)) => Err(AuthError::KeyNotAuthorized(
            signer.fingerprint(Default::default()).to_string(),
        )),
        (true, Some(true)) => Ok(signer),
    }
}
