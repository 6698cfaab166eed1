//! What every request to a host starts with: the connection options
//! shared by exec, put, get and fleet runs, their defaults from the client
//! configuration, and connecting (TCP, TLS, credentials ready).

use std::path::PathBuf;

use crate::client::config::ClientConfig;
use crate::client::{self, ClientError, ConnOptions, Target};
pub(crate) use crate::client::{seconds, Reached};

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
    /// Read the private key's passphrase from the first line of FILE
    /// (mode 0600) instead of asking: for scripts and --batch.
    #[arg(long, value_name = "FILE", env = "SECSH_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// OpenSSH user certificate to offer with the key (default: KEY-cert.pub
    /// beside -i KEY, or one ssh-agent holds for its key).
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
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

impl ConnArgs {
    /// The options as the library takes them.
    pub(crate) fn options(&self) -> ConnOptions {
        ConnOptions {
            cert: self.cert.clone(),
            identity: self.identity.clone(),
            login: self.login.clone(),
            port: self.port,
            password_file: self.password_file.clone(),
            passphrase_file: self.passphrase_file.clone(),
            certificate: self.certificate.clone(),
            connect_timeout: self.connect_timeout,
            keepalive: self.keepalive,
        }
    }
}

/// Resolve the user and credentials, connect and complete TLS: what every
/// request on a host starts with.
pub(crate) async fn connect(
    args: &ConnArgs,
    cfg: &ClientConfig,
    target: Target,
    cert: Option<PathBuf>,
) -> Result<Reached, ClientError> {
    let ask = terminal_ask(args.batch);
    args.options().reach(cfg, target, cert, ask).await
}

/// The client configuration named by `--config`, else the default file.
pub(crate) fn load_config(args: &ConnArgs) -> Result<ClientConfig, ClientError> {
    ClientConfig::load(args.config.as_deref())
}
