//! `gridwork-core`: the device core of gridwork.
//!
//! A [`Gridwork`] is one device's local SQLite store and everything a user does with it,
//! offline: create and edit areas, buildings, households, residents and tenant registrations,
//! open cases and move them through their lifecycles, look things up on patrol, search. Each
//! action is one transaction that writes the state and appends its operation(s) to the outbox
//! that sync later pushes.
//!
//! Start at [`Gridwork::open`]; the model types are in [`gridwork_domain::model`]. Store calls
//! block on SQLite: call them off the UI thread.
//!
//! Layout: [`store`] (opening, migrations, applying operations, the outbox), [`gridwork`] (the
//! API object and the write path), [`cases`], [`queries`].

pub mod access_log;
pub mod attachments;
pub mod cases;
pub mod conflicts;
pub mod digest;
pub mod error;
pub mod gridwork;
pub mod permissions;
pub mod queries;
pub mod recovery;
pub mod refused;
pub mod retention;
pub mod seed;
pub mod store;
pub mod sync;
pub mod workflows;

pub use attachments::{
    AttachmentProgress, BlobRole, BlobTransport, CasePhoto, LaneStop, SweepReport, UploadObserver,
    UploadPolicy, UploadReport, UploadState,
};
pub use cases::{CaseView, TimelineEntry};
pub use conflicts::{CaseEventConflict, FieldConflict};
pub use error::{Error, Result};
pub use gridwork::{Gridwork, OpenOptions, WallClock, system_clock};
pub use queries::{ResidentSummary, SearchHit};
pub use recovery::{Recovery, UnsyncedOp, recover_store};
pub use refused::{ChangeParts, RefusedChange};
pub use store::key::StoreKey;
pub use sync::{
    HttpTransport, RetryPolicy, SyncError, SyncObserver, SyncProgress, SyncReport, SyncState,
    Transport, TransportError,
};
pub use workflows::{
    AreaArrivals, ArrivalFigure, HotlineAssignment, OverdueVisit, PatrolSummary,
    RegistrationReport, StayView, UnregisteredRoom, UnregisteredTenant,
};

/// A fresh, time-ordered record id: the domain's [`gridwork_domain::ids::new_id`] given the wall
/// clock and 80 bits from the OS random source (the domain reads neither). Ids made in this
/// process sort in the order they were made, within a millisecond and across a clock step back.
pub fn new_id() -> gridwork_domain::Id {
    use rand::Rng;
    static LAST: std::sync::Mutex<Option<gridwork_domain::Id>> = std::sync::Mutex::new(None);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 10];
    rand::rng().fill(&mut random);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let id = gridwork_domain::ids::new_id(now_ms, random, *last);
    *last = Some(id);
    id
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn ids_made_in_sequence_sort_in_sequence() {
        let ids: Vec<_> = (0..1_000).map(|_| super::new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
    }
}
