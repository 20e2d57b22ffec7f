//! Optional TLS (rustls): certificate chain and key from the profile
//! (`security.tls_cert_path`/`tls_key_path`) or from `SSL_CERT_PATH`/`SSL_KEY_PATH`.

use anyhow::{Context as _, bail};
use mabeam_engine::profile::Config;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

/// The certificate and key paths in force, if TLS is configured.
pub(crate) fn paths(config: &Config) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let sec = &config.security;
    let (cert, key) = match (&sec.tls_cert_path, &sec.tls_key_path) {
        (Some(c), Some(k)) => (Some(c.clone()), Some(k.clone())),
        _ => (env("SSL_CERT_PATH"), env("SSL_KEY_PATH")),
    };
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (Some(_), None) => {
            bail!("SSL_CERT_PATH is set but SSL_KEY_PATH is not: set both, or neither")
        }
        (None, Some(_)) => {
            bail!("SSL_KEY_PATH is set but SSL_CERT_PATH is not: set both, or neither")
        }
    }
}

/// Builds the acceptor from PEM files (HTTP/1.1 over TLS 1.2 and 1.3).
pub(crate) fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading TLS certificates from {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing TLS certificates in {}", cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not form a valid pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
