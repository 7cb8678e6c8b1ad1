//! Refused changes are undone on the phone, end to end, on both server backends: for each kind
//! of refusal the phone could not foresee offline (role: a building head's dispatch of an alarm
//! the centre dispatched meanwhile; scope: an edit in a building an administrator took away;
//! validation: a second household on one unit; clock: stamps a year ahead), the phone shows the
//! server's state after the sync, keeps the refused change listed with its reason, lets the user
//! discard or re-do it, and its state digest equals a fresh phone's of the same role and scope.

use std::sync::Arc;

use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::{Error as CoreError, RefusedChange};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use gridwork_server::ServerHandle;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, SqliteStorage, Storage};
use uuid::Uuid;

use crate::harness::{Device, YEAR_MS};

/// A server on loopback over one backend, with what keeps its database alive.
struct Server<S: Storage> {
    storage: Arc<S>,
    handle: ServerHandle,
    _keep: Box<dyn std::any::Any + Send>,
}

async fn listen<S: Storage>(storage: Arc<S>) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    gridwork_server::serve(listener, storage).await.unwrap()
}

async fn sqlite() -> Server<SqliteStorage> {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    Server {
        handle: listen(storage.clone()).await,
        storage,
        _keep: Box::new(dir),
    }
}

async fn postgres() -> Server<PgStorage> {
    let db = ScratchDatabase::for_test().await;
    let storage = Arc::new(PgStorage::connect(db.url()).await.unwrap());
    Server {
        handle: listen(storage.clone()).await,
        storage,
        _keep: Box::new(db),
    }
}

impl<S: Storage> Server<S> {
    /// A phone of a new user with `role` and `scope`; returns it with the user's id.
    async fn phone(&self, name: &str, role: Role, scope: Vec<Id>) -> (Device, Id) {
        let user = self
            .storage
            .create_user(name.into(), role, scope)
            .await
            .unwrap();
        let code = self
            .storage
            .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
            .await
            .unwrap();
        let d = Device::enrolled_at(&self.handle.url(), &code, name, 0).await;
        d.sync().await;
        (d, user.id)
    }

    /// The digest a fresh phone of `role` and `scope` holds after its first sync.
    async fn fresh_digest(&self, role: Role, scope: Vec<Id>) -> String {
        let (d, _) = self.phone("新手机", role, scope).await;
        d.gw.state_digest().unwrap()
    }
}

/// The phone shows the server's truth: after two syncs nothing waits and its digest is a fresh
/// phone's of the same role and scope.
async fn converged<S: Storage>(server: &Server<S>, d: &Device, role: Role, scope: Vec<Id>) {
    d.sync().await;
    d.sync().await;
    assert_eq!(d.gw.pending_count().unwrap(), 0);
    assert_eq!(
        d.gw.state_digest().unwrap(),
        server.fresh_digest(role, scope).await,
        "the phone holds what a fresh phone of its scope holds"
    );
}

fn only_refused(d: &Device, record: Id) -> RefusedChange {
    let refused = d.gw.refused_changes().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let r = refused.into_iter().next().unwrap();
    assert_eq!(r.record_id, record);
    r
}

async fn seeded<S: Storage>(server: &Server<S>) -> (Device, Seeded) {
    let (admin, _) = server.phone("管理员", Role::Admin, vec![]).await;
    let seeded = seed_subdistrict(&admin.gw, 11, SeedSize::TINY, |_, _| {}).unwrap();
    admin.sync().await;
    (admin, seeded)
}

fn households_of(s: &Seeded, building: Id) -> Vec<Household> {
    s.households
        .iter()
        .filter(|h| h.building_id == building)
        .cloned()
        .collect()
}

/// Role: a building head dispatches an alarm of its building it saw undispatched, while the
/// command centre dispatched it meanwhile: a building head may only send the first dispatch.
async fn role<S: Storage>(server: Server<S>) {
    let (_admin, s) = seeded(&server).await;
    let b = s.buildings[0].clone();
    let sub = s.subdistrict.as_ref().unwrap().id;
    let (centre, _) = server.phone("陈静", Role::Dispatcher, vec![sub]).await;
    let (head, _) = server.phone("赵磊", Role::BuildingHead, vec![b.id]).await;
    let alarm = centre
        .gw
        .open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Alarm,
            title: "闻到烟味".into(),
            category: "fire".into(),
            severity: Severity::High,
            area_id: b.grid_id,
            building_id: Some(b.id),
            household_id: None,
            position: b.position,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap()
        .case
        .id;
    centre.sync().await;
    head.sync().await;
    let station = s.stations[0].id;
    let dispatch = CaseAction::Dispatch {
        station_id: station,
    };
    centre
        .gw
        .record_case_event(alarm, dispatch.clone())
        .unwrap();
    centre.sync().await;
    // The head's phone still sees it undispatched: its first dispatch is allowed here.
    head.gw.record_case_event(alarm, dispatch.clone()).unwrap();
    let mine = head.gw.case_timeline(alarm).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].event.stamp.device, head.gw.device_id());
    let report = head.sync().await;
    assert_eq!(report.rejected, 1);
    assert!(report.reverted >= 1);

    let refused = only_refused(&head, alarm);
    assert_eq!(refused.code, "forbidden");
    assert!(refused.change.contains("dispatch"), "{refused:?}");
    assert!(
        refused
            .reason
            .starts_with("not allowed for your role or area: a building head"),
        "{refused:?}"
    );
    // The phone shows the centre's dispatch only, as the centre does.
    let seen = head.gw.case_timeline(alarm).unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].event.stamp.device, centre.gw.device_id());
    assert_eq!(seen, centre.gw.case_timeline(alarm).unwrap());
    // Re-doing it is refused on the phone now, with the reason; it stays listed.
    let redo = head.gw.redo_refused(refused.op_id).unwrap_err();
    assert!(matches!(redo, CoreError::NotAllowed(_)), "{redo:?}");
    assert_eq!(head.gw.refused_changes().unwrap().len(), 1);
    assert_eq!(head.gw.pending_count().unwrap(), 0, "nothing queued");
    head.gw.discard_refused(refused.op_id).unwrap();
    assert!(head.gw.refused_changes().unwrap().is_empty());
    converged(&server, &head, Role::BuildingHead, vec![b.id]).await;
}

/// Scope: an administrator gives a building head another building while the phone is offline;
/// the phone's edit in the old building is refused and the record leaves the phone.
async fn scope<S: Storage>(server: Server<S>) {
    let (_admin, s) = seeded(&server).await;
    let (old, new) = (s.buildings[0].id, s.buildings[1].id);
    let (head, user) = server.phone("赵磊", Role::BuildingHead, vec![old]).await;
    assert!(
        server
            .storage
            .set_user_scope(user, vec![new])
            .await
            .unwrap()
    );
    let h = households_of(&s, old)[0].id;
    head.gw
        .update::<Household>(h, |h| h.phone = Some("13905710002".into()))
        .unwrap();
    let report = head.sync().await;
    assert_eq!(report.rejected, 1);
    let refused = only_refused(&head, h);
    assert_eq!(refused.code, "forbidden");
    assert!(
        refused.reason.contains("outside your building"),
        "{refused:?}"
    );
    assert!(
        !format!("{refused:?}").contains("13905710002"),
        "no value listed"
    );
    assert!(head.gw.record_state(h).unwrap().is_none(), "evicted");
    for r in s.residents.iter().filter(|r| r.household_id == h) {
        assert!(
            head.gw.record_state(r.id).unwrap().is_none(),
            "its residents go with it"
        );
    }
    // The new building's households are on the phone; re-doing the old edit is refused here.
    assert!(
        head.gw
            .get::<Household>(households_of(&s, new)[0].id)
            .is_ok()
    );
    assert!(head.gw.redo_refused(refused.op_id).is_err());
    converged(&server, &head, Role::BuildingHead, vec![new]).await;
}

/// Validation: a building head and a gridworker each give a unit of the building the same new
/// number offline; the second to arrive is refused and its record returns to the server's
/// value, not evicted. Re-done after the first is corrected, it goes through.
async fn validation<S: Storage>(server: Server<S>) {
    let (_admin, s) = seeded(&server).await;
    let b = s.buildings[0].clone();
    let (head, _) = server.phone("赵磊", Role::BuildingHead, vec![b.id]).await;
    let (wang, _) = server
        .phone("王芳", Role::Gridworker, vec![b.grid_id])
        .await;
    let rooms = households_of(&s, b.id);
    let (first, second) = (rooms[0].clone(), rooms[1].clone());
    wang.gw
        .update::<Household>(first.id, |h| h.unit = "9-901".into())
        .unwrap();
    head.gw
        .update::<Household>(second.id, |h| h.unit = "9-901".into())
        .unwrap();
    wang.sync().await;
    let report = head.sync().await;
    assert_eq!(report.rejected, 1);
    let refused = only_refused(&head, second.id);
    assert_eq!(refused.code, "invalid");
    assert!(refused.change.contains("unit"), "{refused:?}");
    assert!(
        refused.reason.starts_with("a value was refused"),
        "{refused:?}"
    );
    assert_eq!(
        head.gw.get::<Household>(second.id).unwrap().unit,
        second.unit,
        "back to the server's value"
    );
    assert_eq!(head.gw.get::<Household>(first.id).unwrap().unit, "9-901");
    // 王芳 gives the first room its old number back; the head re-does the refused change.
    wang.gw
        .update::<Household>(first.id, |h| h.unit = first.unit.clone())
        .unwrap();
    wang.sync().await;
    head.sync().await;
    let redone = head.gw.redo_refused(refused.op_id).unwrap();
    assert_ne!(redone, refused.op_id, "a new change");
    assert!(head.gw.refused_changes().unwrap().is_empty());
    head.sync().await;
    wang.sync().await;
    assert_eq!(wang.gw.get::<Household>(second.id).unwrap().unit, "9-901");
    converged(&server, &head, Role::BuildingHead, vec![b.id]).await;
    converged(&server, &wang, Role::Gridworker, vec![b.grid_id]).await;
}

/// Clock: a phone whose clock jumped a year ahead offline: its stamps are refused, stamped
/// again and resent in the same sync; nothing waits in the refused list.
async fn clock<S: Storage>(server: Server<S>) {
    let (_admin, s) = seeded(&server).await;
    let b = s.buildings[0].clone();
    let (wang, _) = server
        .phone("王芳", Role::Gridworker, vec![b.grid_id])
        .await;
    let h = households_of(&s, b.id)[0].id;
    wang.advance_ms(YEAR_MS);
    wang.gw
        .update::<Household>(h, |h| h.phone = Some("13700000001".into()))
        .unwrap();
    let report = wang.sync().await;
    assert!(report.restamped >= 1, "{report:?}");
    assert_eq!(report.rejected, 0, "{report:?}");
    assert!(wang.gw.refused_changes().unwrap().is_empty());
    let phone = wang.gw.get::<Household>(h).unwrap().phone;
    assert_eq!(phone.as_deref(), Some("13700000001"));
    converged(&server, &wang, Role::Gridworker, vec![b.grid_id]).await;
}

macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::sqlite().await).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(role, scope, validation, clock);
