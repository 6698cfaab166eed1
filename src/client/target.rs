//! Parsing `[USER@]HOST[:PORT]` (IPv6 as `[addr]:port` or bare `addr`).

use crate::proto::DEFAULT_PORT;

/// Where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Account on the server, if given.
    pub user: Option<String>,
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
}

impl Target {
    /// Parse a command-line target.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
            Some(_) => return Err(format!("empty user in {s:?}")),
            None => (None, s),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("missing ']' in {s:?}"))?;
            match after {
                "" => (h, None),
                p => (
                    h,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| format!("junk after ']' in {s:?}"))?,
                    ),
                ),
            }
        } else if rest.matches(':').count() > 1 {
            (rest, None)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(format!("empty host in {s:?}"));
        }
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| format!("invalid port {p:?}")))
            .transpose()?;
        Ok(Self {
            user,
            host: host.to_string(),
            port,
        })
    }

    /// The port, defaulting to 7022.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = Target::parse("alice@web1:7000").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port),
            (Some("alice"), "web1", Some(7000))
        );
        let t = Target::parse("web1").unwrap();
        assert_eq!((t.user, t.host.as_str(), t.port), (None, "web1", None));
        let t = Target::parse("bob@[::1]:22").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(22)));
        let t = Target::parse("::1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", None));
        assert!(Target::parse("@h").is_err());
        assert!(Target::parse("h:99999").is_err());
        assert!(Target::parse("u@").is_err());
    }
}
