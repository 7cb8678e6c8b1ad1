//! `gridwork-ffi`: the uniffi bindings of the gridwork device core, the only way the Android and
//! iOS apps reach it.
//!
//! The core has no FFI types; this crate wraps it. An app holds one [`GridworkClient`] (the
//! device's store and its sync with the server), reaches the work through the services it hands
//! out ([`services`]: `sync()`, `places()`, `cases()`…), and talks to them in plain records and
//! enums ([`model`], [`cases`], [`brief`], [`sync`]): ids are UUID strings, times are
//! milliseconds since the Unix epoch, days are `YYYY-MM-DD`. Every failure is a
//! [`GridworkError`], mapped from the core's errors in one place ([`error`]).
//!
//! Store calls block: call them off the main thread. `enroll`, `sync_now` and
//! `wait_for_changes` are async (Kotlin `suspend`, Swift `async`) and run on the bindings' own
//! worker threads ([`worker`]), never on the thread that awaits them; sync state, progress and
//! the kinds of record changed reach the app through the [`SyncObserver`] and
//! [`observe::ChangeObserver`] callback interfaces, on a background thread ([`observe`]).
//!
//! Generate the Kotlin and Swift sources with this crate's `uniffi-bindgen` binary; see
//! `docs/mobile.md` and `scripts/test-bindings.sh`.

pub mod brief;
pub mod case_codes;
pub mod cases;
pub mod client;
mod convert;
pub mod error;
pub mod model;
pub mod observe;
pub mod paging;
pub mod permission;
pub mod photos;
pub mod sensitive;
pub mod services;
pub mod sync;
pub mod worker;

pub use client::GridworkClient;
pub use error::GridworkError;
pub use observe::{ChangeObserver, ObserverHandle, SyncObserver};
pub use sensitive::Sensitive;
pub use services::{
    AlarmService, CaseService, PatrolService, PhotoService, PlaceService, RegistrationService,
    ReportService, ResidentService, SyncService,
};

uniffi::setup_scaffolding!();
