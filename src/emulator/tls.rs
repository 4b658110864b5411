//! TLS for the emulator's listeners (`evctl emulator --tls`, or `--cert/--key`).
//!
//! The Amplify events client always dials `wss://`, so the emulator can serve HTTPS and WSS on
//! every listener (control plane and each API's data plane) from one certificate. Without
//! `--cert/--key` it makes a local certificate authority and a server certificate for
//! `127.0.0.1`, `::1` and `localhost` signed by it, and writes the CA certificate to a file that
//! clients trust (`NODE_EXTRA_CA_CERTS`, `curl --cacert`, `SSL_CERT_FILE`). With `--state FILE`
//! the files live next to the state file and are reused on restart, so clients keep trusting
//! the emulator; otherwise they go to a fresh directory under the system temp dir.
//! This module makes the configuration; the one serve function (`server::serve`) applies it
//! to every listener.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Names the generated server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// The TLS setup of a running emulator.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<ServerConfig>,
    /// The certificate clients should trust: the generated CA, or the `--cert` given.
    pub trust_path: PathBuf,
    /// Whether the emulator generated it.
    pub generated: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("trust_path", &self.trust_path)
            .field("generated", &self.generated)
            .finish_non_exhaustive()
    }
}

/// Files of a generated certificate set.
struct Generated {
    ca: PathBuf,
    chain: PathBuf,
    key: PathBuf,
}

impl Generated {
    fn in_dir(dir: &Path, prefix: &str) -> Generated {
        Generated {
            ca: dir.join(format!("{prefix}ca.pem")),
            chain: dir.join(format!("{prefix}cert.pem")),
            key: dir.join(format!("{prefix}key.pem")),
        }
    }

    fn exist(&self) -> bool {
        self.ca.is_file() && self.chain.is_file() && self.key.is_file()
    }
}

/// Builds the TLS configuration from the emulator's flags; `None` when TLS is off.
pub fn configure(
    tls: bool,
    cert: Option<&Path>,
    key: Option<&Path>,
    state: Option<&Path>,
) -> anyhow::Result<Option<Tls>> {
    if let (Some(cert), Some(key)) = (cert, key) {
        let config = server_config(cert, key)?;
        return Ok(Some(Tls {
            config,
            trust_path: cert.to_path_buf(),
            generated: false,
        }));
    }
    if !tls {
        return Ok(None);
    }
    let files = match state {
        Some(state) => {
            let dir = state
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let stem = state
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "emulator".into());
            Generated::in_dir(dir, &format!("{stem}.tls-"))
        }
        None => {
            let dir = std::env::temp_dir().join(format!("evctl-emulator-{}", std::process::id()));
            Generated::in_dir(&dir, "")
        }
    };
    if !(state.is_some() && files.exist()) {
        generate(&files)?;
    }
    let config = server_config(&files.chain, &files.key)?;
    Ok(Some(Tls {
        config,
        trust_path: files.ca,
        generated: true,
    }))
}

/// A server configuration for a PEM certificate chain and key, offering HTTP/2 and HTTP/1.1.
fn server_config(chain: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let context = || {
        format!(
            "could not load the TLS certificate {} and key {}",
            chain.display(),
            key.display()
        )
    };
    let certs = CertificateDer::pem_file_iter(chain)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(context)?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", chain.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(context)?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(context)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The PEM texts of a fresh CA, a server certificate chain (server, CA) and its key.
pub fn generate_pems() -> anyhow::Result<(String, String, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().context("could not generate a CA key")?;
    let mut ca = CertificateParams::default();
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "evctl emulator local CA");
    ca.distinguished_name = ca_name;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key).context("could not sign the CA")?;

    let server_key = KeyPair::generate().context("could not generate a server key")?;
    let mut server = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())
        .context("bad server names")?;
    let mut server_name = DistinguishedName::new();
    server_name.push(DnType::CommonName, "evctl emulator");
    server.distinguished_name = server_name;
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.not_before = now - time::Duration::days(1);
    server.not_after = now + time::Duration::days(397);
    let issuer = Issuer::new(ca, ca_key);
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .context("could not sign the server certificate")?;
    let chain = format!("{}{}", server_cert.pem(), ca_cert.pem());
    Ok((ca_cert.pem(), chain, server_key.serialize_pem()))
}

fn generate(files: &Generated) -> anyhow::Result<()> {
    let (ca, chain, key) = generate_pems()?;
    if let Some(dir) = files.ca.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    write(&files.ca, &ca, false)?;
    write(&files.chain, &chain, false)?;
    write(&files.key, &key, true)
}

fn write(path: &Path, contents: &str, private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .with_context(|| format!("could not write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_chain_is_server_then_ca() {
        let (ca, chain, key) = generate_pems().expect("generates");
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca));
        assert!(key.contains("PRIVATE KEY"));
    }

    #[test]
    fn a_given_certificate_and_key_are_served_and_trusted_as_is() {
        let dir = std::env::temp_dir().join(format!("evctl-tls-given-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (_, chain, key) = generate_pems().expect("generates");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, chain).expect("write cert");
        std::fs::write(&key_path, key).expect("write key");
        let tls = configure(false, Some(&cert_path), Some(&key_path), None)
            .expect("configures")
            .expect("tls on");
        assert_eq!(tls.trust_path, cert_path);
        assert!(!tls.generated);
        assert_eq!(
            tls.config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        std::fs::write(&key_path, "not a key").expect("write");
        let err = configure(false, Some(&cert_path), Some(&key_path), None).expect_err("bad key");
        assert!(format!("{err:#}").contains("key.pem"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn state_side_files_are_reused_across_restarts() {
        let dir = std::env::temp_dir().join(format!("evctl-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let state = dir.join("emu.json");
        let first = configure(true, None, None, Some(&state))
            .expect("configures")
            .expect("tls on");
        let ca = std::fs::read_to_string(&first.trust_path).expect("ca written");
        let second = configure(true, None, None, Some(&state))
            .expect("configures")
            .expect("tls on");
        assert_eq!(first.trust_path, second.trust_path);
        assert_eq!(std::fs::read_to_string(&second.trust_path).expect("ca"), ca);
        assert!(
            configure(false, None, None, Some(&state))
                .expect("ok")
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
