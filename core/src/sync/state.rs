//! What the app sees of sync: the observable [`SyncState`], progress on long work, and the
//! [`SyncReport`] of each run.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The state of sync, for the app's status line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Nothing running; everything that could be sent was sent.
    Idle,
    /// A run is under way.
    Syncing,
    /// No network (reported by the app, or the server could not be reached). Changes queue.
    Offline,
    /// The last run failed for another reason.
    Error { message: String },
}

/// The step a long sync is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStep {
    /// Downloading the snapshot of the device's scope (a new device).
    Bootstrap,
    /// Sending the outbox.
    Push,
    /// Receiving others' changes.
    Pull,
}

/// Progress of a step: `done` of `total` items when the total is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    pub step: SyncStep,
    pub done: u64,
    pub total: Option<u64>,
}

/// What one sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Local operations the server accepted (duplicates of an earlier push included).
    pub pushed: u64,
    /// Local operations the server rejected (kept in the list of refused changes, not resent).
    pub rejected: u64,
    /// Records put back to the server's state (or purged, when this user may not see them)
    /// because a change to them was refused.
    pub reverted: u64,
    /// Records received in a snapshot (a new device).
    pub snapshot_records: u64,
    /// Operations received from the server.
    pub pulled: u64,
    /// Records that entered this user's scope (a building moved into their grid, an alarm
    /// dispatched to their station), received whole.
    pub gained: u64,
    /// Local copies purged because their records left this user's scope (the outbox is never
    /// touched: unsynced edits are still pushed), or a checked-out tenant's retention ran out.
    pub evicted: u64,
    /// Received operations that were refused locally (stamped too far in the future).
    pub refused: u64,
    /// Local changes the server refused as stamped too far ahead (the phone's clock was wrong),
    /// stamped again with the corrected clock and resent (ADR 0011).
    pub restamped: u64,
    /// New conflicts: values this device wrote that lost to concurrent writes.
    pub conflicts: u64,
    /// JSON bytes sent and received, both ways (answers travel gzipped, so the wire carries
    /// fewer).
    pub bytes: u64,
    pub duration_ms: u64,
}

/// Receives sync state changes and progress. Called from the sync task: implementations must
/// return quickly and hand off to the UI thread themselves.
pub trait SyncObserver: Send + Sync {
    fn on_state(&self, state: &SyncState);
    fn on_progress(&self, progress: &SyncProgress);
    /// Records of these kinds were written or removed (a local change, a sync page), in a
    /// transaction now committed. By default ignored.
    fn on_changes(&self, kinds: &[gridwork_domain::op::EntityKind]) {
        let _ = kinds;
    }
}

/// The current state and the observers, shared by the [`crate::Gridwork`] and its sync runs.
#[derive(Default)]
pub(crate) struct SyncStatus {
    state: Mutex<Option<SyncState>>,
    observers: Mutex<Vec<Arc<dyn SyncObserver>>>,
    /// Set while the app reports no network (`set_online(false)`).
    offline: std::sync::atomic::AtomicBool,
}

impl SyncStatus {
    pub(crate) fn set_offline(&self, offline: bool) {
        self.offline
            .store(offline, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn is_offline(&self) -> bool {
        self.offline.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The state to show when nothing runs: offline while the app says so, else idle.
    pub(crate) fn resting(&self) -> SyncState {
        if self.is_offline() {
            SyncState::Offline
        } else {
            SyncState::Idle
        }
    }

    pub(crate) fn state(&self) -> SyncState {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(SyncState::Idle)
    }

    pub(crate) fn set(&self, state: SyncState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        for o in self.observers() {
            o.on_state(&state);
        }
    }

    pub(crate) fn progress(&self, progress: SyncProgress) {
        for o in self.observers() {
            o.on_progress(&progress);
        }
    }

    pub(crate) fn changed(&self, kinds: &[gridwork_domain::op::EntityKind]) {
        if kinds.is_empty() {
            return;
        }
        for o in self.observers() {
            o.on_changes(kinds);
        }
    }

    pub(crate) fn add_observer(&self, observer: Arc<dyn SyncObserver>) {
        self.observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    fn observers(&self) -> Vec<Arc<dyn SyncObserver>> {
        self.observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
