//! A new phone bootstraps: snapshot pages, then pull from the snapshot's seq. It ends with the
//! same records as a phone that replayed the whole log.

use std::collections::{BTreeMap, HashSet};

use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::Role;
use serde_json::json;
use uuid::Uuid;

use gridwork_domain::scope::ScopeView;
use gridwork_server::http::snapshot_ahead::{AheadKey, CAPACITY, SnapshotsAhead};
use gridwork_server::storage::{ReadCounts, ScopeFilter};

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
    let wang = server.enroll(user, "王网格员的手机").await;

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
    let li = server.enroll(user, "李楼长的手机").await;
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

/// The records of the server in id order, as an all-seeing reader's pages bring them.
async fn ids_in_order<S: Backend>(server: &TestServer<S>) -> Vec<Uuid> {
    let all = server
        .storage
        .snapshot_page(None, 1000, ScopeFilter::Everything)
        .await
        .unwrap();
    assert_eq!(all.next_after, None);
    all.records.iter().map(|r| r.id).collect()
}

/// A snapshot page with more to follow starts reading the next one at once (ADR 0052): the page
/// after it is read before the phone asks for it and served as it was read; a change made in
/// between reaches the phone by the pull from the first page's seq, as any change made during a
/// bootstrap; the same page asked for again is read anew.
async fn the_next_snapshot_page_is_read_before_it_is_asked_for<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 5);
    server.push(&zhang, &town.ops).await;
    let newcomer = server.phone("新来的网格员", Role::Admin).await;
    // Pages of one record, from two before the first household: the page asked for holds the
    // record just before it, the page read ahead the household.
    let ids = ids_in_order(&server).await;
    let house = town.households[0].id;
    let k = ids.iter().position(|id| *id == house).unwrap();
    assert!(k >= 2, "areas and a building come first");
    let rows_of = |since: ReadCounts| since.record_rows + since.bucket_rows;
    let before = server.storage.read_counts();
    let one_page = server
        .storage
        .snapshot_page(Some(ids[k - 2]), 1, ScopeFilter::Everything)
        .await
        .unwrap();
    assert_eq!(one_page.records[0].id, ids[k - 1]);
    let read_by_one_page = rows_of(server.storage.read_counts().since(before));
    assert!(read_by_one_page > 0);

    let before = server.storage.read_counts();
    let first = server.snapshot(&newcomer, Some(ids[k - 2]), 1).await;
    assert_eq!(first.records.len(), 1);
    assert_eq!(first.records[0].id, ids[k - 1]);
    assert_eq!(first.next_after, Some(ids[k - 1]));
    // The next page is read without being asked for: the storage reads a second page's rows.
    let waited = std::time::Instant::now();
    while rows_of(server.storage.read_counts().since(before)) < 2 * read_by_one_page {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "the next page was not read ahead"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let edit = zhang.set(EntityKind::Household, house, json!({ "unit": "9-909" }));
    let edit_id = edit.id;
    server.push(&zhang, &[edit]).await;
    let second = server.snapshot(&newcomer, Some(ids[k - 1]), 1).await;
    assert_eq!(second.records.len(), 1);
    assert_eq!(second.records[0].id, house);
    assert_eq!(
        second.records[0].fields["unit"], "1-301",
        "served as it was read, before the edit"
    );
    assert!(second.seq >= first.seq);
    // What changed since the first page comes with the pull from its seq.
    let news = server.pull(&newcomer, first.seq, 1000, 0).await;
    assert!(
        news.ops.iter().any(|o| o.op.id == edit_id),
        "the edit is pulled"
    );
    // Taken once: the same page again is read anew, with the edit.
    let again = server.snapshot(&newcomer, Some(ids[k - 1]), 1).await;
    assert_eq!(again.records[0].id, house);
    assert_eq!(again.records[0].fields["unit"], "9-909");
}

/// A page read ahead is taken only by a request the same in every part (user, view, cursor,
/// size), once, and at most `CAPACITY` wait: when full, no other is started; one not asked
/// for within its age is not served.
async fn a_page_read_ahead_is_taken_only_by_the_same_request_and_once<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 5);
    server.push(&zhang, &town.ops).await;
    let ids = ids_in_order(&server).await;
    assert!(ids.len() > CAPACITY + 1);
    let grid = town.areas.last().unwrap().id;

    let ahead = SnapshotsAhead::default();
    let key = AheadKey {
        user: Uuid::now_v7(),
        filter: ScopeFilter::Everything,
        after: ids[2],
        limit: 3,
    };
    ahead.start(server.storage.clone(), key.clone());
    assert_eq!(ahead.len(), 1);
    let others = [
        AheadKey {
            user: Uuid::now_v7(),
            ..key.clone()
        },
        AheadKey {
            filter: ScopeFilter::Scoped(ScopeView::new(Role::Gridworker, vec![grid], vec![])),
            ..key.clone()
        },
        AheadKey {
            after: ids[3],
            ..key.clone()
        },
        AheadKey {
            limit: 4,
            ..key.clone()
        },
    ];
    for other in &others {
        assert!(ahead.take(other).await.is_none(), "{other:?}");
    }
    let page = ahead.take(&key).await.expect("read ahead");
    let read_now = server
        .storage
        .snapshot_page(Some(ids[2]), 3, ScopeFilter::Everything)
        .await
        .unwrap();
    assert_eq!(page, read_now);
    assert_eq!(page.records.len(), 3);
    assert!(ahead.take(&key).await.is_none(), "taken once");
    assert!(ahead.is_empty());

    for after in &ids[..=CAPACITY] {
        ahead.start(
            server.storage.clone(),
            AheadKey {
                after: *after,
                ..key.clone()
            },
        );
    }
    assert_eq!(ahead.len(), CAPACITY, "bounded");
    let refused = AheadKey {
        after: ids[CAPACITY],
        ..key.clone()
    };
    assert!(
        ahead.take(&refused).await.is_none(),
        "one more than the bound is not read ahead"
    );
    let oldest = AheadKey {
        after: ids[0],
        ..key.clone()
    };
    let page = ahead
        .take(&oldest)
        .await
        .expect("the pages started first still wait");
    assert_eq!(page.records[0].id, ids[1]);
    // A place freed, the next one is read ahead again.
    ahead.start(server.storage.clone(), refused.clone());
    let page = ahead
        .take(&refused)
        .await
        .expect("read ahead once room was made");
    assert_eq!(page.records[0].id, ids[CAPACITY + 1]);

    // A page not asked for in time is not served, and goes when the next one is started.
    let brief = SnapshotsAhead::with_max_age(std::time::Duration::from_millis(50));
    brief.start(server.storage.clone(), key.clone());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(brief.take(&key).await.is_none(), "too old");
    assert_eq!(brief.len(), 1, "still held until the next start");
    brief.start(server.storage.clone(), refused.clone());
    assert_eq!(brief.len(), 1, "the old one went");
    assert!(
        brief.take(&refused).await.is_some(),
        "the new one is served"
    );
}

on_both_backends!(
    a_new_phone_takes_snapshot_pages_then_pulls_from_their_seq,
    the_first_snapshot_page_announces_the_scopes_total,
    a_snapshot_after_the_scope_was_replaced_reads_the_new_scope,
    the_next_snapshot_page_is_read_before_it_is_asked_for,
    a_page_read_ahead_is_taken_only_by_the_same_request_and_once,
);
