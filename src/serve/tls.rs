//! HTTPS for the service and its client: rustls on the `ring` provider, TLS 1.2 and 1.3 with
//! rustls's safe defaults, certificates and keys in PEM.
//!
//! The server presents a certificate chain (`--tls-cert`, leaf first) with its private key
//! (`--tls-key`, PKCS#8, PKCS#1 or SEC1). The client trusts the roots it is given
//! (`--ca-cert`), never the system's store: a hospital talking to one model owner pins that
//! owner's CA.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ServeError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS configuration from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// [`ServeError::Model`] (a start-up error) when the PEM holds no certificate or no key, or
/// the key does not fit the certificate.
///
/// # Security
/// The key is handed to rustls, which keeps it for the life of the configuration.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let bad = |m: String| ServeError::Model(format!("TLS: {m}"));
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("the certificate file holds no certificate".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| bad(format!("private key PEM: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// [`server_config`] from files.
///
/// # Errors
/// As [`server_config`], and for unreadable files.
pub fn server_config_from_files(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| ServeError::Model(format!("TLS: {}: {e}", p.display())))
    };
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    server_config(&read(cert)?, &key_pem)
}

/// A client configuration trusting exactly the CA certificates in `ca_pem`.
///
/// # Errors
/// [`ServeError::Model`] when the PEM holds no usable certificate.
pub fn client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, ServeError> {
    let bad = |m: String| ServeError::Model(format!("TLS: {m}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| bad(format!("CA PEM: {e}")))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("the CA file holds no certificate".into()));
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
