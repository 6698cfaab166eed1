//! The ssh-agent's key list, read here rather than through
//! `ssh-agent-client-rs`, whose decoder (ssh-key 0.6) fails the whole list
//! when the agent holds a certificate valid "forever" (`ssh-keygen`'s
//! default): SSH_AGENTC_REQUEST_IDENTITIES, then each key or certificate
//! blob. Signing still goes through `ssh-agent-client-rs`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use ssh_key::{Certificate, PublicKey};

/// Agent answers larger than this are refused.
const MAX_ANSWER: usize = 1 << 20;

/// What the agent holds: plain keys and certificates.
pub struct Held {
    /// Public keys.
    pub keys: Vec<PublicKey>,
    /// Certificates, with their lines as the agent gave them.
    pub certs: Vec<(Certificate, String)>,
}

/// List the identities of the agent at `socket`.
pub fn list(socket: &Path) -> std::io::Result<Held> {
    use base64ct::Encoding;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(&[0, 0, 0, 1, 11])?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_ANSWER {
        return Err(bad("agent answer of a bad size"));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    if body[0] != 12 {
        return Err(bad("the agent did not list its keys"));
    }
    let mut held = Held {
        keys: Vec::new(),
        certs: Vec::new(),
    };
    let n = u32::from_be_bytes(
        body.get(1..5)
            .ok_or_else(|| bad("short answer"))?
            .try_into()
            .expect("4"),
    );
    let mut p = 5usize;
    for _ in 0..n.min(1024) {
        let mut field = || -> Option<Vec<u8>> {
            let n = u32::from_be_bytes(body.get(p..p + 4)?.try_into().ok()?) as usize;
            let v = body.get(p + 4..(p + 4).checked_add(n)?)?.to_vec();
            p += 4 + n;
            Some(v)
        };
        let (Some(blob), Some(_comment)) = (field(), field()) else {
            return Err(bad("truncated key list"));
        };
        let algo_len = blob
            .get(..4)
            .map_or(0, |b| u32::from_be_bytes(b.try_into().expect("4")) as usize);
        let algo = blob.get(4..4 + algo_len).unwrap_or_default();
        if algo.ends_with(b"-cert-v01@openssh.com") {
            if let Ok(r) = crate::auth::cert::from_blob(&blob) {
                let line = format!(
                    "{} {}",
                    String::from_utf8_lossy(algo),
                    base64ct::Base64::encode_string(&blob)
                );
                held.certs.push((r.cert, line));
            }
        } else if let Ok(k) = PublicKey::from_bytes(&blob) {
            held.keys.push(k);
        }
    }
    Ok(held)
}
