//! What the client can prove: an OpenSSH key, a password from a file or
//! the environment, and whether it may ask for a password on the terminal.
//! A password is read from `/dev/tty` only when the server asks for one
//! (or no key is available), never in batch mode or without a terminal.

use std::path::Path;

use zeroize::Zeroizing;

use super::{ClientError, Identity};
use crate::auth::signing_message;
use crate::proto::{AuthMethod, Secret};
use crate::session::AuthProof;

/// Interactive password prompts per connection, at most.
const MAX_PROMPTS: u32 = 3;

/// Everything the client may use to sign in.
pub struct Credentials {
    /// The signing key, if one was found.
    pub key: Option<Identity>,
    /// A password from `--password-file` or `SECSH_PASSWORD_FILE`, used at
    /// most once.
    pub password: Option<Secret>,
    /// A terminal may be asked for a password.
    pub prompt: bool,
    /// Shown in the prompt (`user@host`).
    pub label: String,
    prompts: u32,
}

impl Credentials {
    /// Credentials from a key, a stored password and the prompt switch.
    pub fn new(
        key: Option<Identity>,
        password: Option<Secret>,
        prompt: bool,
        label: String,
    ) -> Self {
        Self {
            key,
            password,
            prompt,
            label,
            prompts: 0,
        }
    }

    /// The first proof: the key if there is one, else a password.
    pub fn first_proof(
        &mut self,
        user: &str,
        exporter: &[u8; 32],
    ) -> Result<AuthProof, ClientError> {
        if let Some(key) = &self.key {
            let signature = key.sign(&signing_message(user, exporter))?;
            return Ok(AuthProof::Key { signature });
        }
        match self.next_password(&[AuthMethod::Password]) {
            Some(password) => Ok(AuthProof::Password { password }),
            None => Err(ClientError::Identity(
                "no key (-i FILE, ssh-agent or ~/.ssh/id_ed25519) and no password \
                 (--password-file, SECSH_PASSWORD_FILE, or a terminal to ask)"
                    .into(),
            )),
        }
    }

    /// Whether [`Credentials::next_password`] could answer `methods`
    /// without blocking on a terminal.
    pub fn can_answer(&self, methods: &[AuthMethod]) -> bool {
        methods.contains(&AuthMethod::Password)
            && (self.password.is_some() || (self.prompt && self.prompts < MAX_PROMPTS))
    }

    /// A password for the server's request, if the client has one to give:
    /// the stored one (once), else a prompt on the terminal. Blocks while
    /// the user types.
    pub fn next_password(&mut self, methods: &[AuthMethod]) -> Option<Secret> {
        if !methods.contains(&AuthMethod::Password) {
            return None;
        }
        if let Some(p) = self.password.take() {
            return Some(p);
        }
        if !self.prompt || self.prompts >= MAX_PROMPTS || !has_terminal() {
            return None;
        }
        self.prompts += 1;
        let typed = rpassword::prompt_password(format!("{}'s password: ", self.label)).ok()?;
        Some(Secret::new(typed))
    }
}

/// Whether a terminal (`/dev/tty`) is there to ask.
pub fn has_terminal() -> bool {
    std::fs::File::open("/dev/tty").is_ok()
}

/// Read a password file: the first line, without its newline. The file must
/// not be readable by group or others.
pub fn read_password_file(path: &Path) -> Result<Secret, ClientError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |m: String| ClientError::Identity(format!("{}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(err(format!(
            "mode {:04o} lets group or others read it; chmod 600 it",
            meta.permissions().mode() & 0o7777
        )));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let line = text.lines().next().unwrap_or("");
    Ok(Secret::new(line.to_string()))
}
