//! The connection loop: accepts TCP connections, caps how many are open, does the TLS
//! handshake, and serves each with hyper's HTTP/1 under timeouts. Every bound here is on what a
//! client that does not play along (connects and says nothing, sends headers a byte at a time,
//! never reads the answer, opens thousands of sockets) can hold:
//!
//! - **Cap**: at most `cap` connections are served at once. One more is accepted and answered
//!   at once with 503 `too_many_connections` (`Retry-After: 1`) and closed, rather than left
//!   in the kernel's queue where the client cannot tell a full server from a dead one.
//! - **Request heads**: a connection that has not sent a whole request head within
//!   [`ConnectionLimits::header_read_timeout`] is closed (hyper's `header_read_timeout`); the
//!   timer runs for the first request and again between requests on a kept-alive connection,
//!   so it is the keep-alive idle limit too. A head over [`MAX_HEAD_BYTES`] is refused (431).
//! - **Bodies**: a request body that sends nothing for [`ConnectionLimits::body_idle_timeout`]
//!   fails (408), by tower-http's `TimeoutBody`.
//! - **Answers**: a socket that takes no bytes of an answer for
//!   [`ConnectionLimits::write_timeout`] is closed (`tokio-io-timeout`).
//! - **TLS**: a handshake not finished in [`HANDSHAKE_TIMEOUT`] is dropped; at most
//!   [`MAX_HANDSHAKES`] run at once.
//!
//! Requests in flight are never cut by these: a long poll waits its 30 s with its head read
//! and nothing to write. On shutdown, idle connections close at once and the loop waits for
//! answers in flight (long polls are told to answer early) for at most [`SHUTDOWN_GRACE`].

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::http::client_addr::{ClientAddr, TrustedProxies, client_ip};
use crate::metrics::{self, names};

/// Timeouts and the connection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; `None`: from the descriptor limit
    /// ([`super::descriptors::connection_cap`]). More than the descriptors allow is lowered.
    pub max_connections: Option<usize>,
    /// Time to send a whole request head, and the longest idle gap between requests on a
    /// kept-alive connection.
    pub header_read_timeout: Duration,
    /// Longest gap between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// Longest time a client may take no bytes of an answer.
    pub write_timeout: Duration,
}

impl ConnectionLimits {
    /// 15 s for a request head (a phone on a poor link sends a few hundred bytes well within
    /// it), 30 s of silence inside a body or while writing an answer.
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        max_connections: None,
        header_read_timeout: Duration::from_secs(15),
        body_idle_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(30),
    };
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits::DEFAULT
    }
}

/// The largest request head (request line and headers) read: tokens and our headers take a
/// few hundred bytes, and a 16 KiB token still reaches the router to be refused there with a
/// JSON body (401); past this hyper answers 431 on its own.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A TLS handshake that has not finished in this time is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS handshakes under way at once (each costs CPU); more wait their turn.
pub const MAX_HANDSHAKES: usize = 256;

/// Refusals (503 `too_many_connections`) being written at once, at most; past this (or half
/// the cap, when smaller: each holds a descriptor), a connection over the cap is closed without
/// a word, so that a flood cannot open a second unbounded set.
pub const MAX_REFUSALS: usize = 256;

/// The longest a refusal takes: write the answer, read what the client sent, close.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// How long a refusal waits for more of the request once it has answered: what the client
/// sent must be read before closing, or the close resets the connection and the client may
/// lose the answer; a client still sending after this is not waited for.
const REFUSAL_DRAIN: Duration = Duration::from_millis(100);

/// How long shutdown waits for answers in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(35);

/// The answer to a connection over the cap.
static REFUSAL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = serde_json::to_vec(&gridwork_domain::sync::ErrorBody {
        error: "too_many_connections".into(),
        message: "the server is holding as many connections as it can; try again shortly".into(),
    })
    .unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
});

/// One listener's loop and what it serves.
pub(crate) struct Listener {
    pub tcp: TcpListener,
    pub app: Router,
    pub tls: Option<TlsAcceptor>,
    pub limits: ConnectionLimits,
    /// The cap in force (already checked against the descriptors).
    pub cap: usize,
    pub trusted: Arc<TrustedProxies>,
    /// The `listener` label of its metrics.
    pub name: &'static str,
}

/// Serves until `stopping` turns true, then shuts down gracefully.
pub(crate) async fn run(l: Listener, mut stopping: watch::Receiver<bool>) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(l.cap));
    let refusals = Arc::new(Semaphore::new((l.cap / 2).clamp(1, MAX_REFUSALS)));
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let graceful = GracefulShutdown::new();
    ::metrics::gauge!(names::CONNECTIONS_MAX, "listener" => l.name).set(l.cap as f64);
    loop {
        let accepted = tokio::select! {
            accepted = l.tcp.accept() => accepted,
            _ = stopped(&mut stopping) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or memory: wait for some to come back.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            ::metrics::counter!(names::CONNECTIONS_REFUSED, "listener" => l.name).increment(1);
            tracing::debug!("connection refused: at the cap");
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                let tls = l.tls.clone();
                let handshakes = handshakes.clone();
                let name = l.name;
                tokio::spawn(async move {
                    let _permit = permit;
                    match tls {
                        None => refuse(tcp).await,
                        Some(acceptor) => {
                            // A TLS client can only read an answer after a handshake; without a
                            // free handshake slot it gets none.
                            if let Ok(_turn) = handshakes.try_acquire()
                                && let Some(stream) = handshake(&acceptor, tcp, name).await
                            {
                                refuse(stream).await;
                            }
                        }
                    }
                });
            }
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = Connection {
            peer,
            app: l.app.clone(),
            limits: l.limits,
            trusted: l.trusted.clone(),
            watcher: graceful.watcher(),
            name: l.name,
        };
        let tls = l.tls.clone();
        let handshakes = handshakes.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _open = metrics::OpenConnection::start(conn.name);
            match tls {
                None => conn.serve(tcp).await,
                Some(acceptor) => {
                    let Ok(turn) = handshakes.acquire().await else {
                        return;
                    };
                    let shaken = handshake(&acceptor, tcp, conn.name).await;
                    drop(turn);
                    if let Some(stream) = shaken {
                        conn.serve(stream).await;
                    }
                }
            }
        });
    }
    drop(l.tcp);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("stopping with answers still in flight after the grace period");
        }
    }
    Ok(())
}

/// One accepted connection, before it is served.
struct Connection {
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    trusted: Arc<TrustedProxies>,
    watcher: Watcher,
    name: &'static str,
}

impl Connection {
    /// Serves HTTP/1 requests on `io` until the client closes or a limit closes it.
    async fn serve<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let mut io = TimeoutStream::new(io);
        io.set_write_timeout(Some(self.limits.write_timeout));
        let io = TokioIo::new(Box::pin(io));
        let Connection {
            peer,
            app,
            limits,
            trusted,
            watcher,
            name,
        } = self;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let client = client_ip(peer.ip(), request.headers(), &trusted);
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ClientAddr(Some(client)));
            let body = Body::new(TimeoutBody::new(limits.body_idle_timeout, body));
            app.clone().oneshot(Request::from_parts(parts, body))
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true)
            .max_buf_size(MAX_HEAD_BYTES);
        let served = watcher.watch(http.serve_connection(io, service)).await;
        if let Err(e) = served {
            let reason = if e.is_timeout() {
                Some("header_read")
            } else if is_write_timeout(&e) {
                Some("write")
            } else {
                None
            };
            if let Some(reason) = reason {
                ::metrics::counter!(names::CONNECTIONS_TIMED_OUT, "listener" => name, "reason" => reason)
                    .increment(1);
            }
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// The TLS handshake of `tcp`, or `None` when it failed or took too long.
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: tokio::net::TcpStream,
    name: &'static str,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            ::metrics::counter!(names::CONNECTIONS_TIMED_OUT, "listener" => name, "reason" => "tls_handshake")
                .increment(1);
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Answers 503 `too_many_connections` and closes. What the client sent is read (and dropped)
/// after the answer, so that closing does not reset the connection before the client read it.
async fn refuse<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let _ = tokio::time::timeout(REFUSAL_TIME, async {
        io.write_all(&REFUSAL).await?;
        io.flush().await?;
        io.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut read = 0usize;
        while read < 64 * 1024 {
            match tokio::time::timeout(REFUSAL_DRAIN, io.read(&mut sink)).await {
                Ok(Ok(n)) if n > 0 => read += n,
                _ => break,
            }
        }
        Ok::<_, io::Error>(())
    })
    .await;
}

/// Resolves when the server starts stopping; never when nobody can stop it.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Errors of one connection that accept reports (the client gave up before we took it).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Whether hyper gave up because the socket took no bytes for the write timeout.
fn is_write_timeout(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        source = s.source();
    }
    false
}
