//! Reaching a host the way every front end does: the connection options a
//! user gave (flags, environment), their defaults from the client
//! configuration, the credentials (a key, else a password from a file or
//! an [`Ask`]), then TCP and TLS. Exec, put, get and fleet runs all start
//! here, so they resolve users, CA bundles and keys the same way.

use std::path::PathBuf;
use std::time::Duration;

use super::config::ClientConfig;
use super::{connect, read_password_file, Ask, ClientError, Connection, Credentials};
use super::{Identity, SessionOptions, Target};
use crate::proto::Secret;

/// How to reach and sign in to a host, as the user gave it (before the
/// configuration's defaults).
#[derive(Debug, Clone, Default)]
pub struct ConnOptions {
    /// CA bundle (`--cert`).
    pub cert: Option<PathBuf>,
    /// Private key file (`-i`).
    pub identity: Option<PathBuf>,
    /// Account (`-l`).
    pub login: Option<String>,
    /// Port (`-p`).
    pub port: Option<u16>,
    /// A file whose first line is the password (`--password-file`).
    pub password_file: Option<PathBuf>,
    /// A file whose first line is the key's passphrase (`--passphrase-file`).
    pub passphrase_file: Option<PathBuf>,
    /// A user certificate to offer with the key (`--certificate`).
    pub certificate: Option<PathBuf>,
    /// Seconds for TCP plus TLS, and again for the sign-in.
    pub connect_timeout: Option<f64>,
    /// Seconds of server silence before a ping; 0: never.
    pub keepalive: f64,
}

/// A host reached: TLS done, sign-in ready to go.
pub struct Reached {
    /// The account to sign in as.
    pub user: String,
    /// What to prove it with.
    pub creds: Credentials,
    /// The TLS connection.
    pub conn: Connection,
    /// Sign-in deadline and keepalive.
    pub options: SessionOptions,
    /// How to connect to the same host again (a resumed job).
    pub redial: Redial,
}

/// The resolved host, CA bundle and timeout of a [`Reached`] host, to
/// connect to it again with the same credentials.
#[derive(Debug, Clone)]
pub struct Redial {
    target: Target,
    cert: PathBuf,
    timeout: Duration,
}

impl Redial {
    /// A new TCP and TLS connection to the same address.
    pub async fn connect(&self) -> Result<Connection, ClientError> {
        connect(&self.target, &self.cert, self.timeout).await
    }
}

/// Seconds given as a number, as a duration (`what` names the option).
pub fn seconds(v: f64, what: &str) -> Result<Duration, ClientError> {
    Duration::try_from_secs_f64(v).map_err(|_| ClientError::Usage(format!("invalid {what} {v}")))
}

impl ConnOptions {
    /// The account: `-l`, else the target's (or inventory's) user, else
    /// the configuration's default, else `$USER`.
    pub fn user_for(
        &self,
        cfg: &ClientConfig,
        target: Option<String>,
    ) -> Result<String, ClientError> {
        self.login
            .clone()
            .or(target)
            .or_else(|| cfg.defaults.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ClientError::Usage("no user: give USER@HOST or -l USER".into()))
    }

    /// The CA bundle: `--cert`, else the host's own, else the default.
    pub fn cert_for(
        &self,
        cfg: &ClientConfig,
        host: Option<PathBuf>,
    ) -> Result<PathBuf, ClientError> {
        self.cert
            .clone()
            .or(host)
            .or_else(|| cfg.defaults.cert.clone())
            .ok_or_else(|| {
                ClientError::Usage(
                    "no CA bundle: give --cert FILE (or SECSH_CERT, or [defaults] cert in the client configuration)".into(),
                )
            })
    }

    /// `--connect-timeout`, else the configuration's, else 10 s.
    pub fn connect_timeout(&self, cfg: &ClientConfig) -> Result<Duration, ClientError> {
        let secs = self
            .connect_timeout
            .or(cfg.defaults.connect_timeout)
            .unwrap_or(10.0);
        seconds(secs, "--connect-timeout")
    }

    /// The keepalive interval, `None` when turned off.
    pub fn keepalive(&self) -> Result<Option<Duration>, ClientError> {
        Ok(Some(seconds(self.keepalive, "--keepalive")?).filter(|k| !k.is_zero()))
    }

    /// The key and the stored password. Without `-i` (or a configured
    /// key), a missing key is fine when a password can be given instead:
    /// from the file, or, with `ask_password`, through `ask`. A key's
    /// passphrase is asked through `ask`.
    pub fn secrets(
        &self,
        cfg: &ClientConfig,
        ask: Option<&Ask>,
        ask_password: bool,
    ) -> Result<(Option<Identity>, Option<Secret>), ClientError> {
        let password = self
            .password_file
            .as_deref()
            .map(read_password_file)
            .transpose()?;
        let identity = self.identity.clone().or(cfg.defaults.identity.clone());
        let can_ask = ask_password && ask.is_some();
        // A passphrase file answers the key's prompt (never a password's).
        let from_file: Option<Ask> = match &self.passphrase_file {
            Some(p) => {
                let secret = read_password_file(p)?;
                Some(std::sync::Arc::new(move |_: &str| Some(secret.clone())))
            }
            None => None,
        };
        let key_ask = from_file.as_ref().or(ask);
        let loaded =
            Identity::load(identity.as_deref(), key_ask).and_then(|k| match &self.certificate {
                Some(path) => k.with_certificate(path),
                None => Ok(k),
            });
        let key = match loaded {
            Ok(key) => {
                tracing::info!(source = ?key.source(), "identity loaded");
                if let Some(c) = key.certificate() {
                    let at = |s: u64| {
                        crate::timefmt::utc(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s.min(1 << 40)),
                        )
                    };
                    tracing::info!(key_id = %crate::logtext::shown(c.key_id()), serial = c.serial(),
                        principals = ?c.valid_principals(), valid_from = %at(c.valid_after()),
                        valid_until = %at(c.valid_before()),
                        ca = %c.signature_key().fingerprint(Default::default()),
                        "offering a user certificate");
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    if now >= c.valid_before() {
                        tracing::warn!(
                            "the certificate {} expired at {}: the server will refuse it",
                            crate::logtext::shown(c.key_id()),
                            at(c.valid_before())
                        );
                    } else if now < c.valid_after() {
                        tracing::warn!(
                            "the certificate {} is not valid until {}: the server will refuse it",
                            crate::logtext::shown(c.key_id()),
                            at(c.valid_after())
                        );
                    }
                }
                Some(key)
            }
            // No key anywhere, but a password to offer instead.
            Err(e) if identity.is_none() && (password.is_some() || can_ask) => {
                tracing::info!("no key: {e}; signing in with a password");
                None
            }
            Err(e) => return Err(e),
        };
        Ok((key, password))
    }

    /// Resolve the user and credentials, connect and complete TLS (`cert`:
    /// the host's own CA bundle, if it has one).
    pub async fn reach(
        &self,
        cfg: &ClientConfig,
        mut target: Target,
        cert: Option<PathBuf>,
        ask: Option<Ask>,
    ) -> Result<Reached, ClientError> {
        target.port = self.port.or(target.port).or(cfg.defaults.port);
        let user = self.user_for(cfg, target.user.clone())?;
        let cert = self.cert_for(cfg, cert)?;
        let (key, password) = self.secrets(cfg, ask.as_ref(), true)?;
        let label = format!("{user}@{}", target.host);
        let creds = Credentials::new(key, password, ask, label);
        let connect_timeout = self.connect_timeout(cfg)?;
        let conn = connect(&target, &cert, connect_timeout).await?;
        tracing::info!(host = %target.host, port = target.port_or_default(), "connected");
        let options = SessionOptions {
            auth_timeout: connect_timeout,
            keepalive: self.keepalive()?,
        };
        let redial = Redial {
            target,
            cert,
            timeout: connect_timeout,
        };
        Ok(Reached {
            user,
            creds,
            conn,
            options,
            redial,
        })
    }
}
