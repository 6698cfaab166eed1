//! OpenSSH identities: a private key file (its passphrase asked through the caller's `Ask`)
//! or a key held by the ssh-agent at `SSH_AUTH_SOCK`. Signs the session's
//! auth message as an SSHSIG.

use std::path::{Path, PathBuf};

use ssh_key::{Certificate, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

use super::{Ask, ClientError};
use crate::auth::NAMESPACE;

/// Where the identity came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A key file.
    File(PathBuf),
    /// The agent socket.
    Agent(PathBuf),
}

/// A user certificate to offer: its fields, and the line as the CA wrote
/// it (sent unchanged: a re-encoding of "forever" would not verify).
#[derive(Clone)]
pub struct Offered {
    /// The certificate's fields.
    pub cert: Certificate,
    /// `ALGO-cert-v01@openssh.com BASE64`.
    pub line: String,
}

/// A usable signing identity, with the OpenSSH user certificate offered
/// beside it, if any.
#[derive(Clone)]
pub enum Identity {
    /// A decrypted private key (and the certificate from `KEY-cert.pub`
    /// or `--certificate`).
    Key(Box<PrivateKey>, PathBuf, Option<Box<Offered>>),
    /// A key held by ssh-agent.
    Agent {
        /// The agent's socket.
        socket: PathBuf,
        /// The public half of the agent key to use.
        key: PublicKey,
        /// A certificate of that key the agent holds too.
        certificate: Option<Box<Offered>>,
    },
}

fn ident_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Identity(e.to_string())
}

fn supported(key: &PublicKey) -> bool {
    matches!(
        key.algorithm(),
        ssh_key::Algorithm::Ed25519
            | ssh_key::Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP256 | ssh_key::EcdsaCurve::NistP384
            }
    )
}

impl Identity {
    /// Choose the identity: `explicit` (`-i FILE`), else the agent at
    /// `SSH_AUTH_SOCK` if it holds a supported key, else
    /// `~/.ssh/id_ed25519`. A passphrase is asked through `ask`, when
    /// there is one.
    pub fn load(explicit: Option<&Path>, ask: Option<&Ask>) -> Result<Self, ClientError> {
        if let Some(path) = explicit {
            return Self::from_file(path, ask);
        }
        if let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
            let socket = PathBuf::from(sock);
            if let Ok(Some((key, certificate))) = agent_key(&socket) {
                let certificate = certificate.map(Box::new);
                return Ok(Identity::Agent {
                    socket,
                    key,
                    certificate,
                });
            }
        }
        let home =
            std::env::var_os("HOME").ok_or_else(|| ident_err("HOME is not set; use -i FILE"))?;
        let default = Path::new(&home).join(".ssh").join("id_ed25519");
        if !default.exists() {
            return Err(ident_err(format!(
                "no -i FILE, no usable ssh-agent key, and {} does not exist",
                default.display()
            )));
        }
        Self::from_file(&default, ask)
    }

    /// Load and, if needed, decrypt a private key file.
    pub fn from_file(path: &Path, ask: Option<&Ask>) -> Result<Self, ClientError> {
        let err = |e: &dyn std::fmt::Display| ident_err(format!("{}: {e}", path.display()));
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(&e))?);
        let text = rewrap(&text);
        let mut key = PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| err(&format!("not an OpenSSH private key ({e})")))?;
        if !supported(key.public_key()) {
            return Err(err(&format!(
                "key type {} is not supported",
                key.algorithm()
            )));
        }
        if key.is_encrypted() {
            let no_terminal =
                || err(&"key is passphrase-protected and no terminal is available to ask");
            let ask = ask.ok_or_else(no_terminal)?;
            let pass = ask(&format!("Enter passphrase for {}: ", path.display()))
                .ok_or_else(no_terminal)?;
            key = key
                .decrypt(pass.expose())
                .map_err(|_| err(&"wrong passphrase"))?;
        }
        let cert_path = PathBuf::from(format!("{}-cert.pub", path.display()));
        let certificate = match std::fs::read_to_string(&cert_path) {
            Ok(text) => Some(Box::new(read_certificate(
                &cert_path,
                &text,
                key.public_key(),
            )?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ident_err(format!("{}: {e}", cert_path.display()))),
        };
        Ok(Identity::Key(
            Box::new(key),
            path.to_path_buf(),
            certificate,
        ))
    }

    /// Offer the certificate in `path` (`--certificate`) with this key.
    pub fn with_certificate(self, path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ident_err(format!("{}: {e}", path.display())))?;
        let cert = Box::new(read_certificate(path, &text, &self.public_key())?);
        Ok(match self {
            Identity::Key(k, p, _) => Identity::Key(k, p, Some(cert)),
            Identity::Agent { socket, key, .. } => Identity::Agent {
                socket,
                key,
                certificate: Some(cert),
            },
        })
    }

    /// The certificate offered, if any.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.offered().map(|o| &o.cert)
    }

    fn offered(&self) -> Option<&Offered> {
        match self {
            Identity::Key(_, _, c) | Identity::Agent { certificate: c, .. } => c.as_deref(),
        }
    }

    /// The certificate as the `auth` message carries it.
    pub fn certificate_line(&self) -> Option<String> {
        self.offered().map(|o| o.line.clone())
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Identity::Key(k, _, _) => k.public_key().clone(),
            Identity::Agent { key, .. } => key.clone(),
        }
    }

    /// Where it came from.
    pub fn source(&self) -> IdentitySource {
        match self {
            Identity::Key(_, p, _) => IdentitySource::File(p.clone()),
            Identity::Agent { socket, .. } => IdentitySource::Agent(socket.clone()),
        }
    }

    /// Sign `message` as an armored SSHSIG in the `secsh-auth` namespace.
    pub fn sign(&self, message: &[u8]) -> Result<String, ClientError> {
        let sig = match self {
            Identity::Key(key, _, _) => key
                .sign(NAMESPACE, HashAlg::Sha512, message)
                .map_err(ident_err)?,
            Identity::Agent { socket, key, .. } => {
                let data =
                    SshSig::signed_data(NAMESPACE, HashAlg::Sha512, message).map_err(ident_err)?;
                let mut agent = ssh_agent_client_rs::Client::connect(socket).map_err(ident_err)?;
                let signature = agent
                    .sign(key, &data)
                    .map_err(|e| ident_err(format!("ssh-agent: {e}")))?;
                SshSig::new(
                    key.key_data().clone(),
                    NAMESPACE,
                    HashAlg::Sha512,
                    signature,
                )
                .map_err(ident_err)?
            }
        };
        sig.to_pem(LineEnding::LF).map_err(ident_err)
    }
}

/// The agent key to sign with, and a certificate of it the agent holds:
/// the first supported key that has a certificate, else the first
/// supported key.
fn agent_key(socket: &Path) -> std::io::Result<Option<(PublicKey, Option<Offered>)>> {
    let held = super::agent::list(socket)?;
    let keys: Vec<&PublicKey> = held.keys.iter().filter(|k| supported(k)).collect();
    let cert_of = |k: &PublicKey| {
        held.certs
            .iter()
            .find(|(c, _)| c.public_key() == k.key_data())
            .map(|(cert, line)| Offered {
                cert: cert.clone(),
                line: line.clone(),
            })
    };
    Ok(keys
        .iter()
        .find_map(|k| cert_of(k).map(|c| ((*k).clone(), Some(c))))
        .or_else(|| keys.first().map(|k| ((*k).clone(), None))))
}

/// The certificate in `text` (from `path`), which must be of `key`.
fn read_certificate(path: &Path, text: &str, key: &PublicKey) -> Result<Offered, ClientError> {
    let line = text.trim();
    let cert = crate::auth::cert::parse(line)
        .map_err(|e| ident_err(format!("{}: {e}", path.display())))?
        .cert;
    // Algorithm and base64, without the comment.
    let line = line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    if cert.public_key() != key.key_data() {
        return Err(ident_err(format!(
            "{}: the certificate is for another key than {}",
            path.display(),
            key.fingerprint(Default::default())
        )));
    }
    Ok(Offered { cert, line })
}

/// An OpenSSH private key file with its base64 re-wrapped at the 70
/// columns the parser insists on: `ssh-keygen` reads any line width (and
/// Python's `cryptography` writes 64), so secsh does too. Whitespace
/// inside the body (CR, trailing blanks) is dropped. Anything that is not
/// such a file is returned as it was, for the parser's own error.
fn rewrap(text: &str) -> Zeroizing<String> {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let (Some(b), Some(e)) = (
        lines.iter().position(|l| *l == BEGIN),
        lines.iter().position(|l| *l == END),
    ) else {
        return Zeroizing::new(text.to_string());
    };
    if e <= b {
        return Zeroizing::new(text.to_string());
    }
    let body: Zeroizing<String> = Zeroizing::new(
        lines[b + 1..e]
            .iter()
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    let mut out = Zeroizing::new(String::with_capacity(body.len() + body.len() / 70 + 80));
    out.push_str(BEGIN);
    out.push('\n');
    for chunk in body.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}
