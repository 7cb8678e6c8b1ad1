//! Running the router on a listener: [`serve`] starts it in the background and returns a
//! [`ServerHandle`] with the bound address (bind port 0 in tests) and a graceful shutdown that
//! also ends waiting long polls.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{self, ServerClock};
use crate::http::{self, AppState};
use crate::storage::Storage;

/// A running server. Dropping the handle detaches it: the server keeps running until the
/// runtime ends; call [`ServerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base of every endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
    serve_with_clock(listener, storage, clock::system()).await
}

/// [`serve`] with another clock: `gridwork demo` plays a simulated day with it.
pub async fn serve_with_clock<S: Storage>(
    listener: TcpListener,
    storage: Arc<S>,
    clock: ServerClock,
) -> io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let app = http::router(AppState::new(storage, stopping.clone()).with_clock(clock));
    let mut signal = stopping;
    // The task keeps a sender, so the channel stays open (long polls read a closed channel as
    // "never stopping") for as long as the server runs, whatever happens to the handle.
    let keep_open = stop.clone();
    let task = tokio::spawn(async move {
        let _keep_open = keep_open;
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(ServerHandle { addr, stop, task })
}
