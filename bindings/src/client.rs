//! [`GridworkClient`]: the one object an app holds. It owns the device's store and its HTTP
//! transport to the sync server, and exposes every action and query of the core.
//!
//! Threading (ADR 0028): the async calls (`enroll`, `sync_now`, `wait_for_changes`) run on the
//! bindings' own worker threads, never on the thread that awaits them, so awaiting one from the
//! main thread costs it nothing. The other methods block on SQLite for milliseconds: call them off
//! the main thread (Kotlin: `Dispatchers.IO`; Swift: a `Task` or a background queue). Queries run
//! on reader connections of their own and never wait behind a sync page; writes wait for the
//! writer (one page at a time). Observers are called on the client's own background thread.
//!
//! Lifecycle: one client per store file (a second `open` of the same file is refused with
//! `StoreInUse` while the first is open); `set_online(false)` stops the network calls under way;
//! `shutdown()` stops every call under way and releases the store.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gridwork_core::{Gridwork, HttpTransport, OpenOptions, StoreKey};
use gridwork_domain::ids::DeviceId;
use gridwork_domain::model as core;

use crate::brief::{
    OverdueVisit, RegistrationRate, UnregisteredRoom, UnregisteredTenant, WeeklyBrief,
};
use crate::case_codes::CaseStep;
use crate::cases::{
    ArrivalFigure, CaseAction, CaseEvent, CaseEventConflict, CaseKind, CaseView, FieldConflict,
    NewCase, Patrol, PatrolSummary, PatrolVisit, ResponsePolicy, SearchHit, Severity,
};
use crate::convert::{count_in, day, id, id_text, narrow, opt_day, opt_id_text, opt_ms_in, wide};
use crate::error::GridworkError;
use crate::model::{Area, Building, Household, Position, Registration, Resident, Station};
use crate::observe::{Bridge, ChangeObserver, Hub, ObserverHandle, SyncObserver};
use crate::paging::{
    self, BuildingPage, CasePage, HouseholdPage, RegistrationPage, ResidentPage, StayPage,
};
use crate::permission::Permission;
use crate::sync::{Enrollment, RefusedChange, RejectedChange, SyncReport, SyncState};
use crate::worker::Lifecycle;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

/// The longest live wait the server allows, in seconds.
const MAX_WAIT_SECONDS: u32 = 30;

/// How long a sync call waits, before returning, for its observers to hear of its last state.
const OBSERVER_FLUSH: Duration = Duration::from_secs(5);

/// How long `shutdown()` waits for the calls it stopped to let go of the store.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// An open store and the lock that keeps a second client off its file: both go together, when
/// the last call using the store lets go of it.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) gw: Gridwork,
    _lock: File,
}

impl std::ops::Deref for Store {
    type Target = Gridwork;

    fn deref(&self) -> &Gridwork {
        &self.gw
    }
}

/// One device's gridwork: its local store, and sync with the server it was opened with.
#[derive(Debug, uniffi::Object)]
pub struct GridworkClient {
    /// `None` once shut down.
    store: Mutex<Option<Arc<Store>>>,
    device: DeviceId,
    pub(crate) transport: Arc<HttpTransport>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) lifecycle: Lifecycle,
    /// One sync run at a time: a second `sync_now` waits for the first.
    sync_gate: Arc<tokio::sync::Mutex<()>>,
}

#[uniffi::export]
impl GridworkClient {
    /// Opens (or creates) the store at `db_path` and prepares sync with `server_url`
    /// (`https://…`). `encryption_key` is the store's key as 64 hexadecimal digits (32 random
    /// bytes the app keeps in the Android Keystore / iOS Keychain, see docs/mobile.md), or
    /// `null`/`nil` for an unencrypted store. A new store opened with a key is created
    /// encrypted.
    ///
    /// `trust_anchors_pem`: certificates (PEM, one or more) of private certificate authorities
    /// to trust besides the system's, for a server whose certificate a private CA signed; `null`
    /// for none.
    ///
    /// Fails with `WrongKey` when the key does not open the store, `KeyRequired` when an
    /// encrypted store is opened without one, `StoreDamaged` when the file is damaged (then call
    /// [`recover_store`]; nothing is ever wiped to make a store open), and `StoreInUse` when
    /// another client (of this app or another process) has the store open.
    #[uniffi::constructor(default(trust_anchors_pem = None))]
    pub fn open(
        db_path: String,
        server_url: String,
        encryption_key: Option<String>,
        trust_anchors_pem: Option<String>,
    ) -> Result<Arc<Self>> {
        let lock = lock_store(Path::new(&db_path))?;
        let gw = Gridwork::open_with(&db_path, options(encryption_key.as_deref())?)?;
        let transport = match trust_anchors_pem.as_deref() {
            Some(pem) => HttpTransport::with_extra_ca(&server_url, gw.token()?, pem.as_bytes())
                .map_err(|e| match e {
                    gridwork_core::TransportError::Tls(reason) => {
                        GridworkError::invalid("trust_anchors_pem", &reason)
                    }
                    other => other.into(),
                })?,
            None => HttpTransport::new(&server_url, gw.token()?)?,
        };
        let hub = Hub::start().map_err(|e| GridworkError::Internal {
            reason: format!("the observer thread did not start: {e}"),
        })?;
        gw.add_sync_observer(Arc::new(Bridge(Arc::downgrade(&hub))));
        gw.add_upload_observer(Arc::new(Bridge(Arc::downgrade(&hub))));
        Ok(Arc::new(GridworkClient {
            device: gw.device_id(),
            store: Mutex::new(Some(Arc::new(Store { gw, _lock: lock }))),
            transport: Arc::new(transport),
            hub,
            lifecycle: Lifecycle::default(),
            sync_gate: Arc::default(),
        }))
    }

    /// Stops every call under way (they fail with `Closed`), waits for them to let go of the
    /// store (at most 10 s), and closes it: another client may open the file then. Every later
    /// call on this client fails with `Closed`. (Kotlin's `close()` and Swift's release only
    /// free the object once no call uses it; this stops the calls.)
    pub fn shutdown(&self) {
        self.lifecycle.close();
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(store) = store {
            let weak: Weak<Store> = Arc::downgrade(&store);
            drop(store);
            let started = std::time::Instant::now();
            while weak.strong_count() > 0 && started.elapsed() < SHUTDOWN_WAIT {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Writes every change the server has not accepted yet to `path` (JSON lines; the file
    /// must not exist). Returns how many. The file is plaintext: keep it in app storage.
    pub fn export_unsynced(&self, path: String) -> Result<i64> {
        Ok(wide(self.core()?.export_unsynced(Path::new(&path))?))
    }

    // -- the device -----------------------------------------------------------------------

    /// This device's id (a UUID, made when the store was created).
    pub fn device_id(&self) -> String {
        id_text(self.device)
    }

    /// The enrolled user, or `null` before enrollment.
    pub fn user_id(&self) -> Result<Option<String>> {
        Ok(opt_id_text(self.core()?.user_id()?))
    }

    /// The device's now in ms, corrected by the server's clock: what deadlines use.
    pub fn now_ms(&self) -> Result<i64> {
        Ok(self.core()?.now_ms() as i64)
    }

    /// A digest of the whole store: two devices with the same records have the same digest.
    pub fn state_digest(&self) -> Result<String> {
        Ok(self.core()?.state_digest()?)
    }

    // -- sync -----------------------------------------------------------------------------

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

    /// Days after check-out before a tenant's personal data leaves this phone (the
    /// subdistrict's policy; 90 unless set). The registration ledger stays on the server.
    pub fn tenant_retention_days(&self) -> Result<i32> {
        Ok(narrow(self.core()?.tenant_retention_days()?))
    }

    /// Sets that period, then purges the stays it now puts past retention (and their tenants
    /// when no other stay keeps them); returns how many records left the phone. Refused with
    /// `InvalidInput` when negative or beyond 3,650 days (ten years).
    pub fn set_tenant_retention_days(&self, days: i32) -> Result<i64> {
        let days = count_in("days", days)?;
        self.core()?.set_tenant_retention_days(days)?;
        Ok(wide(self.core()?.purge_expired_tenants()?))
    }

    // -- places -----------------------------------------------------------------------------

    /// Creates an area. Pass `id = ""` for a new id; the code must extend the parent's.
    pub fn create_area(&self, area: Area) -> Result<Area> {
        Ok(self.core()?.create(area.to_core()?)?.into())
    }

    /// Changes an area: every field of `area` is written where it differs (a subdistrict's
    /// response policies are kept: they change with `set_response_policy`).
    pub fn update_area(&self, area: Area) -> Result<Area> {
        let new = area.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |a: &mut core::Area| {
                let policies = std::mem::take(&mut a.response_policies);
                *a = new.clone();
                a.response_policies = policies;
            })?
            .into())
    }

    /// A subdistrict's response policies, oldest first, each with when it took effect; empty
    /// when none was set (1-3-10 applies).
    pub fn response_policies(&self, subdistrict_id: String) -> Result<Vec<ResponsePolicy>> {
        Ok(into_all(self.core()?.response_policies(id(
            "subdistrict_id",
            &subdistrict_id,
        )?)?))
    }

    /// The response policy in force now where `area_id` lies.
    pub fn response_policy_in_force(&self, area_id: String) -> Result<ResponsePolicy> {
        Ok(self
            .core()?
            .response_policy_in_force(id("area_id", &area_id)?)?
            .into())
    }

    /// Sets a subdistrict's response policy from now on (an admin's step; the server refuses
    /// anyone else's). Alarms and incidents opened before keep theirs. Returns the history.
    pub fn set_response_policy(
        &self,
        subdistrict_id: String,
        policy: ResponsePolicy,
    ) -> Result<Vec<ResponsePolicy>> {
        Ok(into_all(self.core()?.set_response_policy(
            id("subdistrict_id", &subdistrict_id)?,
            policy.to_core()?,
        )?))
    }

    /// One area.
    pub fn area(&self, area_id: String) -> Result<Area> {
        Ok(self
            .core()?
            .get::<core::Area>(id("area_id", &area_id)?)?
            .into())
    }

    /// The areas directly below `parent_id`, or the top-level areas for `null`.
    pub fn child_areas(&self, parent_id: Option<String>) -> Result<Vec<Area>> {
        let parent = crate::convert::opt_id("parent_id", parent_id.as_deref())?;
        Ok(into_all(self.core()?.child_areas(parent)?))
    }

    /// Creates a building. Pass `id = ""` for a new id; the address code must lie in the grid.
    pub fn create_building(&self, building: Building) -> Result<Building> {
        Ok(self.core()?.create(building.to_core()?)?.into())
    }

    /// Changes a building.
    pub fn update_building(&self, building: Building) -> Result<Building> {
        let new = building.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |b: &mut core::Building| *b = new.clone())?
            .into())
    }

    /// One building.
    pub fn building(&self, building_id: String) -> Result<Building> {
        Ok(self
            .core()?
            .get::<core::Building>(id("building_id", &building_id)?)?
            .into())
    }

    /// The building with this unified address code (统一地址编码), or `null` when this device
    /// holds none: how a building typed or scanned from a door plate is found.
    pub fn building_by_address_code(&self, address_code: String) -> Result<Option<Building>> {
        Ok(self
            .core()?
            .building_by_address_code(&address_code)?
            .map(Into::into))
    }

    /// The area with this code (`330105012001001`), or `null` when this device holds none.
    pub fn area_by_code(&self, code: String) -> Result<Option<Area>> {
        Ok(self.core()?.area_by_code(&code)?.map(Into::into))
    }

    /// Every micro fire station this device holds, by name.
    pub fn stations(&self) -> Result<Vec<Station>> {
        Ok(into_all(self.core()?.stations()?))
    }

    /// The buildings of an area and the areas below it, by address code.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn buildings_in_area(
        &self,
        area_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<BuildingPage> {
        let all = into_all(self.core()?.buildings_in_area(id("area_id", &area_id)?)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(BuildingPage { items, next_cursor })
    }

    /// Creates a micro fire station. Pass `id = ""` for a new id.
    pub fn create_station(&self, station: Station) -> Result<Station> {
        Ok(self.core()?.create(station.to_core()?)?.into())
    }

    // -- households, residents, registrations ---------------------------------------------

    /// Adds a household (room or flat) to a building. Pass `id = ""` for a new id.
    pub fn create_household(&self, household: Household) -> Result<Household> {
        Ok(self.core()?.create(household.to_core()?)?.into())
    }

    /// Changes a household (archive it with `archived = true` when it moves out).
    pub fn update_household(&self, household: Household) -> Result<Household> {
        let new = household.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |h: &mut core::Household| *h = new.clone())?
            .into())
    }

    /// One household.
    pub fn household(&self, household_id: String) -> Result<Household> {
        Ok(self
            .core()?
            .get::<core::Household>(id("household_id", &household_id)?)?
            .into())
    }

    /// The households of a building by unit, archived ones too if asked.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn households_of_building(
        &self,
        building_id: String,
        include_archived: bool,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<HouseholdPage> {
        let building = id("building_id", &building_id)?;
        let all = into_all(
            self.core()?
                .households_of_building(building, include_archived)?,
        );
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(HouseholdPage { items, next_cursor })
    }

    /// Adds a resident. Pass `id = ""` for a new id; an ID number must be a valid GB 11643
    /// number.
    pub fn create_resident(&self, resident: Resident) -> Result<Resident> {
        Ok(self.core()?.create(resident.to_core()?)?.into())
    }

    /// Changes a resident.
    pub fn update_resident(&self, resident: Resident) -> Result<Resident> {
        let new = resident.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |r: &mut core::Resident| *r = new.clone())?
            .into())
    }

    /// One resident (the single-record view): the full ID number when this device's role may
    /// see it, masked otherwise.
    pub fn resident(&self, resident_id: String) -> Result<Resident> {
        Ok(self
            .core()?
            .resident_for_view(id("resident_id", &resident_id)?)?
            .into())
    }

    /// The residents of a household by name, ID numbers masked.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn residents_of_household(
        &self,
        household_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<ResidentPage> {
        let household = id("household_id", &household_id)?;
        let all = into_all(self.core()?.residents_of_household(household)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(ResidentPage { items, next_cursor })
    }

    /// Records a visit to a key-group resident now.
    pub fn record_key_group_visit(&self, resident_id: String) -> Result<Resident> {
        let resident = id("resident_id", &resident_id)?;
        Ok(self.core()?.record_key_group_visit(resident)?.into())
    }

    /// Key-group residents of an area whose visit is overdue.
    pub fn overdue_visits(&self, area_id: String) -> Result<Vec<OverdueVisit>> {
        Ok(into_all(
            self.core()?.overdue_visits(id("area_id", &area_id)?)?,
        ))
    }

    /// Checks a tenant into a room from `check_in` (`YYYY-MM-DD`), expected to leave on
    /// `expected_end` if known.
    pub fn check_in(
        &self,
        resident_id: String,
        household_id: String,
        check_in: String,
        expected_end: Option<String>,
    ) -> Result<Registration> {
        Ok(self
            .core()?
            .check_in(
                id("resident_id", &resident_id)?,
                id("household_id", &household_id)?,
                day("check_in", &check_in)?,
                opt_day("expected_end", expected_end.as_deref())?,
            )?
            .into())
    }

    /// Checks a tenant out on `day` (`YYYY-MM-DD`).
    pub fn check_out(&self, registration_id: String, day_text: String) -> Result<Registration> {
        Ok(self
            .core()?
            .check_out(
                id("registration_id", &registration_id)?,
                day("day", &day_text)?,
            )?
            .into())
    }

    /// A resident's stays, newest first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn registrations_of_resident(
        &self,
        resident_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<RegistrationPage> {
        let resident = id("resident_id", &resident_id)?;
        let all = into_all(self.core()?.registrations_of_resident(resident)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(RegistrationPage { items, next_cursor })
    }

    /// Stays in an area expected to end within `within_days` of `today`.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn expiring_stays(
        &self,
        area_id: String,
        today: String,
        within_days: i32,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<StayPage> {
        let all = into_all(self.core()?.expiring_stays(
            id("area_id", &area_id)?,
            day("today", &today)?,
            count_in("within_days", within_days)?,
        )?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(StayPage { items, next_cursor })
    }

    /// Stays in an area past their expected end and not checked out.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn overdue_stays(
        &self,
        area_id: String,
        today: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<StayPage> {
        let all = into_all(
            self.core()?
                .overdue_stays(id("area_id", &area_id)?, day("today", &today)?)?,
        );
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(StayPage { items, next_cursor })
    }

    /// An area's registration per person and per room.
    pub fn registration_rate(&self, area_id: String) -> Result<RegistrationRate> {
        Ok(self
            .core()?
            .registration_rate(id("area_id", &area_id)?)?
            .area
            .into())
    }

    /// Rented rooms of an area where someone is still to register.
    pub fn unregistered_rooms(&self, area_id: String) -> Result<Vec<UnregisteredRoom>> {
        Ok(into_all(
            self.core()?.unregistered_rooms(id("area_id", &area_id)?)?,
        ))
    }

    /// People of an area living in rented rooms without an open stay in them.
    pub fn unregistered_tenants(&self, area_id: String) -> Result<Vec<UnregisteredTenant>> {
        Ok(into_all(
            self.core()?
                .unregistered_tenants(id("area_id", &area_id)?)?,
        ))
    }

    // -- cases ----------------------------------------------------------------------------

    /// Opens a case (a hazard, a dispute, a hotline request) now.
    pub fn open_case(&self, new_case: NewCase) -> Result<CaseView> {
        // Not `case`: parameter names reach the C header, where `case` is a keyword.
        Ok(self.core()?.open_case(new_case.to_core()?)?.into())
    }

    /// Takes a 12345 case in (`new_case.kind` must be `Hotline`) and, with an assignee,
    /// accepts it and assigns it to them, with the platform's handling deadline if given.
    pub fn receive_hotline_case(
        &self,
        new_case: NewCase,
        assignee: Option<String>,
        deadline_ms: Option<i64>,
    ) -> Result<CaseView> {
        let deadline_ms = opt_ms_in("deadline_ms", deadline_ms)?;
        let assignment = crate::convert::opt_id("assignee", assignee.as_deref())?.map(|assignee| {
            gridwork_core::HotlineAssignment {
                assignee,
                deadline_ms,
            }
        });
        Ok(self
            .core()?
            .receive_hotline_case(new_case.to_core()?, assignment)?
            .into())
    }

    /// Opens an incident (`new_case.kind` must be `Incident`) and, with a responder,
    /// dispatches it to them.
    pub fn raise_incident(&self, new_case: NewCase, responder: Option<String>) -> Result<CaseView> {
        let responder = crate::convert::opt_id("responder", responder.as_deref())?;
        Ok(self
            .core()?
            .raise_incident(new_case.to_core()?, responder)?
            .into())
    }

    /// Records a step of a case's lifecycle; refused when the case's state does not allow it.
    pub fn record_case_event(&self, case_id: String, action: CaseAction) -> Result<CaseView> {
        let case = id("case_id", &case_id)?;
        Ok(self
            .core()?
            .record_case_event(case, action.to_core()?)?
            .into())
    }

    /// Raises a fire alarm at a building and dispatches it to the building's station (or the
    /// nearest), in one step. `severity` defaults to high.
    pub fn raise_alarm(
        &self,
        building_id: String,
        title: String,
        category: String,
        severity: Option<Severity>,
    ) -> Result<CaseView> {
        Ok(self
            .core()?
            .raise_alarm(
                id("building_id", &building_id)?,
                &title,
                &category,
                severity.map(Into::into),
            )?
            .into())
    }

    /// How long the crew took to reach an alarm; `null` until they arrive.
    pub fn alarm_arrival(&self, case_id: String) -> Result<Option<ArrivalFigure>> {
        Ok(self
            .core()?
            .alarm_arrival(id("case_id", &case_id)?)?
            .map(Into::into))
    }

    /// One case with its state, deadline and colour.
    pub fn case(&self, case_id: String) -> Result<CaseView> {
        Ok(self.core()?.case(id("case_id", &case_id)?)?.into())
    }

    /// A case's events, oldest first, conflicting ones marked.
    pub fn case_timeline(&self, case_id: String) -> Result<Vec<CaseEvent>> {
        Ok(into_all(
            self.core()?.case_timeline(id("case_id", &case_id)?)?,
        ))
    }

    /// The steps the case allows now that this user may take: the buttons to show (each
    /// with its stable code, `caseStepCode`). Before the first sync (role not yet known) every
    /// step the case allows is listed and the server decides.
    pub fn available_actions(&self, case_id: String) -> Result<Vec<CaseStep>> {
        let actions = self.core()?.available_actions(id("case_id", &case_id)?)?;
        Ok(actions
            .into_iter()
            .filter_map(crate::case_codes::step_of)
            .collect())
    }

    /// Whether this user may record `action` on the case (their role and scope, by the rule
    /// the server enforces), with the reason when not.
    pub fn may_act(&self, case_id: String, action: CaseAction) -> Result<Permission> {
        let case = id("case_id", &case_id)?;
        Ok(self.core()?.may_act(case, &action.to_core()?)?.into())
    }

    /// Whether this user may edit the record (any kind) where it is.
    pub fn may_edit(&self, record_id: String) -> Result<Permission> {
        Ok(self.core()?.may_edit(id("record_id", &record_id)?)?.into())
    }

    /// Whether this user may delete the record (any kind).
    pub fn may_delete(&self, record_id: String) -> Result<Permission> {
        Ok(self
            .core()?
            .may_delete(id("record_id", &record_id)?)?
            .into())
    }

    /// Whether this user may open this case (a building head: hazards in their building).
    pub fn may_open_case(&self, new_case: NewCase) -> Result<Permission> {
        Ok(self.core()?.may_create(&new_case.to_core()?)?.into())
    }

    /// Whether this user may add this household where its building puts it (a building head:
    /// in their building; a gridworker: in their grid).
    pub fn may_create_household(&self, household: Household) -> Result<Permission> {
        Ok(self.core()?.may_create(&household.to_core()?)?.into())
    }

    /// Whether this user may add this resident to their household.
    pub fn may_create_resident(&self, resident: Resident) -> Result<Permission> {
        Ok(self.core()?.may_create(&resident.to_core()?)?.into())
    }

    /// Whether this user may check a tenant into a room, i.e. create a registration of
    /// `resident_id` in `household_id` (`check_in`'s question, asked before the form).
    pub fn may_create_registration(
        &self,
        resident_id: String,
        household_id: String,
    ) -> Result<Permission> {
        let stay = core::Registration {
            id: gridwork_core::new_id(),
            resident_id: id("resident_id", &resident_id)?,
            household_id: id("household_id", &household_id)?,
            check_in: chrono::NaiveDate::default(),
            expected_end: None,
            check_out: None,
        };
        Ok(self.core()?.may_create(&stay)?.into())
    }

    /// Every open case on the device, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn open_cases(&self, limit: i32, cursor: Option<String>) -> Result<CasePage> {
        case_page(self.core()?.open_cases()?, limit, cursor)
    }

    /// Open cases assigned to (or opened by) the enrolled user, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn my_open_cases(&self, limit: i32, cursor: Option<String>) -> Result<CasePage> {
        case_page(self.core()?.my_open_cases()?, limit, cursor)
    }

    /// Open cases of an area and the areas below it, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn open_cases_in_area(
        &self,
        area_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<CasePage> {
        let area = id("area_id", &area_id)?;
        case_page(self.core()?.open_cases_in_area(area)?, limit, cursor)
    }

    // -- patrols ----------------------------------------------------------------------------

    /// Starts a patrol of an area now (the device must be enrolled).
    pub fn start_patrol(&self, area_id: String) -> Result<Patrol> {
        Ok(self.core()?.start_patrol(id("area_id", &area_id)?)?.into())
    }

    /// Checks in at a building on a patrol under way.
    pub fn visit_building(
        &self,
        patrol_id: String,
        building_id: String,
        position: Option<Position>,
        note: Option<String>,
    ) -> Result<PatrolVisit> {
        Ok(self
            .core()?
            .visit_building(
                id("patrol_id", &patrol_id)?,
                id("building_id", &building_id)?,
                position.map(Into::into),
                note.as_deref(),
            )?
            .into())
    }

    /// Reports a hazard or finding at a building on a patrol under way.
    pub fn report_finding(
        &self,
        patrol_id: String,
        building_id: String,
        kind: CaseKind,
        title: String,
        category: String,
        severity: Severity,
    ) -> Result<CaseView> {
        Ok(self
            .core()?
            .report_finding(
                id("patrol_id", &patrol_id)?,
                id("building_id", &building_id)?,
                kind.into(),
                &title,
                &category,
                severity.into(),
            )?
            .into())
    }

    /// Ends a patrol now.
    pub fn end_patrol(&self, patrol_id: String) -> Result<Patrol> {
        Ok(self
            .core()?
            .end_patrol(id("patrol_id", &patrol_id)?)?
            .into())
    }

    /// A patrol with its visits and findings.
    pub fn patrol_summary(&self, patrol_id: String) -> Result<PatrolSummary> {
        Ok(self
            .core()?
            .patrol_summary(id("patrol_id", &patrol_id)?)?
            .into())
    }

    // -- search, brief, conflicts -----------------------------------------------------------

    /// Searches buildings, households, residents and cases by address, unit, name, phone or
    /// title.
    /// `limit` is capped at the core's maximum; a negative one is refused.
    pub fn search(&self, query: String, limit: i32) -> Result<Vec<SearchHit>> {
        let limit = count_in("limit", limit)? as usize;
        Ok(into_all(self.core()?.search(&query, limit)?))
    }

    /// The Monday (`YYYY-MM-DD`) of the week the Tuesday meeting reviews today: the previous
    /// Monday–Sunday.
    pub fn review_week(&self) -> Result<String> {
        Ok(crate::convert::day_text(self.core()?.review_week()))
    }

    /// The weekly brief of an area for the seven days from `week_start` (`YYYY-MM-DD`, the
    /// Monday; `review_week()` for the Tuesday meeting's).
    pub fn weekly_brief(&self, area_id: String, week_start: String) -> Result<WeeklyBrief> {
        Ok(self
            .core()?
            .weekly_brief(id("area_id", &area_id)?, day("week_start", &week_start)?)?
            .into())
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

/// The network calls: `suspend fun` in Kotlin, `async` in Swift. Each runs on the bindings'
/// worker threads (never on the awaiting thread); cancelling the caller's coroutine or task
/// stops it at its next step.
#[uniffi::export(async_runtime = "tokio")]
impl GridworkClient {
    /// Enrolls this device with a one-time code from the administrator. `device_name` is
    /// shown to administrators ("王芳's phone").
    pub async fn enroll(&self, code: String, device_name: String) -> Result<Enrollment> {
        let (core, transport) = (self.core()?, Arc::clone(&self.transport));
        self.lifecycle
            .run(async move { Ok(core.enroll(&*transport, &code, &device_name).await?.into()) })
            .await
    }

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

impl GridworkClient {
    /// The open store, or `Closed` after `shutdown()`.
    pub(crate) fn core(&self) -> Result<Arc<Store>> {
        if self.lifecycle.is_closed() {
            return Err(crate::worker::closed());
        }
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(crate::worker::closed)
    }

    /// How many times an app observer failed (tests).
    pub fn observer_failures(&self) -> i64 {
        wide(self.hub.failures())
    }
}

/// The lock file beside the store (`<db_path>.lock`), locked for as long as a client has the
/// store open: a second client of the same file, in this process or another, is refused.
fn lock_store(db_path: &Path) -> Result<File> {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| GridworkError::Storage {
            reason: format!("the store's lock file could not be opened: {}", e.kind()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(GridworkError::StoreInUse {
            reason: "another client has this store open: shut it down (or close it) first".into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(GridworkError::Storage {
            reason: format!("the store's lock file could not be locked: {}", e.kind()),
        }),
    }
}

/// What [`recover_store`] found and did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Recovery {
    /// Where the damaged files now are (moved, never deleted).
    pub moved_aside: Vec<String>,
    /// Unsynced changes kept in the fresh store (and the export).
    pub salvaged: i64,
    /// Unsynced changes found but no longer readable.
    pub unreadable: i64,
    /// False when the device's identity was lost: enroll again; the kept changes are then
    /// listed as rejected, to be entered again.
    pub identity_kept: bool,
}

/// Recovers a damaged store (after `open` failed with `StoreDamaged`): moves its files aside
/// (never deleted), keeps every unsynced change still readable in a fresh store at `db_path`
/// (and in `export_path`, JSON lines, when given; the file must not exist), which the next
/// sync fills again from the server. Then `open` the store again. Blocks: call it off the
/// main thread.
#[uniffi::export]
pub fn recover_store(
    db_path: String,
    encryption_key: Option<String>,
    export_path: Option<String>,
) -> Result<Recovery> {
    let _lock = lock_store(Path::new(&db_path))?;
    let options = options(encryption_key.as_deref())?;
    let rec = gridwork_core::recover_store(
        Path::new(&db_path),
        &options,
        export_path.as_deref().map(Path::new),
    )?;
    Ok(Recovery {
        moved_aside: rec
            .moved_aside
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        salvaged: wide(rec.salvaged),
        unreadable: wide(rec.unreadable),
        identity_kept: rec.identity_kept,
    })
}

/// The open options for a key given as hex (or none).
fn options(encryption_key: Option<&str>) -> Result<OpenOptions> {
    let key = encryption_key
        .map(StoreKey::from_hex)
        .transpose()
        .map_err(gridwork_core::Error::from)?;
    Ok(OpenOptions {
        key,
        ..OpenOptions::default()
    })
}

/// Converts every item of a list from the core's type.
fn into_all<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

/// A page of cases from the core's whole list.
fn case_page(
    all: Vec<gridwork_core::CaseView>,
    limit: i32,
    cursor: Option<String>,
) -> Result<CasePage> {
    let (items, next_cursor) = paging::page(into_all(all), limit, cursor.as_deref())?;
    Ok(CasePage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use gridwork_core::new_id;
    use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
    use gridwork_core::sync::transport::Sized;
    use gridwork_core::{Transport, TransportError};
    use gridwork_domain::ids::Id;
    use gridwork_domain::op::EntityKind;
    use gridwork_domain::sync::{
        EnrollRequest, EnrollResponse, PullResponse, PushOutcome, PushRequest, PushResponse,
        PushResult, RejectCode, Role, SnapshotResponse, UserScope,
    };

    use super::*;
    use crate::model::HouseholdKind;

    /// A stand-in sync server: enrolls the device as a building head of `building`, refuses
    /// every change to the household `refused` as out of scope, accepts the rest.
    struct Desk {
        building: Id,
        anchors: Vec<Vec<Id>>,
        refused: Id,
    }

    impl Desk {
        fn user(&self) -> UserScope {
            UserScope {
                role: Role::BuildingHead,
                scope: vec![self.building],
                anchors: self.anchors.clone(),
            }
        }
    }

    fn sized<T>(value: T) -> Result<Sized<T>, TransportError> {
        Ok(Sized { value, bytes: 0 })
    }

    impl Transport for Desk {
        async fn enroll(
            &self,
            _req: &EnrollRequest,
        ) -> Result<Sized<EnrollResponse>, TransportError> {
            let user = self.user();
            sized(EnrollResponse {
                token: "token".into(),
                user_id: new_id(),
                user_name: "赵磊".into(),
                role: user.role,
                scope: user.scope,
                anchors: user.anchors,
                server_time_ms: gridwork_core::system_clock()(),
            })
        }

        async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
            let results = req
                .ops
                .iter()
                .enumerate()
                .map(|(i, op)| PushResult {
                    op_id: op.id,
                    outcome: if op.entity_id == self.refused {
                        PushOutcome::Rejected {
                            code: RejectCode::Forbidden,
                            message: "this household is outside your building(s)".into(),
                        }
                    } else {
                        PushOutcome::Accepted { seq: i as u64 + 1 }
                    },
                })
                .collect();
            sized(PushResponse {
                results,
                server_time_ms: gridwork_core::system_clock()(),
                records: vec![],
                events: vec![],
                evict: vec![],
            })
        }

        async fn pull(
            &self,
            after: u64,
            _limit: usize,
            _wait_s: u64,
        ) -> Result<Sized<PullResponse>, TransportError> {
            sized(PullResponse {
                ops: vec![],
                next: after,
                more: false,
                server_time_ms: gridwork_core::system_clock()(),
                records: vec![],
                events: vec![],
                evict: vec![],
                user: Some(self.user()),
            })
        }

        async fn snapshot(
            &self,
            _after: Option<Id>,
            _limit: usize,
        ) -> Result<Sized<SnapshotResponse>, TransportError> {
            sized(SnapshotResponse {
                seq: 0,
                records: vec![],
                events: vec![],
                next_after: None,
                server_time_ms: gridwork_core::system_clock()(),
                total_records: None,
            })
        }

        fn set_token(&self, _token: Option<String>) {}
    }

    /// A phone holding a small subdistrict, enrolled as the building head of its first
    /// building through the stand-in server.
    async fn building_head(dir: &tempfile::TempDir) -> (Arc<GridworkClient>, Seeded, Desk) {
        let path = dir.path().join("phone.db").display().to_string();
        let client = GridworkClient::open(path, "http://127.0.0.1:9".into(), None, None).unwrap();
        let seeded =
            seed_subdistrict(&client.core().unwrap(), 5, SeedSize::TINY, |_, _| {}).unwrap();
        let mine = &seeded.buildings[0];
        let theirs = seeded
            .households
            .iter()
            .find(|h| h.building_id != mine.id)
            .unwrap();
        let desk = Desk {
            building: mine.id,
            anchors: vec![client.core().unwrap().place_of(mine.id).unwrap().areas],
            refused: theirs.id,
        };
        client
            .core()
            .unwrap()
            .enroll(&desk, "K7QM-2XWD-9HTR", "楼长的手机")
            .await
            .unwrap();
        (client, seeded, desk)
    }

    fn household_in(building: Id) -> Household {
        Household {
            id: String::new(),
            building_id: id_text(building),
            unit: "2-301".into(),
            kind: HouseholdKind::Rental,
            phone: None,
            archived: false,
        }
    }

    #[tokio::test]
    async fn a_building_head_may_create_households_residents_and_stays_in_their_building_only() {
        let dir = tempfile::tempdir().unwrap();
        let (client, s, _desk) = building_head(&dir).await;
        let mine = s.buildings[0].id;
        let theirs = s.buildings.iter().find(|b| b.id != mine).unwrap().id;

        assert!(
            client
                .may_create_household(household_in(mine))
                .unwrap()
                .allowed
        );
        let refused = client.may_create_household(household_in(theirs)).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.code.as_deref(), Some("outside_reach"));
        assert_eq!(
            refused.args.get("kind").map(String::as_str),
            Some("household")
        );
        let reason = refused.reason.unwrap();
        assert!(reason.contains("outside your building"), "{reason}");

        let room = |b: Id| s.households.iter().find(|h| h.building_id == b).unwrap();
        let (my_room, their_room) = (room(mine), room(theirs));
        let tenant = |household: Id| Resident {
            id: String::new(),
            household_id: id_text(household),
            name: "李娜".into(),
            id_number: None,
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        };
        assert!(
            client
                .may_create_resident(tenant(my_room.id))
                .unwrap()
                .allowed
        );
        assert!(
            !client
                .may_create_resident(tenant(their_room.id))
                .unwrap()
                .allowed
        );

        let resident = id_text(s.residents[0].id);
        let here = client
            .may_create_registration(resident.clone(), id_text(my_room.id))
            .unwrap();
        assert!(here.allowed, "{here:?}");
        let there = client
            .may_create_registration(resident, id_text(their_room.id))
            .unwrap();
        assert!(!there.allowed);
        assert!(there.reason.is_some());
        // Ids that are not ids are bad input, not a refusal.
        assert!(matches!(
            client.may_create_registration("x".into(), id_text(my_room.id)),
            Err(GridworkError::InvalidInput { .. })
        ));
    }

    #[tokio::test]
    async fn rejected_changes_name_the_record_and_the_reason_but_no_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.db").display().to_string();
        let client = GridworkClient::open(path, "http://127.0.0.1:9".into(), None, None).unwrap();
        let seeded =
            seed_subdistrict(&client.core().unwrap(), 5, SeedSize::TINY, |_, _| {}).unwrap();
        let mine = &seeded.buildings[0];
        let theirs = seeded
            .households
            .iter()
            .find(|h| h.building_id != mine.id)
            .unwrap();
        let desk = Desk {
            building: mine.id,
            anchors: vec![client.core().unwrap().place_of(mine.id).unwrap().areas],
            refused: theirs.id,
        };
        // Before enrollment the phone does not know its role: the edit is queued and the
        // server decides.
        let mut household = client.household(id_text(desk.refused)).unwrap();
        household.phone = Some(crate::Sensitive::new("13912345678".into()));
        client.update_household(household.clone()).unwrap();
        client
            .core()
            .unwrap()
            .enroll(&desk, "K7QM-2XWD-9HTR", "楼长的手机")
            .await
            .unwrap();
        // Enrolled, the phone refuses the same edit itself, with the server's reason.
        household.phone = Some(crate::Sensitive::new("13912345679".into()));
        let refused_here = client.update_household(household).unwrap_err();
        assert!(
            matches!(&refused_here, GridworkError::NotAllowed { code, args, reason }
                if code == "outside_reach"
                    && args.get("kind").map(String::as_str) == Some("household")
                    && args.get("role").map(String::as_str) == Some("building_head")
                    && reason == "this household is outside your building(s)"),
            "{refused_here:?}"
        );
        assert!(client.rejected_changes().unwrap().is_empty());
        client.core().unwrap().sync_now(&desk).await.unwrap();

        let rejected = client.rejected_changes().unwrap();
        assert!(!rejected.is_empty());
        assert_eq!(rejected.len() as i64, client.rejected_count().unwrap());
        for change in &rejected {
            assert_eq!(change.entity_kind, EntityKind::Household.as_str());
            assert_eq!(change.entity_id, id_text(desk.refused));
            assert_eq!(
                change.reason,
                "forbidden: this household is outside your building(s)"
            );
            assert_eq!(change.code, "forbidden", "the server's code, apart");
            assert!(
                change.rule.is_some(),
                "a known rule's stable code: {change:?}"
            );
            assert!(!format!("{change:?}").contains("13912345678"));
            assert!(id("change_id", &change.change_id).is_ok());
        }
        // The refused list says the same in words, and each can be discarded or re-done.
        let refused = client.refused_changes().unwrap();
        assert_eq!(refused.len(), rejected.len());
        let edit = refused
            .iter()
            .find(|r| r.change == "edit household: phone")
            .expect("the phone edit");
        assert_eq!(edit.code, "forbidden");
        assert_eq!(edit.fields, vec!["phone".to_string()]);
        assert!(edit.step.is_none() && !edit.deleted);
        assert_eq!(edit.rule.as_deref(), Some("outside_reach"));
        assert_eq!(
            edit.rule_args.get("role").map(String::as_str),
            Some("building_head")
        );
        assert_eq!(
            edit.reason,
            "not allowed for your role or area: this household is outside your building(s)"
        );
        assert!(!format!("{refused:?}").contains("13912345678"));
        let redo = client.redo_refused(edit.change_id.clone()).unwrap_err();
        assert!(matches!(redo, GridworkError::NotAllowed { .. }), "{redo:?}");
        assert_eq!(client.refused_changes().unwrap().len(), refused.len());
        client.discard_refused(edit.change_id.clone()).unwrap();
        assert_eq!(client.refused_changes().unwrap().len(), refused.len() - 1);
        assert!(matches!(
            client.discard_refused(edit.change_id.clone()),
            Err(GridworkError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn tenant_retention_is_set_from_the_app_and_purges_what_it_now_covers() {
        let dir = tempfile::tempdir().unwrap();
        let (client, s, _desk) = building_head(&dir).await;
        assert_eq!(client.tenant_retention_days().unwrap(), 90);

        // A tenant who left 40 days ago: within 90 days, past 30.
        let today = chrono::DateTime::from_timestamp_millis(client.now_ms().unwrap())
            .unwrap()
            .date_naive();
        let day = |back: i64| (today - chrono::Duration::days(back)).to_string();
        let room = s
            .households
            .iter()
            .find(|h| h.building_id == s.buildings[0].id)
            .unwrap();
        let tenant = client
            .create_resident(Resident {
                id: String::new(),
                household_id: id_text(room.id),
                name: "周杰".into(),
                // A tenant is checked in with a valid ID number.
                id_number: Some(crate::Sensitive::new(gridwork_core::seed::id_number(
                    chrono::NaiveDate::from_ymd_opt(1992, 5, 17).unwrap(),
                    41,
                ))),
                phone: None,
                key_groups: vec![],
                last_visit_ms: None,
                archived: false,
            })
            .unwrap();
        let stay = client
            .check_in(tenant.id.clone(), id_text(room.id), day(200), None)
            .unwrap();
        client.check_out(stay.id.clone(), day(40)).unwrap();

        assert_eq!(client.set_tenant_retention_days(90).unwrap(), 0);
        assert_eq!(
            client
                .registrations_of_resident(tenant.id.clone(), 10, None)
                .unwrap()
                .items
                .len(),
            1
        );
        let purged = client.set_tenant_retention_days(30).unwrap();
        assert!(purged >= 1, "{purged}");
        assert_eq!(client.tenant_retention_days().unwrap(), 30);
        assert!(client.registration_gone(&stay.id));

        let too_long = client.set_tenant_retention_days(3651);
        assert!(matches!(too_long, Err(GridworkError::InvalidInput { .. })));
        assert_eq!(client.tenant_retention_days().unwrap(), 30, "unchanged");
    }

    /// The stand-in server, with a user who keeps writing: each push answered, a new household
    /// is recorded on the phone.
    struct Busy {
        desk: Desk,
        phone: Arc<Store>,
        building: Id,
        made: std::sync::atomic::AtomicU64,
    }

    impl Transport for Busy {
        async fn enroll(
            &self,
            req: &EnrollRequest,
        ) -> Result<Sized<EnrollResponse>, TransportError> {
            self.desk.enroll(req).await
        }

        async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
            let answer = self.desk.push(req).await;
            let n = self.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let room = Household {
                unit: format!("8-{}", 100 + n),
                ..household_in(self.building)
            };
            self.phone.create(room.to_core().unwrap()).unwrap();
            answer
        }

        async fn pull(
            &self,
            after: u64,
            limit: usize,
            wait_s: u64,
        ) -> Result<Sized<PullResponse>, TransportError> {
            self.desk.pull(after, limit, wait_s).await
        }

        async fn snapshot(
            &self,
            after: Option<Id>,
            limit: usize,
        ) -> Result<Sized<SnapshotResponse>, TransportError> {
            self.desk.snapshot(after, limit).await
        }

        fn set_token(&self, _token: Option<String>) {}
    }

    #[tokio::test]
    async fn a_sync_run_pushes_what_was_queued_when_it_started_then_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (client, s, desk) = building_head(&dir).await;
        let mine = s.buildings[0].id;
        let queued = client.pending_count().unwrap();
        assert!(queued > 1, "{queued}");
        let busy = Busy {
            desk,
            phone: client.core().unwrap(),
            building: mine,
            made: std::sync::atomic::AtomicU64::new(0),
        };
        let report = client.core().unwrap().sync_now(&busy).await.unwrap();
        let made = busy.made.load(std::sync::atomic::Ordering::SeqCst);
        assert!(made >= 1, "the user wrote during the run");
        assert_eq!(
            (report.pushed + report.rejected) as i64,
            queued,
            "{report:?}"
        );
        // What was written during the run waits for the next one.
        assert_eq!(client.pending_count().unwrap(), made as i64);
    }

    impl GridworkClient {
        fn registration_gone(&self, registration: &str) -> bool {
            let id = id("registration", registration).unwrap();
            self.core().unwrap().record_state(id).unwrap().is_none()
        }
    }
}
