//! A restart (deploy, crash, power cut) loses nothing the server answered `accepted` for.

use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::{PushOutcome, Role};
use serde_json::json;

use crate::common::{Backend, TestServer, accepted, on_both_backends, town};

async fn everything_accepted_is_still_there_after_a_restart<S: Backend>() {
    let mut server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 2);
    let seqs: Vec<u64> = server
        .push(&zhang, &town.ops)
        .await
        .results
        .iter()
        .map(accepted)
        .collect();
    let before = server.pull(&zhang, 0, 1000, 0).await;

    server.restart().await;

    // The token still works, the log is whole, the numbering carries on.
    let after = server.pull(&zhang, 0, 1000, 0).await;
    assert_eq!(after.ops, before.ops);
    let retry = server.push(&zhang, &town.ops[..1]).await;
    assert_eq!(
        retry.results[0].outcome,
        PushOutcome::Duplicate { seq: seqs[0] }
    );
    let edit = zhang.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "unit": "1-101" }),
    );
    let seq = accepted(&server.push(&zhang, &[edit]).await.results[0]);
    // Numbers carry on above everything stored (on PostgreSQL they are log positions, not
    // consecutive).
    assert!(seq > *seqs.last().unwrap(), "{seq} after {seqs:?}");
    let snapshot = server.snapshot(&zhang, None, 100).await;
    assert_eq!(snapshot.seq, seq);
    assert_eq!(snapshot.records.len(), 5 + 2 * 3 + 1);
}

on_both_backends!(everything_accepted_is_still_there_after_a_restart,);
