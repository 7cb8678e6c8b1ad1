//! The client's services: the API in a few objects reached from [`GridworkClient`], one per area
//! of the app, as matrix-sdk-ffi has `SyncService` and `RoomListService` (ADR 0050). Each is a
//! uniffi object holding the client's one shared state ([`ClientInner`]): getting a service is
//! cheap (no I/O) and any number may be held; after `shutdown()` their calls fail with `Closed`.
//!
//! | Reached by | Service | What it does |
//! |---|---|---|
//! | `sync()` | [`SyncService`] | sync runs, the live wait, state and observers, online, the outbox, refused changes, conflicts |
//! | `places()` | [`PlaceService`] | areas, buildings, stations, households |
//! | `residents()` | [`ResidentService`] | residents and their key-group visits |
//! | `registrations()` | [`RegistrationService`] | tenants' stays (check-in, check-out), what is unregistered, retention |
//! | `cases()` | [`CaseService`] | cases, their steps and timelines, the lists of open cases |
//! | `alarms()` | [`AlarmService`] | fire alarms, arrival times, response policies |
//! | `patrols()` | [`PatrolService`] | patrols, their visits and findings |
//! | `photos()` | [`PhotoService`] | photos on cases and records, their upload lane |
//! | `reports()` | [`ReportService`] | the weekly brief |

use std::sync::Arc;

use crate::GridworkClient;
use crate::client::ClientInner;

mod alarms;
mod cases;
mod patrols;
mod places;
mod registrations;
mod reports;
mod residents;
mod sync;

/// Declares a service object: the client's shared state, and `Deref` to it so a method reads
/// `self.core()`, `self.transport`, `self.hub` as the client's own did.
macro_rules! service {
    ($($(#[$meta:meta])* $name:ident;)+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, uniffi::Object)]
            pub struct $name {
                inner: Arc<ClientInner>,
            }

            impl From<Arc<ClientInner>> for $name {
                fn from(inner: Arc<ClientInner>) -> $name {
                    $name { inner }
                }
            }

            impl std::ops::Deref for $name {
                type Target = ClientInner;

                fn deref(&self) -> &ClientInner {
                    &self.inner
                }
            }
        )+
    };
}

service! {
    /// Sync with the server: runs (`sync_now`), the live wait, the state and its observers,
    /// the network coming and going, the outbox, the changes the server refused or rejected,
    /// and the conflicts sync found.
    SyncService;
    /// The places: areas (district down to micro-grid), buildings, micro fire stations and
    /// households (rooms and flats).
    PlaceService;
    /// Residents and the visits key-group residents are due.
    ResidentService;
    /// Tenants' stays in rooms (旅店式登记): check-in and check-out, stays ending or overdue,
    /// what is still unregistered, and how long tenants' data stays on the phone.
    RegistrationService;
    /// Cases (hazards, disputes, hotline requests, incidents): opening them, their steps and
    /// timelines, what this user may do, and the lists of open cases.
    CaseService;
    /// Fire alarms, how long the crew took to arrive, and the subdistricts' response policies.
    AlarmService;
    /// Patrols of an area: start, check in at buildings, report findings, end, summary.
    PatrolService;
    /// Photos on cases, buildings and households, and their upload lane.
    PhotoService;
    /// The weekly brief for the Tuesday meeting.
    ReportService;
}

/// The services, each reached from the client. Cheap (no I/O): call them where needed or keep
/// one; every service of a client shares its store.
#[uniffi::export]
impl GridworkClient {
    /// Sync with the server, its state and observers, refused changes and conflicts.
    pub fn sync(&self) -> Arc<SyncService> {
        Arc::new(self.inner().into())
    }

    /// Areas, buildings, stations and households.
    pub fn places(&self) -> Arc<PlaceService> {
        Arc::new(self.inner().into())
    }

    /// Residents and key-group visits.
    pub fn residents(&self) -> Arc<ResidentService> {
        Arc::new(self.inner().into())
    }

    /// Tenants' stays in rooms.
    pub fn registrations(&self) -> Arc<RegistrationService> {
        Arc::new(self.inner().into())
    }

    /// Cases and their steps.
    pub fn cases(&self) -> Arc<CaseService> {
        Arc::new(self.inner().into())
    }

    /// Fire alarms and response policies.
    pub fn alarms(&self) -> Arc<AlarmService> {
        Arc::new(self.inner().into())
    }

    /// Patrols.
    pub fn patrols(&self) -> Arc<PatrolService> {
        Arc::new(self.inner().into())
    }

    /// Photos and their uploads.
    pub fn photos(&self) -> Arc<PhotoService> {
        Arc::new(self.inner().into())
    }

    /// The weekly brief.
    pub fn reports(&self) -> Arc<ReportService> {
        Arc::new(self.inner().into())
    }
}
