//! Password authentication: argon2id PHC strings checked when the
//! configuration loads, hashing for `secshd hash-password`, and a verify
//! that costs the same for an unknown user as for a known one.

use std::sync::OnceLock;

use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use zeroize::Zeroize;

/// Weakest accepted memory cost, KiB (OWASP's argon2id minimum).
pub const MIN_M_KIB: u32 = 19_456;
/// Weakest accepted number of passes.
pub const MIN_T: u32 = 2;
/// Largest accepted memory cost, KiB: a stored hash decides how much memory
/// every attempt against it takes, so a typo cannot make each try cost GiBs.
pub const MAX_M_KIB: u32 = 262_144;
/// Largest accepted number of passes.
pub const MAX_T: u32 = 16;
/// Largest accepted parallelism.
pub const MAX_P: u32 = 8;
/// Longest password accepted on the wire, bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A validated argon2id PHC string from the configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(String);

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredHash(argon2id)")
    }
}

/// Why a PHC string is refused (a configuration error).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// Not a PHC string at all.
    #[error(
        "not a PHC password hash string (expected \"$argon2id$v=19$m=...,t=...,p=...$salt$hash\")"
    )]
    Malformed,
    /// Another algorithm (argon2i, argon2d, bcrypt, ...).
    #[error("the hash uses {0}; only argon2id is accepted")]
    Algorithm(String),
    /// Parameters outside the accepted range.
    #[error("argon2id parameters m={m} KiB, t={t}, p={p} are outside m={MIN_M_KIB}..={MAX_M_KIB}, t={MIN_T}..={MAX_T}, p=1..={MAX_P}; generate a hash with `secshd hash-password`")]
    Params {
        /// Memory cost, KiB.
        m: u32,
        /// Passes.
        t: u32,
        /// Parallelism.
        p: u32,
    },
}

impl StoredHash {
    /// Check `phc` as a usable argon2id hash.
    pub fn parse(phc: &str) -> Result<Self, HashError> {
        let hash = PasswordHash::new(phc).map_err(|_| HashError::Malformed)?;
        if hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str() {
            return Err(HashError::Algorithm(hash.algorithm.as_str().to_string()));
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(HashError::Malformed);
        }
        let params = Params::try_from(&hash).map_err(|_| HashError::Malformed)?;
        let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
        if !(MIN_M_KIB..=MAX_M_KIB).contains(&m) || !(MIN_T..=MAX_T).contains(&t) || p > MAX_P {
            return Err(HashError::Params { m, t, p });
        }
        Ok(Self(phc.to_string()))
    }
}

/// Hash `password` for the configuration: argon2id, m=19456 KiB, t=2, p=1
/// (the crate's defaults, OWASP's recommendation), random 16-byte salt.
pub fn hash(password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let argon = Argon2::default();
    Ok(argon.hash_password(password)?.to_string())
}

/// Which hash a verification ran against (for tests of the constant-work
/// rule: an unknown user must take the same path as a known one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The user's own hash, which matched.
    Match,
    /// The user's own hash, which did not match.
    Mismatch,
    /// The dummy hash (no such user, or no password configured).
    Dummy,
}

/// Verify `password` against `stored`; without a stored hash, verify
/// against a dummy of the same parameters so the work is the same. Blocks
/// for tens of milliseconds: run it off the async runtime.
pub fn verify(stored: Option<&StoredHash>, password: &[u8]) -> Verified {
    let argon = Argon2::default();
    let password = &password[..password.len().min(MAX_PASSWORD_LEN)];
    match stored {
        Some(StoredHash(phc)) => match PasswordHash::new(phc) {
            Ok(h) if argon.verify_password(password, &h).is_ok() => Verified::Match,
            _ => Verified::Mismatch,
        },
        None => {
            let _ = PasswordHash::new(dummy()).map(|h| argon.verify_password(password, &h));
            Verified::Dummy
        }
    }
}

/// A hash of a random password at the default parameters, made once.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = argon2::password_hash::generate_salt();
        let phc = hash(&random).unwrap_or_default();
        random.zeroize();
        phc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let stored = StoredHash::parse(&phc).unwrap();
        assert_eq!(verify(Some(&stored), b"correct horse"), Verified::Match);
        assert_eq!(verify(Some(&stored), b"wrong horse"), Verified::Mismatch);
        assert_eq!(verify(Some(&stored), b""), Verified::Mismatch);
        assert_eq!(verify(None, b"correct horse"), Verified::Dummy);
    }

    #[test]
    fn weak_foreign_or_malformed_hashes_are_refused() {
        assert_eq!(StoredHash::parse("hunter2"), Err(HashError::Malformed));
        let weak =
            "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(matches!(
            StoredHash::parse(weak),
            Err(HashError::Params { m: 4096, t: 1, .. })
        ));
        let argon2i =
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert_eq!(
            StoredHash::parse(argon2i),
            Err(HashError::Algorithm("argon2i".into()))
        );
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(matches!(
            StoredHash::parse(huge),
            Err(HashError::Params { .. })
        ));
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let stored = StoredHash::parse(&hash(b"x").unwrap()).unwrap();
        assert!(!format!("{stored:?}").contains("argon2id$"));
    }
}
