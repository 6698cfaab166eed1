//! OpenSSH user certificates (PROTOCOL.certkeys) as secshd accepts them,
//! the checks OpenSSH's `TrustedUserCAKeys` makes: a *user* certificate,
//! signed by a trusted CA, inside its validity window (give or take a
//! small clock skew), naming a principal the account accepts, with
//! `source-address` obeyed and any other critical option except
//! `force-command` refusing the certificate. Extensions are ignored.
//! Pure: the time and the peer's address are passed in.

use std::net::IpAddr;

use ssh_key::certificate::CertType;
use ssh_key::{Certificate, HashAlg, PublicKey};

/// Seconds a certificate is accepted before its `valid after` and after
/// its `valid before`, for clocks that disagree a little.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// What a certificate that passed says, for the audit trail and the
/// session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate's key id (`ssh-keygen -I`).
    pub key_id: String,
    /// Its serial number (`ssh-keygen -z`).
    pub serial: u64,
    /// The signing CA's `SHA256:...` fingerprint.
    pub ca: String,
    /// The principal that admitted the account.
    pub principal: String,
    /// Seconds since 1970 when it stops being valid.
    pub valid_before: u64,
    /// Its `force-command`, split into words: the only command the
    /// session may run.
    pub force_command: Option<Vec<String>>,
    /// The certificate itself (for revocation checks on reload).
    pub certificate: Certificate,
}

/// Why a certificate was refused (for the server's log and audit only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Not parsable as an OpenSSH certificate.
    #[error("not an OpenSSH certificate")]
    Malformed,
    /// A host certificate offered as a user's.
    #[error("a host certificate, not a user certificate")]
    NotUser,
    /// Not signed by a configured user CA (or the signature is wrong).
    #[error("not signed by a trusted user CA (signed by {0})")]
    Untrusted(String),
    /// Before `valid after`.
    #[error("not valid until {0} (seconds since 1970)")]
    NotYetValid(u64),
    /// At or after `valid before`.
    #[error("expired at {0} (seconds since 1970)")]
    Expired(u64),
    /// No principal the account accepts.
    #[error("no accepted principal: it names {0:?}")]
    Principal(Vec<String>),
    /// `source-address` does not include the peer.
    #[error("source-address {0:?} does not include the client's address")]
    Source(String),
    /// A critical option secshd does not know.
    #[error("unknown critical option {0:?}")]
    CriticalOption(String),
    /// The signature's key is not the certificate's key.
    #[error("the signature was made by another key than the certificate's")]
    KeyMismatch,
}

/// A certificate as received: its fields, and the bytes its CA signed.
#[derive(Debug, Clone)]
pub struct Received {
    /// The fields (a `valid before` past 2^63-1, "forever", reads as
    /// 2^63-1).
    pub cert: Certificate,
    /// The signed part of the certificate, exactly as sent.
    tbs: Vec<u8>,
}

/// Parse an OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com
/// AAAA... comment`).
pub fn parse(line: &str) -> Result<Received, CertError> {
    use base64ct::Encoding;
    let b64 = line.split_whitespace().nth(1).ok_or(CertError::Malformed)?;
    let blob = base64ct::Base64::decode_vec(b64).map_err(|_| CertError::Malformed)?;
    from_blob(&blob)
}

/// [`parse`] of the decoded certificate.
pub fn from_blob(blob: &[u8]) -> Result<Received, CertError> {
    use ssh_encoding::Decode;
    let layout = layout(blob).ok_or(CertError::Malformed)?;
    let mut patched = blob.to_vec();
    let vb = &mut patched[layout.valid_before..layout.valid_before + 8];
    if u64::from_be_bytes(vb.try_into().expect("8 bytes")) > i64::MAX as u64 {
        vb.copy_from_slice(&(i64::MAX as u64).to_be_bytes());
    }
    let cert = Certificate::decode(&mut &patched[..]).map_err(|_| CertError::Malformed)?;
    Ok(Received {
        cert,
        tbs: blob[..layout.tbs_end].to_vec(),
    })
}

/// Where `valid before` is and where the signed part ends.
struct Layout {
    valid_before: usize,
    tbs_end: usize,
}

/// Walk a certificate blob (PROTOCOL.certkeys) by its length prefixes.
fn layout(blob: &[u8]) -> Option<Layout> {
    let mut p = 0usize;
    let string = |p: &mut usize| -> Option<&[u8]> {
        let len = u32::from_be_bytes(blob.get(*p..*p + 4)?.try_into().ok()?) as usize;
        let s = blob.get(*p + 4..(*p + 4).checked_add(len)?)?;
        *p += 4 + len;
        Some(s)
    };
    let key_fields = match string(&mut p)? {
        b"ssh-ed25519-cert-v01@openssh.com" => 1,
        b"ecdsa-sha2-nistp256-cert-v01@openssh.com"
        | b"ecdsa-sha2-nistp384-cert-v01@openssh.com"
        | b"ecdsa-sha2-nistp521-cert-v01@openssh.com"
        | b"sk-ssh-ed25519-cert-v01@openssh.com"
        | b"ssh-rsa-cert-v01@openssh.com" => 2,
        b"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com" => 3,
        _ => return None,
    };
    string(&mut p)?; // nonce
    for _ in 0..key_fields {
        string(&mut p)?;
    }
    p += 8 + 4; // serial, type
    string(&mut p)?; // key id
    string(&mut p)?; // principals
    p += 8; // valid after
    let valid_before = p;
    p += 8;
    blob.get(valid_before..p)?;
    for _ in 0..4 {
        string(&mut p)?; // critical options, extensions, reserved, CA key
    }
    let tbs_end = p;
    string(&mut p)?; // signature
    (p == blob.len()).then_some(Layout {
        valid_before,
        tbs_end,
    })
}

/// Check `cert` for an account that accepts `principals`, against the
/// trusted `cas`, at `now` (seconds since 1970), for a client at `peer`.
pub fn check(
    received: &Received,
    cas: &[PublicKey],
    principals: &[String],
    now: u64,
    peer: IpAddr,
) -> Result<CertInfo, CertError> {
    use signature::Verifier;
    let cert = &received.cert;
    if cert.cert_type() != CertType::User {
        return Err(CertError::NotUser);
    }
    let ca = cert.signature_key().fingerprint(HashAlg::Sha256);
    let trusted = cas.iter().any(|k| k.fingerprint(HashAlg::Sha256) == ca);
    let signed = cert
        .signature_key()
        .verify(&received.tbs, cert.signature())
        .is_ok();
    if !trusted || !signed {
        return Err(CertError::Untrusted(ca.to_string()));
    }
    let (after, before) = (cert.valid_after(), cert.valid_before());
    if now.saturating_add(CLOCK_SKEW_SECS) < after {
        return Err(CertError::NotYetValid(after));
    }
    if now >= before.saturating_add(CLOCK_SKEW_SECS) {
        return Err(CertError::Expired(before));
    }
    let principal = cert
        .valid_principals()
        .iter()
        .find(|p| principals.contains(p))
        .cloned()
        .ok_or_else(|| CertError::Principal(cert.valid_principals().to_vec()))?;
    let mut force_command = None;
    for (name, value) in cert.critical_options().iter() {
        match name.as_str() {
            "source-address" => {
                if !source_allows(value, peer) {
                    return Err(CertError::Source(value.clone()));
                }
            }
            "force-command" => force_command = Some(words(value)),
            other => return Err(CertError::CriticalOption(other.to_string())),
        }
    }
    Ok(CertInfo {
        key_id: cert.key_id().to_string(),
        serial: cert.serial(),
        ca: ca.to_string(),
        principal,
        valid_before: before,
        force_command,
        certificate: cert.clone(),
    })
}

/// `source-address`: a comma list of addresses and CIDR blocks.
fn source_allows(list: &str, peer: IpAddr) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    list.split(',').map(str::trim).any(|entry| {
        if let Ok(net) = entry.parse::<ipnet::IpNet>() {
            net.contains(&peer)
        } else {
            entry.parse::<IpAddr>().is_ok_and(|a| a == peer)
        }
    })
}

/// A `force-command` split into words as a shell would split it (quotes
/// and backslashes), without running one.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quote, mut any) = (None, false);
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, '\\') | (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                any = true;
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_commands_split_like_a_shell() {
        assert_eq!(words("/bin/echo forced-xyz"), ["/bin/echo", "forced-xyz"]);
        assert_eq!(
            words("/bin/sh -c 'touch /tmp/x y'  \"a b\"\\ c"),
            ["/bin/sh", "-c", "touch /tmp/x y", "a b c"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
    }

    #[test]
    fn source_address_lists() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(source_allows("127.0.0.0/8", ip("127.0.0.1")));
        assert!(source_allows("10.0.0.1,127.0.0.2/32", ip("127.0.0.2")));
        assert!(!source_allows("127.0.0.2/32", ip("127.0.0.1")));
        assert!(source_allows("127.0.0.1", ip("::ffff:127.0.0.1")));
        assert!(!source_allows("garbage", ip("127.0.0.1")));
    }
}
