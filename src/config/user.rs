//! `[users.NAME]`: keys, password hash, the methods required to sign in,
//! and the account commands run as.

use std::time::SystemTime;

use toml::Spanned;

use super::raw::RawUser;
use super::server::{lookup_account, parse_key, Cx, LoadOptions};
use super::{AuthSettings, ConfigError, User, UserLimits};
use crate::auth::StoredHash;
use crate::proto::AuthMethod;

/// Validate one user entry.
pub(super) fn build(
    cx: &Cx<'_>,
    name: &Spanned<String>,
    user: &Spanned<RawUser>,
    options: &LoadOptions,
    (defaults, certificates): (UserLimits, bool),
    warnings: &mut Vec<String>,
) -> Result<User, ConfigError> {
    let u = user.get_ref();
    let principals = match &u.principals {
        None => vec![name.get_ref().clone()],
        Some(list) => {
            if !certificates {
                return Err(cx.at(
                    user,
                    "principals need [auth] user_ca_keys: no certificate can sign in without a user CA",
                ));
            }
            let mut out = Vec::with_capacity(list.len());
            for p in list {
                if p.get_ref().is_empty() || p.get_ref().contains(',') {
                    return Err(cx.at(p, "a principal is a non-empty name without commas"));
                }
                out.push(p.get_ref().clone());
            }
            out
        }
    };
    let mut keys = Vec::with_capacity(u.keys.len());
    let mut key_expiry = Vec::new();
    for k in &u.keys {
        let (expires, line) = split_options(k.get_ref()).map_err(|m| cx.at(k, m))?;
        let key = parse_key(line).map_err(|m| cx.at(k, m))?;
        if let Some(t) = expires {
            key_expiry.push((key.key_data().clone(), t));
        }
        keys.push(key);
    }
    let from = u
        .from
        .iter()
        .flatten()
        .map(|f| super::limits::net(cx, f))
        .collect::<Result<Vec<_>, _>>()?;
    if u.from.as_ref().is_some_and(|f| f.is_empty()) {
        return Err(cx.at(
            user,
            "from = [] would let the user in from nowhere; remove it or list addresses",
        ));
    }
    let password = match &u.password {
        None => None,
        Some(p) => Some(StoredHash::parse(p.get_ref()).map_err(|e| cx.at(p, e.to_string()))?),
    };
    if keys.is_empty() && password.is_none() && !certificates {
        return Err(cx.at(
            user,
            format!(
                "user {:?} has neither keys nor a password (and there is no [auth] user_ca_keys) so could never sign in",
                name.get_ref()
            ),
        ));
    }
    let mut require = Vec::new();
    for m in u.auth.iter().flatten() {
        let method = match m.get_ref().as_str() {
            "key" if keys.is_empty() && !certificates => {
                return Err(cx.at(m, "auth requires \"key\" but the user has no keys"))
            }
            "key" => AuthMethod::Key,
            "password" if password.is_none() => {
                return Err(cx.at(m, "auth requires \"password\" but the user has no password"))
            }
            "password" => AuthMethod::Password,
            other => {
                return Err(cx.at(
                    m,
                    format!("unknown auth method {other:?}: expected \"key\" or \"password\""),
                ))
            }
        };
        if require.contains(&method) {
            return Err(cx.at(m, format!("auth lists {:?} twice", m.get_ref())));
        }
        require.push(method);
    }
    if let Some(list) = &u.auth {
        if list.is_empty() {
            return Err(cx.at(
                user,
                "auth = [] would let nobody in; list \"key\", \"password\" or both",
            ));
        }
    }
    let run_as = match &u.run_as {
        None => None,
        Some(r) if !options.is_root => {
            return Err(cx.at(r, "run_as needs secshd to run as root"));
        }
        Some(r) => Some(lookup_account(r.get_ref()).map_err(|m| cx.at(r, m))?),
    };
    let limits = super::limits::user_limits(cx, u.limits.as_ref(), defaults)?;
    let upload = super::roots::roots(cx, "upload", &u.upload, warnings)?;
    let download = super::roots::roots(cx, "download", &u.download, warnings)?;
    Ok(User {
        detach: u.detach.unwrap_or(false),
        limits,
        upload,
        download,
        keys,
        principals,
        certificates,
        key_expiry,
        from,
        password,
        require,
        run_as,
    })
}

/// `[auth]`: the user CAs, each an OpenSSH public key line or the path of
/// a file of them (one per line, `#` comments).
pub(super) fn auth_settings(
    cx: &Cx<'_>,
    raw: &super::raw::RawAuth,
) -> Result<AuthSettings, ConfigError> {
    let mut user_cas = Vec::new();
    for entry in raw.user_ca_keys.iter().flatten() {
        let text = entry.get_ref().trim();
        if text.starts_with('/') || text.starts_with("./") {
            let path = cx.relative(text);
            let body = std::fs::read_to_string(&path)
                .map_err(|e| cx.at(entry, format!("cannot read {}: {e}", path.display())))?;
            for (i, line) in body.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let key = parse_key(line)
                    .map_err(|m| cx.at(entry, format!("{}:{}: {m}", path.display(), i + 1)))?;
                user_cas.push(key);
            }
        } else {
            user_cas.push(parse_key(text).map_err(|m| cx.at(entry, m))?);
        }
    }
    if raw.user_ca_keys.as_ref().is_some_and(|l| !l.is_empty()) && user_cas.is_empty() {
        let first = &raw.user_ca_keys.as_ref().expect("listed")[0];
        return Err(cx.at(first, "user_ca_keys names no key"));
    }
    let revoked = match &raw.revoked_keys {
        None => crate::auth::krl::Revoked::default(),
        Some(p) => {
            let path = cx.relative(p.get_ref());
            let data = std::fs::read(&path)
                .map_err(|e| cx.at(p, format!("cannot read {}: {e}", path.display())))?;
            crate::auth::krl::Revoked::parse(&data)
                .map_err(|e| cx.at(p, format!("{}: {e}", path.display())))?
        }
    };
    Ok(AuthSettings { user_cas, revoked })
}

/// Split the one `authorized_keys` option secshd understands,
/// `expiry-time="YYYYMMDD[HHMM[SS]]"` (read as UTC; a trailing `Z` is
/// accepted), off the front of a key line.
fn split_options(line: &str) -> Result<(Option<SystemTime>, &str), String> {
    let line = line.trim();
    let Some(rest) = line.strip_prefix("expiry-time=\"") else {
        if line.starts_with("ssh-") || line.starts_with("ecdsa-") {
            return Ok((None, line));
        }
        let option = line
            .split(|c: char| c == '=' || c.is_whitespace())
            .next()
            .unwrap_or("");
        return Err(format!(
            "key option {option:?} is not supported (only expiry-time=\"YYYYMMDD[HHMM[SS]]\")"
        ));
    };
    let (date, key) = rest
        .split_once('"')
        .ok_or("expiry-time has no closing quote")?;
    let when = parse_expiry(date).ok_or_else(|| {
        format!("expiry-time=\"{date}\" is not YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS")
    })?;
    Ok((Some(when), key.trim_start()))
}

fn parse_expiry(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix(['Z', 'z']).unwrap_or(s);
    if !matches!(s.len(), 8 | 12 | 14) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).map_or(Some(0), |t| t.parse::<i64>().ok());
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn expiry_dates() {
        assert_eq!(unix(parse_expiry("19700101").unwrap()), 0);
        assert_eq!(unix(parse_expiry("20000301").unwrap()), 951_868_800);
        assert_eq!(
            unix(parse_expiry("20261126183000Z").unwrap()),
            1_795_717_800
        );
        assert_eq!(unix(parse_expiry("202611261830").unwrap()), 1_795_717_800);
        assert_eq!(
            crate::timefmt::utc(parse_expiry("20261126183005").unwrap()),
            "2026-11-26 18:30:05 UTC"
        );
        assert_eq!(
            crate::timefmt::utc(parse_expiry("20000229").unwrap()),
            "2000-02-29 00:00:00 UTC"
        );
        for bad in [
            "2026",
            "20261326",
            "20261100",
            "2026112625",
            "2026-11-26",
            "x0261126",
        ] {
            assert!(parse_expiry(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_expiry_time_is_an_accepted_option() {
        let (t, k) = split_options("expiry-time=\"20300101\" ssh-ed25519 AAAA c").unwrap();
        assert!(t.is_some());
        assert_eq!(k, "ssh-ed25519 AAAA c");
        assert_eq!(
            split_options("ssh-ed25519 AAAA").unwrap(),
            (None, "ssh-ed25519 AAAA")
        );
        let e = split_options("command=\"x\" ssh-ed25519 AAAA").unwrap_err();
        assert!(e.contains("\"command\" is not supported"), "{e}");
        assert!(split_options("expiry-time=\"2030 ssh-ed25519").is_err());
    }
}
