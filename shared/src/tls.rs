//! TLS for the data tier. RDS Proxy and ElastiCache present certificates from public
//! authorities, so the bundled web PKI roots verify them; a private CA (Aurora's own RDS
//! CA, or a test's) can be added from a PEM file.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the web PKI, plus the certificates in `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = extra_ca {
        for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("read {}", path.display()))? {
            roots.add(cert.context("parse CA certificate")?).context("add CA certificate")?;
        }
    }
    Ok(ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
