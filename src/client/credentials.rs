//! What the client can prove: an OpenSSH key, a password from a file or
//! the environment, and a way to ask a person for one. The library never
//! reads a terminal itself: the front end supplies an [`Ask`] (the CLI's
//! reads `/dev/tty` without echo), and batch runs and fleets supply none.
//! A password is asked for only when the server wants one (or no key is
//! available).

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{ClientError, Identity};
use crate::auth::signing_message;
use crate::proto::{AuthMethod, Secret};
use crate::session::AuthProof;

/// Interactive password prompts per connection, at most.
const MAX_PROMPTS: u32 = 3;

/// Asks a person for a secret: called with the prompt text (`alice@web1's
/// password: `, `Enter passphrase for KEY: `), it returns what they typed,
/// or `None` when nobody can or will answer.
pub type Ask = Arc<dyn Fn(&str) -> Option<Secret> + Send + Sync>;

/// Everything the client may use to sign in.
pub struct Credentials {
    /// The signing key, if one was found.
    pub key: Option<Identity>,
    /// A password from `--password-file` or `SECSH_PASSWORD_FILE`, used at
    /// most once.
    pub password: Option<Secret>,
    /// How to ask a person for a password, if one may be asked.
    pub ask: Option<Ask>,
    /// Shown in the prompt (`user@host`).
    pub label: String,
    prompts: u32,
}

impl Credentials {
    /// Credentials from a key, a stored password and a way to ask.
    pub fn new(
        key: Option<Identity>,
        password: Option<Secret>,
        ask: Option<Ask>,
        label: String,
    ) -> Self {
        Self {
            key,
            password,
            ask,
            label,
            prompts: 0,
        }
    }

    /// The same credentials for another connection (a password is read
    /// from the terminal again only if the server asks for one).
    pub fn again(&self) -> Self {
        Self::new(
            self.key.clone(),
            self.password.clone(),
            self.ask.clone(),
            self.label.clone(),
        )
    }

    /// The first proof: the key if there is one, else a password.
    pub fn first_proof(
        &mut self,
        user: &str,
        exporter: &[u8; 32],
    ) -> Result<AuthProof, ClientError> {
        if let Some(key) = &self.key {
            let signature = key.sign(&signing_message(user, exporter))?;
            let certificate = key.certificate_line();
            return Ok(AuthProof::Key {
                signature,
                certificate,
            });
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
            && (self.password.is_some() || (self.ask.is_some() && self.prompts < MAX_PROMPTS))
    }

    /// A password for the server's request, if the client has one to give:
    /// the stored one (once), else what the [`Ask`] gets (it may block
    /// while the user types).
    pub fn next_password(&mut self, methods: &[AuthMethod]) -> Option<Secret> {
        if !methods.contains(&AuthMethod::Password) {
            return None;
        }
        if let Some(p) = self.password.take() {
            return Some(p);
        }
        let ask = self.ask.as_ref()?;
        if self.prompts >= MAX_PROMPTS {
            return None;
        }
        self.prompts += 1;
        ask(&format!("{}'s password: ", self.label))
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
