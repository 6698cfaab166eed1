//! TCP + TLS connection setup, and the TLS exporter for auth.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{ClientError, Target};
use crate::proto::ALPN;
use crate::readahead::ReadAhead;

/// The client's TLS stream type.
pub type ClientStream = TlsStream<ReadAhead<TcpStream>>;

/// An established TLS connection to a secshd.
pub struct Connection {
    /// The TLS stream.
    pub stream: ClientStream,
    /// The session's auth exporter value.
    pub exporter: [u8; 32],
    /// How long the TLS handshake took: about one round trip.
    pub handshake: Duration,
}

/// Connect to `target` and complete the TLS handshake within `timeout`,
/// trusting the CAs in `ca_bundle`.
pub async fn connect(
    target: &Target,
    ca_bundle: &Path,
    timeout: Duration,
) -> Result<Connection, ClientError> {
    let config = crate::tls::client_config(ca_bundle)?;
    connect_with(target, config, timeout).await
}

/// [`connect`] with a TLS configuration already built (many hosts with one
/// CA bundle share one).
pub async fn connect_with(
    target: &Target,
    config: std::sync::Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Connection, ClientError> {
    let port = target.port_or_default();
    let label = format!("{}:{port}", target.host);
    tokio::time::timeout(timeout, connect_inner(target, port, &label, config))
        .await
        .map_err(|_| ClientError::ConnectTimeout(label.clone()))?
}

async fn connect_inner(
    target: &Target,
    port: u16,
    label: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<Connection, ClientError> {
    let name = ServerName::try_from(target.host.clone()).map_err(|_| ClientError::Resolve {
        host: target.host.clone(),
        detail: "not a valid DNS name or IP address".into(),
    })?;
    let addrs: Vec<_> = tokio::net::lookup_host((target.host.as_str(), port))
        .await
        .map_err(|e| ClientError::Resolve {
            host: target.host.clone(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last = String::from("no addresses");
    let mut tcp = None;
    let several = addrs.len() > 1;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) if several => last = format!("{addr}: {e}"),
            Err(e) => last = e.to_string(),
        }
    }
    let tcp = tcp.ok_or_else(|| ClientError::Connect {
        target: label.to_string(),
        detail: last,
    })?;
    let _ = tcp.set_nodelay(true);
    let began = std::time::Instant::now();
    let mut stream = TlsConnector::from(config)
        .connect(name, ReadAhead::new(tcp))
        .await
        .map_err(|e| ClientError::Tls {
            target: label.to_string(),
            detail: e.to_string(),
        })?;
    // Let rustls hold up to 1 MiB of outgoing records so bulk writes reach
    // the socket in large writes (the default is 64 KiB).
    stream.get_mut().1.set_buffer_limit(Some(1 << 20));
    let conn = stream.get_ref().1;
    if conn.alpn_protocol() != Some(ALPN) {
        return Err(ClientError::Tls {
            target: label.to_string(),
            detail: "server did not negotiate ALPN secsh/1".into(),
        });
    }
    let exporter = crate::tls::auth_exporter(conn).map_err(|e| ClientError::Tls {
        target: label.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Connection {
        stream,
        exporter,
        handshake: began.elapsed(),
    })
}
