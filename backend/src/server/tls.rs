//! HTTPS and WSS: the certificate (the user's, or a self-signed one kept in the state
//! dir), and a listener that hands axum connections already through the TLS handshake.
//!
//! Handshakes run in tasks of their own (at most [`MAX_HANDSHAKES`] at once, each
//! within [`HANDSHAKE_TIMEOUT`]), so a slow or silent client delays nobody else. A
//! client that speaks plain HTTP to the TLS port gets a one-line `400` saying to use
//! https://, and its connection is closed.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The most TLS handshakes under way at once.
pub const MAX_HANDSHAKES: usize = 256;
/// How long a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The self-signed certificate's file in the state root.
pub const SELF_SIGNED_CERT: &str = "tls-cert.pem";
/// Its private key's file (mode 0600).
pub const SELF_SIGNED_KEY: &str = "tls-key.pem";
/// The names it covers, one a line.
pub const SELF_SIGNED_NAMES: &str = "tls-names";
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The certificate a server was started with.
pub struct Certificate {
    /// The rustls settings that serve it.
    pub config: Arc<ServerConfig>,
    /// The SHA-256 fingerprint of the leaf certificate, as `AB:CD:…`.
    pub fingerprint: String,
    /// Where the certificate (PEM) is.
    pub cert_path: PathBuf,
}

/// Why TLS cannot start: one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {why}")]
    Cert { path: PathBuf, why: String },
    #[error("cannot read the TLS key {path}: {why}")]
    Key { path: PathBuf, why: String },
    #[error("the TLS certificate {cert} and key {key} do not go together: {why}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("cannot keep the self-signed certificate in {path}: {why}")]
    Keep { path: PathBuf, why: String },
}

/// Loads the certificate chain of `cert` and the private key of `key` (both PEM).
pub fn load(cert: &Path, key: &Path) -> Result<Certificate, TlsError> {
    let cert_error = |why: String| TlsError::Cert {
        path: cert.to_path_buf(),
        why,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(pem_error(e)))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_error("no certificate in it (expected PEM)".into()));
    };
    let fingerprint = fingerprint(leaf);
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        why: pem_error(e),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Generate(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            why: e.to_string(),
        })?;
    // axum serves HTTP/1.1 here (WebSockets upgrade from it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Certificate {
        config: Arc::new(config),
        fingerprint,
        cert_path: cert.to_path_buf(),
    })
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "nothing in it in PEM form".to_string(),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// The SHA-256 fingerprint of a certificate, as browsers show it (`AB:CD:…`).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The names a self-signed certificate for a server bound to `bind` covers:
/// localhost and loopback, the host name, and the bound address (every address of
/// the host's interfaces when bound to all).
pub fn names_for(bind: IpAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = nix::unistd::gethostname() {
        if let Some(host) = host.to_str().filter(|h| !h.is_empty()) {
            names.push(host.to_string());
        }
    }
    if bind.is_unspecified() {
        if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
            for a in addrs {
                let Some(addr) = a.address else { continue };
                if let Some(v4) = addr.as_sockaddr_in() {
                    names.push(v4.ip().to_string());
                } else if let Some(v6) = addr.as_sockaddr_in6() {
                    // Link-local addresses need a zone, which no URL carries.
                    if v6.ip().segments()[0] & 0xffc0 != 0xfe80 {
                        names.push(v6.ip().to_string());
                    }
                }
            }
        }
    } else {
        names.push(bind.to_string());
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The self-signed certificate kept in the state root `dir` ([`SELF_SIGNED_CERT`],
/// [`SELF_SIGNED_KEY`] with mode 0600, and [`SELF_SIGNED_NAMES`], the names it covers):
/// reused while it covers `names`, else made anew. Files, not a directory: the runtime
/// takes a directory of the state root without a container record for a crashed create.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<Certificate, TlsError> {
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    let names_path = dir.join(SELF_SIGNED_NAMES);
    let wanted = names.join("\n");
    let kept = std::fs::read_to_string(&names_path).is_ok_and(|n| n == wanted);
    if kept {
        if let Ok(cert) = load(&cert_path, &key_path) {
            return Ok(cert);
        }
    }
    let keep_error = |path: &Path, e: io::Error| TlsError::Keep {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| keep_error(dir, e))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "isolab (self-signed)");
    let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| keep_error(&key_path, e))?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644).map_err(|e| keep_error(&cert_path, e))?;
    write_file(&names_path, wanted.as_bytes(), 0o644).map_err(|e| keep_error(&names_path, e))?;
    load(&cert_path, &key_path)
}

/// Writes `bytes` to `path` through a new file made with `mode`, renamed into place,
/// so a key is never readable by others, not even for a moment.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A listener whose connections have finished their TLS handshake.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `tcp` and serves `config`. Needs a tokio runtime.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), sender));
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (it cannot while this listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Accepts TCP connections until the listener is dropped; each handshakes in a task.
async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            accepted = tcp.accept() => accepted,
            () = ready.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(Some(tls))) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Ok(None)) => tracing::debug!(%peer, "plain HTTP on the TLS port: refused"),
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// The TLS stream of `stream`, or `None` when the client spoke plain HTTP (it is
/// told to use https:// and the connection closes).
async fn handshake(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
) -> io::Result<Option<TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Ok(None);
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        let body = "this port speaks HTTPS: use https:// (and wss://)\n";
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of the test's own, removed even when the test fails.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("isolab-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_self_signed_certificate_is_kept_and_reused() {
        let temp = TempDir::new("tls-unit");
        let dir = temp.0.clone();
        let names = names_for([127, 0, 0, 1].into());
        let first = self_signed(&dir, &names).expect("made");
        let again = self_signed(&dir, &names).expect("reused");
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(SELF_SIGNED_KEY))
            .expect("key kept")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Other names: a new certificate.
        let other = self_signed(&dir, &["example.test".to_string()]).expect("made anew");
        assert_ne!(other.fingerprint, first.fingerprint);
    }

    #[test]
    fn bad_files_are_one_clear_line() {
        let temp = TempDir::new("tls-bad");
        let dir = temp.0.clone();
        std::fs::create_dir_all(&dir).expect("dir");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("write");
        let missing = dir.join("missing.pem");
        let e = load(&missing, &junk).err().expect("refused").to_string();
        assert!(e.starts_with("cannot read the TLS certificate"), "{e}");
        assert!(!e.contains('\n'));
        let e = load(&junk, &junk).err().expect("refused").to_string();
        assert!(e.contains("no certificate in it"), "{e}");
        let e = load(&dir.join("missing-too.pem"), &junk)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("missing-too.pem"), "{e}");
        self_signed(&dir.join("a"), &["a.test".into()]).expect("a");
        self_signed(&dir.join("b"), &["b.test".into()]).expect("b");
        let e = load(
            &dir.join("a").join(SELF_SIGNED_CERT),
            &dir.join("b").join(SELF_SIGNED_KEY),
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(e.contains("do not go together"), "{e}");
    }
}
