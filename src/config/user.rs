//! `[users.NAME]`: keys, password hash, the methods required to sign in,
//! and the account commands run as.

use toml::Spanned;

use super::raw::RawUser;
use super::server::{lookup_account, parse_key, Cx, LoadOptions};
use super::{ConfigError, User};
use crate::auth::StoredHash;
use crate::proto::AuthMethod;

/// Validate one user entry.
pub(super) fn build(
    cx: &Cx<'_>,
    name: &Spanned<String>,
    user: &Spanned<RawUser>,
    options: &LoadOptions,
) -> Result<User, ConfigError> {
    let u = user.get_ref();
    let keys = u
        .keys
        .iter()
        .map(|k| parse_key(k.get_ref()).map_err(|m| cx.at(k, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let password = match &u.password {
        None => None,
        Some(p) => Some(StoredHash::parse(p.get_ref()).map_err(|e| cx.at(p, e.to_string()))?),
    };
    if keys.is_empty() && password.is_none() {
        return Err(cx.at(
            user,
            format!(
                "user {:?} has neither keys nor a password and could never sign in",
                name.get_ref()
            ),
        ));
    }
    let mut require = Vec::new();
    for m in u.auth.iter().flatten() {
        let method = match m.get_ref().as_str() {
            "key" if keys.is_empty() => {
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
    Ok(User {
        keys,
        password,
        require,
        run_as,
    })
}
