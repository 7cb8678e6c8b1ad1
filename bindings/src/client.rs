//! [`GridworkClient`]: the one object an app holds. It owns the device's store and its HTTP
//! transport to the sync server, opens and shuts them down, enrolls the device and says who it
//! is; every other action and query of the core is on one of the services it hands out
//! ([`crate::services`], ADR 0050), which share its state ([`ClientInner`]).
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
//! `shutdown()` stops every call under way, the services' too, and releases the store; so does
//! releasing the client, once the calls under way end, even while the app still holds services.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gridwork_core::{Gridwork, HttpTransport, OpenOptions, StoreKey};
use gridwork_domain::ids::DeviceId;

use crate::cases::SearchHit;
use crate::convert::{count_in, id, id_text, opt_id_text, wide};
use crate::error::GridworkError;
use crate::observe::{Bridge, Hub};
use crate::paging::{self, CasePage};
use crate::permission::Permission;
use crate::sync::Enrollment;
use crate::worker::Lifecycle;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

/// The longest live wait the server allows, in seconds.
pub(crate) const MAX_WAIT_SECONDS: u32 = 30;

/// How long a sync call waits, before returning, for its observers to hear of its last state.
pub(crate) const OBSERVER_FLUSH: Duration = Duration::from_secs(5);

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

/// What the client and its services share: the open store, the transport, the observers and
/// the lifecycle. Every service object holds the client's one `Arc` of it, so a service outlives
/// nothing: after `shutdown()` its calls fail with `Closed` as the client's do.
#[derive(Debug)]
pub struct ClientInner {
    /// `None` once shut down.
    store: Mutex<Option<Arc<Store>>>,
    device: DeviceId,
    pub(crate) transport: Arc<HttpTransport>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) lifecycle: Lifecycle,
    /// One sync run at a time: a second `sync_now` waits for the first.
    pub(crate) sync_gate: Arc<tokio::sync::Mutex<()>>,
}

/// One device's gridwork: its local store, and sync with the server it was opened with.
///
/// The client opens and closes the store and answers who the device and its user are; the
/// work is in its services, one per area of the app, each reached from the client
/// ([`GridworkClient::sync`], [`GridworkClient::cases`], …) and sharing its store.
#[derive(Debug, uniffi::Object)]
pub struct GridworkClient {
    inner: Arc<ClientInner>,
}

impl std::ops::Deref for GridworkClient {
    type Target = ClientInner;

    fn deref(&self) -> &ClientInner {
        &self.inner
    }
}

/// The app released the client (Kotlin `close()` or `use {}`, Swift's last reference): the store
/// goes with it, as it did before the services, even while the app still holds a service (a
/// Kotlin service object lives until the garbage collector frees it). The calls under way keep
/// the store until they end, so the file can be opened again then; a service's later calls fail
/// with `Closed`.
impl Drop for GridworkClient {
    fn drop(&mut self) {
        self.inner
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
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
            inner: Arc::new(ClientInner {
                device: gw.device_id(),
                store: Mutex::new(Some(Arc::new(Store { gw, _lock: lock }))),
                transport: Arc::new(transport),
                hub,
                lifecycle: Lifecycle::default(),
                sync_gate: Arc::default(),
            }),
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

    /// Searches buildings, households, residents and cases by address, unit, name, phone or
    /// title.
    /// `limit` is capped at the core's maximum; a negative one is refused.
    pub fn search(&self, query: String, limit: i32) -> Result<Vec<SearchHit>> {
        let limit = count_in("limit", limit)? as usize;
        Ok(into_all(self.core()?.search(&query, limit)?))
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
}

impl GridworkClient {
    /// The state the client's services share (tests, and the services' constructors).
    pub(crate) fn inner(&self) -> Arc<ClientInner> {
        Arc::clone(&self.inner)
    }
}

impl ClientInner {
    /// The open store, or `Closed` after `shutdown()` or once the client is released.
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
pub(crate) fn into_all<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

/// A page of cases from the core's whole list.
pub(crate) fn case_page(
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
    use crate::model::{Area, Household, HouseholdKind, Resident};

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

    #[test]
    fn services_share_the_clients_store_and_go_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.db").display().to_string();
        let client =
            GridworkClient::open(path.clone(), "http://127.0.0.1:9".into(), None, None).unwrap();
        let (places, sync) = (client.places(), client.sync());
        let district = places
            .create_area(Area {
                id: String::new(),
                level: crate::model::AreaLevel::District,
                code: "330106".into(),
                name: "西湖区".into(),
                parent_id: None,
            })
            .unwrap();
        // One store behind every service: what one wrote, another sees.
        assert_eq!(client.places().area(district.id.clone()).unwrap(), district);
        assert_eq!(sync.pending_count().unwrap(), 1);

        // Released (Kotlin `close()`, Swift's last reference) while services are still held:
        // the store goes with the client, the file opens again, the old services say `Closed`.
        drop(client);
        let again = GridworkClient::open(path, "http://127.0.0.1:9".into(), None, None).unwrap();
        assert_eq!(
            again.places().area(district.id.clone()).unwrap().name,
            "西湖区"
        );
        assert!(matches!(
            places.area(district.id.clone()),
            Err(GridworkError::Closed { .. })
        ));
        assert!(matches!(
            sync.pending_count(),
            Err(GridworkError::Closed { .. })
        ));

        // `shutdown()` closes the services of that client too.
        let cases = again.cases();
        again.shutdown();
        assert!(matches!(
            cases.open_cases(10, None),
            Err(GridworkError::Closed { .. })
        ));
    }

    #[tokio::test]
    async fn a_building_head_may_create_households_residents_and_stays_in_their_building_only() {
        let dir = tempfile::tempdir().unwrap();
        let (client, s, _desk) = building_head(&dir).await;
        let mine = s.buildings[0].id;
        let theirs = s.buildings.iter().find(|b| b.id != mine).unwrap().id;

        assert!(
            client
                .places()
                .may_create_household(household_in(mine))
                .unwrap()
                .allowed
        );
        let refused = client
            .places()
            .may_create_household(household_in(theirs))
            .unwrap();
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
                .residents()
                .may_create_resident(tenant(my_room.id))
                .unwrap()
                .allowed
        );
        assert!(
            !client
                .residents()
                .may_create_resident(tenant(their_room.id))
                .unwrap()
                .allowed
        );

        let resident = id_text(s.residents[0].id);
        let here = client
            .registrations()
            .may_create_registration(resident.clone(), id_text(my_room.id))
            .unwrap();
        assert!(here.allowed, "{here:?}");
        let there = client
            .registrations()
            .may_create_registration(resident, id_text(their_room.id))
            .unwrap();
        assert!(!there.allowed);
        assert!(there.reason.is_some());
        // Ids that are not ids are bad input, not a refusal.
        assert!(matches!(
            client
                .registrations()
                .may_create_registration("x".into(), id_text(my_room.id)),
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
        let mut household = client.places().household(id_text(desk.refused)).unwrap();
        household.phone = Some(crate::Sensitive::new("13912345678".into()));
        client.places().update_household(household.clone()).unwrap();
        client
            .core()
            .unwrap()
            .enroll(&desk, "K7QM-2XWD-9HTR", "楼长的手机")
            .await
            .unwrap();
        // Enrolled, the phone refuses the same edit itself, with the server's reason.
        household.phone = Some(crate::Sensitive::new("13912345679".into()));
        let refused_here = client.places().update_household(household).unwrap_err();
        assert!(
            matches!(&refused_here, GridworkError::NotAllowed { code, args, reason }
                if code == "outside_reach"
                    && args.get("kind").map(String::as_str) == Some("household")
                    && args.get("role").map(String::as_str) == Some("building_head")
                    && reason == "this household is outside your building(s)"),
            "{refused_here:?}"
        );
        assert!(client.sync().rejected_changes().unwrap().is_empty());
        client.core().unwrap().sync_now(&desk).await.unwrap();

        let rejected = client.sync().rejected_changes().unwrap();
        assert!(!rejected.is_empty());
        assert_eq!(
            rejected.len() as i64,
            client.sync().rejected_count().unwrap()
        );
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
        let refused = client.sync().refused_changes().unwrap();
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
        let redo = client
            .sync()
            .redo_refused(edit.change_id.clone())
            .unwrap_err();
        assert!(matches!(redo, GridworkError::NotAllowed { .. }), "{redo:?}");
        assert_eq!(
            client.sync().refused_changes().unwrap().len(),
            refused.len()
        );
        client
            .sync()
            .discard_refused(edit.change_id.clone())
            .unwrap();
        assert_eq!(
            client.sync().refused_changes().unwrap().len(),
            refused.len() - 1
        );
        assert!(matches!(
            client.sync().discard_refused(edit.change_id.clone()),
            Err(GridworkError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn tenant_retention_is_set_from_the_app_and_purges_what_it_now_covers() {
        let dir = tempfile::tempdir().unwrap();
        let (client, s, _desk) = building_head(&dir).await;
        assert_eq!(client.registrations().tenant_retention_days().unwrap(), 90);

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
            .residents()
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
            .registrations()
            .check_in(tenant.id.clone(), id_text(room.id), day(200), None)
            .unwrap();
        client
            .registrations()
            .check_out(stay.id.clone(), day(40))
            .unwrap();

        assert_eq!(
            client
                .registrations()
                .set_tenant_retention_days(90)
                .unwrap(),
            0
        );
        assert_eq!(
            client
                .registrations()
                .registrations_of_resident(tenant.id.clone(), 10, None)
                .unwrap()
                .items
                .len(),
            1
        );
        let purged = client
            .registrations()
            .set_tenant_retention_days(30)
            .unwrap();
        assert!(purged >= 1, "{purged}");
        assert_eq!(client.registrations().tenant_retention_days().unwrap(), 30);
        assert!(client.registration_gone(&stay.id));

        let too_long = client.registrations().set_tenant_retention_days(3651);
        assert!(matches!(too_long, Err(GridworkError::InvalidInput { .. })));
        assert_eq!(
            client.registrations().tenant_retention_days().unwrap(),
            30,
            "unchanged"
        );
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
        let queued = client.sync().pending_count().unwrap();
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
        assert_eq!(client.sync().pending_count().unwrap(), made as i64);
    }

    impl GridworkClient {
        fn registration_gone(&self, registration: &str) -> bool {
            let id = id("registration", registration).unwrap();
            self.core().unwrap().record_state(id).unwrap().is_none()
        }
    }
}
