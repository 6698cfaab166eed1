//! The client configuration file (`~/.config/secsh/config.toml`, or
//! `--config FILE`; docs/CLIENT.md): defaults for every call, overrides per
//! host or host pattern, and `[groups]` for `@group` targets. Unknown keys
//! are errors with FILE:LINE:COLUMN.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ClientError;

/// Defaults for every call (command-line options win).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// User to sign in as.
    pub user: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// CA bundle (`--cert`).
    pub cert: Option<PathBuf>,
    /// Private key (`-i`).
    pub identity: Option<PathBuf>,
    /// Hosts at once (`--parallel`).
    pub parallel: Option<usize>,
    /// Seconds for connect + TLS, and for the answer to `auth`.
    pub connect_timeout: Option<f64>,
    /// Seconds before the server kills a command (`--timeout`).
    pub timeout: Option<f64>,
    /// Run every single-host command resumable (`--resume-on-drop`).
    pub resume_on_drop: Option<bool>,
    /// Seconds a resumable run keeps trying to reconnect (default 300).
    pub resume_for_secs: Option<f64>,
}

/// Settings for hosts matching one name or pattern.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostOverride {
    /// Connect here instead of the name.
    pub address: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// User.
    pub user: Option<String>,
    /// CA bundle.
    pub cert: Option<PathBuf>,
}

/// A parsed client configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// `[defaults]`.
    #[serde(default)]
    pub defaults: Defaults,
    /// `[hosts."NAME-OR-PATTERN"]`: `*` matches any run of characters,
    /// `?` one.
    #[serde(default)]
    pub hosts: BTreeMap<String, HostOverride>,
    /// `[groups]`: `NAME = ["target", ...]` (lists and ranges allowed).
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
}

/// `*` and `?` glob match of a whole host name.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl ClientConfig {
    /// The default file: `$XDG_CONFIG_HOME/secsh/config.toml`, else
    /// `~/.config/secsh/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
        Some(base.join("secsh").join("config.toml"))
    }

    /// Load `explicit`, or the default file when it exists, or nothing.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ClientError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match Self::default_path().filter(|p| p.exists()) {
                Some(p) => p,
                None => return Ok(Self::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
        Self::parse(&path, &text)
    }

    /// Parse `text` read from `path` (relative paths in it are taken from
    /// its directory).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ClientError> {
        let mut c: ClientConfig = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(":{line}:{col}")
                })
                .unwrap_or_default();
            ClientError::Usage(format!("{}{at}: {}", path.display(), e.message()))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(q) = p.as_mut() {
                *q = expand_home(q, dir);
            }
        };
        fix(&mut c.defaults.cert);
        fix(&mut c.defaults.identity);
        for h in c.hosts.values_mut() {
            fix(&mut h.cert);
        }
        Ok(c)
    }

    /// The override for `host`: its exact entry, else the longest
    /// pattern that matches it.
    pub fn host(&self, host: &str) -> Option<&HostOverride> {
        if let Some(h) = self.hosts.get(host) {
            return Some(h);
        }
        self.hosts
            .iter()
            .filter(|(p, _)| glob(p, host))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, h)| h)
    }
}

/// `~/x` from HOME; a relative path from `dir`.
fn expand_home(p: &Path, dir: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest);
        }
    }
    if p.is_relative() {
        dir.join(p)
    } else {
        p.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, want) in [
            ("web*.example.com", "web01.example.com", true),
            ("web*.example.com", "db1.example.com", false),
            ("db?", "db1", true),
            ("db?", "db12", false),
            ("*", "anything", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(glob(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn parse_overrides_and_errors() {
        let text = "[defaults]\nuser = \"ops\"\ncert = \"ca.pem\"\nparallel = 8\n\n[hosts.\"web*\"]\nport = 7023\n\n[hosts.web1]\naddress = \"10.0.0.1\"\n\n[groups]\nweb = [\"web[1-3]\"]\n";
        let c = ClientConfig::parse(Path::new("/etc/x/config.toml"), text).unwrap();
        assert_eq!(c.defaults.cert.as_deref(), Some(Path::new("/etc/x/ca.pem")));
        assert_eq!(c.host("web1").unwrap().address.as_deref(), Some("10.0.0.1"));
        assert_eq!(c.host("web2").unwrap().port, Some(7023));
        assert!(c.host("db1").is_none());
        assert_eq!(c.groups["web"], ["web[1-3]"]);
        let e = ClientConfig::parse(Path::new("c.toml"), "[defaults]\nusr = \"x\"\n").unwrap_err();
        assert!(
            e.to_string().starts_with("c.toml:2:1: unknown field `usr`"),
            "{e}"
        );
    }
}
