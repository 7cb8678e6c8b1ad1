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

pub use cases::{CaseView, TimelineEntry};
pub use conflicts::{CaseEventConflict, FieldConflict};
pub use error::{Error, Result};
pub use gridwork::{Gridwork, OpenOptions, WallClock, system_clock};
pub use queries::{ResidentSummary, SearchHit};
pub use recovery::{Recovery, UnsyncedOp, recover_store};
pub use refused::RefusedChange;
pub use store::key::StoreKey;
pub use sync::{
    HttpTransport, RetryPolicy, SyncError, SyncObserver, SyncProgress, SyncReport, SyncState,
    Transport, TransportError,
};
pub use workflows::{
    AreaArrivals, ArrivalFigure, HotlineAssignment, OverdueVisit, PatrolSummary,
    RegistrationReport, StayView, UnregisteredRoom, UnregisteredTenant,
};
