//! Password authentication: argon2id PHC strings checked when the
//! configuration loads, hashing for `secshd hash-password`, and a verify
//! that costs an unknown user what the costliest configured hash costs
//! (the caller pads cheaper hashes to that time: see `server::auth`).

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
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

/// The argon2id cost of a hash: what one verification against it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Cost {
    /// What [`hash`] uses: m=19456 KiB, t=2, p=1.
    pub const DEFAULT: Cost = Cost {
        m_kib: MIN_M_KIB,
        t: MIN_T,
        p: 1,
    };

    /// The costliest of `hashes` (memory times passes, then memory), or
    /// [`Cost::DEFAULT`] when there are none or all are cheaper.
    pub fn ceiling<'a>(hashes: impl IntoIterator<Item = &'a StoredHash>) -> Cost {
        let key = |c: &Cost| (u64::from(c.m_kib) * u64::from(c.t), c.m_kib, c.p);
        hashes
            .into_iter()
            .map(StoredHash::cost)
            .chain([Cost::DEFAULT])
            .max_by_key(key)
            .unwrap_or(Cost::DEFAULT)
    }
}

/// A validated argon2id PHC string from the configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(String, Cost);

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
        let cost = Cost { m_kib: m, t, p };
        Ok(Self(phc.to_string(), cost))
    }

    /// Its argon2id parameters.
    pub fn cost(&self) -> Cost {
        self.1
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

/// Verify `password` against `stored`; without a stored hash, run the
/// same computation at `dummy` parameters (give it the configuration's
/// [`Cost::ceiling`]: an unknown user then costs what the costliest user
/// does). Blocks for tens of milliseconds or more: run it off the async
/// runtime.
pub fn verify(stored: Option<&StoredHash>, password: &[u8], dummy: Cost) -> Verified {
    let password = &password[..password.len().min(MAX_PASSWORD_LEN)];
    match stored {
        Some(StoredHash(phc, _)) => match PasswordHash::new(phc) {
            Ok(h) if Argon2::default().verify_password(password, &h).is_ok() => Verified::Match,
            _ => Verified::Mismatch,
        },
        None => {
            // What verifying computes: argon2id of the password with a
            // salt, 32 bytes out; compared with nothing.
            if let Ok(params) = Params::new(dummy.m_kib, dummy.t, dummy.p, Some(32)) {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut out = [0u8; 32];
                let _ = argon.hash_password_into(password, dummy_salt(), &mut out);
                out.zeroize();
            }
            Verified::Dummy
        }
    }
}

/// A random salt for dummy verifications, made once.
fn dummy_salt() -> &'static [u8] {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    SALT.get_or_init(argon2::password_hash::generate_salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let stored = StoredHash::parse(&phc).unwrap();
        let d = Cost::DEFAULT;
        assert_eq!(verify(Some(&stored), b"correct horse", d), Verified::Match);
        assert_eq!(verify(Some(&stored), b"wrong horse", d), Verified::Mismatch);
        assert_eq!(verify(Some(&stored), b"", d), Verified::Mismatch);
        assert_eq!(verify(None, b"correct horse", d), Verified::Dummy);
        assert_eq!(stored.cost(), Cost::DEFAULT);
    }

    #[test]
    fn the_ceiling_is_the_costliest_hash_never_below_the_default() {
        let six = "$argon2id$v=19$m=19456,t=6,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        let wide = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        let (six, wide) = (
            StoredHash::parse(six).unwrap(),
            StoredHash::parse(wide).unwrap(),
        );
        assert_eq!(Cost::ceiling([]), Cost::DEFAULT);
        assert_eq!(Cost::ceiling([&six]).t, 6);
        let both = Cost::ceiling([&six, &wide]);
        assert_eq!((both.m_kib, both.t, both.p), (65536, 2, 4));
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
