//! Roles and scopes through the real server (issue 4): each phone holds exactly what its user
//! may see, nothing leaks in any snapshot, pull or long-poll answer, every forbidden write is
//! refused with its reason, and a redraw of the grids moves records between phones without a
//! re-bootstrap and without losing anything typed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::sync::transport::Sized;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions, Transport, TransportError};
use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::scope::visible;
use gridwork_domain::sync::*;
use gridwork_domain::workflow::{CaseAction, CaseEvent, DefenceLevel};
use gridwork_server::storage::{PlacedRecord, Storage, User};
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

/// Every answer a phone received, kept to look for leaks.
#[derive(Default)]
struct Answers {
    /// Records in snapshot pages and gained records in pull pages.
    records: Vec<gridwork_domain::merge::RecordState>,
    /// Operations in pull pages.
    ops: Vec<Op>,
    /// Case events that came with records.
    events: Vec<CaseEvent>,
    /// The ids of the records in snapshot pages (whole or restricted to some scope entries).
    snapshot_ids: Vec<Id>,
    /// Snapshot pages asked for part of the scope (`?scope=`).
    restricted_snapshots: usize,
    pulls: usize,
    snapshots: usize,
}

/// The real transport, recording what comes back.
struct Recording {
    inner: HttpTransport,
    seen: Mutex<Answers>,
}

impl Transport for Recording {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        self.inner.enroll(req).await
    }

    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        self.inner.push(req).await
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let answer = self.inner.pull(after, limit, wait_s).await?;
        let mut seen = self.seen.lock().unwrap();
        seen.pulls += 1;
        seen.ops
            .extend(answer.value.ops.iter().map(|s| s.op.clone()));
        seen.records.extend(answer.value.records.iter().cloned());
        seen.events.extend(answer.value.events.iter().cloned());
        Ok(answer)
    }

    async fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let answer = self.inner.snapshot(after, limit).await?;
        self.saw_snapshot(&answer.value);
        Ok(answer)
    }

    async fn snapshot_of(
        &self,
        after: Option<Id>,
        limit: usize,
        entries: &[Id],
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let answer = self.inner.snapshot_of(after, limit, entries).await?;
        self.seen.lock().unwrap().restricted_snapshots += 1;
        self.saw_snapshot(&answer.value);
        Ok(answer)
    }

    fn set_token(&self, token: Option<String>) {
        self.inner.set_token(token)
    }
}

impl Recording {
    fn saw_snapshot(&self, page: &SnapshotResponse) {
        let mut seen = self.seen.lock().unwrap();
        seen.snapshots += 1;
        seen.records.extend(page.records.iter().cloned());
        seen.events.extend(page.events.iter().cloned());
        seen.snapshot_ids.extend(page.records.iter().map(|r| r.id));
    }
}

/// A user's phone with a recording transport.
struct Member {
    user: User,
    gw: Gridwork,
    net: Recording,
}

impl Member {
    async fn enroll(server: &TestServer, name: &str, role: Role, scope: Vec<Id>) -> Member {
        let user = server
            .storage
            .create_user(name.into(), role, scope)
            .await
            .unwrap();
        let code = server
            .storage
            .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
            .await
            .unwrap();
        let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let net = Recording {
            inner: HttpTransport::new(&server.url(), None).unwrap(),
            seen: Mutex::new(Answers::default()),
        };
        gw.enroll(&net, &code, name).await.unwrap();
        Member { user, gw, net }
    }

    async fn sync(&self) -> gridwork_core::SyncReport {
        self.gw.sync_now(&self.net).await.unwrap()
    }

    /// One live wait of up to `wait_s` seconds.
    async fn long_poll(&self, wait_s: u64) -> gridwork_core::SyncReport {
        self.gw.wait_for_changes(&self.net, wait_s).await.unwrap()
    }

    /// Pushes hand-made operations with this phone's credentials, as a modified app could:
    /// the server must judge every one.
    async fn push_raw(&self, ops: Vec<Op>) -> Vec<PushOutcome> {
        let answer = self.net.push(&PushRequest { ops }).await.unwrap();
        answer
            .value
            .results
            .into_iter()
            .map(|r| r.outcome)
            .collect()
    }

    fn set(&self, kind: EntityKind, id: Id, field: &str, value: serde_json::Value) -> Op {
        let stamp = self.stamp();
        Op {
            id: Uuid::now_v7(),
            stamp,
            entity: kind,
            entity_id: id,
            body: OpBody::Set {
                fields: BTreeMap::from([(field.to_string(), FieldWrite { value, base: None })]),
            },
        }
    }

    fn event(&self, case: Id, action: CaseAction) -> Op {
        let stamp = self.stamp();
        Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: Uuid::now_v7(),
                    case_id: case,
                    stamp,
                    actor: Some(self.user.id),
                    action,
                },
            },
        }
    }

    fn stamp(&self) -> Stamp {
        // Later than anything the phone saw, so a refusal can only be about the scope.
        Stamp::new(
            Hlc::new(gridwork_server::clock::now_ms(), 7),
            self.gw.device_id(),
        )
    }

    /// The ids of every record the phone holds.
    fn held(&self) -> BTreeSet<Id> {
        self.gw.record_ids().unwrap().into_iter().collect()
    }
}

/// The server's records with their places.
async fn stored(server: &TestServer) -> Vec<PlacedRecord> {
    server
        .storage
        .record_rows(None, None, 1_000_000)
        .await
        .unwrap()
        .records
}

/// What the rule says `user` may hold, over the server's records.
async fn expected(server: &TestServer, user: &User) -> BTreeSet<Id> {
    let view = server.storage.scope_view(user).await.unwrap();
    stored(server)
        .await
        .into_iter()
        .filter(|r| r.place.as_ref().is_some_and(|p| visible(&view, p)))
        .map(|r| r.state.id)
        .collect()
}

/// Checks every answer the phone received against the rule: no record and no operation about
/// a record outside the user's scope, and no ID number for a crew.
async fn assert_no_leak(server: &TestServer, m: &Member) -> usize {
    let allowed = expected(server, &m.user).await;
    let seen = m.net.seen.lock().unwrap();
    let mut checked = 0;
    for r in &seen.records {
        assert!(
            allowed.contains(&r.id),
            "{}'s phone received a {} outside its scope",
            m.user.name,
            r.kind.as_str()
        );
        if m.user.role == Role::FireCrew {
            assert!(
                !r.fields.contains_key("id_number"),
                "a crew got an ID number"
            );
        }
        checked += 1;
    }
    for op in &seen.ops {
        assert!(
            allowed.contains(&op.entity_id),
            "{}'s phone received an operation on a {} outside its scope",
            m.user.name,
            op.entity.as_str()
        );
        if m.user.role == Role::FireCrew
            && let OpBody::Set { fields } = &op.body
        {
            assert!(!fields.contains_key("id_number"), "a crew got an ID number");
        }
        checked += 1;
    }
    for e in &seen.events {
        assert!(allowed.contains(&e.case_id));
        checked += 1;
    }
    checked
}

fn rejected_forbidden(outcome: &PushOutcome) -> Option<&str> {
    match outcome {
        PushOutcome::Rejected {
            code: RejectCode::Forbidden,
            message,
        } => Some(message),
        _ => None,
    }
}

fn accepted(outcome: &PushOutcome) -> bool {
    matches!(outcome, PushOutcome::Accepted { .. })
}

const SIZE: SeedSize = SeedSize {
    grid_layers: 1,
    communities: 2,
    grids: 2,
    buildings: 3,
    households: 2,
    stations: 1,
};

/// Two subdistricts seeded by the operator, and a few cases: a hazard in a building, an alarm
/// dispatched to the first community's station, one dispatched to the other's, a dispute taken
/// to the village secretary.
struct City {
    operator: Device,
    main: Seeded,
    other: Seeded,
    hazard: Id,
    our_alarm: Id,
    their_alarm: Id,
    dispute: Id,
}

async fn city(server: &TestServer) -> City {
    let operator = Device::enrolled(server, "运维", Role::Admin, vec![]).await;
    operator.sync().await;
    let main = seed_subdistrict(&operator.gw, 7, SIZE, |_, _| {}).unwrap();
    let other = seed_subdistrict(&operator.gw, 99, SIZE, |_, _| {}).unwrap();
    let b0 = &main.buildings[0];
    let case = |kind, title: &str, area: Id, building: Option<&Building>| Case {
        id: Uuid::nil(),
        kind,
        title: title.into(),
        category: "test".into(),
        severity: Severity::High,
        area_id: area,
        building_id: building.map(|b| b.id),
        household_id: None,
        position: building.and_then(|b| b.position),
        opened_at_ms: 0,
        patrol_id: None,
    };
    let hazard = operator
        .gw
        .open_case(case(CaseKind::Hazard, "楼道堆物", b0.grid_id, Some(b0)))
        .unwrap()
        .case
        .id;
    let our_alarm = operator
        .gw
        .raise_alarm(b0.id, "闻到烟味", "smoke", None)
        .unwrap()
        .case
        .id;
    let far = main
        .buildings
        .iter()
        .find(|b| b.station_id != b0.station_id)
        .expect("a building of the other community");
    let their_alarm = operator
        .gw
        .raise_alarm(far.id, "冒烟", "smoke", None)
        .unwrap()
        .case
        .id;
    let dispute = operator
        .gw
        .open_case(case(CaseKind::Dispute, "邻里噪音纠纷", b0.grid_id, None))
        .unwrap()
        .case
        .id;
    operator
        .gw
        .record_case_event(
            dispute,
            CaseAction::Mediate {
                level: DefenceLevel::Gridworker,
            },
        )
        .unwrap();
    operator
        .gw
        .record_case_event(
            dispute,
            CaseAction::Escalate {
                to: DefenceLevel::VillageSecretary,
                reason: "网格内调解未果".into(),
            },
        )
        .unwrap();
    operator.sync().await;
    City {
        operator,
        main,
        other,
        hazard,
        our_alarm,
        their_alarm,
        dispute,
    }
}

fn grid_of(seeded: &Seeded, building: Id) -> Id {
    seeded
        .buildings
        .iter()
        .find(|b| b.id == building)
        .unwrap()
        .grid_id
}

fn community_of(seeded: &Seeded, grid: Id) -> Id {
    seeded
        .grids
        .iter()
        .find(|g| g.id == grid)
        .unwrap()
        .parent_id
        .unwrap()
}

#[tokio::test]
async fn each_role_holds_exactly_its_scope_and_nothing_leaks_in_any_answer() {
    let server = TestServer::start().await;
    let c = city(&server).await;
    let b0 = c.main.buildings[0].clone();
    let grid0 = b0.grid_id;
    let station0 = b0.station_id.unwrap();
    let community0 = community_of(&c.main, grid0);
    let sub = c.main.subdistrict.as_ref().unwrap().id;
    let other_sub = c.other.subdistrict.as_ref().unwrap().id;

    let cast = [
        ("王芳", Role::Gridworker, vec![grid0]),
        ("赵磊", Role::BuildingHead, vec![b0.id]),
        ("一队", Role::FireCrew, vec![station0]),
        ("陈静", Role::Dispatcher, vec![sub]),
        ("周杰", Role::Mediator, vec![community0]),
        ("区管理员", Role::Admin, vec![other_sub]),
    ];
    let mut members = Vec::new();
    for (name, role, scope) in cast {
        let m = Member::enroll(&server, name, role, scope).await;
        m.sync().await;
        members.push(m);
    }

    // Hand-checked expectations, not only the rule: the gridworker holds every household of
    // their grid and no other; the head their building's; the crew the alarm dispatched to it
    // and not the other one, with residents but no ID numbers; the mediator the dispute only.
    let [worker, head, crew, dispatcher, mediator, local_admin] = &members[..] else {
        unreachable!()
    };
    let in_grid: BTreeSet<Id> = c
        .main
        .households
        .iter()
        .filter(|h| grid_of(&c.main, h.building_id) == grid0)
        .map(|h| h.id)
        .collect();
    let held = worker.held();
    for h in &c.main.households {
        assert_eq!(held.contains(&h.id), in_grid.contains(&h.id));
    }
    assert!(held.contains(&c.hazard) && held.contains(&c.our_alarm));
    assert!(!held.contains(&c.their_alarm));
    assert!(!c.other.households.iter().any(|h| held.contains(&h.id)));

    let held = head.held();
    for h in &c.main.households {
        assert_eq!(held.contains(&h.id), h.building_id == b0.id);
    }
    assert!(held.contains(&c.hazard));
    assert!(
        !held.contains(&c.dispute),
        "a dispute in the square is not the building's"
    );

    let held = crew.held();
    assert!(held.contains(&c.our_alarm) && !held.contains(&c.their_alarm));
    assert!(!held.contains(&c.hazard));
    let crew_residents: Vec<_> = crew
        .held()
        .into_iter()
        .filter_map(|id| crew.gw.record_state(id).unwrap())
        .filter(|r| r.kind == EntityKind::Resident)
        .collect();
    assert!(!crew_residents.is_empty(), "the crew knows who lives there");
    assert!(
        crew_residents
            .iter()
            .all(|r| !r.fields.contains_key("id_number")),
        "but not their ID numbers"
    );

    let held = dispatcher.held();
    assert!(c.main.households.iter().all(|h| held.contains(&h.id)));
    assert!(!c.other.households.iter().any(|h| held.contains(&h.id)));

    let held = mediator.held();
    assert!(held.contains(&c.dispute));
    assert!(!held.contains(&c.hazard) && !held.contains(&c.our_alarm));
    assert!(!c.main.households.iter().any(|h| held.contains(&h.id)));

    let held = local_admin.held();
    assert!(c.other.households.iter().all(|h| held.contains(&h.id)));
    assert!(!c.main.households.iter().any(|h| held.contains(&h.id)));

    // Changes out of scope while every phone waits on the live long poll: a household in the
    // other community of the subdistrict (only the dispatcher's) and one in the other
    // subdistrict (only its admin's). The four others must not be woken with anything; the
    // dispatcher and the admin each get exactly their one change, and no answer of the six
    // carries anything outside its scope.
    let far_building = |b: &&Building| community_of(&c.main, b.grid_id) != community0;
    let far_building = c.main.buildings.iter().find(far_building).unwrap();
    assert_ne!(far_building.station_id, Some(station0));
    let far_household = c
        .main
        .households
        .iter()
        .find(|h| h.building_id == far_building.id)
        .unwrap()
        .id;
    let other_household = c.other.households[1].id;
    c.operator
        .gw
        .update::<Household>(far_household, |h| h.phone = Some("13800001111".into()))
        .unwrap();
    c.operator
        .gw
        .update::<Household>(other_household, |h| h.phone = Some("13800002222".into()))
        .unwrap();
    let before: Vec<usize> = members
        .iter()
        .map(|m| m.net.seen.lock().unwrap().ops.len())
        .collect();
    let (polls, ()) = tokio::join!(
        async {
            tokio::join!(
                worker.long_poll(2),
                head.long_poll(2),
                crew.long_poll(2),
                dispatcher.long_poll(2),
                mediator.long_poll(2),
                local_admin.long_poll(2)
            )
        },
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.operator.sync().await;
        }
    );
    let reports = [polls.0, polls.1, polls.2, polls.3, polls.4, polls.5];
    for ((m, report), from) in members.iter().zip(&reports).zip(before) {
        let seen = m.net.seen.lock().unwrap();
        let ops: Vec<Id> = seen.ops[from..].iter().map(|op| op.entity_id).collect();
        let mine = match m.user.role {
            Role::Dispatcher => vec![far_household],
            Role::Admin => vec![other_household],
            _ => vec![],
        };
        assert_eq!(ops, mine, "{}'s long poll got only its own", m.user.name);
        assert_eq!(report.pulled, mine.len() as u64, "{}", m.user.name);
        assert_eq!(report.gained + report.evicted, 0, "{}", m.user.name);
    }
    assert!(checked_before_alarm(&server, &members).await > 100);
    let crew_gw = &crew.gw;
    let crew_net = &crew.net;
    let waiting = async { crew_gw.wait_for_changes(crew_net, 20).await.unwrap() };
    let (report, alarm) = tokio::join!(waiting, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let alarm = c
            .operator
            .gw
            .raise_alarm(b0.id, "二次火警", "smoke", None)
            .unwrap()
            .case
            .id;
        c.operator.sync().await;
        alarm
    });
    assert!(
        report.gained >= 1,
        "the dispatched alarm came whole: {report:?}"
    );
    assert!(crew.gw.record_state(alarm).unwrap().is_some());

    // An alarm in a building another station serves, sent to this crew (its own station is
    // out, or the nearest one was called): the crew gains the alarm and the building on the
    // live long poll, but not the building's households and residents.
    let elsewhere = c
        .main
        .buildings
        .iter()
        .rev()
        .find(|b| b.station_id != Some(station0))
        .expect("a building another station serves")
        .clone();
    assert!(!crew.held().contains(&elsewhere.id));
    let waiting = async { crew_gw.wait_for_changes(crew_net, 20).await.unwrap() };
    let (report, sent_here) = tokio::join!(waiting, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let alarm = c
            .operator
            .gw
            .open_case(Case {
                id: Uuid::nil(),
                kind: CaseKind::Alarm,
                title: "三楼冒烟".into(),
                category: "smoke".into(),
                severity: Severity::High,
                area_id: elsewhere.grid_id,
                building_id: Some(elsewhere.id),
                household_id: None,
                position: elsewhere.position,
                opened_at_ms: 0,
                patrol_id: None,
            })
            .unwrap()
            .case
            .id;
        c.operator
            .gw
            .record_case_event(
                alarm,
                CaseAction::Dispatch {
                    station_id: station0,
                },
            )
            .unwrap();
        c.operator.sync().await;
        alarm
    });
    assert!(report.gained >= 2, "the alarm and its building: {report:?}");
    let held = crew.held();
    assert!(held.contains(&sent_here), "the alarm sent to the crew");
    assert!(held.contains(&elsewhere.id), "and the building it is in");
    assert!(
        !c.main
            .households
            .iter()
            .any(|h| h.building_id == elsewhere.id && held.contains(&h.id)),
        "but not the households of another station's building"
    );
    for m in &members {
        m.sync().await;
    }

    // Exactly the scope, all of it, and no answer ever carried anything else.
    let mut checked = 0;
    for m in &members {
        assert_eq!(
            m.held(),
            expected(&server, &m.user).await,
            "{} holds exactly their scope",
            m.user.name
        );
        checked += assert_no_leak(&server, m).await;
    }
    assert!(checked > 100, "the leak check looked at {checked} items");

    // What each phone offers, by the rule the server enforces: the dispatcher every step the
    // hazard's state allows, the gridworker the field steps, the building head none (notes and
    // photos only), the crew the alarm's crew steps and nothing the command centre does.
    let all_steps = dispatcher.gw.available_actions(c.hazard).unwrap();
    assert!(!all_steps.is_empty());
    let worker_steps = worker.gw.available_actions(c.hazard).unwrap();
    assert!(worker_steps.iter().all(|s| all_steps.contains(s)));
    assert!(!worker_steps.contains(&"review"), "{worker_steps:?}");
    assert_eq!(
        head.gw.available_actions(c.hazard).unwrap(),
        Vec::<&str>::new()
    );
    let crew_steps = crew.gw.available_actions(c.our_alarm).unwrap();
    assert!(!crew_steps.is_empty());
    assert!(
        crew_steps
            .iter()
            .all(|s| ["acknowledge", "en_route", "arrive", "resolve"].contains(s)),
        "{crew_steps:?}"
    );
    assert!(
        dispatcher
            .gw
            .available_actions(c.our_alarm)
            .unwrap()
            .iter()
            .any(|s| !crew_steps.contains(s)),
        "the centre has steps the crew does not"
    );

    // Writes inside and outside each scope.
    let other_household = c.other.households[0].id;
    let next_door = c
        .main
        .households
        .iter()
        .find(|h| grid_of(&c.main, h.building_id) != grid0)
        .unwrap()
        .id;
    let mine = c
        .main
        .households
        .iter()
        .find(|h| h.building_id == b0.id)
        .unwrap()
        .id;
    let new_area = |m: &Member, parent: Id| {
        let id = Uuid::now_v7();
        let stamp = m.stamp();
        let fields = json!({
            "level": "grid", "code": "330106001099099", "name": "新网格", "parent_id": parent
        });
        Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Area,
            entity_id: id,
            body: OpBody::Set {
                fields: fields
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            FieldWrite {
                                value: v.clone(),
                                base: None,
                            },
                        )
                    })
                    .collect(),
            },
        }
    };
    let phone = |n: u32| json!(format!("1380000{n:04}"));
    let community = community_of(&c.main, grid0);

    // (who, operation, allowed?) — every refusal must be `forbidden` with a reason.
    let cases: Vec<(&Member, Op, bool, &str)> = vec![
        (
            worker,
            worker.set(EntityKind::Household, mine, "phone", phone(1)),
            true,
            "own grid",
        ),
        (
            worker,
            worker.set(EntityKind::Household, next_door, "phone", phone(2)),
            false,
            "next grid",
        ),
        (
            worker,
            new_area(worker, community),
            false,
            "areas are the operator's",
        ),
        (
            worker,
            worker.event(c.hazard, CaseAction::Review),
            false,
            "reviewing is the centre's",
        ),
        (
            head,
            head.set(EntityKind::Household, mine, "phone", phone(3)),
            true,
            "own building",
        ),
        (
            head,
            head.set(EntityKind::Household, next_door, "phone", phone(4)),
            false,
            "next building",
        ),
        (head, head.event(c.hazard, CaseAction::Fix), false, "status"),
        (
            head,
            head.event(
                c.hazard,
                CaseAction::Note {
                    text: "已提醒".into(),
                },
            ),
            true,
            "a note",
        ),
        (
            crew,
            crew.event(c.our_alarm, CaseAction::Acknowledge),
            true,
            "its alarm",
        ),
        (
            crew,
            crew.event(c.their_alarm, CaseAction::Acknowledge),
            false,
            "another station's",
        ),
        (
            crew,
            crew.set(EntityKind::Household, mine, "phone", phone(5)),
            false,
            "households",
        ),
        (
            crew,
            crew.event(c.hazard, CaseAction::Note { text: "x".into() }),
            false,
            "a hazard",
        ),
        (
            dispatcher,
            dispatcher.set(EntityKind::Household, next_door, "phone", phone(6)),
            true,
            "its subdistrict",
        ),
        (
            dispatcher,
            dispatcher.set(EntityKind::Household, other_household, "phone", phone(7)),
            false,
            "another subdistrict",
        ),
        (dispatcher, new_area(dispatcher, community), false, "areas"),
        (
            mediator,
            mediator.event(
                c.dispute,
                CaseAction::Note {
                    text: "约双方周三面谈".into(),
                },
            ),
            true,
            "its dispute",
        ),
        (
            mediator,
            mediator.event(c.hazard, CaseAction::Note { text: "x".into() }),
            false,
            "a hazard",
        ),
        (
            mediator,
            mediator.set(EntityKind::Household, mine, "phone", phone(8)),
            false,
            "households",
        ),
        (
            local_admin,
            local_admin.set(EntityKind::Household, other_household, "phone", phone(9)),
            true,
            "its district",
        ),
        (
            local_admin,
            local_admin.set(EntityKind::Household, mine, "phone", phone(10)),
            false,
            "outside its areas",
        ),
        (
            local_admin,
            new_area(local_admin, community_of(&c.other, c.other.grids[0].id)),
            true,
            "a new grid in its subdistrict",
        ),
        (
            local_admin,
            new_area(local_admin, community),
            false,
            "a new grid outside its areas",
        ),
    ];
    let mut refused = 0;
    for (m, op, allowed, what) in cases {
        // The phone judges the operation with the same rule, on its own copies, before the
        // server does: what the app offers is what the server accepts.
        let predicted = m.gw.may_apply(&op).unwrap();
        assert_eq!(
            predicted.is_allowed(),
            allowed,
            "{} / {what}: the phone predicted {predicted:?}",
            m.user.name
        );
        let outcome = m.push_raw(vec![op]).await.remove(0);
        if allowed {
            assert!(accepted(&outcome), "{} / {what}: {outcome:?}", m.user.name);
        } else {
            let reason = rejected_forbidden(&outcome).unwrap_or_else(|| {
                panic!("{} / {what} must be forbidden: {outcome:?}", m.user.name)
            });
            assert!(reason.len() > 10, "a reason is given: {reason}");
            refused += 1;
        }
    }
    assert_eq!(refused, 14);
}

#[tokio::test]
async fn a_grid_redraw_moves_records_between_phones_online_and_offline_and_loses_nothing() {
    let server = TestServer::start().await;
    let c = city(&server).await;
    let grids: Vec<Id> = c.main.grids.iter().map(|g| g.id).collect();
    let (ga, gb) = (grids[0], grids[1]);
    let in_grid = |g: Id| -> Vec<Building> {
        c.main
            .buildings
            .iter()
            .filter(|b| b.grid_id == g)
            .cloned()
            .collect()
    };
    let (a_buildings, b_buildings) = (in_grid(ga), in_grid(gb));
    let sub = c.main.subdistrict.as_ref().unwrap().id;

    let online = Member::enroll(&server, "在线网格员", Role::Gridworker, vec![ga]).await;
    let offline = Member::enroll(&server, "离线网格员", Role::Gridworker, vec![gb]).await;
    let head = Member::enroll(&server, "楼长", Role::BuildingHead, vec![a_buildings[0].id]).await;
    let centre = Member::enroll(&server, "调度员", Role::Dispatcher, vec![sub]).await;
    for m in [&online, &offline, &head, &centre] {
        m.sync().await;
    }

    // The offline gridworker edits a household of a building about to leave their grid, and
    // one that stays: neither may be lost.
    let leaving = b_buildings[0].clone();
    let staying = b_buildings[1].clone();
    let hh = |b: &Building| {
        c.main
            .households
            .iter()
            .find(|h| h.building_id == b.id)
            .unwrap()
            .id
    };
    offline
        .gw
        .update::<Household>(hh(&leaving), |h| h.phone = Some("13911110000".into()))
        .unwrap();
    offline
        .gw
        .update::<Household>(hh(&staying), |h| h.phone = Some("13922220000".into()))
        .unwrap();

    // The centre redraws: a building of A goes to B, one of B goes to A (the 29 → 42 kind of
    // change), the online phone syncing in between.
    centre
        .gw
        .update::<Building>(a_buildings[0].id, |b| {
            b.grid_id = gb;
            b.micro_grid_id = None;
        })
        .unwrap();
    centre.sync().await;
    let r = online.sync().await;
    assert!(r.evicted > 0, "the online phone purged what left: {r:?}");
    centre
        .gw
        .update::<Building>(leaving.id, |b| {
            b.grid_id = ga;
            b.micro_grid_id = None;
        })
        .unwrap();
    centre.sync().await;
    let r = online.sync().await;
    assert!(
        r.gained > 0,
        "and received what came, without a new snapshot: {r:?}"
    );
    assert_eq!(r.snapshot_records, 0);

    // The offline phone comes back: its edit of the building that left is pushed and refused
    // (kept and shown with the reason), the other accepted; it purges what left and gains
    // what came. Nothing it receives on the way lies outside its new scope.
    *offline.net.seen.lock().unwrap() = Answers::default();
    let r = offline.sync().await;
    assert!(assert_no_leak(&server, &offline).await > 0);
    assert_eq!(r.pushed, 1);
    assert_eq!(r.rejected, 1);
    let refused = offline.gw.rejected_ops().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].op.entity_id, hh(&leaving));
    let reason = refused[0].rejected.as_deref().unwrap_or_default();
    assert!(reason.starts_with("forbidden"), "{reason}");
    assert!(r.evicted > 0 && r.gained > 0, "{r:?}");
    assert_eq!(
        centre_value(&centre, hh(&staying)).await,
        Some("13922220000".into())
    );

    // Everyone converges to exactly their new scope: what a fresh phone with the same scope
    // receives, and what the rule says.
    for m in [&online, &offline, &head, &centre] {
        m.sync().await;
    }
    for (m, role, scope) in [
        (&online, Role::Gridworker, vec![ga]),
        (&offline, Role::Gridworker, vec![gb]),
        (&head, Role::BuildingHead, vec![a_buildings[0].id]),
        (&centre, Role::Dispatcher, vec![sub]),
    ] {
        let fresh = Member::enroll(&server, "核对", role, scope).await;
        fresh.sync().await;
        assert_eq!(m.held(), fresh.held(), "{}", m.user.name);
        assert_eq!(
            m.gw.state_digest().unwrap(),
            fresh.gw.state_digest().unwrap()
        );
        assert_eq!(m.held(), expected(&server, &m.user).await);
    }
    // The moved building is on A's phone now, with its households; B's kept what stayed.
    assert!(online.held().contains(&leaving.id));
    assert!(online.held().contains(&hh(&leaving)));
    assert!(!offline.held().contains(&leaving.id));
    assert!(offline.held().contains(&hh(&staying)));
    // The building head kept their building wherever its grid went.
    assert!(head.held().contains(&a_buildings[0].id));

    // An administrator gives the online gridworker grid B as well: the phone fetches what B
    // gives and only that (a snapshot restricted to the new entry), purging nothing.
    let held_before = online.held();
    let gb_only = Member::enroll(&server, "核对B", Role::Gridworker, vec![gb]).await;
    let b_gives = expected(&server, &gb_only.user).await;
    assert!(
        server
            .storage
            .set_user_scope(online.user.id, vec![ga, gb])
            .await
            .unwrap()
    );
    *online.net.seen.lock().unwrap() = Answers::default();
    let r = online.sync().await;
    let received: BTreeSet<Id> = {
        let seen = online.net.seen.lock().unwrap();
        assert!(seen.restricted_snapshots > 0, "a restricted snapshot");
        seen.snapshot_ids.iter().copied().collect()
    };
    assert_eq!(received, b_gives, "exactly what grid B gives");
    assert_eq!(r.snapshot_records, b_gives.len() as u64, "{r:?}");
    assert!(
        received
            .iter()
            .all(|id| !held_before.contains(id) || is_area_or_station(&online, *id)),
        "nothing it held came again but the areas and stations above both grids"
    );
    assert_eq!(r.evicted, 0, "{r:?}");
    let now = server.storage.user(online.user.id).await.unwrap().unwrap();
    assert_eq!(online.held(), expected(&server, &now).await);
    let fresh = Member::enroll(&server, "核对AB", Role::Gridworker, vec![ga, gb]).await;
    fresh.sync().await;
    assert_eq!(online.held(), fresh.held());
    assert_eq!(
        online.gw.state_digest().unwrap(),
        fresh.gw.state_digest().unwrap()
    );

    // Then grid B alone: nothing to fetch, A's records purged on the phone.
    assert!(
        server
            .storage
            .set_user_scope(online.user.id, vec![gb])
            .await
            .unwrap()
    );
    let r = online.sync().await;
    assert_eq!(r.snapshot_records, 0, "{r:?}");
    assert!(r.evicted > 0, "{r:?}");
    gb_only.sync().await;
    assert_eq!(online.held(), gb_only.held());
    assert_eq!(
        online.gw.state_digest().unwrap(),
        gb_only.gw.state_digest().unwrap()
    );

    // The restriction narrows, never widens: entries outside the user's scope are ignored
    // (nothing at all when none is theirs), and what comes lies inside the scope.
    let other_grid = c.other.grids[0].id;
    let page = online
        .net
        .inner
        .snapshot_of(None, 2000, &[ga, other_grid])
        .await
        .unwrap()
        .value;
    assert!(page.records.is_empty(), "grid A is not theirs any more");
    let page = online
        .net
        .inner
        .snapshot_of(None, 2000, &[other_grid, gb])
        .await
        .unwrap()
        .value;
    let now = server.storage.user(online.user.id).await.unwrap().unwrap();
    let allowed = expected(&server, &now).await;
    assert!(!page.records.is_empty());
    assert!(page.records.iter().all(|r| allowed.contains(&r.id)));
    let root = c
        .operator
        .net
        .snapshot_of(None, 2000, &[gb])
        .await
        .unwrap()
        .value;
    assert!(
        root.records.is_empty(),
        "an admin seeing everything names no entry of its (empty) scope"
    );
    let token = online.gw.token().unwrap().unwrap();
    let status = status_of_get(&server.url(), "/v1/snapshot?scope=grid-b", &token).await;
    assert_eq!(
        status, 400,
        "a scope that is not a list of ids is bad input"
    );
}

/// The status code of a plain HTTP/1.1 GET to `path` with a bearer token.
async fn status_of_get(base: &str, path: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let head = String::from_utf8_lossy(&answer);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Whether the phone holds `id` as an area or a station (the read-only path above a scope).
fn is_area_or_station(m: &Member, id: Id) -> bool {
    m.gw.record_state(id)
        .unwrap()
        .is_some_and(|r| matches!(r.kind, EntityKind::Area | EntityKind::Station))
}

/// [`assert_no_leak`] over every phone; returns how many items were checked.
async fn checked_before_alarm(server: &TestServer, members: &[Member]) -> usize {
    let mut checked = 0;
    for m in members {
        checked += assert_no_leak(server, m).await;
    }
    checked
}

/// The phone field of a household as the centre's phone holds it after a sync.
async fn centre_value(centre: &Member, household: Id) -> Option<String> {
    centre.sync().await;
    centre.gw.get::<Household>(household).unwrap().phone
}
