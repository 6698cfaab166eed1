//! What every request to a host starts with: the connection options
//! shared by exec, put, get and fleet runs, their defaults from the client
//! configuration, and connecting (TCP, TLS, credentials ready).

use std::path::PathBuf;
use std::time::Duration;

use crate::client::config::ClientConfig;
use crate::client::{self, ClientError, Identity, Target};

/// How to reach and sign in to a host (exec, put and get alike).
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// CA bundle (PEM) that must have issued the server's certificate
    /// (default: the client configuration's).
    #[arg(long = "cert", value_name = "FILE", env = "SECSH_CERT")]
    pub cert: Option<PathBuf>,
    /// Client configuration file (default: ~/.config/secsh/config.toml
    /// when it exists; see docs/CLIENT.md).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// OpenSSH private key (default: ssh-agent, then ~/.ssh/id_ed25519).
    #[arg(short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// User to log in as (default: USER@ in the target, then $USER).
    #[arg(short = 'l', value_name = "USER")]
    pub login: Option<String>,
    /// Port (default: :PORT in the target, then 7022).
    #[arg(short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Never prompt (for a key passphrase or a password).
    #[arg(long)]
    pub batch: bool,
    /// Read the password from the first line of FILE (mode 0600) when the
    /// server asks for one. Weaker than a key: prefer keys for automation.
    #[arg(long, value_name = "FILE", env = "SECSH_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Seconds allowed for TCP connect plus TLS handshake, and again for
    /// the server's answer to authentication.
    /// [default: 10]
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Ping a silent server after SECS seconds; give up (exit 255) after 3
    /// unanswered pings. 0 turns keepalives off.
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub keepalive: f64,
    /// Log connection details to stderr (repeat for more).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Asks the person at the terminal (`/dev/tty`, without echo), unless
/// `--batch` or there is no terminal.
pub(crate) fn terminal_ask(batch: bool) -> Option<client::Ask> {
    if batch || !client::has_terminal() {
        return None;
    }
    Some(std::sync::Arc::new(|prompt: &str| {
        rpassword::prompt_password(prompt)
            .ok()
            .map(crate::proto::Secret::new)
    }))
}

pub(crate) fn seconds(v: f64, what: &str) -> Result<Duration, ClientError> {
    Duration::try_from_secs_f64(v).map_err(|_| ClientError::Usage(format!("invalid {what} {v}")))
}

/// Resolve the user and credentials, connect and complete TLS: what every
/// request on a host starts with.
pub(crate) async fn connect(
    args: &ConnArgs,
    cfg: &ClientConfig,
    mut target: Target,
    cert: Option<PathBuf>,
) -> Result<Reached, ClientError> {
    target.port = args.port.or(target.port).or(cfg.defaults.port);
    let user = user_for(args, cfg, target.user.clone())?;
    let cert = cert_for(args, cfg, cert)?;
    let password = args
        .password_file
        .as_deref()
        .map(client::read_password_file)
        .transpose()?;
    let ask = terminal_ask(args.batch);
    let identity = args.identity.clone().or(cfg.defaults.identity.clone());
    let key = match Identity::load(identity.as_deref(), ask.as_ref()) {
        Ok(key) => {
            tracing::info!(source = ?key.source(), "identity loaded");
            Some(key)
        }
        // No key anywhere, but a password to offer instead.
        Err(e) if identity.is_none() && (password.is_some() || ask.is_some()) => {
            tracing::info!("no key: {e}; signing in with a password");
            None
        }
        Err(e) => return Err(e),
    };
    let label = format!("{user}@{}", target.host);
    let creds = client::Credentials::new(key, password, ask, label);
    let connect_timeout = connect_timeout(args, cfg)?;
    let conn = client::connect(&target, &cert, connect_timeout).await?;
    tracing::info!(host = %target.host, port = target.port_or_default(), "connected");
    let options = client::SessionOptions {
        auth_timeout: connect_timeout,
        keepalive: Some(seconds(args.keepalive, "--keepalive")?).filter(|k| !k.is_zero()),
    };
    Ok(Reached {
        user,
        creds,
        conn,
        options,
    })
}

/// A host reached: TLS done, sign-in ready to go.
pub(crate) struct Reached {
    pub user: String,
    pub creds: client::Credentials,
    pub conn: client::Connection,
    pub options: client::SessionOptions,
}

/// The account: `-l`, else the target's (or inventory's) user, else the
/// configuration's default, else `$USER`.
pub(crate) fn user_for(
    args: &ConnArgs,
    cfg: &ClientConfig,
    target: Option<String>,
) -> Result<String, ClientError> {
    args.login
        .clone()
        .or(target)
        .or_else(|| cfg.defaults.user.clone())
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ClientError::Usage("no user: give USER@HOST or -l USER".into()))
}

/// The CA bundle: `--cert`, else the host's override, else the default.
pub(crate) fn cert_for(
    args: &ConnArgs,
    cfg: &ClientConfig,
    host: Option<PathBuf>,
) -> Result<PathBuf, ClientError> {
    args.cert
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
pub(crate) fn connect_timeout(
    args: &ConnArgs,
    cfg: &ClientConfig,
) -> Result<Duration, ClientError> {
    let secs = args
        .connect_timeout
        .or(cfg.defaults.connect_timeout)
        .unwrap_or(10.0);
    seconds(secs, "--connect-timeout")
}

/// The client configuration named by `--config`, else the default file.
pub(crate) fn load_config(args: &ConnArgs) -> Result<ClientConfig, ClientError> {
    ClientConfig::load(args.config.as_deref())
}
