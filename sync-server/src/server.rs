//! Running the router on a listener: [`serve`] starts it in the background and returns a
//! [`ServerHandle`] with the bound address (bind port 0 in tests) and a graceful shutdown that
//! also ends waiting long polls. [`serve_with`] takes [`ServerOptions`]: another clock, other
//! rate limits, or TLS ([`tls_config`] reads a PEM certificate chain and key).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use crate::clock::{self, ServerClock};
use crate::http::{self, AppState, ClientAddr, RateLimits};
use crate::storage::Storage;

/// A running server. Dropping the handle detaches it: the server keeps running until the
/// runtime ends; call [`ServerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://ADDR` with TLS), the base of every endpoint.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, ends long polls, waits for requests in flight to finish.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.map_err(io::Error::other)?
    }

    /// Waits until the server stops (it only stops through [`Self::shutdown`] or an I/O error).
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }
}

/// How a server runs, besides its listener and storage.
#[derive(Clone)]
pub struct ServerOptions {
    /// The clock every answer and check reads (default: the system clock).
    pub clock: ServerClock,
    /// Per-device and per-address limits (default: [`RateLimits::DEFAULT`]).
    pub rate_limits: RateLimits,
    /// Serve HTTPS with this configuration (see [`tls_config`]); plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            clock: clock::system(),
            rate_limits: RateLimits::DEFAULT,
            tls: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("rate_limits", &self.rate_limits)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Serves the sync protocol over `storage` on `listener`, in a background task.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// # let storage = std::sync::Arc::new(gridwork_server::storage::SqliteStorage::open("s.db").unwrap());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let server = gridwork_server::serve(listener, storage).await?;
/// let base = server.url(); // e.g. http://127.0.0.1:43121
/// # let _ = base;
/// server.shutdown().await
/// # }
/// ```
pub async fn serve<S: Storage>(listener: TcpListener, storage: Arc<S>) -> io::Result<ServerHandle> {
    serve_with(listener, storage, ServerOptions::default()).await
}

/// [`serve`] with another clock: `gridwork demo` plays a simulated day with it.
pub async fn serve_with_clock<S: Storage>(
    listener: TcpListener,
    storage: Arc<S>,
    clock: ServerClock,
) -> io::Result<ServerHandle> {
    let options = ServerOptions {
        clock,
        ..ServerOptions::default()
    };
    serve_with(listener, storage, options).await
}

/// [`serve`] with options: a clock, rate limits, TLS.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// # let storage = std::sync::Arc::new(gridwork_server::storage::SqliteStorage::open("s.db")?);
/// use gridwork_server::server::{ServerOptions, tls_config};
/// let options = ServerOptions {
///     tls: Some(tls_config("cert.pem".as_ref(), "key.pem".as_ref())?),
///     ..ServerOptions::default()
/// };
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
/// let server = gridwork_server::serve_with(listener, storage, options).await?;
/// assert!(server.url().starts_with("https://"));
/// # Ok(()) }
/// ```
pub async fn serve_with<S: Storage>(
    listener: TcpListener,
    storage: Arc<S>,
    options: ServerOptions,
) -> io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let state = AppState::new(storage, stopping.clone())
        .with_clock(options.clock)
        .with_rate_limits(options.rate_limits);
    let app = http::router(state).into_make_service_with_connect_info::<ClientAddr>();
    let mut signal = stopping;
    // The task keeps a sender, so the channel stays open (long polls read a closed channel as
    // "never stopping") for as long as the server runs, whatever happens to the handle.
    let keep_open = stop.clone();
    let tls = options.tls.is_some();
    let stopped = async move {
        let _ = signal.wait_for(|s| *s).await;
    };
    let task = match options.tls {
        None => tokio::spawn(async move {
            let _keep_open = keep_open;
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }),
        Some(config) => tokio::spawn(async move {
            let _keep_open = keep_open;
            axum::serve(TlsListener::new(listener, config), app)
                .with_graceful_shutdown(stopped)
                .await
        }),
    };
    Ok(ServerHandle {
        addr,
        tls,
        stop,
        task,
    })
}

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

/// A TLS handshake that has not finished in this time is dropped (a client that connects and
/// sends nothing must not hold a slot for ever).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes under way at once; more connections wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;

/// A listener that hands axum connections whose TLS handshake succeeded. Handshakes run in
/// their own tasks, so a slow or hostile client (one speaking plain HTTP, or nothing) delays
/// nobody else; failed handshakes are logged at debug level and dropped.
#[derive(Debug)]
pub struct TlsListener {
    addr: io::Result<SocketAddr>,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    /// Accepts on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> TlsListener {
        let addr = listener.local_addr();
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            addr,
            ready,
            acceptor: task,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor task ended (it only does when dropped): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.addr {
            Ok(a) => Ok(*a),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}
