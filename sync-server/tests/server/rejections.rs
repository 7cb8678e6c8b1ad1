//! Operations the server refuses, each with its reason, and never stored.

use gridwork_domain::hlc::{DEFAULT_MAX_DRIFT_MS, Hlc, Stamp};
use gridwork_domain::model::Resident;
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::{RejectCode, Role};
use gridwork_domain::workflow::CaseAction;
use gridwork_server::clock;
use serde_json::json;
use uuid::Uuid;

use crate::common::{Backend, TestServer, accepted, id_number, on_both_backends, rejected, town};

async fn the_server_refuses_what_it_must_and_says_why<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let mut li = server.phone("李娜", Role::Admin).await;
    let town = town(&mut zhang, 1);
    server.push(&zhang, &town.ops).await;
    let household = town.households[0].id;
    let before = server.pull(&zhang, 0, 1000, 0).await.next;

    // Li's operation pushed from Zhang's phone.
    let wrong_device = li.set(EntityKind::Household, household, json!({ "unit": "1-1" }));
    // A phone whose clock runs a day fast, before its first sync corrected it.
    let mut ahead = zhang.set(EntityKind::Household, household, json!({ "unit": "1-2" }));
    ahead.stamp = Stamp::new(
        Hlc::new(clock::now_ms() + DEFAULT_MAX_DRIFT_MS + 60_000, 0),
        zhang.device,
    );
    // The household's id used as a building.
    let wrong_kind = zhang.set(
        EntityKind::Building,
        household,
        json!({ "address": "梅花碑社区9幢" }),
    );
    // A case event whose case is not the record it targets.
    let mut stray = zhang.event(town.hazard.id, CaseAction::Acknowledge);
    if let gridwork_domain::op::OpBody::CaseEvent { event } = &mut stray.body {
        event.case_id = Uuid::now_v7();
    }
    // A resident with a mistyped ID number (one digit off: the check digit fails).
    let mut typo = id_number("19900512", 37);
    typo.replace_range(15..16, if &typo[15..16] == "1" { "2" } else { "1" });
    let resident = Resident {
        id: Uuid::now_v7(),
        household_id: household,
        name: "孙丽".into(),
        id_number: Some(typo.clone()),
        phone: None,
        key_groups: vec![],
        last_visit_ms: None,
        archived: false,
    };
    let bad_id = zhang.create(&resident);
    // A set on a record nobody created, without the other fields.
    let partial = zhang.set(
        EntityKind::Household,
        Uuid::now_v7(),
        json!({ "unit": "5-5" }),
    );
    // And one good edit among them.
    let good = zhang.set(EntityKind::Household, household, json!({ "unit": "1-305" }));

    let ops = vec![
        wrong_device,
        ahead,
        wrong_kind,
        stray,
        bad_id,
        partial,
        good,
    ];
    let answer = server.push(&zhang, &ops).await;
    let r = &answer.results;
    assert_eq!(rejected(&r[0]).0, RejectCode::WrongDevice);
    let (code, message) = rejected(&r[1]);
    assert_eq!(code, RejectCode::ClockAhead);
    assert!(message.contains("clock"), "{message}");
    assert_eq!(rejected(&r[2]).0, RejectCode::Malformed);
    assert_eq!(rejected(&r[3]).0, RejectCode::Malformed);
    let (code, message) = rejected(&r[4]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(message.starts_with("resident.id_number"), "{message}");
    assert!(
        !message.contains(&typo),
        "the message does not repeat the number"
    );
    let (code, message) = rejected(&r[5]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(message.contains("incomplete record"), "{message}");
    let seq = accepted(&r[6]);

    let log = server.pull(&zhang, before, 1000, 0).await;
    assert_eq!(
        log.ops.iter().map(|o| o.seq).collect::<Vec<_>>(),
        vec![seq],
        "refused ops are not stored"
    );

    // The same resident with a valid number goes through.
    let fixed = Resident {
        id_number: Some(id_number("19900512", 37)),
        ..resident
    };
    let fixed = zhang.create(&fixed);
    accepted(&server.push(&zhang, &[fixed]).await.results[0]);
}

async fn an_operation_that_does_not_decode_is_refused_alone<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let town = town(&mut zhang, 1);
    let good = zhang.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "unit": "1-1" }),
    );
    let id = Uuid::now_v7();
    // An action from a newer app this server does not know.
    let mut future =
        serde_json::to_value(zhang.event(town.hazard.id, CaseAction::Acknowledge)).unwrap();
    future["id"] = json!(id);
    future["body"]["event"]["action"] = json!({ "type": "teleport" });
    let mut ops: Vec<serde_json::Value> = town
        .ops
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    ops.push(future);
    ops.push(serde_json::to_value(&good).unwrap());
    let res = server
        .post("/v1/push", Some(&zhang.token), &json!({ "ops": ops }))
        .await;
    assert_eq!(res.status(), 200);
    let answer: gridwork_domain::sync::PushResponse = res.json().await.unwrap();
    let n = town.ops.len();
    assert_eq!(answer.results[n].op_id, id);
    assert_eq!(rejected(&answer.results[n]).0, RejectCode::Malformed);
    accepted(&answer.results[n + 1]);
}

on_both_backends!(
    the_server_refuses_what_it_must_and_says_why,
    an_operation_that_does_not_decode_is_refused_alone,
);
