//! A new phone bootstraps: snapshot pages, then pull from the snapshot's seq. It ends with the
//! same records as a phone that replayed the whole log.

use std::collections::{BTreeMap, HashSet};

use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::Role;
use serde_json::json;
use uuid::Uuid;

use crate::common::{Backend, TestServer, on_both_backends, town};
use crate::conformance::replay;

async fn a_new_phone_takes_snapshot_pages_then_pulls_from_their_seq<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 5);
    server.push(&zhang, &town.ops).await;
    let newcomer = server.phone("新来的网格员", Role::Admin).await;

    let mut state: BTreeMap<Uuid, RecordState> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    let mut after = None;
    let first = server.snapshot(&newcomer, None, 4).await;
    let from_seq = first.seq;
    let mut page = first;
    loop {
        for r in page.records {
            assert!(seen.insert(r.id), "each record once");
            state
                .entry(r.id)
                .or_insert_with(|| RecordState::new(r.kind, r.id))
                .absorb(&r);
        }
        events.extend(page.events);
        // Meanwhile Zhang keeps working: an edit lands between two pages.
        if after.is_none() {
            let edit = zhang.set(
                EntityKind::Household,
                town.households[0].id,
                json!({ "unit": "1-402" }),
            );
            server.push(&zhang, &[edit]).await;
        }
        match page.next_after {
            Some(id) => after = Some(id),
            None => break,
        }
        page = server.snapshot(&newcomer, after, 4).await;
    }
    assert_eq!(events.len(), 2);

    // Then the pull from the first page's seq brings whatever came after.
    let news = server.pull(&newcomer, from_seq, 1000, 0).await;
    assert_eq!(news.ops.len(), 1, "only the edit made during the bootstrap");
    for o in &news.ops {
        state
            .entry(o.op.entity_id)
            .or_insert_with(|| RecordState::new(o.op.entity, o.op.entity_id))
            .merge(&o.op);
    }

    let everything = server.pull(&zhang, 0, 1000, 0).await;
    assert_eq!(state, replay(everything.ops.iter().map(|o| &o.op)));
    assert_eq!(state[&town.households[0].id].fields["unit"], "1-402");
}

/// A phone of `user`, enrolled through `/v1/enroll` with a one-time code.
async fn enrolled<S: Backend>(
    server: &TestServer<S>,
    user: uuid::Uuid,
    name: &str,
) -> crate::common::Phone {
    let code = server.code(user).await;
    let device = Uuid::now_v7();
    let answer: gridwork_domain::sync::EnrollResponse = server
        .post(
            "/v1/enroll",
            None,
            &gridwork_domain::sync::EnrollRequest {
                code,
                device_id: device,
                device_name: name.into(),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    crate::common::Phone::new(device, answer.token)
}

/// The first page of a scoped reader's snapshot announces how many records the pages bring
/// (the bucket index's count); later pages and a reader of everything carry none.
async fn the_first_snapshot_page_announces_the_scopes_total<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 5);
    server.push(&zhang, &town.ops).await;
    let grid = town.areas.last().unwrap().id;
    let user = server
        .storage
        .create_user("王网格员".into(), Role::Gridworker, vec![grid])
        .await
        .unwrap()
        .id;
    let wang = enrolled(&server, user, "王网格员的手机").await;

    let first = server.snapshot(&wang, None, 3).await;
    let total = first
        .total_records
        .expect("the first page announces the total");
    let mut received = first.records.len();
    let mut after = first.next_after;
    while let Some(a) = after {
        let page = server.snapshot(&wang, Some(a), 3).await;
        assert_eq!(page.total_records, None, "only the first page counts");
        received += page.records.len();
        after = page.next_after;
    }
    assert!(received > 3, "several pages: {received}");
    // An upper bound, close: the grid's records, plus at most one more count for each of the
    // grid's five anchors (district down to the grid) that is also filed under the grid.
    let received = received as u64;
    assert!(
        (received..=received + 5).contains(&total),
        "announced {total}, received {received}"
    );

    let admin = server.snapshot(&zhang, None, 3).await;
    assert_eq!(
        admin.total_records, None,
        "a reader of everything is not counted"
    );
}

/// A snapshot reads the user's scope as it is now: the view the token check keeps for the
/// device is dropped when the user's scope is replaced, and the next snapshot reads the new one.
async fn a_snapshot_after_the_scope_was_replaced_reads_the_new_scope<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 3);
    server.push(&zhang, &town.ops).await;
    let (first, second) = (
        town.households[0].building_id,
        town.households[1].building_id,
    );
    let user = server
        .storage
        .create_user("李楼长".into(), Role::BuildingHead, vec![first])
        .await
        .unwrap()
        .id;
    let li = enrolled(&server, user, "李楼长的手机").await;
    let ids = |page: &gridwork_domain::sync::SnapshotResponse| -> HashSet<Uuid> {
        assert_eq!(page.next_after, None, "one page");
        page.records.iter().map(|r| r.id).collect()
    };

    let before = ids(&server.snapshot(&li, None, 1000).await);
    assert!(
        before.contains(&first) && !before.contains(&second),
        "{before:?}"
    );
    // Again, from the view kept since the first request.
    assert_eq!(ids(&server.snapshot(&li, None, 1000).await), before);

    assert!(
        server
            .storage
            .set_user_scope(user, vec![second])
            .await
            .unwrap()
    );
    let after = ids(&server.snapshot(&li, None, 1000).await);
    assert!(
        after.contains(&second) && !after.contains(&first),
        "{after:?}"
    );
}

on_both_backends!(
    a_new_phone_takes_snapshot_pages_then_pulls_from_their_seq,
    the_first_snapshot_page_announces_the_scopes_total,
    a_snapshot_after_the_scope_was_replaced_reads_the_new_scope,
);
