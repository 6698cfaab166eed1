//! Revoked keys (`[auth] revoked_keys`), as OpenSSH's `RevokedKeys` reads
//! them: an OpenSSH key revocation list (PROTOCOL.krl, as `ssh-keygen -k`
//! writes it: certificates by serial, serial range, serial bitmap or key
//! id under a CA or any CA; explicit keys; SHA-256 fingerprints), or a
//! text file of public key lines. A revoked key also revokes every
//! certificate of that key, and a revoked CA every certificate it signed.
//! A KRL with a part secsh cannot check (SHA-1 fingerprints) is refused,
//! so nothing listed is ever let in. Pure: the caller reads the file.

use std::collections::HashSet;

use ssh_key::public::KeyData;
use ssh_key::sha2::{Digest, Sha256};
use ssh_key::{Certificate, PublicKey};

/// Certificates revoked under one CA (or any CA).
#[derive(Debug, Clone, Default)]
struct CertSection {
    /// The CA's key blob; `None`: any CA.
    ca: Option<Vec<u8>>,
    /// Inclusive serial ranges.
    serials: Vec<(u64, u64)>,
    key_ids: HashSet<String>,
}

/// What is revoked.
#[derive(Debug, Clone, Default)]
pub struct Revoked {
    keys: HashSet<Vec<u8>>,
    sha256: HashSet<[u8; 32]>,
    certs: Vec<CertSection>,
}

/// Why a revocation list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KrlError {
    /// Cut short or inconsistent.
    #[error("malformed KRL: {0}")]
    Malformed(&'static str),
    /// A part that cannot be checked here.
    #[error(
        "KRL section {0} is not supported (SHA-1 fingerprints): revoke by key or SHA-256 instead"
    )]
    Unsupported(u8),
    /// A text line that is no public key.
    #[error("line {0}: not an OpenSSH public key")]
    BadLine(usize),
}

const MAGIC: &[u8; 8] = b"SSHKRL\n\0";

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KrlError> {
        if self.0.len() < n {
            return Err(KrlError::Malformed("cut short"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, KrlError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, KrlError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64, KrlError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn string(&mut self) -> Result<&'a [u8], KrlError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

impl Revoked {
    /// Read `data`: a binary KRL, else a text file of public keys.
    pub fn parse(data: &[u8]) -> Result<Self, KrlError> {
        if data.starts_with(MAGIC) {
            return Self::krl(data);
        }
        let text = std::str::from_utf8(data).map_err(|_| KrlError::BadLine(1))?;
        let mut out = Revoked::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = PublicKey::from_openssh(line).map_err(|_| KrlError::BadLine(i + 1))?;
            out.keys.insert(blob(key.key_data()));
        }
        Ok(out)
    }

    fn krl(data: &[u8]) -> Result<Self, KrlError> {
        let mut r = Reader(&data[MAGIC.len()..]);
        if r.u32()? != 1 {
            return Err(KrlError::Malformed("unknown format version"));
        }
        let _version = r.u64()?;
        let _generated = r.u64()?;
        let _flags = r.u64()?;
        r.string()?; // reserved
        r.string()?; // comment
        let mut out = Revoked::default();
        while !r.done() {
            let kind = r.u8()?;
            let body = r.string()?;
            let mut s = Reader(body);
            match kind {
                1 => out.certs.push(cert_section(&mut s)?),
                2 => {
                    while !s.done() {
                        out.keys.insert(s.string()?.to_vec());
                    }
                }
                5 => {
                    while !s.done() {
                        let fp: [u8; 32] = s.string()?.try_into().map_err(|_| {
                            KrlError::Malformed("a SHA-256 fingerprint is 32 bytes")
                        })?;
                        out.sha256.insert(fp);
                    }
                }
                // The signature covers what came before; secshd, like
                // sshd, does not check KRL signatures.
                4 => break,
                other => return Err(KrlError::Unsupported(other)),
            }
        }
        Ok(out)
    }

    /// Is this plain key revoked?
    pub fn key(&self, key: &KeyData) -> bool {
        let b = blob(key);
        self.keys.contains(&b) || self.sha256.contains(&<[u8; 32]>::from(Sha256::digest(&b)))
    }

    /// Is this certificate revoked: by serial or key id under its CA (or
    /// any CA), or because its key or its CA is?
    pub fn cert(&self, cert: &Certificate) -> bool {
        if self.key(cert.public_key()) || self.key(cert.signature_key()) {
            return true;
        }
        let ca = blob(cert.signature_key());
        self.certs.iter().any(|s| {
            s.ca.as_ref().is_none_or(|c| *c == ca)
                && (s.key_ids.contains(cert.key_id())
                    || s.serials
                        .iter()
                        .any(|&(lo, hi)| (lo..=hi).contains(&cert.serial())))
        })
    }
}

fn cert_section(s: &mut Reader<'_>) -> Result<CertSection, KrlError> {
    let ca = s.string()?;
    s.string()?; // reserved
    let mut out = CertSection {
        ca: (!ca.is_empty()).then(|| ca.to_vec()),
        ..CertSection::default()
    };
    while !s.done() {
        let kind = s.u8()?;
        let mut b = Reader(s.string()?);
        match kind {
            0x20 => {
                while !b.done() {
                    let n = b.u64()?;
                    out.serials.push((n, n));
                }
            }
            0x21 => {
                let (lo, hi) = (b.u64()?, b.u64()?);
                out.serials.push((lo, hi));
            }
            0x22 => {
                let offset = b.u64()?;
                let bits = b.string()?;
                // An mpint, most significant byte first; bit i is
                // serial offset + i.
                let n = bits.len();
                for (i, byte) in bits.iter().enumerate() {
                    for bit in 0..8 {
                        if byte & (1 << bit) != 0 {
                            let index = ((n - 1 - i) * 8 + bit) as u64;
                            let serial = offset.saturating_add(index);
                            out.serials.push((serial, serial));
                        }
                    }
                }
            }
            0x23 => {
                while !b.done() {
                    let id = b.string()?;
                    out.key_ids.insert(String::from_utf8_lossy(id).into_owned());
                }
            }
            _ => return Err(KrlError::Malformed("unknown certificate section")),
        }
    }
    Ok(out)
}

/// The key's wire blob (what a KRL lists and fingerprints hash).
fn blob(key: &KeyData) -> Vec<u8> {
    use ssh_encoding::Encode;
    let mut out = Vec::new();
    let _ = key.encode(&mut out);
    out
}
