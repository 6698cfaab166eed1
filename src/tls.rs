//! rustls configurations for both ends: TLS 1.3 only, ALPN `secsh/1`, no
//! early data, the aws-lc-rs provider passed explicitly, and PEM loading.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::proto::ALPN;

/// Errors loading TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{path}: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// aws-lc-rs with AES-128-GCM preferred: it is the fastest suite on CPUs
/// with AES-NI (about a third faster than AES-256-GCM) and what OpenSSH's
/// fastest setting uses. Both ends prefer it; either suite is secure.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::aws_lc_rs::{cipher_suite, default_provider};
    let mut provider = default_provider();
    provider.cipher_suites = vec![
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

fn pem_err(path: &Path, detail: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Read every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, e))?;
    if certs.is_empty() {
        return Err(pem_err(path, "no CERTIFICATE found"));
    }
    Ok(certs)
}

/// Read the private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_err(path, e))
}

/// A server configuration presenting `cert` (chain) with `key`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certs(cert)?;
    let key = load_key(key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.max_early_data_size = 0;
    // No session tickets: secsh clients are one process per connection
    // and never resume, so each ticket would be issued, sent and stored
    // for nothing (two per handshake by default).
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates in `ca_bundle`.
pub fn client_config(ca_bundle: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_bundle)? {
        roots.add(cert).map_err(|e| pem_err(ca_bundle, e))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.enable_early_data = false;
    // Nothing to resume (see `server_config`): keep no session cache.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Label of the TLS exporter that binds key signatures to one session.
pub const AUTH_EXPORTER_LABEL: &[u8] = b"EXPORTER-secsh-auth";

/// Derive the 32-byte auth binding from an established connection.
pub fn auth_exporter<D>(conn: &rustls::ConnectionCommon<D>) -> Result<[u8; 32], rustls::Error> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, AUTH_EXPORTER_LABEL, None)?;
    Ok(out)
}
