//! What secshd checks about the files it trusts: the configuration (not
//! writable by group or others, owned by root or the daemon, in a
//! directory others cannot write), the TLS private key (not readable by
//! group or others), and the server certificate's expiry (a warning).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::ConfigError;

/// Warn this long before the server certificate expires.
pub const CERT_WARNING: Duration = Duration::from_secs(30 * 86_400);

fn unsafe_(path: &Path, why: String) -> ConfigError {
    ConfigError::Unsafe {
        path: path.to_path_buf(),
        why,
    }
}

/// The configuration file and its directory.
pub(super) fn check_config_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), ConfigError> {
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(unsafe_(
            path,
            format!("mode {:04o} is writable by group or others", mode & 0o7777),
        ));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(unsafe_(
            path,
            format!("owned by uid {}, not root or uid {euid}", meta.uid()),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::metadata(dir) {
        if d.permissions().mode() & 0o002 != 0 {
            return Err(unsafe_(
                dir,
                format!(
                    "the configuration's directory (mode {:04o}) is writable by others, \
                     who could replace the file",
                    d.permissions().mode() & 0o7777
                ),
            ));
        }
    }
    Ok(())
}

/// The TLS private key: an error message when group or others may read or
/// write it.
pub(super) fn key_mode_problem(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "the TLS private key {} has mode {:04o}: group or others may read or write it (chmod 600)",
            path.display(),
            mode & 0o7777
        )
    })
}

/// A warning when the first certificate in `pem_path` has expired or
/// expires within [`CERT_WARNING`] of `now`.
/// When the first certificate in `pem_path` expires (seconds since 1970).
pub(super) fn cert_not_after(pem_path: &Path) -> Option<u64> {
    let pem = std::fs::read(pem_path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    u64::try_from(cert.validity().not_after.timestamp()).ok()
}

pub(super) fn cert_expiry_warning(pem_path: &Path, now: SystemTime) -> Option<String> {
    let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(cert_not_after(pem_path)?);
    let when = crate::timefmt::utc(expires);
    if expires <= now {
        Some(format!(
            "the server certificate {} expired at {when}: clients will refuse it",
            pem_path.display()
        ))
    } else if expires <= now + CERT_WARNING {
        Some(format!(
            "the server certificate {} expires at {when}, within 30 days: issue a new one",
            pem_path.display()
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_expiring_in(dir: &Path, days: i64) -> std::path::PathBuf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let now = rcgen::date_time_ymd(2026, 1, 1);
        params.not_before = now;
        params.not_after = now + time::Duration::days(days);
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join(format!("cert{days}.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        path
    }

    #[test]
    fn certificate_expiry_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let jan1 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let soon = cert_expiring_in(dir.path(), 10);
        let w = cert_expiry_warning(&soon, jan1).unwrap();
        assert!(
            w.contains("expires at 2026-01-11 00:00:00 UTC, within 30 days"),
            "{w}"
        );
        let later = cert_expiring_in(dir.path(), 365);
        assert_eq!(cert_expiry_warning(&later, jan1), None);
        let w = cert_expiry_warning(&soon, jan1 + Duration::from_secs(20 * 86_400)).unwrap();
        assert!(w.contains("expired at 2026-01-11"), "{w}");
    }
}
