//! Loading and validating `secshd.toml` into [`ServerConfig`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::RawServer;
use super::{ConfigError, ExecSettings, Location, RunAs, ServerConfig};
use crate::proto::DEFAULT_PORT;

/// Default `[exec] path`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Load-time switches that depend on the running daemon.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The daemon runs as root, so `run_as` is possible.
    pub is_root: bool,
    /// Check the file's owner and mode (off only for tests of the parser).
    pub check_permissions: bool,
    /// Load and check the TLS certificate and key (off only for tests of
    /// the parser).
    pub load_tls: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            is_root: nix::unistd::geteuid().is_root(),
            check_permissions: true,
            load_tls: true,
        }
    }
}

pub(super) const DAY: u64 = 86_400;

impl ServerConfig {
    /// Read and validate the file at `path` (and the drop-ins it includes).
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        if options.check_permissions {
            super::files::check_config_file(path, &std::fs::metadata(path).map_err(io)?)?;
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(path, &text, options)
    }

    /// Validate `text` as if read from `path` (relative paths resolve
    /// against its directory).
    pub fn parse(path: &Path, text: &str, options: &LoadOptions) -> Result<Self, ConfigError> {
        let cx = Cx { path, text };
        let raw: RawServer = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            cx.err(offset, e.message().trim_end().to_string())
        })?;
        cx.build(raw, options)
    }
}

pub(super) struct Cx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Cx<'_> {
    pub(super) fn err(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: Location::at(self.path, self.text, offset),
            message: message.into(),
        }
    }

    pub(super) fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.err(spanned.span().start, message)
    }

    pub(super) fn relative(&self, p: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        dir.join(p)
    }

    fn build(&self, raw: RawServer, options: &LoadOptions) -> Result<ServerConfig, ConfigError> {
        let listen = match &raw.listen {
            None => vec![SocketAddr::new(IpAddr::from([0, 0, 0, 0]), DEFAULT_PORT)],
            Some(list) => list
                .iter()
                .map(|a| {
                    parse_listen(a.get_ref()).ok_or_else(|| {
                        self.at(a, format!("invalid listen address {:?}", a.get_ref()))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let e = &raw.exec;
        let exec = ExecSettings {
            path: e
                .path
                .as_ref()
                .map_or(DEFAULT_PATH.to_string(), |p| p.get_ref().clone()),
            lang: e.lang.clone().unwrap_or_else(|| "C.UTF-8".to_string()),
            default_timeout: self
                .ranged(
                    &e.default_timeout_secs,
                    "default_timeout_secs",
                    1,
                    365 * DAY,
                )?
                .map(Duration::from_secs),
            max_timeout: self
                .ranged(&e.max_timeout_secs, "max_timeout_secs", 1, 365 * DAY)?
                .map(Duration::from_secs),
            kill_grace: Duration::from_millis(
                self.ranged(&e.kill_grace_ms, "kill_grace_ms", 0, 600_000)?
                    .unwrap_or(2000),
            ),
            revoke_grace: Duration::from_millis(
                self.ranged(&e.revoke_grace_ms, "revoke_grace_ms", 0, 3_600_000)?
                    .unwrap_or(10_000),
            ),
        };
        if let Some(p) = &e.path {
            if let Some(bad) = p.get_ref().split(':').find(|d| !d.starts_with('/')) {
                return Err(self.at(
                    p,
                    format!("exec.path entry {bad:?} is not an absolute directory"),
                ));
            }
        }
        let limits = super::limits::limits(self, &raw.limits)?;
        let penalties = super::limits::penalties(self, &raw.penalties)?;
        let audit = self.audit(&raw.audit)?;
        let metrics_listen = match &raw.metrics.listen {
            None => None,
            Some(a) => Some(a.get_ref().parse::<SocketAddr>().map_err(|_| {
                self.at(
                    a,
                    format!("invalid metrics address {:?} (want IP:PORT)", a.get_ref()),
                )
            })?),
        };
        let mut warnings = Vec::new();
        let tls = if options.load_tls {
            if options.check_permissions {
                let key = self.relative(raw.tls.key.get_ref());
                if let Some(problem) = super::files::key_mode_problem(&key) {
                    return Err(self.at(&raw.tls.key, problem));
                }
            }
            let tls = self.tls(&raw.tls)?;
            let cert = self.relative(raw.tls.cert.get_ref());
            warnings.extend(super::files::cert_expiry_warning(
                &cert,
                std::time::SystemTime::now(),
            ));
            Some(tls)
        } else {
            None
        };

        let drop_ins =
            super::include::read(self, raw.include.as_deref().unwrap_or_default(), options)?;
        let auth = super::user::auth_settings(self, &raw.auth)?;
        let (policy, users, sources) = super::include::allowlist(
            self,
            &raw,
            &drop_ins,
            &exec.path,
            options,
            (limits.per_user, !auth.user_cas.is_empty()),
            &mut warnings,
        )?;
        let files = super::roots::files(self, &raw.files)?;
        let state = std::env::var("STATE_DIRECTORY").ok();
        let jobs = super::jobs::jobs(self, &raw.jobs, state.as_deref())?;

        Ok(ServerConfig {
            source: self.path.to_path_buf(),
            listen,
            tls_cert: self.relative(raw.tls.cert.get_ref()),
            tls_key: self.relative(raw.tls.key.get_ref()),
            tls_not_after: super::files::cert_not_after(&self.relative(raw.tls.cert.get_ref())),
            tls,
            exec,
            limits,
            penalties,
            metrics_listen,
            audit,
            warnings,
            files,
            jobs,
            auth,
            users,
            policy,
            sources,
        })
    }

    /// `value` checked against `min..=max`, located at its key on error.
    pub(super) fn ranged(
        &self,
        value: &Option<Spanned<u64>>,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        match value {
            None => Ok(None),
            Some(v) if (min..=max).contains(v.get_ref()) => Ok(Some(*v.get_ref())),
            Some(v) => Err(self.at(
                v,
                format!(
                    "{key} = {} is out of range: it must be between {min} and {max}",
                    v.get_ref()
                ),
            )),
        }
    }

    /// `[audit]`: `path` is `"-"` (stderr, the default) or a file
    /// (relative to this file's directory); `on_failure` is `"log"` or
    /// `"deny"`.
    fn audit(&self, raw: &super::raw::RawAudit) -> Result<crate::audit::AuditConfig, ConfigError> {
        use crate::audit::{AuditConfig, OnFailure, Sink};
        let sink = match &raw.path {
            None => Sink::Stderr,
            Some(p) if p.get_ref() == "-" => Sink::Stderr,
            Some(p) if p.get_ref().is_empty() => {
                return Err(self.at(p, "audit path is empty; use \"-\" for stderr"))
            }
            Some(p) => Sink::File(self.relative(p.get_ref())),
        };
        let on_failure = match raw.on_failure.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None | Some((_, "log")) => OnFailure::Log,
            Some((_, "deny")) => OnFailure::Deny,
            Some((v, other)) => {
                return Err(self.at(
                    v,
                    format!("on_failure = {other:?}: expected \"log\" or \"deny\""),
                ))
            }
        };
        Ok(AuditConfig {
            sink,
            on_failure,
            output_hashes: raw.output_hashes.unwrap_or(true),
        })
    }

    /// Load the certificate chain and key now, so a bad file is a config
    /// error located at its key.
    fn tls(
        &self,
        raw: &super::raw::RawTls,
    ) -> Result<std::sync::Arc<rustls::ServerConfig>, ConfigError> {
        let (cert, key) = (
            self.relative(raw.cert.get_ref()),
            self.relative(raw.key.get_ref()),
        );
        crate::tls::server_config(&cert, &key).map_err(|e| {
            let at = match &e {
                crate::tls::TlsError::Pem { path, .. } if *path == key => &raw.key,
                _ => &raw.cert,
            };
            self.at(at, e.to_string())
        })
    }
}

pub(super) fn check_name(
    cx: &Cx<'_>,
    name: &Spanned<String>,
    what: &str,
) -> Result<(), ConfigError> {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(cx.at(
            name,
            format!("{what} name {n:?} may only use letters, digits, '.', '_', '-', '@'"),
        ))
    }
}

fn parse_listen(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>().ok().or_else(|| {
        s.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
    })
}

pub(super) fn parse_key(line: &str) -> Result<ssh_key::PublicKey, String> {
    let key = ssh_key::PublicKey::from_openssh(line.trim())
        .map_err(|e| format!("invalid OpenSSH public key: {e}"))?;
    match key.algorithm() {
        ssh_key::Algorithm::Ed25519
        | ssh_key::Algorithm::Ecdsa {
            curve: ssh_key::EcdsaCurve::NistP256 | ssh_key::EcdsaCurve::NistP384,
        } => Ok(key),
        other => Err(format!(
            "key type {other} is not supported (use ssh-ed25519, ecdsa-sha2-nistp256 or ecdsa-sha2-nistp384)"
        )),
    }
}

pub(super) fn lookup_account(name: &str) -> Result<RunAs, String> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => {
            let cname = std::ffi::CString::new(u.name.as_str())
                .map_err(|_| format!("run_as account {name:?} has a NUL byte"))?;
            let groups = nix::unistd::getgrouplist(&cname, u.gid)
                .map_err(|e| format!("cannot read the groups of run_as account {name:?}: {e}"))?;
            Ok(RunAs {
                name: u.name,
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                home: u.dir,
                groups: groups.iter().map(|g| g.as_raw()).collect(),
            })
        }
        Ok(None) => Err(format!("run_as account {name:?} does not exist")),
        Err(e) => Err(format!("cannot look up run_as account {name:?}: {e}")),
    }
}
