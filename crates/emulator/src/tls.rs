//! HTTPS and WSS for the emulator (PROTOCOL §15.1): the Node SDK turns every base URL into `wss:`, so the
//! emulator terminates TLS itself, with a self-signed certificate made at start-up or one read from files.
//!
//! [`TlsListener`] is an [`axum::serve::Listener`]: the server loop, its upgrades and its graceful shutdown
//! are `axum::serve`'s, the same as over plain HTTP. Handshakes run in tasks of their own, so a client that
//! connects and says nothing holds up nobody else; one that has not finished its handshake after
//! [`HANDSHAKE_TIMEOUT`] is dropped. The crypto is rustls on aws-lc-rs, the provider the workspace already
//! builds for reqwest and str0m.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The names a self-signed certificate is made for: the loopback ones a local client uses.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("could not read {what} from {path}: {source}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        source: pem::Error,
    },
    #[error("{0} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate(PathBuf),
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server certificate and its key, ready to serve; and the certificate as PEM, for clients to trust.
#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ServerConfig>,
    cert_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// A new self-signed certificate for [`SELF_SIGNED_NAMES`]; its key lives only in this process.
    pub fn self_signed() -> Result<Tls, TlsError> {
        let names = SELF_SIGNED_NAMES.map(String::from).to_vec();
        let mut params = rcgen::CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "realtime-emulator (self-signed)");
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let cert_pem = pem_encode("CERTIFICATE", cert.der());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Tls::new(vec![cert.der().clone()], key, cert_pem)
    }

    /// A certificate chain (the server's first) and its private key, both PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let pem_error = |what, path: &Path| {
            let path = path.to_owned();
            move |source| TlsError::Pem { what, path, source }
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(pem_error("certificates", cert))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_owned()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error("a private key", key))?;
        let cert_pem = chain.iter().map(|c| pem_encode("CERTIFICATE", c)).collect();
        Tls::new(chain, key, cert_pem)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_pem: String,
    ) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // The server speaks HTTP/1.1 only (WebSocket upgrades included).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            cert_pem,
        })
    }

    /// The certificate chain, PEM: what a client adds to its trusted roots (`NODE_EXTRA_CA_CERTS`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A TCP listener whose connections come out TLS-terminated. Dropping it stops accepting.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: &Tls) -> std::io::Result<TlsListener> {
        let local_addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let (done, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(listener, acceptor, done));
        Ok(TlsListener {
            local_addr,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    acceptor: TlsAcceptor,
    done: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        // axum's own accept: it logs and pauses on errors (out of file descriptors…) as over plain HTTP.
        let (stream, remote) = axum::serve::Listener::accept(&mut listener).await;
        // Each event is sent as it is written (see `TcpStream::set_nodelay`): no 40 ms Nagle stalls.
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let done = done.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = done.send((stream, remote)).await;
                }
                Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_pem_that_reads_back() {
        let tls = Tls::self_signed().unwrap();
        let pem = tls.cert_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"), "{pem}");
        assert!(pem.lines().all(|l| l.len() <= 64));
        let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 1);
    }

    #[test]
    fn files_that_are_missing_or_hold_no_certificate_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = Tls::from_pem_files(&missing, &missing).unwrap_err();
        assert!(
            err.to_string().contains("missing.pem"),
            "names the file: {err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Tls::from_pem_files(&empty, &empty).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, Tls::self_signed().unwrap().cert_pem()).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            pem_encode("PRIVATE KEY", other.serialize_der().as_slice()),
        )
        .unwrap();
        let err = Tls::from_pem_files(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
    }
}
