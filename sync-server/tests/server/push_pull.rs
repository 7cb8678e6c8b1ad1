//! Push and pull over HTTP: one phone's outbox reaches another phone, in order, in pages.

use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::{PushOutcome, Role};
use serde_json::json;

use crate::common::{Backend, TestServer, accepted, on_both_backends, town};

async fn what_one_gridworker_pushes_the_other_pulls_in_order_and_in_pages<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let li = server.phone("李娜", Role::Admin).await;
    let town = town(&mut zhang, 3);

    let answer = server.push(&zhang, &town.ops).await;
    assert_eq!(answer.results.len(), town.ops.len());
    let seqs: Vec<u64> = answer.results.iter().map(accepted).collect();
    for (result, op) in answer.results.iter().zip(&town.ops) {
        assert_eq!(result.op_id, op.id, "answers come in request order");
    }

    let mut cursor = 0;
    let mut pulled = Vec::new();
    let mut pages = 0;
    loop {
        let page = server.pull(&li, cursor, 5, 0).await;
        pages += 1;
        assert!(page.ops.len() <= 5);
        if let Some(last) = page.ops.last() {
            assert_eq!(page.next, last.seq, "next is the last seq of the page");
        }
        pulled.extend(page.ops);
        cursor = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, town.ops.len().div_ceil(5));
    assert_eq!(pulled.iter().map(|o| o.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(
        pulled.into_iter().map(|o| o.op).collect::<Vec<_>>(),
        town.ops
    );
}

async fn a_push_retried_after_a_lost_answer_is_answered_duplicate_and_stores_nothing<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 1);
    server.push(&zhang, &town.ops).await;
    let edit = zhang.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "kind": "group_rental" }),
    );
    let first = server.push(&zhang, std::slice::from_ref(&edit)).await;
    let seq = accepted(&first.results[0]);

    // The answer never reached the phone (the lift doors closed); it sends the batch again.
    let retry = server.push(&zhang, std::slice::from_ref(&edit)).await;
    assert_eq!(retry.results[0].outcome, PushOutcome::Duplicate { seq });

    let log = server.pull(&zhang, 0, 1000, 0).await;
    assert_eq!(log.ops.len(), town.ops.len() + 1);
    assert_eq!(log.next, seq, "nothing after the first copy");
}

async fn an_empty_push_and_a_pull_past_the_end_are_fine<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let phone = server.phone("王芳", Role::Admin).await;
    assert!(server.push(&phone, &[]).await.results.is_empty());
    let page = server.pull(&phone, 42, 10, 0).await;
    assert!(page.ops.is_empty());
    assert_eq!(
        page.next, 0,
        "read from the end of the log: a made-up cursor is not handed back"
    );
    assert!(!page.more);

    // The same once the server has read an end of the log (a backend may keep it to spare a
    // statement): a cursor past it still reads from the end.
    let mut phone = phone;
    let town = town(&mut phone, 1);
    server.push(&phone, &town.ops).await;
    let all = server.pull(&phone, 0, 1000, 0).await;
    let end = all.next;
    assert_eq!(all.ops.len(), town.ops.len());
    let past = server.pull(&phone, end + 1000, 10, 0).await;
    assert!(past.ops.is_empty());
    assert_eq!(past.next, end, "a made-up cursor past a known end");
    let at = server.pull(&phone, end, 10, 0).await;
    assert!(at.ops.is_empty());
    assert_eq!(at.next, end);
}

on_both_backends!(
    what_one_gridworker_pushes_the_other_pulls_in_order_and_in_pages,
    a_push_retried_after_a_lost_answer_is_answered_duplicate_and_stores_nothing,
    an_empty_push_and_a_pull_past_the_end_are_fine,
);
