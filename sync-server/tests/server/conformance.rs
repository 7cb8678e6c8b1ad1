//! The storage conformance suite: generic over [`Storage`], so every backend runs the same
//! checks. Each check is an `async fn` taking the backend; `conformance_for!` makes one
//! `#[tokio::test]` per check for a backend: SQLite on a file in a temporary folder, PostgreSQL
//! on a database of its own (made on the server `./scripts/test.sh` starts, so the tests run in
//! parallel).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{Area, AreaLevel};
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::sync::{PushOutcome, RejectCode, Role};
use gridwork_domain::workflow::CaseAction;
use gridwork_server::clock;
use gridwork_server::rules::PushContext;
use gridwork_server::storage::{EnrollError, ReadCounts, ScopeFilter, Storage};
use serde_json::json;
use uuid::Uuid;

use crate::common::{Phone, accepted, city, rejected, town};

/// A gridworker's first sync: the whole town in one batch, numbered in order.
pub async fn a_batch_is_numbered_in_order_and_pulled_in_pages<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 3);
    let results = s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let seqs: Vec<u64> = results.iter().map(accepted).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(*s.subscribe().borrow(), *seqs.last().unwrap());

    let mut pulled = Vec::new();
    let mut cursor = 0;
    loop {
        let page = s.pull(cursor, 4, ScopeFilter::Everything).await.unwrap();
        assert!(page.ops.len() <= 4);
        pulled.extend(page.ops.iter().map(|o| (o.seq, o.op.clone())));
        cursor = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(pulled.iter().map(|(s, _)| *s).collect::<Vec<_>>(), seqs);
    assert_eq!(
        pulled.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
        town.ops
    );
    let empty = s.pull(cursor, 4, ScopeFilter::Everything).await.unwrap();
    assert!(empty.ops.is_empty() && !empty.more);
    assert_eq!(empty.next, cursor, "an empty page keeps the cursor");
}

/// The answer to a push was lost on a bad line; the phone sends the same batch again.
pub async fn a_retried_push_is_a_duplicate_with_the_same_seq<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 1);
    let first: Vec<u64> = s
        .push(phone.ctx(), town.ops.clone())
        .await
        .unwrap()
        .iter()
        .map(accepted)
        .collect();
    let again = s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    for (result, seq) in again.iter().zip(&first) {
        assert_eq!(result.outcome, PushOutcome::Duplicate { seq: *seq });
    }
    let log = s.pull(0, 1000, ScopeFilter::Everything).await.unwrap();
    assert_eq!(log.ops.len(), town.ops.len(), "nothing stored twice");
    // The same operation twice in one batch: the second is a duplicate of the first.
    let op = phone.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "unit": "1-302" }),
    );
    let both = s.push(phone.ctx(), vec![op.clone(), op]).await.unwrap();
    let seq = accepted(&both[0]);
    assert_eq!(both[1].outcome, PushOutcome::Duplicate { seq });
}

/// A guard against a hang, not a timing check: far longer than a wake-up ever takes.
const PATIENCE: Duration = Duration::from_secs(60);

/// A long poll waiting on `waiter`'s `subscribe()` is woken by a push stored through `pusher`
/// (the same storage, or another server process on the same database) and reads the new last
/// sequence number.
async fn a_push_through_wakes_a_waiting_subscriber<S: Storage>(waiter: &S, pusher: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 1);
    let first = pusher
        .push(phone.ctx(), town.ops[..2].to_vec())
        .await
        .unwrap();
    let before = accepted(&first[1]);
    // The waiter may have heard of the first push already, or not yet (another process).
    let mut latest = waiter.subscribe();
    let poll = tokio::spawn(async move {
        loop {
            latest.changed().await.expect("the storage is still open");
            let seen = *latest.borrow_and_update();
            if seen > before {
                return seen;
            }
        }
    });
    // Let the waiter park on `changed()` first (its receiver would still see a change made
    // before it got there; this makes the wake-up the thing tested).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!poll.is_finished(), "nothing new yet: the waiter waits");
    let results = pusher
        .push(phone.ctx(), town.ops[2..].to_vec())
        .await
        .unwrap();
    let last = accepted(results.last().unwrap());
    let woken = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("the push woke the waiter")
        .unwrap();
    assert_eq!(woken, last, "it reads the new last sequence number");
    assert_eq!(*waiter.subscribe().borrow(), last);
}

/// A phone's long poll waits on the storage's `subscribe()`: a push stored through the same
/// storage wakes it with the new last sequence number.
pub async fn a_stored_push_wakes_a_waiting_subscriber<S: Storage>(s: &S) {
    a_push_through_wakes_a_waiting_subscriber(s, s).await;
}

/// For backends that run as several processes on one database: a push stored by another
/// process wakes this one's waiter (on PostgreSQL, through LISTEN/NOTIFY).
pub async fn a_push_by_another_process_wakes_a_waiting_subscriber<S: Storage>(s: &S, other: &S) {
    a_push_through_wakes_a_waiting_subscriber(s, other).await;
}

/// A gridworker's pulls and snapshot cost what its grid holds, not what the city holds: with
/// nothing new a pull reads no row at all; with ten new operations in its grid (and ten in every
/// other grid) it reads at most two log rows and two index entries per operation delivered; its
/// snapshot reads at most two rows per record delivered. (Counted by the storage itself.)
pub async fn a_pull_and_a_snapshot_read_the_phones_scope_not_the_city<S: Storage>(s: &S) {
    let mut admin = Phone::offline();
    let city = city(&mut admin, 12, 3);
    for chunk in city.ops.chunks(400) {
        for r in s.push(admin.ctx(), chunk.to_vec()).await.unwrap() {
            accepted(&r);
        }
    }
    let user = s
        .create_user("王芳".into(), Role::Gridworker, vec![city.grids[0]])
        .await
        .unwrap();
    let view = s.scope_view(&user).await.unwrap();
    let mine = ScopeFilter::for_view(view);
    let cursor = s.log_end().await.unwrap();

    let before = s.read_counts();
    let quiet = s.pull(cursor, 1000, mine.clone()).await.unwrap();
    assert!(quiet.is_empty() && !quiet.more);
    assert_eq!(quiet.next, cursor);
    assert_eq!(
        s.read_counts().since(before),
        ReadCounts::default(),
        "nothing new: nothing read"
    );

    for (g, households) in city.households.iter().enumerate() {
        let edits: Vec<Op> = (0..10)
            .map(|i| {
                admin.set(
                    EntityKind::Household,
                    households[i % households.len()],
                    json!({ "unit": format!("{g}-{i}") }),
                )
            })
            .collect();
        for r in s.push(admin.ctx(), edits).await.unwrap() {
            accepted(&r);
        }
    }
    let before = s.read_counts();
    let news = s.pull(cursor, 1000, mine.clone()).await.unwrap();
    let read = s.read_counts().since(before);
    assert_eq!(news.ops.len(), 10, "its grid's ten, none of the others'");
    assert!(
        read.log_rows <= 2 * 10 && read.bucket_rows <= 2 * 10,
        "{read:?} for 10 operations delivered"
    );

    let before = s.read_counts();
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page = s.snapshot_page(after, 1000, mine.clone()).await.unwrap();
        records.extend(page.records.iter().map(|r| r.id));
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    let read = s.read_counts().since(before);
    let expected: HashSet<Uuid> = city.records[0].iter().copied().collect();
    let got: HashSet<Uuid> = records.iter().copied().collect();
    assert!(got.is_superset(&expected), "its grid's records");
    assert!(
        got.len() <= expected.len() + 4,
        "and the four areas above it, nothing else: {} records",
        got.len()
    );
    assert!(
        read.record_rows <= 2 * got.len() as u64 && read.bucket_rows <= 2 * got.len() as u64,
        "{read:?} for {} records delivered",
        got.len()
    );
}

/// Long polls registered on the buckets of their scopes: a push to one grid wakes that grid's
/// phone and the subdistrict's dispatcher, and none of the other grids' phones, on the process
/// that stored it and (through `waiter`, another process on the same database, or the same
/// storage) wherever they wait.
async fn a_push_wakes_only_the_polls_it_concerns<S: Storage>(waiter: &S, pusher: &S) {
    let mut admin = Phone::offline();
    let city = city(&mut admin, 8, 1);
    for r in pusher.push(admin.ctx(), city.ops.clone()).await.unwrap() {
        accepted(&r);
    }
    let mut polls = Vec::new();
    for grid in &city.grids {
        let user = waiter
            .create_user("网格员".into(), Role::Gridworker, vec![*grid])
            .await
            .unwrap();
        let view = waiter.scope_view(&user).await.unwrap();
        polls.push(
            waiter
                .wakeups()
                .register(ScopeFilter::for_view(view).buckets()),
        );
    }
    let dispatcher = waiter
        .create_user("调度员".into(), Role::Dispatcher, vec![city.subdistrict])
        .await
        .unwrap();
    let view = waiter.scope_view(&dispatcher).await.unwrap();
    let centre = waiter
        .wakeups()
        .register(ScopeFilter::for_view(view).buckets());
    assert_eq!(waiter.wakeups().waiting(), city.grids.len() + 1);

    let woken_before = waiter.wakeups().woken_total();
    let edit = admin.set(
        EntityKind::Household,
        city.households[3][0],
        json!({ "unit": "3-302" }),
    );
    let seq = accepted(&pusher.push(admin.ctx(), vec![edit]).await.unwrap()[0]);
    tokio::time::timeout(PATIENCE, polls[3].notified())
        .await
        .expect("grid 3's phone is woken");
    tokio::time::timeout(PATIENCE, centre.notified())
        .await
        .expect("the command centre is woken");
    assert!(polls[3].latest() >= seq);
    assert_eq!(
        waiter.wakeups().woken_total() - woken_before,
        2,
        "one push, two polls woken: the grid's phone and the centre"
    );
    for (g, poll) in polls.iter().enumerate() {
        if g != 3 {
            assert_eq!(poll.latest(), 0, "grid {g}'s phone was not woken");
        }
    }
    drop(polls);
    drop(centre);
    assert_eq!(waiter.wakeups().waiting(), 0);
}

pub async fn a_push_wakes_only_the_polls_of_its_buckets<S: Storage>(s: &S) {
    a_push_wakes_only_the_polls_it_concerns(s, s).await;
}

pub async fn a_push_by_another_process_wakes_only_the_polls_of_its_buckets<S: Storage>(
    s: &S,
    other: &S,
) {
    a_push_wakes_only_the_polls_it_concerns(s, other).await;
}

/// Each process caches token checks and users' views, keyed by the accounts version: it moves
/// when a device is revoked, a user's scope is replaced, or a push places anew a record that is
/// some user's scope entry (a building head's building redrawn into another grid: the head's
/// anchor changed); an ordinary edit leaves it, so the caches hold.
pub async fn the_accounts_version_moves_when_a_cached_view_may_be_wrong<S: Storage>(s: &S) {
    let mut admin = Phone::offline();
    let city = city(&mut admin, 2, 2);
    s.push(admin.ctx(), city.ops.clone()).await.unwrap();
    let building = city.records[0][1];
    let head = s
        .create_user("楼长".into(), Role::BuildingHead, vec![building])
        .await
        .unwrap();
    let code = s
        .create_enrollment_code(head.id, clock::now_ms())
        .await
        .unwrap();
    let device = Uuid::now_v7();
    s.enroll(code, device, "楼长的手机".into(), clock::now_ms())
        .await
        .unwrap();

    let v0 = s.accounts_version().await.unwrap();
    let edit = admin.set(
        EntityKind::Household,
        city.households[0][0],
        json!({ "unit": "1-302" }),
    );
    accepted(&s.push(admin.ctx(), vec![edit]).await.unwrap()[0]);
    assert_eq!(
        s.accounts_version().await.unwrap(),
        v0,
        "an edit keeps the caches"
    );

    let redrawn = admin.set(
        EntityKind::Building,
        building,
        json!({ "grid_id": city.grids[1] }),
    );
    accepted(&s.push(admin.ctx(), vec![redrawn]).await.unwrap()[0]);
    let v1 = s.accounts_version().await.unwrap();
    assert!(
        v1 > v0,
        "the head's building moved: its view must be read again"
    );

    assert!(s.set_user_scope(head.id, vec![building]).await.unwrap());
    let v2 = s.accounts_version().await.unwrap();
    assert!(v2 > v1, "a scope replaced");
    assert!(s.revoke_device(device, clock::now_ms()).await.unwrap());
    assert!(s.accounts_version().await.unwrap() > v2, "a device revoked");
}

/// Refused operations leave no trace; the rest of the batch goes through.
pub async fn rejected_operations_are_not_stored<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let mut other = Phone::offline();
    let town = town(&mut phone, 1);
    s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let before = s.pull(0, 1000, ScopeFilter::Everything).await.unwrap().next;
    let household = town.households[0].id;
    let ops = vec![
        other.set(EntityKind::Household, household, json!({ "unit": "9-999" })),
        phone.set(EntityKind::Building, household, json!({ "address": "x" })),
        phone.set(
            EntityKind::Household,
            household,
            json!({ "phone": "12345" }),
        ),
        phone.set(EntityKind::Household, household, json!({ "unit": "1-303" })),
    ];
    let results = s.push(phone.ctx(), ops).await.unwrap();
    assert_eq!(rejected(&results[0]).0, RejectCode::WrongDevice);
    assert_eq!(rejected(&results[1]).0, RejectCode::Malformed);
    assert_eq!(rejected(&results[2]).0, RejectCode::Invalid);
    let seq = accepted(&results[3]);
    let log = s.pull(before, 1000, ScopeFilter::Everything).await.unwrap();
    assert_eq!(log.ops.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![seq]);
    let state = s.record(household).await.unwrap().unwrap();
    assert_eq!(state.fields["unit"], "1-303");
    assert_eq!(
        state.fields["phone"], "13800138000",
        "the refused phone did not land"
    );
}

/// An operation id is unique per device: the same id pushed by another device (with its own
/// stamp) is refused, never answered as a duplicate with the first device's sequence number,
/// and the first device's stored change is untouched.
pub async fn an_operation_id_stored_for_another_device_is_refused<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let mut other = Phone::offline();
    let town = town(&mut phone, 1);
    s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let household = town.households[0].id;
    let mine = phone.set(EntityKind::Household, household, json!({ "unit": "1-401" }));
    let seq = accepted(&s.push(phone.ctx(), vec![mine.clone()]).await.unwrap()[0]);
    let mut theirs = other.set(EntityKind::Household, household, json!({ "unit": "1-402" }));
    theirs.id = mine.id;
    let answer = s.push(other.ctx(), vec![theirs]).await.unwrap();
    let (code, message) = rejected(&answer[0]);
    assert_eq!(code, RejectCode::Malformed);
    assert!(message.contains("another device"), "{message}");
    assert!(!message.contains(&seq.to_string()), "{message}");
    assert_eq!(
        s.record(household).await.unwrap().unwrap().fields["unit"],
        "1-401"
    );
    // Its own device still gets the duplicate answer.
    let again = s.push(phone.ctx(), vec![mine]).await.unwrap();
    assert_eq!(again[0].outcome, PushOutcome::Duplicate { seq });
}

/// A case step is bound to the device that sends it: one recorded by another device, or in
/// another user's name, is refused and never reaches the case's history; the pushing user's
/// own step is stored.
pub async fn a_case_step_in_another_users_or_devices_name_is_refused<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 1);
    s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let case = town.hazard.id;
    let mut ctx = phone.ctx();
    ctx.user = Uuid::now_v7();
    let dispatcher = Uuid::now_v7();
    let mut as_dispatcher = phone.event(
        case,
        CaseAction::Note {
            text: "已派".into(),
        },
    );
    let mut other_device = phone.event(case, CaseAction::Note { text: "到".into() });
    let mut own = phone.event(
        case,
        CaseAction::Note {
            text: "看过".into(),
        },
    );
    for (op, actor) in [
        (&mut as_dispatcher, Some(dispatcher)),
        (&mut other_device, Some(ctx.user)),
        (&mut own, Some(ctx.user)),
    ] {
        if let gridwork_domain::op::OpBody::CaseEvent { event } = &mut op.body {
            event.actor = actor;
        }
    }
    if let gridwork_domain::op::OpBody::CaseEvent { event } = &mut other_device.body {
        event.stamp.device = Uuid::now_v7();
    }
    let results = s
        .push(ctx, vec![as_dispatcher, other_device, own.clone()])
        .await
        .unwrap();
    let (code, message) = rejected(&results[0]);
    assert_eq!(code, RejectCode::Forbidden);
    assert!(message.contains("another user"), "{message}");
    assert_eq!(rejected(&results[1]).0, RejectCode::WrongDevice);
    accepted(&results[2]);
    let events = s.case_events(vec![case]).await.unwrap();
    let actors: Vec<_> = events.iter().filter_map(|e| e.actor).collect();
    assert!(!actors.contains(&dispatcher), "{actors:?}");
    assert!(events.iter().all(|e| e.stamp.device == phone.device));
    let gridwork_domain::op::OpBody::CaseEvent { event } = &own.body else {
        panic!()
    };
    assert!(events.iter().any(|e| e.id == event.id));
}

/// Every record and every operation on it carries the path of its grid.
pub async fn operations_carry_the_scope_key_of_their_grid<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 2);
    s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let path = town.grid_path();
    for op in &town.ops[4..] {
        assert_eq!(
            s.op_scope_key(op.id).await.unwrap(),
            Some(path.clone()),
            "{:?}",
            op.entity
        );
    }
    let district = &town.areas[0];
    assert_eq!(
        s.op_scope_key(town.ops[0].id).await.unwrap(),
        Some(format!("/{}", district.id))
    );
    // A household pushed before its building is known has no key yet.
    let orphan = phone.set(
        EntityKind::Household,
        Uuid::now_v7(),
        json!({ "building_id": Uuid::now_v7(), "unit": "1-1", "kind": "vacant",
                "phone": null, "archived": false }),
    );
    s.push(phone.ctx(), vec![orphan.clone()]).await.unwrap();
    assert_eq!(s.op_scope_key(orphan.id).await.unwrap(), None);
}

/// Merging every snapshot page gives the state that replaying the log gives, and every record
/// comes exactly once.
pub async fn snapshot_pages_cover_every_record_once_and_match_the_log<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let town = town(&mut phone, 4);
    s.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let moved = phone.set(
        EntityKind::Household,
        town.households[1].id,
        json!({ "unit": "2-501" }),
    );
    let gone = phone.delete(EntityKind::Resident, town.residents[2].id);
    s.push(phone.ctx(), vec![moved, gone]).await.unwrap();

    let mut seen = HashSet::new();
    let mut snapshot: BTreeMap<Uuid, RecordState> = BTreeMap::new();
    let mut events = Vec::new();
    let mut after = None;
    let mut first_seq = None;
    loop {
        let page = s
            .snapshot_page(after, 3, ScopeFilter::Everything)
            .await
            .unwrap();
        first_seq.get_or_insert(page.seq);
        assert!(page.records.len() <= 3);
        for r in page.records {
            assert!(seen.insert(r.id), "record {} came twice", r.id);
            snapshot.insert(r.id, r);
        }
        events.extend(page.events);
        match page.next_after {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    let log = s.pull(0, 1000, ScopeFilter::Everything).await.unwrap();
    assert_eq!(first_seq, Some(log.next));
    let replayed = replay(log.ops.iter().map(|o| &o.op));
    assert_eq!(snapshot, replayed);
    assert!(snapshot[&town.residents[2].id].is_deleted());
    assert_eq!(events.len(), 2, "the hazard's two steps");
    assert!(events.iter().all(|e| e.case_id == town.hazard.id));
}

/// The state every device reaches by merging these operations.
pub fn replay<'a>(ops: impl Iterator<Item = &'a Op>) -> BTreeMap<Uuid, RecordState> {
    let mut state: BTreeMap<Uuid, RecordState> = BTreeMap::new();
    for op in ops {
        state
            .entry(op.entity_id)
            .or_insert_with(|| RecordState::new(op.entity, op.entity_id))
            .merge(op);
    }
    state
}

/// A case event arriving before its case still shows up in a snapshot; a resent event is
/// kept once.
pub async fn case_events_are_a_union_by_event_id<S: Storage>(s: &S) {
    let mut phone = Phone::offline();
    let case = Uuid::now_v7();
    let step = phone.event(case, CaseAction::Acknowledge);
    let mut resent = step.clone();
    resent.id = Uuid::now_v7();
    let results = s.push(phone.ctx(), vec![step, resent]).await.unwrap();
    accepted(&results[0]);
    accepted(&results[1]);
    let page = s
        .snapshot_page(None, 100, ScopeFilter::Everything)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].kind, EntityKind::Case);
    assert_eq!(page.events.len(), 1);
}

/// An admin makes a code; the first phone redeems it; the second cannot.
pub async fn an_enrollment_code_works_once<S: Storage>(s: &S) {
    let user = s
        .create_user("李娜".into(), Role::Gridworker, vec![Uuid::now_v7()])
        .await
        .unwrap();
    let now = clock::now_ms();
    let code = s.create_enrollment_code(user.id, now).await.unwrap();
    let phone = Uuid::now_v7();
    let enrolled = s
        .enroll(code.clone(), phone, "李娜的手机".into(), now)
        .await
        .unwrap();
    assert_eq!(enrolled.user, user);
    let authed = s
        .authenticate(enrolled.token.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(authed.device, phone);
    assert_eq!(authed.user.id, user.id);
    let again = s
        .enroll(code, Uuid::now_v7(), "另一部手机".into(), now)
        .await
        .unwrap_err();
    assert!(matches!(again, EnrollError::CodeUsed), "{again:?}");
    let wrong = s
        .enroll("AAAA-BBBB-CCCC".into(), Uuid::now_v7(), String::new(), now)
        .await;
    assert!(matches!(wrong, Err(EnrollError::UnknownCode)));
    // A second code cannot enroll the same device id again.
    let code2 = s.create_enrollment_code(user.id, now).await.unwrap();
    let dup = s
        .enroll(code2, phone, String::new(), now)
        .await
        .unwrap_err();
    assert!(matches!(dup, EnrollError::DeviceExists(_)), "{dup:?}");
}

/// A code made yesterday morning is no good this morning.
pub async fn an_enrollment_code_expires_after_a_day<S: Storage>(s: &S) {
    let user = s
        .create_user("王强".into(), Role::FireCrew, vec![])
        .await
        .unwrap();
    let yesterday = clock::now_ms() - 25 * 3600 * 1000;
    let code = s.create_enrollment_code(user.id, yesterday).await.unwrap();
    let err = s
        .enroll(code, Uuid::now_v7(), String::new(), clock::now_ms())
        .await
        .unwrap_err();
    assert!(matches!(err, EnrollError::CodeExpired), "{err:?}");
    let nobody = s
        .create_enrollment_code(Uuid::now_v7(), clock::now_ms())
        .await;
    assert!(nobody.is_err(), "no code for a user who does not exist");
}

/// A lost phone is revoked: its token stops working at once; a forged token never worked.
pub async fn a_revoked_or_forged_token_is_refused<S: Storage>(s: &S) {
    let user = s
        .create_user("赵敏".into(), Role::BuildingHead, vec![])
        .await
        .unwrap();
    let now = clock::now_ms();
    let code = s.create_enrollment_code(user.id, now).await.unwrap();
    let phone = Uuid::now_v7();
    let token = s
        .enroll(code, phone, String::new(), now)
        .await
        .unwrap()
        .token;
    let forged = format!("{}.{}", phone.simple(), "0".repeat(64));
    assert_eq!(s.authenticate(forged).await.unwrap(), None);
    assert_eq!(s.authenticate("garbage".into()).await.unwrap(), None);
    assert!(s.revoke_device(phone, now).await.unwrap());
    assert_eq!(s.authenticate(token).await.unwrap(), None);
    assert!(
        !s.revoke_device(Uuid::now_v7(), now).await.unwrap(),
        "no such device"
    );
    let listed = s.list_devices().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_ms.is_some());
}

/// 梅花碑 is redrawn: building 1 moves from the first grid to a new second one. Its households
/// and residents move with it in the same push; the second grid's gridworker gains them on the
/// next pull and the first grid's evicts them. Before the move, the second grid's gridworker
/// may not touch them.
pub async fn a_building_moved_to_another_grid_takes_its_family_and_the_scopes_follow<S: Storage>(
    s: &S,
) {
    let mut admin = Phone::offline();
    let town = town(&mut admin, 2);
    s.push(admin.ctx(), town.ops.clone()).await.unwrap();
    let west = town.areas[4].id;
    let east = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Grid,
        code: "330106001001002".into(),
        name: "梅花碑第二网格".into(),
        parent_id: Some(town.areas[3].id),
        response_policies: vec![],
    };
    let created = admin.create(&east);
    accepted(&s.push(admin.ctx(), vec![created]).await.unwrap()[0]);
    let (building, household, resident) = (
        town.households[0].building_id,
        town.households[0].id,
        town.residents[0].id,
    );
    let place = s.place_of(resident).await.unwrap().unwrap();
    assert_eq!(place.building, Some(building));
    assert_eq!(place.areas.last(), Some(&west));
    let family: HashSet<Uuid> = s
        .family(building)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.state.id)
        .collect();
    assert!(family.is_superset(&HashSet::from([building, household, resident])));
    assert!(
        !family.contains(&town.households[1].building_id),
        "{family:?}"
    );

    let west_user = s
        .create_user("王芳".into(), Role::Gridworker, vec![west])
        .await
        .unwrap();
    let east_user = s
        .create_user("陈刚".into(), Role::Gridworker, vec![Uuid::now_v7()])
        .await
        .unwrap();
    assert!(s.set_user_scope(east_user.id, vec![east.id]).await.unwrap());
    assert!(!s.set_user_scope(Uuid::now_v7(), vec![]).await.unwrap());
    let east_user = s.user(east_user.id).await.unwrap().unwrap();
    assert_eq!(east_user.scope, vec![east.id]);
    let west_view = s.scope_view(&west_user).await.unwrap();
    let east_view = s.scope_view(&east_user).await.unwrap();

    let mut east_phone = Phone::offline();
    let trespass = east_phone.set(EntityKind::Household, household, json!({ "unit": "9-901" }));
    let east_ctx = PushContext {
        device: east_phone.device,
        user: east_user.id,
        view: east_view.clone(),
        now_ms: clock::now_ms(),
    };
    let refused = s.push(east_ctx, vec![trespass]).await.unwrap();
    assert_eq!(rejected(&refused[0]).0, RejectCode::Forbidden);

    let before = s.pull(0, 1000, ScopeFilter::Everything).await.unwrap().next;
    let moved = admin.set(
        EntityKind::Building,
        building,
        json!({ "grid_id": east.id }),
    );
    accepted(&s.push(admin.ctx(), vec![moved]).await.unwrap()[0]);
    let place = s.place_of(resident).await.unwrap().unwrap();
    assert_eq!(
        place.areas.last(),
        Some(&east.id),
        "the resident moved along"
    );

    let gained = s
        .pull(before, 1000, ScopeFilter::for_view(east_view.clone()))
        .await
        .unwrap();
    let gained_ids: HashSet<Uuid> = gained.records.iter().map(|r| r.id).collect();
    assert!(
        gained_ids.is_superset(&HashSet::from([building, household, resident])),
        "{gained_ids:?}"
    );
    let lost = s
        .pull(before, 1000, ScopeFilter::for_view(west_view.clone()))
        .await
        .unwrap();
    assert!(lost.evict.contains(&building) && lost.evict.contains(&household));
    assert!(lost.ops.is_empty() && lost.records.is_empty());
    let snapshot = s
        .snapshot_page(None, 1000, ScopeFilter::for_view(east_view))
        .await
        .unwrap();
    let seen: HashSet<Uuid> = snapshot.records.iter().map(|r| r.id).collect();
    assert!(seen.contains(&resident) && !seen.contains(&town.households[1].building_id));
    let snapshot = s
        .snapshot_page(None, 1000, ScopeFilter::for_view(west_view))
        .await
        .unwrap();
    let seen: HashSet<Uuid> = snapshot.records.iter().map(|r| r.id).collect();
    assert!(!seen.contains(&resident) && seen.contains(&town.households[1].building_id));
}

/// Pull and snapshot pages are bounded in bytes as well as in count: 900 subdistricts of ~7.5 KB each
/// (a long history of response policies, within every limit) make ~6.7 MB; the first page of a
/// pull or a snapshot asked for 1,000 stops near `MAX_PAGE_BYTES` with `more`, and the pages
/// together deliver every record exactly once.
pub async fn pages_are_bounded_in_bytes_as_well_as_in_count<S: Storage>(s: &S) {
    use gridwork_domain::workflow::ResponsePolicy;
    use gridwork_server::storage::MAX_PAGE_BYTES;

    let mut admin = Phone::offline();
    let cursor = s.log_end().await.unwrap();
    // Only a subdistrict keeps response policies: a district of 900 subdistricts.
    let district = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::District,
        code: "330107".into(),
        name: "测试区".into(),
        parent_id: None,
        response_policies: vec![],
    };
    let history: Vec<ResponsePolicy> = (0..28)
        .map(|i| ResponsePolicy {
            name: format!("{i:02}{}", "分钟级响应".repeat(7)),
            since_ms: 1_000 + i,
            ..ResponsePolicy::default()
        })
        .collect();
    let mut big = HashSet::new();
    let mut ops = vec![admin.create(&district)];
    ops.extend((0..900).map(|c| {
        let subdistrict = Area {
            id: Uuid::now_v7(),
            level: AreaLevel::Subdistrict,
            code: format!("330107{:03}", c + 1),
            name: format!("第{}街道", c + 1),
            parent_id: Some(district.id),
            response_policies: history.clone(),
        };
        big.insert(subdistrict.id);
        admin.create(&subdistrict)
    }));
    for chunk in ops.chunks(300) {
        for r in s.push(admin.ctx(), chunk.to_vec()).await.unwrap() {
            accepted(&r);
        }
    }

    let first = s.pull(cursor, 1000, ScopeFilter::Everything).await.unwrap();
    assert!(first.more, "the pull's first page is cut by its bytes");
    assert!(
        first.ops.len() < 900,
        "{} operations in one page",
        first.ops.len()
    );
    assert!(wire(&first.ops) <= MAX_PAGE_BYTES + 64 * 1024);
    let mut seen: HashSet<Uuid> = first.ops.iter().map(|o| o.op.entity_id).collect();
    let mut next = first.next;
    loop {
        let page = s.pull(next, 1000, ScopeFilter::Everything).await.unwrap();
        assert!(wire(&page.ops) <= MAX_PAGE_BYTES + 64 * 1024);
        for o in &page.ops {
            assert!(seen.insert(o.op.entity_id), "an operation delivered twice");
        }
        next = page.next;
        if !page.more {
            break;
        }
    }
    assert!(big.is_subset(&seen), "every area's operation delivered");

    let first = s
        .snapshot_page(None, 1000, ScopeFilter::Everything)
        .await
        .unwrap();
    assert!(
        first.next_after.is_some(),
        "the snapshot's first page is cut by its bytes"
    );
    assert!(first.records.len() < 900);
    assert!(wire(&first.records) <= MAX_PAGE_BYTES + 64 * 1024);
    let mut seen: HashSet<Uuid> = first.records.iter().map(|r| r.id).collect();
    let mut after = first.next_after;
    loop {
        let page = s
            .snapshot_page(after, 1000, ScopeFilter::Everything)
            .await
            .unwrap();
        assert!(wire(&page.records) <= MAX_PAGE_BYTES + 64 * 1024);
        for r in &page.records {
            assert!(seen.insert(r.id), "a record delivered twice");
        }
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    assert!(big.is_subset(&seen), "every area delivered by the snapshot");
}

/// The size of a value as the wire carries it (JSON).
fn wire<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).unwrap().len()
}

/// Declares one `#[tokio::test]` per conformance check for a backend, given an expression
/// that makes a fresh one (`(storage, guard)`: the guard lives as long as the test). A backend
/// that runs as several processes on one database also names an `async fn(&guard) -> storage`
/// that opens a second one on the same database, for the checks between processes.
macro_rules! conformance_for {
    ($backend:ident, $make:expr $(, another_process: $another:ident)? $(,)?) => {
        mod $backend {
            use super::*;
            conformance_for!(@tests $make;
                a_batch_is_numbered_in_order_and_pulled_in_pages,
                a_retried_push_is_a_duplicate_with_the_same_seq,
                a_stored_push_wakes_a_waiting_subscriber,
                rejected_operations_are_not_stored,
                an_operation_id_stored_for_another_device_is_refused,
                a_case_step_in_another_users_or_devices_name_is_refused,
                operations_carry_the_scope_key_of_their_grid,
                snapshot_pages_cover_every_record_once_and_match_the_log,
                case_events_are_a_union_by_event_id,
                an_enrollment_code_works_once,
                an_enrollment_code_expires_after_a_day,
                a_revoked_or_forged_token_is_refused,
                a_building_moved_to_another_grid_takes_its_family_and_the_scopes_follow,
                a_pull_and_a_snapshot_read_the_phones_scope_not_the_city,
                a_push_wakes_only_the_polls_of_its_buckets,
                the_accounts_version_moves_when_a_cached_view_may_be_wrong,
                pages_are_bounded_in_bytes_as_well_as_in_count,
            );
            $(
                conformance_for!(@between_processes $make, $another;
                    a_push_by_another_process_wakes_a_waiting_subscriber,
                    a_push_by_another_process_wakes_only_the_polls_of_its_buckets,
                );
            )?
        }
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (storage, guard) = $make;
                super::$check(&storage).await;
                // The storage closes its connections before its database goes.
                drop(storage);
                drop(guard);
            }
        )*
    };
    (@between_processes $make:expr, $another:ident; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (storage, guard) = $make;
                let other = super::$another(&guard).await;
                super::$check(&storage, &other).await;
                drop(other);
                drop(storage);
                drop(guard);
            }
        )*
    };
}

fn sqlite() -> (gridwork_server::storage::SqliteStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = gridwork_server::storage::SqliteStorage::open(dir.path().join("s.db")).unwrap();
    (storage, dir)
}

conformance_for!(sqlite_backend, sqlite());

async fn postgres() -> (
    gridwork_server::storage::PgStorage,
    gridwork_server::storage::postgres::ScratchDatabase,
) {
    let db = gridwork_server::storage::postgres::ScratchDatabase::for_test().await;
    let storage = gridwork_server::storage::PgStorage::connect(db.url())
        .await
        .unwrap();
    (storage, db)
}

/// A second server process on the same database: its own pool and listening connection.
async fn postgres_again(
    db: &gridwork_server::storage::postgres::ScratchDatabase,
) -> gridwork_server::storage::PgStorage {
    gridwork_server::storage::PgStorage::connect(db.url())
        .await
        .unwrap()
}

conformance_for!(postgres_backend, postgres().await, another_process: postgres_again);
