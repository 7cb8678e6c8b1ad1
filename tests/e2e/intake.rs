//! Issue 26 end to end: a fake 12345 platform on loopback sends a work order (twice) to a real
//! server, the grid's phone gets the case with its usual sync and works it, the command centre
//! closes it, and every step goes back to the platform's callback URL through the fault proxy
//! (dropped, truncated, duplicated, delayed exchanges), signed and keyed, until the platform has
//! each step. And a phone that shows a resident's full ID number reports it when it syncs: the
//! server's audit log names the device and the resident, not the number.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use gridwork_domain::ids::Id;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::{CaseAction, CaseState};
use gridwork_server::audit::{AuditAction, AuditFilter};
use gridwork_server::intake::callbacks::{self, CallbackBody};
use gridwork_server::storage::{AuditStorage, IntakeStorage, Storage};
use gridwork_server::{auth, clock};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fault_proxy::FaultProxy;
use crate::harness::*;

/// The platform: every callback it accepted, by idempotency key, and how many came in all.
#[derive(Default)]
struct Platform {
    secret: Mutex<String>,
    steps: Mutex<BTreeMap<String, CallbackBody>>,
    deliveries: Mutex<usize>,
    forged: Mutex<usize>,
}

async fn platform() -> (Arc<Platform>, String) {
    let state = Arc::new(Platform::default());
    let s = state.clone();
    let app = Router::new().route(
        "/callback",
        post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                *s.deliveries.lock().unwrap() += 1;
                let secret = s.secret.lock().unwrap().clone();
                let signed = headers
                    .get(callbacks::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|sig| callbacks::verify(&secret, sig, &body));
                let key = headers
                    .get(callbacks::IDEMPOTENCY_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                let (Some(_), Some(key)) = (signed, key) else {
                    *s.forged.lock().unwrap() += 1;
                    return StatusCode::UNAUTHORIZED;
                };
                let Ok(step) = serde_json::from_str::<CallbackBody>(&body) else {
                    return StatusCode::BAD_REQUEST;
                };
                // Seen before: acknowledged, nothing done again.
                s.steps.lock().unwrap().entry(key).or_insert(step);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

#[tokio::test]
async fn a_hotline_case_goes_in_is_worked_on_the_phone_and_every_step_comes_back_through_drops() {
    // The platform (and the fault proxy before it) runs on loopback: the operator allows it,
    // as a platform inside the government network would be (ADR 0030).
    let server = TestServer::start_with(gridwork_server::ServerOptions {
        callback_allow: vec!["127.0.0.1/32".parse().unwrap()],
        ..gridwork_server::ServerOptions::default()
    })
    .await;
    let (admin, seeded) = seeded_admin(&server, "指挥中心").await;
    let building = seeded.buildings[0].clone();
    let grid = building.grid_id;
    let worker = Device::enrolled(&server, "王芳", Role::Gridworker, vec![grid]).await;
    worker.sync().await;
    let worker_id = worker.gw.user_id().unwrap().unwrap();

    // The platform's account, as `admin create-service-account` makes it.
    let account = Uuid::now_v7();
    let user = server
        .storage
        .create_user(
            "service: 12345".into(),
            Role::Dispatcher,
            vec![subdistrict(&seeded)],
        )
        .await
        .unwrap();
    let token = auth::new_token(account);
    server
        .storage
        .store_service_account(
            account,
            user.id,
            "12345".into(),
            auth::hash_token(&token),
            clock::now_ms(),
        )
        .await
        .unwrap();
    let (platform, platform_url) = platform().await;
    let proxy = FaultProxy::start(&platform_url, 26, 0.5).await;
    let http = reqwest::Client::new();
    let registered: Value = http
        .put(format!("{}/v1/intake/callback", server.url()))
        .bearer_auth(&token)
        .json(&json!({ "url": format!("{}/callback", proxy.url()) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    *platform.secret.lock().unwrap() = registered["secret"].as_str().unwrap().to_string();

    // The order, sent twice (the platform's retry): one case.
    let order = json!({
        "source_id": "12345-20261206-000901",
        "kind": "hotline_12345",
        "title": "楼道电瓶车充电",
        "category": "ebike_indoors",
        "address_code": building.address_code,
        "description": "来电人反映一楼楼道有人给电瓶车充电",
        "assignee": worker_id,
    });
    let mut cases = vec![];
    for expected in [201, 200] {
        let res = http
            .post(format!("{}/v1/intake/orders", server.url()))
            .bearer_auth(&token)
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), expected);
        let body: Value = res.json().await.unwrap();
        cases.push(body["case_id"].as_str().unwrap().to_string());
    }
    assert_eq!(cases[0], cases[1]);
    let case_id: Id = cases[0].parse().unwrap();

    // The gridworker's phone gets it with its usual sync, assigned to them, and handles it.
    worker.sync().await;
    let view = worker.gw.case(case_id).unwrap();
    assert_eq!(view.fold.state, CaseState::Assigned);
    assert_eq!(view.fold.assignee, Some(worker_id));
    worker
        .gw
        .record_case_event(case_id, CaseAction::Handle)
        .unwrap();
    worker.sync().await;
    // The command centre reviews it, calls the resident back (satisfied) and closes it.
    admin.sync().await;
    for step in [
        CaseAction::CompletionReview,
        CaseAction::CallBack { satisfied: true },
        CaseAction::Close,
    ] {
        admin.gw.record_case_event(case_id, step).unwrap();
    }
    admin.sync().await;

    // Every step reaches the platform, whatever the network did to the deliveries.
    let wanted = 7;
    for _ in 0..900 {
        if platform.steps.lock().unwrap().len() >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steps = platform.steps.lock().unwrap().clone();
    assert_eq!(steps.len(), wanted, "faults: {}", proxy.counts());
    let mut names: Vec<(u64, &str)> = steps
        .values()
        .map(|b| (b.step.at_ms, b.step.step.as_str()))
        .collect();
    names.sort();
    for step in [
        "note",
        "accept",
        "review_assign",
        "handle",
        "completion_review",
        "call_back",
        "close",
    ] {
        assert!(
            names.iter().any(|(_, n)| *n == step),
            "{step} arrived: {names:?}"
        );
    }
    let call_back = steps.values().find(|b| b.step.step == "call_back").unwrap();
    assert_eq!(
        call_back.step.action,
        CaseAction::CallBack { satisfied: true }
    );
    assert!(
        steps
            .values()
            .all(|b| b.case_id == case_id && b.source_id == "12345-20261206-000901")
    );
    assert_eq!(
        *platform.forged.lock().unwrap(),
        0,
        "every delivery was signed"
    );
    assert!(
        proxy.counts().total() > 0,
        "the network did fail: {}",
        proxy.counts()
    );
    assert!(*platform.deliveries.lock().unwrap() >= wanted);
    let (waiting, delivered) = server.storage.callback_counts(account).await.unwrap();
    assert_eq!((waiting, delivered), (0, wanted as u64));
}

#[tokio::test]
async fn a_phone_reports_the_full_id_numbers_it_showed_when_it_syncs() {
    let server = TestServer::start().await;
    let (_admin, seeded) = seeded_admin(&server, "指挥中心").await;
    let resident = seeded
        .residents
        .iter()
        .find(|r| r.id_number.is_some())
        .expect("a resident with an ID number")
        .clone();
    let worker = Device::enrolled(
        &server,
        "王芳",
        Role::Gridworker,
        seeded.grids.iter().map(|g| g.id).collect(),
    )
    .await;
    worker.sync().await;
    let shown = worker.gw.resident_for_view(resident.id).unwrap();
    assert_eq!(
        shown.id_number, resident.id_number,
        "a gridworker sees the whole number"
    );
    assert_eq!(worker.gw.pending_access_facts().unwrap().len(), 1);
    worker.sync().await;
    assert!(
        worker.gw.pending_access_facts().unwrap().is_empty(),
        "sent and forgotten"
    );

    let entries = server
        .storage
        .find_audit(AuditFilter {
            target_id: Some(resident.id.to_string()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let fact = &entries[0].fact;
    assert_eq!(fact.action, AuditAction::ReadIdNumber);
    assert!(
        fact.actor.contains(&worker.gw.device_id().to_string()),
        "{}",
        fact.actor
    );
    let number = resident.id_number.unwrap();
    let all = serde_json::to_string(&server.storage.all_audit().await.unwrap()).unwrap();
    assert!(
        !all.contains(&number),
        "the number itself is nowhere in the log"
    );
}
