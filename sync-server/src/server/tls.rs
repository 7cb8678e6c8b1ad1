//! The server's TLS configuration: a PEM certificate chain and key read into a rustls
//! configuration (TLS 1.2 and 1.3, HTTP/1.1, ring). Handshakes themselves run in the connection
//! loop ([`super::connections`]), each in its own task, with a timeout.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read the certificate file: {0}")]
    Certificate(String),
    #[error("the certificate file holds no PEM certificate")]
    NoCertificate,
    #[error("cannot read the private key file (PEM, PKCS#8, PKCS#1 or SEC1): {0}")]
    Key(String),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS configuration from a PEM certificate chain (the server's certificate first, then any
/// intermediates) and its PEM private key. TLS 1.2 and 1.3, HTTP/1.1, ring's cipher suites.
pub fn tls_config(
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let chain = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| TlsConfigError::Certificate(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate);
    }
    let key =
        PrivateKeyDer::from_pem_file(key_pem).map_err(|e| TlsConfigError::Key(e.to_string()))?;
    tls_config_from_der(chain, key)
}

/// [`tls_config`] from certificates and a key already decoded (tests make them in memory).
pub fn tls_config_from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    // The provider is named rather than taken from the process default, so the choice does not
    // depend on which rustls features other crates of the build switch on.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
