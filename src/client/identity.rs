//! OpenSSH identities: a private key file (its passphrase asked through the caller's `Ask`)
//! or a key held by the ssh-agent at `SSH_AUTH_SOCK`. Signs the session's
//! auth message as an SSHSIG.

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
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

/// A usable signing identity.
#[derive(Clone)]
pub enum Identity {
    /// A decrypted private key.
    Key(Box<PrivateKey>, PathBuf),
    /// A key held by ssh-agent.
    Agent {
        /// The agent's socket.
        socket: PathBuf,
        /// The public half of the agent key to use.
        key: PublicKey,
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
            if let Ok(Some(key)) = agent_key(&socket) {
                return Ok(Identity::Agent { socket, key });
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
        Ok(Identity::Key(Box::new(key), path.to_path_buf()))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Identity::Key(k, _) => k.public_key().clone(),
            Identity::Agent { key, .. } => key.clone(),
        }
    }

    /// Where it came from.
    pub fn source(&self) -> IdentitySource {
        match self {
            Identity::Key(_, p) => IdentitySource::File(p.clone()),
            Identity::Agent { socket, .. } => IdentitySource::Agent(socket.clone()),
        }
    }

    /// Sign `message` as an armored SSHSIG in the `secsh-auth` namespace.
    pub fn sign(&self, message: &[u8]) -> Result<String, ClientError> {
        let sig = match self {
            Identity::Key(key, _) => key
                .sign(NAMESPACE, HashAlg::Sha512, message)
                .map_err(ident_err)?,
            Identity::Agent { socket, key } => {
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

fn agent_key(socket: &Path) -> Result<Option<PublicKey>, ssh_agent_client_rs::Error> {
    let mut agent = ssh_agent_client_rs::Client::connect(socket)?;
    let ids = agent.list_all_identities()?;
    Ok(ids.into_iter().find_map(|id| match id {
        ssh_agent_client_rs::Identity::PublicKey(pk) if supported(&pk) => Some(pk.into_owned()),
        _ => None,
    }))
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
