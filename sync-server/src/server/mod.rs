//! Running the router on a listener: [`serve`] starts it in the background and returns a
//! [`ServerHandle`] with the bound address (bind port 0 in tests) and a graceful shutdown that
//! also ends waiting long polls. [`serve_with`] takes [`ServerOptions`]: another clock, other
//! rate limits, TLS ([`tls_config`] reads a PEM certificate chain and key), connection limits
//! and timeouts, trusted proxies, a metrics address.
//!
//! - [`connections`]: the accept loop: the connection cap and its refusal, timeouts, TLS.
//! - [`descriptors`]: the file-descriptor limit and the cap it allows.
//! - [`tls`]: the TLS configuration.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::clock::{self, ServerClock};
use crate::http::client_addr::TrustedProxies;
use crate::http::{self, AppState, RateLimits};
use crate::storage::Storage;

pub mod connections;
pub mod descriptors;
pub mod tls;

pub use connections::ConnectionLimits;
pub use tls::{TlsConfigError, tls_config, tls_config_from_der};

/// Connections the metrics address serves at once (a scraper or two, an operator's curl).
const METRICS_CONNECTIONS: usize = 16;

/// A running server. Dropping the handle detaches it: the server keeps running until the
/// runtime ends; call [`ServerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    metrics_addr: Option<SocketAddr>,
    max_connections: usize,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on, when asked for ([`ServerOptions::metrics_listen`]).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The most connections served at once (the cap asked for, or the one the descriptor
    /// limit allows).
    pub fn max_connections(&self) -> usize {
        self.max_connections
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
    /// The connection cap and timeouts (default: [`ConnectionLimits::DEFAULT`]).
    pub connections: ConnectionLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (default: none).
    pub trusted_proxies: TrustedProxies,
    /// Serve Prometheus metrics at `/metrics` on this address (port 0: a free one, see
    /// [`ServerHandle::metrics_addr`]); no metrics when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// Networks a service account's callback may reach although they are not public (default:
    /// none: loopback, private and link-local addresses are refused; ADR 0030).
    pub callback_allow: Vec<ipnet::IpNet>,
    /// Where photo bytes are kept (default: memory, lost at exit; the binary's `serve` keeps
    /// them under the data dir or in an S3 bucket, ADR 0040).
    pub blobs: crate::blobs::BlobStore,
    /// Upload limits (default: [`crate::blobs::BlobLimits::DEFAULT`]).
    pub blob_limits: crate::blobs::BlobLimits,
    /// How often the orphan sweep runs, and what it keeps ([`crate::blobs::gc`]); `None`: never.
    pub blob_sweep: Option<crate::blobs::gc::SweepPolicy>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            clock: clock::system(),
            rate_limits: RateLimits::DEFAULT,
            tls: None,
            connections: ConnectionLimits::DEFAULT,
            trusted_proxies: TrustedProxies::default(),
            metrics_listen: None,
            callback_allow: vec![],
            blobs: crate::blobs::BlobStore::in_memory(),
            blob_limits: crate::blobs::BlobLimits::DEFAULT,
            blob_sweep: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("rate_limits", &self.rate_limits)
            .field("tls", &self.tls.is_some())
            .field("connections", &self.connections)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_listen", &self.metrics_listen)
            .field("callback_allow", &self.callback_allow)
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
    let descriptors = descriptors::soft_limit();
    let asked = options.connections.max_connections;
    let (cap, lowered) = descriptors::effective_cap(asked, descriptors);
    if lowered {
        tracing::warn!(
            asked = asked.unwrap_or_default(),
            max_connections = cap,
            descriptor_limit = descriptors.unwrap_or_default(),
            "the descriptor limit cannot hold the connections asked for; serving fewer"
        );
    }
    tracing::info!(
        max_connections = cap,
        descriptor_limit = %descriptors.map_or("none".to_string(), |d| d.to_string()),
        header_read_timeout_s = options.connections.header_read_timeout.as_secs_f64(),
        "connection limits"
    );
    // Callbacks to the systems that sent work orders (`crate::intake::callbacks`).
    let callback_policy = Arc::new(crate::intake::ssrf::CallbackPolicy::allowing(
        options.callback_allow.clone(),
    ));
    tokio::spawn(crate::intake::callbacks::run(
        storage.clone(),
        options.clock.clone(),
        stopping.clone(),
        callback_policy.clone(),
    ));
    let state = AppState::new(storage.clone(), stopping.clone())
        .with_clock(options.clock)
        .with_rate_limits(options.rate_limits)
        .with_callback_policy(callback_policy)
        .with_blobs(options.blobs.clone(), options.blob_limits);
    if let Some(policy) = options.blob_sweep {
        tokio::spawn(crate::blobs::gc::run(
            storage.clone(),
            options.blobs.clone(),
            policy,
            state.clock.clone(),
            stopping.clone(),
        ));
    }
    let trusted = Arc::new(options.trusted_proxies);
    // What is left of the phones' sync statuses is written when the server stops.
    let (statuses, status_storage) = (state.device_status.clone(), storage.clone());

    let (metrics_addr, metrics_task) = match options.metrics_listen {
        None => (None, None),
        Some(at) => {
            let handle = crate::metrics::install().map_err(io::Error::other)?;
            let tcp = TcpListener::bind(at).await.map_err(|e| {
                io::Error::new(e.kind(), format!("cannot listen for metrics on {at}: {e}"))
            })?;
            let bound = tcp.local_addr()?;
            tokio::spawn(crate::metrics::upkeep(handle.clone(), stopping.clone()));
            let metrics = connections::Listener {
                tcp,
                app: crate::metrics::router(storage, handle),
                tls: None,
                limits: options.connections,
                cap: METRICS_CONNECTIONS,
                trusted: Arc::new(TrustedProxies::default()),
                name: "metrics",
            };
            let task = tokio::spawn(connections::run(metrics, stopping.clone()));
            (Some(bound), Some(task))
        }
    };

    let tls = options.tls.is_some();
    let sync = connections::Listener {
        tcp: listener,
        app: http::router(state).layer(axum::Extension(crate::console::Tls(tls))),
        tls: options.tls.map(TlsAcceptor::from),
        limits: options.connections,
        cap,
        trusted,
        name: "sync",
    };
    // The task keeps a sender, so the channel stays open (long polls read a closed channel as
    // "never stopping") for as long as the server runs, whatever happens to the handle.
    let keep_open = stop.clone();
    let task = tokio::spawn(async move {
        let _keep_open = keep_open;
        let served = connections::run(sync, stopping).await;
        if let Err(e) = statuses.flush(status_storage.as_ref()).await {
            tracing::warn!(error = %e, "phones' sync statuses not recorded at shutdown");
        }
        if let Some(metrics) = metrics_task {
            metrics.await.map_err(io::Error::other)??;
        }
        served
    });
    Ok(ServerHandle {
        addr,
        tls,
        metrics_addr,
        max_connections: cap,
        stop,
        task,
    })
}
