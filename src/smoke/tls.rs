//! The one TLS client configuration shared by the HTTP publish client and the WebSocket client:
//! the platform's trusted roots (for AWS) plus any extra CA the user names (for the emulator's
//! self-signed certificate). Owns nothing else.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Builds a client configuration that trusts the platform roots and every certificate in the
/// PEM file `extra_ca` (when given).
pub fn client_config(extra_ca: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let extra = match extra_ca {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .context("could not set up TLS certificate verification")?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("could not set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("could not read the CA certificate {}", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
        path.display()
    );
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_roots_load_without_an_extra_ca() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn an_extra_ca_is_read_from_pem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("generates a certificate");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.cert.pem()).expect("writes the certificate");
        assert!(client_config(Some(&path)).is_ok());
    }

    #[test]
    fn a_file_without_certificates_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").expect("writes the file");
        let err = client_config(Some(&path)).expect_err("rejects the file");
        assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
        let missing = client_config(Some(&dir.path().join("missing.pem"))).expect_err("missing");
        assert!(
            format!("{missing:#}").contains("missing.pem"),
            "{missing:#}"
        );
    }
}
