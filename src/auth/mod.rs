//! Authentication. Key auth: the client signs, as an OpenSSH SSHSIG with
//! namespace `secsh-auth`, a message binding the user name to this TLS
//! session's exporter, so a captured signature is useless elsewhere.
//! Password auth: argon2id PHC strings, verified with constant work for
//! unknown users.

pub mod cert;
mod key;
pub mod krl;
mod password;

pub use key::verify_key_auth;
pub use password::{
    hash as hash_password, verify as verify_password, Cost as PasswordCost, HashError, StoredHash,
    Verified, MAX_PASSWORD_LEN,
};

/// SSHSIG namespace of auth signatures.
pub const NAMESPACE: &str = "secsh-auth";
/// Version tag at the start of the signed message.
pub const MESSAGE_TAG: &[u8] = b"secsh-auth-v1";

/// The message a client signs: `"secsh-auth-v1" 0x00 user 0x00 exporter`.
pub fn signing_message(user: &str, exporter: &[u8; 32]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(MESSAGE_TAG.len() + user.len() + 34);
    msg.extend_from_slice(MESSAGE_TAG);
    msg.push(0);
    msg.extend_from_slice(user.as_bytes());
    msg.push(0);
    msg.extend_from_slice(exporter);
    msg
}

/// Why authentication failed. Peers only ever learn `auth_failed`; the
/// variants are for the server's log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The signature is not a parsable SSHSIG.
    #[error("signature is not a valid SSHSIG")]
    Malformed,
    /// The signature does not verify over this session's message.
    #[error("signature does not verify for this user and session")]
    BadSignature,
    /// The user is not configured.
    #[error("unknown user")]
    UnknownUser,
    /// The signing key is not one of the user's keys.
    #[error("key {0} is not authorized for this user")]
    KeyNotAuthorized(String),
}

#[cfg(test)]
mod tests;
