//! Where the async calls run: never on the thread that awaits them (ADR 0028).
//!
//! uniffi polls a Rust future on the thread that awaits it (Kotlin's dispatcher, Swift's
//! executor): a sync run polled there would run its SQLite transactions on that thread, the
//! main thread for a careless caller. Every async call of the client and its services is instead
//! spawned on this crate's own runtime ([`runtime`], threads named `gridwork-worker`); the
//! caller's future only waits for its result, which costs the caller's thread nothing.
//!
//! [`Lifecycle`] cancels those tasks: `set_online(false)` stops the network calls under way
//! (they fail with `Offline`), `shutdown()` stops every one of them (`Closed`). A caller that
//! drops its future (a cancelled coroutine, a cancelled `Task`) aborts its task at its next
//! step; what the task committed stays committed.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use crate::error::GridworkError;

/// The name of the runtime's threads (the bindings' tests check that sync work runs on them).
pub const WORKER_THREAD_NAME: &str = "gridwork-worker";

/// The bindings' runtime: two threads, shared by every client of the process.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(WORKER_THREAD_NAME)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("the gridwork worker runtime did not start: {e}"))
    })
}

/// What has been cancelled so far: the network calls of each offline spell, and everything at
/// shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cancelled {
    offline_spells: u64,
    closed: bool,
}

/// Cancels a client's calls in flight.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    cancelled: watch::Sender<Cancelled>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            cancelled: watch::Sender::new(Cancelled::default()),
        }
    }
}

impl Lifecycle {
    /// Stops the network calls under way (`set_online(false)`).
    pub(crate) fn went_offline(&self) {
        self.cancelled.send_modify(|c| c.offline_spells += 1);
    }

    /// Stops every call under way and refuses new ones (`shutdown()`).
    pub(crate) fn close(&self) {
        self.cancelled.send_modify(|c| c.closed = true);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.cancelled.borrow().closed
    }

    /// Runs `work` on the bindings' runtime and waits for it there; cancelled as described in
    /// the module doc.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, GridworkError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, GridworkError>> + Send + 'static,
    {
        let mut watching = self.cancelled.subscribe();
        let at = *watching.borrow_and_update();
        if at.closed {
            return Err(closed());
        }
        let task = runtime().spawn(async move {
            tokio::select! {
                biased;
                now = watching.wait_for(|now| now.closed || now.offline_spells != at.offline_spells) => {
                    match now.map(|now| now.closed) {
                        Ok(false) => Err(GridworkError::Offline {
                            reason: "the app reported no network; the call was stopped".into(),
                        }),
                        // Closed, or the client is gone.
                        _ => Err(closed()),
                    }
                }
                out = work => out,
            }
        });
        // Dropped by the caller (a cancelled coroutine or task): the work stops too.
        match AbortOnDropHandle::new(task).await {
            Ok(out) => out,
            Err(e) if e.is_cancelled() => Err(closed()),
            Err(_) => Err(GridworkError::Internal {
                reason: "a background task of the store failed".into(),
            }),
        }
    }
}

/// The error of a call on a client that was shut down.
pub(crate) fn closed() -> GridworkError {
    GridworkError::Closed {
        reason: "this client was shut down; open the store again".into(),
    }
}
