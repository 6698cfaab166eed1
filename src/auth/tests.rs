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

/// The worked example in docs/PROTOCOL.md: user "alice", exporter bytes
/// 0x00..=0x1f, the Ed25519 key whose seed is 32 bytes of 0x01.
#[test]
fn protocol_doc_test_vector() {
    let exporter: [u8; 32] = std::array::from_fn(|i| i as u8);
    let msg = signing_message("alice", &exporter);
    let hex: String = msg.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "73656373682d617574682d763100616c69636500\
         000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    );
    let k = key(1);
    let pem = sign(&k, "alice", &exporter);
    assert_eq!(
        k.public_key().to_openssh().unwrap(),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
    );
    assert_eq!(pem, DOC_SIGNATURE);
    let keys = [k.public_key().clone()];
    assert!(verify_key_auth("alice", Some(&keys), &exporter, DOC_SIGNATURE).is_ok());
}

const DOC_SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgiojj3XQJ8ZX9UtstPLpdcspnCb
8dlBIb83SIAbQPb1wAAAAKc2Vjc2gtYXV0aAAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gt
ZWQyNTUxOQAAAEBu7enNXUsx+gx1FUYqSsDCR4XxXMdaEliXPMHbjOieOf8aRxrv+wHlO7
oUU8P4gU/GTLd2/ZixJMikhug+6W0K
-----END SSH SIGNATURE-----
";
