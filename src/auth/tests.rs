use ssh_key::{HashAlg, LineEnding, PrivateKey};

use super::*;

fn key(seed: u8) -> PrivateKey {
    let kp = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
    PrivateKey::from(kp)
}

fn sign(k: &PrivateKey, user: &str, exporter: &[u8; 32]) -> String {
    k.sign(NAMESPACE, HashAlg::Sha512, &signing_message(user, exporter))
        .unwrap()
        .to_pem(LineEnding::LF)
        .unwrap()
}

#[test]
fn signing_message_layout() {
    let msg = signing_message("alice", &[7; 32]);
    let mut want = b"secsh-auth-v1\0alice\0".to_vec();
    want.extend_from_slice(&[7; 32]);
    assert_eq!(msg, want);
}

#[test]
fn accepts_listed_key_for_same_session() {
    let k = key(1);
    let keys = [k.public_key().clone()];
    let sig = sign(&k, "alice", &[9; 32]);
    assert!(verify_key_auth("alice", Some(&keys), &[9; 32], &sig).is_ok());
}

#[test]
fn rejects_replay_other_user_other_key_and_garbage() {
    let k = key(1);
    let keys = [k.public_key().clone()];
    let sig = sign(&k, "alice", &[9; 32]);
    assert_eq!(
        verify_key_auth("alice", Some(&keys), &[8; 32], &sig),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        verify_key_auth("bob", Some(&keys), &[9; 32], &sig),
        Err(AuthError::BadSignature)
    );
    let other = sign(&key(2), "alice", &[9; 32]);
    assert!(matches!(
        verify_key_auth("alice", Some(&keys), &[9; 32], &other),
        Err(AuthError::KeyNotAuthorized(_))
    ));
    assert_eq!(
        verify_key_auth("nobody", None, &[9; 32], &sig),
        Err(AuthError::UnknownUser)
    );
    assert_eq!(
        verify_key_auth("alice", Some(&keys), &[9; 32], "hello"),
        Err(AuthError::Malformed)
    );
    let wrong_ns = k
        .sign("file", HashAlg::Sha512, &signing_message("alice", &[9; 32]))
        .unwrap()
        .to_pem(LineEnding::LF)
        .unwrap();
    assert_eq!(
        verify_key_auth("alice", Some(&keys), &[9; 32], &wrong_ns),
        Err(AuthError::BadSignature)
    );
}
