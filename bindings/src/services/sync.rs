//! [`SyncService`]: sync runs and the live wait (async, on the bindings' worker threads), the
//! sync state and its observers, online and offline, the outbox, the changes the server refused
//! or rejected, and the conflicts sync found.

use std::path::Path;
use std::sync::Arc;

use super::SyncService;
use crate::cases::{CaseEventConflict, FieldConflict};
use crate::client::{MAX_WAIT_SECONDS, OBSERVER_FLUSH, into_all};
use crate::convert::{count_in, id, id_text, wide};
use crate::error::GridworkError;
use crate::observe::{ChangeObserver, ObserverHandle, SyncObserver};
use crate::sync::{RefusedChange, RejectedChange, SyncReport, SyncState};

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl SyncService {
    /// Writes every change the server has not accepted yet to `path` (JSON lines; the file
    /// must not exist). Returns how many. The file is plaintext: keep it in app storage.
    pub fn export_unsynced(&self, path: String) -> Result<i64> {
        Ok(wide(self.core()?.export_unsynced(Path::new(&path))?))
    }

    /// Sends the sync state and progress to `observer` from now on, on the client's
    /// background thread, in order. Returns the registration's handle: `remove()` on it stops
    /// the calls. Each call of this method is a registration of its own (the same object added
    /// twice is called twice, until each handle is removed).
    pub fn add_sync_observer(&self, observer: Arc<dyn SyncObserver>) -> Arc<ObserverHandle> {
        self.hub.add_sync(observer)
    }

    /// Tells `observer` which kinds of record changed after each committed change (local or
    /// synced), on the client's background thread. Returns the registration's handle.
    pub fn add_change_observer(&self, observer: Arc<dyn ChangeObserver>) -> Arc<ObserverHandle> {
        self.hub.add_changes(observer)
    }

    /// The current sync state (`Idle` once shut down).
    pub fn sync_state(&self) -> SyncState {
        match self.core() {
            Ok(core) => core.sync_state().into(),
            Err(_) => SyncState::Idle,
        }
    }

    /// The app reports the network coming and going. Going offline stops the network calls
    /// under way (they fail with `Offline`; what they committed is kept) and, until the app
    /// reports the network back, `sync_now` fails at once with `Offline` and changes queue.
    pub fn set_online(&self, online: bool) {
        if !online {
            self.lifecycle.went_offline();
        }
        if let Ok(core) = self.core() {
            core.set_online(online);
        }
    }

    /// How many changes made on this device wait to be sent.
    pub fn pending_count(&self) -> Result<i64> {
        Ok(wide(self.core()?.pending_count()?))
    }

    /// How many changes the server rejected (kept, shown, never resent).
    pub fn rejected_count(&self) -> Result<i64> {
        Ok(wide(self.core()?.rejected_ops()?.len()))
    }

    /// The changes the server refused, oldest first, with its reason (e.g. "forbidden: this
    /// household is outside your building(s)"), so the app can show why. They name the record
    /// and the rule, never a stored value; the changes stay on the device (see
    /// `export_unsynced`).
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        Ok(self
            .core()?
            .rejected_ops()?
            .into_iter()
            .map(RejectedChange::from)
            .collect())
    }

    /// The changes the server refused, oldest first, each with what it was and why in words
    /// for the user. The records they were about already show the server's values again.
    pub fn refused_changes(&self) -> Result<Vec<RefusedChange>> {
        Ok(self
            .core()?
            .refused_changes()?
            .into_iter()
            .map(RefusedChange::from)
            .collect())
    }

    /// Drops a refused change for good; the record keeps the server's values.
    pub fn discard_refused(&self, change_id: String) -> Result<()> {
        Ok(self.core()?.discard_refused(id("change_id", &change_id)?)?)
    }

    /// Makes a refused change again as a new change, checked like any change made now
    /// (`NotAllowed` with the reason when the user's role or scope still does not allow it; the
    /// refused change then stays listed). Returns the new change's id.
    pub fn redo_refused(&self, change_id: String) -> Result<String> {
        Ok(id_text(
            self.core()?.redo_refused(id("change_id", &change_id)?)?,
        ))
    }

    /// Values written on this device that lost to concurrent writes, to show and re-apply.
    pub fn field_conflicts(&self) -> Result<Vec<FieldConflict>> {
        Ok(into_all(self.core()?.field_conflicts()?))
    }

    /// Case events that could not be applied because another device's came first.
    pub fn case_event_conflicts(&self) -> Result<Vec<CaseEventConflict>> {
        Ok(into_all(self.core()?.case_event_conflicts()?))
    }

    /// Writes the lost value again (a new change that wins now) and closes the conflict.
    pub fn reapply_conflict(&self, conflict_id: String) -> Result<()> {
        Ok(self
            .core()?
            .reapply_conflict(id("conflict_id", &conflict_id)?)?)
    }

    /// Accepts the winning value and closes the conflict.
    pub fn dismiss_conflict(&self, conflict_id: String) -> Result<()> {
        Ok(self
            .core()?
            .dismiss_conflict(id("conflict_id", &conflict_id)?)?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SyncService {
    /// One sync run: send the changes queued when it starts (changes made meanwhile go with
    /// the next run), receive everyone else's, return. One run at a time: a second call waits
    /// for the first. Observers have heard of the run's last state when it returns.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        let (core, transport) = (self.core()?, Arc::clone(&self.transport));
        let gate = Arc::clone(&self.sync_gate);
        let hub = Arc::clone(&self.hub);
        self.lifecycle
            .run(async move {
                let _one_at_a_time = gate.lock().await;
                let out = core.sync_now(&*transport).await;
                drop(core);
                hub.flush(OBSERVER_FLUSH).await;
                Ok(out?.into())
            })
            .await
    }

    /// The live wait: returns as soon as something for this device arrives (applied before
    /// returning), or after `wait_seconds` (at most 30; a negative wait is refused) with
    /// nothing.
    pub async fn wait_for_changes(&self, wait_seconds: i32) -> Result<SyncReport> {
        let wait = u64::from(count_in("wait_seconds", wait_seconds)?.min(MAX_WAIT_SECONDS));
        let (core, transport) = (self.core()?, Arc::clone(&self.transport));
        self.lifecycle
            .run(async move { Ok(core.wait_for_changes(&*transport, wait).await?.into()) })
            .await
    }
}
