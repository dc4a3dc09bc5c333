//! HTTPS without a proxy in front: `tls.cert_file` and `tls.key_file` (PEM: the certificate
//! chain, leaf first, and its private key — PKCS#8, PKCS#1 or SEC1), e.g. what certbot or
//! cert-manager writes. Web pages served over HTTPS can only send to an HTTPS collector (mixed
//! content is blocked), so a collector without a TLS-terminating proxy needs this.
//!
//! The pair is read and checked at start (a missing file, a PEM without a certificate or key,
//! a key that does not match the certificate: the collector does not start, the error names the
//! file). Renewals take effect without a restart: every `tls.reload_secs` (default 60 s) the
//! files' modification times are compared, and a changed pair is loaded for the connections
//! that start afterwards; a bad new pair is logged and the one in use kept.
//!
//! The TLS handshake shares `limits.header_timeout_secs` with the request headers: a client that
//! opens a connection and never finishes the handshake is cut off like a slow one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

use crate::config::TlsConfig;

/// A certificate or key that cannot be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.cert_file {path}: {message}")]
    Cert { path: PathBuf, message: String },
    #[error("tls.key_file {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("tls: the key in {key} does not belong to the certificate in {cert}: {message}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// The HTTPS side of the server: the acceptor and the certificate it serves (reloaded).
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    certificate: Arc<Reloading>,
}

impl Tls {
    /// Reads and checks the pair `config` names.
    pub fn load(config: &TlsConfig) -> Result<Tls, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let (key, stamp) = read_pair(&config.cert_file, &config.key_file, &provider)?;
        let certificate = Arc::new(Reloading {
            cert_file: config.cert_file.clone(),
            key_file: config.key_file.clone(),
            provider: provider.clone(),
            current: RwLock::new((Arc::new(key), stamp)),
        });
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Cert {
                path: config.cert_file.clone(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        let mut server = server;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            certificate,
        })
    }

    /// The acceptor connections go through.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reloads the pair when its files changed, every `every`, until the task is aborted.
    pub fn spawn_reloader(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let certificate = self.certificate.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let certificate = certificate.clone();
                let _ = tokio::task::spawn_blocking(move || certificate.reload_if_changed()).await;
            }
        })
    }
}

/// The certificate in use and the modification times of the files it came from.
#[derive(Debug)]
struct Reloading {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl Reloading {
    fn reload_if_changed(&self) {
        let stamp = stamp(&self.cert_file, &self.key_file);
        if self.current.read().map(|c| c.1 == stamp).unwrap_or(true) {
            return;
        }
        match read_pair(&self.cert_file, &self.key_file, &self.provider) {
            Ok((key, stamp)) => {
                if let Ok(mut current) = self.current.write() {
                    *current = (Arc::new(key), stamp);
                }
                tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
            }
            // Often the cert is written before the key (or the other way round): the next
            // round sees the pair again, since the stamp in use was not updated.
            Err(e) => {
                tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays in use")
            }
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.0.clone())
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

/// Reads the chain and the key, checks that they belong together.
fn read_pair(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Stamp), TlsError> {
    let stamp = stamp(cert_file, key_file);
    let cert_error = |message: String| TlsError::Cert {
        path: cert_file.to_path_buf(),
        message,
    };
    let key_error = |message: String| TlsError::Key {
        path: key_file.to_path_buf(),
        message,
    };
    let cert_pem = std::fs::read(cert_file).map_err(|e| cert_error(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(cert_error(
            "no certificate (`-----BEGIN CERTIFICATE-----`) in it".into(),
        ));
    }
    let key_pem = std::fs::read(key_file).map_err(|e| key_error(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| key_error(format!("no PEM private key in it: {e}")))?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
            message: e.to_string(),
        },
        other => key_error(other.to_string()),
    })?;
    Ok((certified, stamp))
}
