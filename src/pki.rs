//! Key material: with rcgen a CA, server certificates issued by it, and
//! the files they live in (private keys written 0600, never overwritten);
//! and new Ed25519 OpenSSH user keys for dev mode and tests.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Errors creating or reading certificate material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen failed (bad name, unparsable CA).
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A certificate needs at least one DNS name or IP address.
    #[error("a server certificate needs at least one --name or --ip")]
    NoNames,
}

/// File names inside a PKI directory.
pub const CA_CERT: &str = "ca.pem";
/// CA private key file name.
pub const CA_KEY: &str = "ca.key";
/// Server certificate chain file name.
pub const SERVER_CERT: &str = "server.pem";
/// Server private key file name.
pub const SERVER_KEY: &str = "server.key";

/// Key type of generated CA and server keys: ECDSA P-256. Ed25519 would
/// save the client about a third of its two certificate-signature checks
/// per connection (0.99M instead of 1.47M instructions), but validators
/// that follow the WebPKI rules (sslyze's, for one) refuse Ed25519 keys,
/// and TLS stacks a second client may be written with (Windows SChannel,
/// mbedTLS) lack them. A CA with another key type still issues.
const KEY_ALG: &rcgen::SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `contents` to a new file with `mode`; fails if it exists.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "secsh CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year() + 10, 1, 1);
    params
}

/// The current calendar year (to within a day, which the one-year margin
/// in `not_before` absorbs).
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + (secs / 31_556_952) as i32
}

/// A new Ed25519 OpenSSH user key (seeded from the kernel's random
/// source), for `--dev` and tests.
pub fn new_user_key(comment: &str) -> Result<ssh_key::PrivateKey, PkiError> {
    use std::io::Read;
    let urandom = Path::new("/dev/urandom");
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    std::fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut seed[..]))
        .map_err(io(urandom))?;
    let mut key = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    Ok(key)
}

/// Create `dir` with a new CA and a server certificate for `names`/`ips`.
/// Refuses to overwrite an existing CA key.
pub fn init(dir: &Path, names: &[String], ips: &[IpAddr]) -> Result<(), PkiError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let ca_key = KeyPair::generate_for(KEY_ALG)?;
    let params = ca_params();
    let ca_cert = params.self_signed(&ca_key)?;
    write_new(&dir.join(CA_KEY), ca_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&dir.join(CA_CERT), ca_cert.pem().as_bytes(), 0o644)?;
    let issuer = Issuer::new(params, ca_key);
    issue_with(&issuer, &ca_cert.pem(), names, ips, dir)
}

/// Issue a server certificate for `names`/`ips` from the CA in `ca_dir`,
/// writing `server.pem` (chain) and `server.key` into `out`.
pub fn issue(ca_dir: &Path, names: &[String], ips: &[IpAddr], out: &Path) -> Result<(), PkiError> {
    let cert_path = ca_dir.join(CA_CERT);
    let key_path = ca_dir.join(CA_KEY);
    let ca_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
    let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, KeyPair::from_pem(&key_pem)?)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    issue_with(&issuer, &ca_pem, names, ips, out)
}

fn issue_with(
    issuer: &Issuer<'_, KeyPair>,
    ca_pem: &str,
    names: &[String],
    ips: &[IpAddr],
    out: &Path,
) -> Result<(), PkiError> {
    if names.is_empty() && ips.is_empty() {
        return Err(PkiError::NoNames);
    }
    let mut params = CertificateParams::new(names.to_vec())?;
    params
        .subject_alt_names
        .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    let mut dn = DistinguishedName::new();
    let cn = names.first().cloned().unwrap_or_else(|| ips[0].to_string());
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year() + 3, 1, 1);
    let key = KeyPair::generate_for(KEY_ALG)?;
    let cert = params.signed_by(&key, issuer)?;
    write_new(&out.join(SERVER_KEY), key.serialize_pem().as_bytes(), 0o600)?;
    let chain = format!("{}{}", cert.pem(), ca_pem);
    write_new(&out.join(SERVER_CERT), chain.as_bytes(), 0o644)
}
