//! The app's observers: sync state and progress ([`SyncObserver`]) and the kinds of record
//! changed ([`ChangeObserver`]), delivered on one background thread per client, in order
//! (ADR 0028).
//!
//! The core calls its observer from wherever the work happens (a worker thread, the caller of a
//! write); that observer only queues the event. The client's `gridwork-observers` thread calls
//! the app's observers, so a slow observer delays other observers, never the store or sync. An
//! observer that throws is logged (that it failed, not what it said: its message may hold
//! anything) and stays registered; the others and sync go on. Each `add_*` returns an
//! [`ObserverHandle`]; `remove()` on it stops the calls. Adding the same object twice makes two
//! registrations, each with its own handle (the foreign object's identity does not cross the
//! boundary).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::cases::RecordKind;
use crate::sync::{SyncProgress, SyncState};

/// What an observer may throw. Anything it throws is reported as this, logged, and otherwise
/// ignored.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ObserverError {
    #[error("the observer failed: {reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ObserverError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ObserverError::Failed { reason: e.reason }
    }
}

/// Implemented by the app to follow sync. Called on the client's background thread
/// `gridwork-observers`, in order: return quickly and post to the main thread yourself. An
/// exception thrown here is logged and ignored.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// The sync state changed.
    fn on_state(&self, state: SyncState) -> Result<(), ObserverError>;
    /// A long step progressed.
    fn on_progress(&self, progress: SyncProgress) -> Result<(), ObserverError>;
}

/// Implemented by the app to learn which kinds of record changed (a local edit, a sync page,
/// a purge), so that a screen queries again only when what it shows changed. Called on the
/// client's background thread after the change is committed (a query made then sees it).
#[uniffi::export(with_foreign)]
pub trait ChangeObserver: Send + Sync {
    fn on_changes(&self, kinds: Vec<RecordKind>) -> Result<(), ObserverError>;
}

/// One registration of an observer; `remove()` ends it.
#[derive(Debug, uniffi::Object)]
pub struct ObserverHandle {
    hub: Weak<Hub>,
    id: u64,
}

#[uniffi::export]
impl ObserverHandle {
    /// Stops the calls to this registration's observer (a call under way finishes). Removing
    /// twice does nothing. Dropping the handle without `remove()` keeps the observer.
    pub fn remove(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.id);
        }
    }
}

enum Event {
    State(SyncState),
    Progress(SyncProgress),
    Changes(Vec<RecordKind>),
    Upload(crate::photos::AttachmentProgress),
    /// Answered once every event queued before it was delivered.
    Flush(tokio::sync::oneshot::Sender<()>),
}

#[derive(Default)]
struct Registered {
    sync: Vec<(u64, Arc<dyn SyncObserver>)>,
    changes: Vec<(u64, Arc<dyn ChangeObserver>)>,
    uploads: Vec<(u64, Arc<dyn crate::photos::UploadObserver>)>,
}

/// A client's observers and the thread that calls them.
pub(crate) struct Hub {
    next: AtomicU64,
    registered: Mutex<Registered>,
    queue: Mutex<Sender<Event>>,
    /// Failures of observers so far (tests, diagnostics).
    failures: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    /// A hub and its thread; the thread ends when the hub is dropped.
    pub(crate) fn start() -> std::io::Result<Arc<Hub>> {
        let (tx, rx) = channel();
        let hub = Arc::new(Hub {
            next: AtomicU64::new(1),
            registered: Mutex::new(Registered::default()),
            queue: Mutex::new(tx),
            failures: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new()
            .name("gridwork-observers".into())
            .spawn(move || deliver(&weak, &rx))?;
        Ok(hub)
    }

    fn registered(&self) -> std::sync::MutexGuard<'_, Registered> {
        self.registered.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_sync(self: &Arc<Self>, o: Arc<dyn SyncObserver>) -> Arc<ObserverHandle> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.registered().sync.push((id, o));
        self.handle(id)
    }

    pub(crate) fn add_changes(self: &Arc<Self>, o: Arc<dyn ChangeObserver>) -> Arc<ObserverHandle> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.registered().changes.push((id, o));
        self.handle(id)
    }

    pub(crate) fn add_uploads(
        self: &Arc<Self>,
        o: Arc<dyn crate::photos::UploadObserver>,
    ) -> Arc<ObserverHandle> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.registered().uploads.push((id, o));
        self.handle(id)
    }

    fn handle(self: &Arc<Self>, id: u64) -> Arc<ObserverHandle> {
        Arc::new(ObserverHandle {
            hub: Arc::downgrade(self),
            id,
        })
    }

    fn remove(&self, id: u64) {
        let mut r = self.registered();
        r.sync.retain(|(i, _)| *i != id);
        r.changes.retain(|(i, _)| *i != id);
        r.uploads.retain(|(i, _)| *i != id);
    }

    fn send(&self, event: Event) {
        // The thread is gone only when the hub is: nothing to deliver to then.
        let _ = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(event);
    }

    /// Waits (on the caller's runtime, at most `limit`) until every event queued so far was
    /// delivered: a sync call returns after its observers heard of it.
    pub(crate) async fn flush(&self, limit: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Event::Flush(tx));
        let _ = tokio::time::timeout(limit, rx).await;
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        // Not the observer's message: it may quote anything the app put in it.
        tracing::warn!(
            observer = what,
            "an app observer failed; it stays registered"
        );
    }

    fn call(&self, what: &str, call: impl FnOnce() -> Result<(), ObserverError>) {
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => self.failed(what),
        }
    }
}

/// The observers of one list, copied out of the lock: an observer is called with no lock held
/// (it may add or remove observers).
fn copied<T: ?Sized>(list: &[(u64, Arc<T>)]) -> Vec<Arc<T>> {
    list.iter().map(|(_, o)| Arc::clone(o)).collect()
}

/// The observer thread's loop: one event at a time, to every observer registered when it is
/// delivered.
fn deliver(hub: &Weak<Hub>, rx: &Receiver<Event>) {
    while let Ok(event) = rx.recv() {
        let Some(hub) = hub.upgrade() else { return };
        match event {
            Event::State(state) => {
                let observers = copied(&hub.registered().sync);
                for o in observers {
                    hub.call("sync", || o.on_state(state.clone()));
                }
            }
            Event::Progress(progress) => {
                let observers = copied(&hub.registered().sync);
                for o in observers {
                    hub.call("sync", || o.on_progress(progress));
                }
            }
            Event::Changes(kinds) => {
                let observers = copied(&hub.registered().changes);
                for o in observers {
                    hub.call("changes", || o.on_changes(kinds.clone()));
                }
            }
            Event::Upload(progress) => {
                let observers = copied(&hub.registered().uploads);
                for o in observers {
                    hub.call("uploads", || o.on_upload(progress.clone()));
                }
            }
            Event::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The core's observer: queues each event for the hub's thread, never calls the app itself.
pub(crate) struct Bridge(pub(crate) Weak<Hub>);

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bridge")
    }
}

impl Bridge {
    fn send(&self, event: Event) {
        if let Some(hub) = self.0.upgrade() {
            hub.send(event);
        }
    }
}

impl gridwork_core::SyncObserver for Bridge {
    fn on_state(&self, state: &gridwork_core::SyncState) {
        self.send(Event::State(state.clone().into()));
    }

    fn on_progress(&self, progress: &gridwork_core::SyncProgress) {
        self.send(Event::Progress(progress.into()));
    }

    fn on_changes(&self, kinds: &[gridwork_domain::op::EntityKind]) {
        self.send(Event::Changes(kinds.to_vec()));
    }
}

impl gridwork_core::UploadObserver for Bridge {
    fn on_upload(&self, progress: &gridwork_core::AttachmentProgress) {
        self.send(Event::Upload(progress.clone().into()));
    }
}
