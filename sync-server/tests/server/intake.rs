//! The intake API (issue 26, ADR 0025) on both backends: a fake 12345 platform on loopback sends
//! work orders (twice, to unknown buildings and areas, outside its scope), the case reaches the
//! grid's phone through the usual pull, every step goes back to the platform's callback URL
//! signed and at least once, through refusals and a server restart; and the audit log records
//! refusals, phones' reports and admin commands, and `audit verify` catches an edit made behind
//! the server's back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Building, BuildingKind};
use gridwork_domain::op::OpBody;
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::{EnrollRequest, EnrollResponse, Role};
use gridwork_domain::workflow::{CaseAction, CaseState};
use gridwork_server::audit::{self, AuditAction, AuditFilter, Verdict};
use gridwork_server::intake::callbacks::{self, CallbackBody};
use gridwork_server::intake::ssrf::CallbackPolicy;
use gridwork_server::intake::{OrderStatus, WorkOrder, case_ops};
use gridwork_server::rules::PushContext;
use gridwork_server::server::ServerOptions;
use gridwork_server::storage::intake::IntakeOrder;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, SqliteStorage, Storage};
use gridwork_server::{auth, clock};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

use crate::cli;
use crate::common::{Backend, Phone, TestServer, Town, on_both_backends, town};

/// A service account scoped to `area`, made as `admin create-service-account` makes it.
async fn service_account<S: Storage>(s: &S, area: Id) -> (Id, String) {
    let id = Uuid::now_v7();
    let user = s
        .create_user("service: 12345".into(), Role::Dispatcher, vec![area])
        .await
        .unwrap();
    let token = auth::new_token(id);
    s.store_service_account(
        id,
        user.id,
        "12345 hotline platform".into(),
        auth::hash_token(&token),
        clock::now_ms(),
    )
    .await
    .unwrap();
    (id, token)
}

/// A phone enrolled for a new user of `role` with `scope`.
async fn phone_in<S: Backend>(
    s: &TestServer<S>,
    name: &str,
    role: Role,
    scope: Vec<Id>,
) -> (Phone, Id) {
    let user = s
        .storage
        .create_user(name.into(), role, scope)
        .await
        .unwrap();
    let code = s.code(user.id).await;
    let device = Uuid::now_v7();
    let answer: EnrollResponse = s
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code,
                device_id: device,
                device_name: format!("{name}的手机"),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    (Phone::new(device, answer.token), user.id)
}

/// A town with its grid's first building, and a second grid beside it (with one building of
/// its own) that a service account of the first grid may not send into.
struct Place {
    town: Town,
    grid: Id,
    other_grid: Id,
    other_building: String,
    other_building_id: Id,
}

async fn place<S: Backend>(s: &TestServer<S>) -> Place {
    let mut admin = Phone::offline();
    let town = town(&mut admin, 2);
    let community = town.areas[3].id;
    let grid = town.areas[4].id;
    let other = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Grid,
        code: "330106001001002".into(),
        name: "梅花碑第二网格".into(),
        parent_id: Some(community),
        response_policies: vec![],
    };
    let building = Building {
        id: Uuid::now_v7(),
        address_code: "3301060010010020001".into(),
        address: "梅花碑社区二网格1幢".into(),
        kind: BuildingKind::Residential,
        grid_id: other.id,
        micro_grid_id: None,
        head_user_id: None,
        station_id: None,
        position: None,
    };
    let mut ops = town.ops.clone();
    ops.push(admin.create(&other));
    ops.push(admin.create(&building));
    for r in s.storage.push(admin.ctx(), ops).await.unwrap() {
        crate::common::accepted(&r);
    }
    Place {
        town,
        grid,
        other_grid: other.id,
        other_building_id: building.id,
        other_building: building.address_code,
    }
}

fn order(source_id: &str, address_code: &str, assignee: Option<Id>) -> Value {
    json!({
        "source_id": source_id,
        "kind": "hotline_12345",
        "title": "楼道堆放杂物堵塞消防通道",
        "category": "blocked_exit",
        "severity": "high",
        "address_code": address_code,
        "description": "来电人反映三楼楼道堆物",
        "assignee": assignee,
    })
}

async fn send<S: Backend>(s: &TestServer<S>, token: &str, body: &Value) -> (StatusCode, Value) {
    let res = s
        .http
        .post(s.url("/v1/intake/orders"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    (status, res.json().await.unwrap())
}

async fn orders_are_taken_in_once_refused_clearly_and_reach_the_grid<S: Backend>() {
    let s = TestServer::<S>::fresh().await;
    let p = place(&s).await;
    let (gridworker, worker_id) = phone_in(&s, "王芳", Role::Gridworker, vec![p.grid]).await;
    let (_, token) = service_account(&*s.storage, p.grid).await;
    let code = "3301060010010010001";

    // Sent twice (a retry after a lost answer): one case.
    let (first, a) = send(&s, &token, &order("12345-0001", code, Some(worker_id))).await;
    assert_eq!(first, StatusCode::CREATED, "{a}");
    let (again, b) = send(&s, &token, &order("12345-0001", code, Some(worker_id))).await;
    assert_eq!(again, StatusCode::OK, "{b}");
    assert_eq!(a["case_id"], b["case_id"]);
    assert_eq!(a["state"], "assigned");
    assert_eq!(a["assignee"], json!(worker_id));
    let case_id: Id = serde_json::from_value(a["case_id"].clone()).unwrap();

    // Refused clearly, and nothing made.
    let (status, body) = send(
        &s,
        &token,
        &order("12345-0002", "3301069999999999999", None),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_building"))
    );
    let mut by_area = order("12345-0003", code, None);
    by_area.as_object_mut().unwrap().remove("address_code");
    by_area["area_code"] = json!("330106999");
    let (status, body) = send(&s, &token, &by_area).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_area"))
    );
    let (status, body) = send(&s, &token, &order("12345-0004", &p.other_building, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope")),
        "{body}"
    );
    by_area["area_code"] = json!("330106001001002");
    let (status, body) = send(&s, &token, &by_area).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope")),
        "{body}"
    );
    let mut both = order("12345-0005", code, None);
    both["area_code"] = json!("330106001001001");
    let (status, body) = send(&s, &token, &both).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_order"))
    );
    for sid in ["12345-0002", "12345-0003", "12345-0004", "12345-0005"] {
        let res = s
            .http
            .get(s.url(&format!("/v1/intake/orders/{sid}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{sid} made nothing");
    }
    // Every refusal of the account is in the audit log, by record, without the request's text.
    let refused = s
        .storage
        .find_audit(AuditFilter {
            action: Some(AuditAction::Refused),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused.iter().all(|e| e.fact.actor.starts_with("service:")));
    assert!(
        refused
            .iter()
            .any(|e| e.fact.target_id.as_deref() == Some(&p.other_grid.to_string()))
    );

    // A phone token is no service token, and a service token opens no phone endpoint.
    let res = s
        .http
        .post(s.url("/v1/intake/orders"))
        .bearer_auth(&gridworker.token)
        .json(&order("12345-0006", code, None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .http
        .get(s.url("/v1/pull?after=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // The grid's phone pulls the case as any other, with its steps.
    let page = s.pull(&gridworker, 0, 1000, 0).await;
    let about: Vec<&str> = page
        .ops
        .iter()
        .filter(|o| o.op.entity_id == case_id)
        .map(|o| o.op.body_name())
        .collect();
    assert_eq!(about, ["set", "case_event", "case_event", "case_event"]);
    let assigned = page.ops.iter().any(|o| {
        matches!(&o.op.body, OpBody::CaseEvent { event }
            if matches!(event.action, CaseAction::ReviewAssign { assignee: Some(a), .. } if a == worker_id))
    });
    assert!(assigned, "assigned to the gridworker");
    // The town's other buildings are untouched: the case sits in the first one.
    assert!(!p.town.households.is_empty());

    // The status: state and timeline.
    let res = s
        .http
        .get(s.url("/v1/intake/orders/12345-0001"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status: OrderStatus = res.json().await.unwrap();
    assert_eq!(status.case_id, case_id);
    assert_eq!(status.state, CaseState::Assigned);
    let steps: Vec<&str> = status.timeline.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["note", "accept", "review_assign"]);

    // A phone's write outside its grid is refused, and the refusal is in the log by record.
    let mut gridworker = gridworker;
    let outside = gridworker.set(
        gridwork_domain::op::EntityKind::Building,
        p.other_building_id,
        json!({ "address": "改写" }),
    );
    let pushed = s.push(&gridworker, &[outside]).await;
    assert_eq!(
        crate::common::rejected(&pushed.results[0]).0,
        gridwork_domain::sync::RejectCode::Forbidden
    );
    let about = s
        .storage
        .find_audit(AuditFilter {
            target_id: Some(p.other_building_id.to_string()),
            action: Some(AuditAction::Refused),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    // The service account's order for that building, then the phone's write.
    assert_eq!(about.len(), 2, "{about:?}");
    assert!(about[0].fact.actor.starts_with("service:"));
    let phone = &about[1].fact;
    assert_eq!(phone.target_kind.as_deref(), Some("building"));
    assert!(phone.actor.contains(&gridworker.device.to_string()));
    assert!(!phone.reason.contains("改写"), "no value in the log");
}

/// The fake 12345 platform's callback endpoint: every delivery it saw, and whether it answers
/// 503 (down) or 200.
#[derive(Default)]
struct Platform {
    /// Every delivery: its headers, its body, and whether it was answered 200.
    got: Mutex<Vec<(HeaderMap, String, bool)>>,
    down: std::sync::atomic::AtomicBool,
}

async fn platform() -> (Arc<Platform>, String) {
    let state = Arc::new(Platform::default());
    let s = state.clone();
    let app = Router::new().route(
        "/callback",
        post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let down = s.down.load(std::sync::atomic::Ordering::SeqCst);
                s.got.lock().unwrap().push((headers, body, !down));
                if down {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

async fn register<S: Backend>(s: &TestServer<S>, token: &str, url: &str) -> String {
    let res = s
        .http
        .put(s.url("/v1/intake/callback"))
        .bearer_auth(token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["secret"].as_str().unwrap().to_string()
}

/// Waits (up to 60 s) until `done` holds of what the platform got.
async fn until(
    platform: &Platform,
    what: &str,
    done: impl Fn(&[(HeaderMap, String, bool)]) -> bool,
) {
    for _ in 0..600 {
        if done(&platform.got.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The fake platform runs on loopback: allowed by the operator's configuration, as a
/// platform inside the government network would be (ADR 0030).
fn loopback_callbacks_allowed() -> ServerOptions {
    ServerOptions {
        callback_allow: vec!["127.0.0.1/32".parse().unwrap()],
        ..ServerOptions::default()
    }
}

async fn every_step_goes_back_signed_through_refusals_and_a_restart<S: Backend>() {
    let mut s = TestServer::<S>::fresh_with(loopback_callbacks_allowed()).await;
    let p = place(&s).await;
    let (mut dispatcher, _) = phone_in(&s, "李明", Role::Dispatcher, vec![p.grid]).await;
    let (worker, worker_id) = phone_in(&s, "王芳", Role::Gridworker, vec![p.grid]).await;
    let (account, token) = service_account(&*s.storage, p.grid).await;
    let (platform, url) = platform().await;
    let secret = register(&s, &token, &url).await;
    assert!(secret.starts_with("whsec_"));

    // The platform is down: the steps wait in the queue, retried.
    platform
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = send(
        &s,
        &token,
        &order("12345-0100", "3301060010010010001", Some(worker_id)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id: Id = serde_json::from_value(body["case_id"].clone()).unwrap();
    until(&platform, "a retry was refused", |got| got.len() >= 2).await;
    let (waiting, delivered) = s.storage.callback_counts(account).await.unwrap();
    assert_eq!(
        (waiting, delivered),
        (3, 0),
        "note, accept, review_assign queued"
    );

    // The server restarts; the queue is in the database.
    s.restart().await;
    let mut worker = worker;
    let handle = worker.event(case_id, CaseAction::Handle);
    let pushed = s.push(&worker, &[handle]).await;
    assert!(
        matches!(
            pushed.results[0].outcome,
            gridwork_domain::sync::PushOutcome::Accepted { .. }
        ),
        "{pushed:?}"
    );
    let review = dispatcher.event(case_id, CaseAction::CompletionReview);
    let call_back = dispatcher.event(case_id, CaseAction::CallBack { satisfied: true });
    let close = dispatcher.event(case_id, CaseAction::Close);
    let pushed = s.push(&dispatcher, &[review, call_back, close]).await;
    for r in &pushed.results {
        assert!(
            matches!(
                r.outcome,
                gridwork_domain::sync::PushOutcome::Accepted { .. }
            ),
            "{r:?}"
        );
    }
    platform
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // Every step arrives, signed, keyed by its event id; the call-back result with it.
    let wanted = 7;
    until(&platform, "every step arrived", |got| {
        let mut keys: Vec<&str> = got
            .iter()
            .filter(|(_, _, taken)| *taken)
            .filter_map(|(h, _, _)| h.get(callbacks::IDEMPOTENCY_HEADER)?.to_str().ok())
            .collect();
        keys.sort();
        keys.dedup();
        keys.len() >= wanted
    })
    .await;
    // Let any duplicate in flight land, then read what the platform kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = platform.got.lock().unwrap().clone();
    let mut steps = std::collections::BTreeMap::new();
    for (headers, body, _) in &got {
        let sig = headers[callbacks::SIGNATURE_HEADER].to_str().unwrap();
        assert!(
            callbacks::verify(&secret, sig, body).is_some(),
            "signed with the secret"
        );
        assert!(callbacks::verify("whsec_wrong", sig, body).is_none());
        let cb: CallbackBody = serde_json::from_str(body).unwrap();
        assert_eq!(cb.source_id, "12345-0100");
        assert_eq!(cb.case_id, case_id);
        let key = headers[callbacks::IDEMPOTENCY_HEADER].to_str().unwrap();
        assert_eq!(key, cb.step.event_id.to_string());
        steps.insert(cb.step.event_id, cb.step);
    }
    // Each step of the case's timeline, in its order, came back once or more.
    let res = s
        .http
        .get(s.url("/v1/intake/orders/12345-0100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status: OrderStatus = res.json().await.unwrap();
    assert!(status.closed);
    let names: Vec<&str> = status.timeline.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names,
        [
            "note",
            "accept",
            "review_assign",
            "handle",
            "completion_review",
            "call_back",
            "close"
        ]
    );
    for step in &status.timeline {
        assert_eq!(
            steps.get(&step.event_id),
            Some(step),
            "{} came back as it is",
            step.step
        );
    }
    assert_eq!(steps.len(), status.timeline.len());
    let call_back = steps.values().find(|s| s.step == "call_back").unwrap();
    assert_eq!(call_back.action, CaseAction::CallBack { satisfied: true });
    assert_eq!(call_back.state, CaseState::CalledBack);
    assert!(
        got.len() > wanted,
        "the refused attempts were retried: {} deliveries",
        got.len()
    );
    let (waiting, delivered) = s.storage.callback_counts(account).await.unwrap();
    assert_eq!((waiting, delivered), (0, 7));
}

/// A work order's case is stored before its order row (`http/intake.rs`). A callback scan that
/// runs in between (the push's wake-up starts one at once) must not pass over the case's steps:
/// it stops before them until the order row is there, then queues them; a step whose order never
/// came (the server stopped in between) is passed over after the hold.
async fn a_scan_between_the_case_and_its_order_row_waits_for_the_row<S: Backend>() {
    let s = TestServer::<S>::fresh_with(loopback_callbacks_allowed()).await;
    let p = place(&s).await;
    let (account, token) = service_account(&*s.storage, p.grid).await;
    let (_platform, url) = platform().await;
    register(&s, &token, &url).await;
    let account_user = s
        .storage
        .service_account(account)
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let building = p.town.households[0].building_id;
    let ctx = |now_ms| PushContext {
        device: account,
        user: account_user,
        view: ScopeView::new(Role::Admin, vec![], vec![]),
        now_ms,
    };
    let work = |source: &str| -> WorkOrder {
        serde_json::from_value(order(source, "3301060010010010001", None)).unwrap()
    };

    // The case and its steps are stored; the order row is not yet.
    let now = clock::now_ms();
    let ops = case_ops(
        account,
        account_user,
        &work("12345-0200"),
        p.grid,
        Some(building),
        now,
    );
    let case_id = ops[0].entity_id;
    let steps = ops
        .iter()
        .filter(|o| matches!(o.body, OpBody::CaseEvent { .. }))
        .count();
    assert!(steps >= 1);
    let stored = s.storage.push(ctx(now), ops.clone()).await.unwrap();
    let first_step = ops
        .iter()
        .zip(&stored)
        .filter(|(o, _)| matches!(o.body, OpBody::CaseEvent { .. }))
        .map(|(_, r)| crate::common::accepted(r))
        .min()
        .unwrap();
    callbacks::scan(&*s.storage, clock::now_ms()).await.unwrap();
    assert!(
        s.storage.callback_cursor().await.unwrap() < first_step,
        "the scan stopped before the steps of the case whose order row is missing"
    );
    assert_eq!(s.storage.callback_counts(account).await.unwrap(), (0, 0));

    // The row arrives: the next scan queues every step.
    s.storage
        .insert_intake_order(IntakeOrder {
            account,
            source_id: "12345-0200".into(),
            kind: "hotline_12345".into(),
            case_id,
            received_ms: now,
        })
        .await
        .unwrap();
    // (On PostgreSQL a scan reads below the log's horizon, which a transaction still running
    // elsewhere, such as the server's own callback task, may hold back a moment: scan again.)
    let mut queued = 0;
    for _ in 0..100 {
        callbacks::scan(&*s.storage, clock::now_ms()).await.unwrap();
        let (waiting, delivered) = s.storage.callback_counts(account).await.unwrap();
        queued = waiting + delivered;
        if queued >= steps as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(queued, steps as u64, "every step queued once");

    // A case whose order row never comes holds the scan only for a while.
    let later = clock::now_ms();
    let ops = case_ops(
        account,
        account_user,
        &work("12345-0201"),
        p.grid,
        Some(building),
        later,
    );
    let stored = s.storage.push(ctx(later), ops).await.unwrap();
    let last = stored.iter().map(crate::common::accepted).max().unwrap();
    let mut cursor = 0;
    for _ in 0..100 {
        callbacks::scan(&*s.storage, later + 31_000).await.unwrap();
        cursor = s.storage.callback_cursor().await.unwrap();
        if cursor >= last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cursor >= last, "passed over after the hold");
}

on_both_backends!(
    orders_are_taken_in_once_refused_clearly_and_reach_the_grid,
    every_step_goes_back_signed_through_refusals_and_a_restart,
    a_scan_between_the_case_and_its_order_row_waits_for_the_row,
    the_audit_log_records_and_verify_catches_an_edit,
    a_patrol_with_a_visit_removed_or_back_dated_is_flagged,
    audit_list_filters_and_pages_in_the_database,
    callbacks_to_non_public_addresses_are_refused_at_registration_and_delivery,
);

/// Issue 26, ADR 0030: a callback URL must be http(s) and reach only public addresses, unless
/// the operator allows a network. Each kind of address is refused at registration; a callback
/// that got past it (stored before, or an allow-list taken away) is refused at delivery, after
/// resolving, and nothing is sent; with the network allowed it is delivered.
async fn callbacks_to_non_public_addresses_are_refused_at_registration_and_delivery<S: Backend>() {
    let s = TestServer::<S>::fresh().await;
    let p = place(&s).await;
    let (account, token) = service_account(&*s.storage, p.grid).await;
    for (url, why) in [
        ("http://127.0.0.1:9/callback", "loopback"),
        ("http://[::1]:9/callback", "loopback"),
        ("http://localhost:9/callback", ""),
        ("http://10.0.0.8/callback", "private"),
        ("http://172.16.5.4/callback", "private"),
        ("http://192.168.1.20/callback", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        (
            "http://100.100.100.200/latest/meta-data/",
            "shared address space",
        ),
        ("http://[fd00:ec2::254]/latest/meta-data/", "private"),
        ("http://[::ffff:127.0.0.1]/callback", "loopback"),
        ("http://0.0.0.0:9/callback", "unspecified"),
        ("ftp://8.8.8.8/callback", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
    ] {
        let res = s
            .http
            .put(s.url("/v1/intake/callback"))
            .bearer_auth(&token)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_callback", "{url}: {body}");
        let message = body.to_string();
        assert!(message.contains(why), "{url}: {message}");
    }
    let listed = s.storage.list_service_accounts().await.unwrap();
    assert!(
        listed.iter().all(|a| a.callback.is_none()),
        "nothing was registered"
    );

    // Past registration (stored behind its back): refused again when it is to be sent.
    let (platform, url) = platform().await;
    s.storage
        .set_callback(
            account,
            Some(gridwork_server::storage::intake::CallbackTarget {
                url,
                secret: "whsec_test".into(),
            }),
        )
        .await
        .unwrap();
    let (status, body) = send(
        &s,
        &token,
        &order("12345-0200", "3301060010010010001", None),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for _ in 0..600 {
        if s.storage.callback_counts(account).await.unwrap().0 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        s.storage.callback_counts(account).await.unwrap().0 > 0,
        "queued"
    );
    let http = reqwest::Client::new();
    let tomorrow: gridwork_server::clock::ServerClock = Arc::new(|| clock::now_ms() + 86_400_000);
    let refused = CallbackPolicy::default();
    let sent = callbacks::deliver(&*s.storage, &http, &tomorrow, &refused)
        .await
        .unwrap();
    assert_eq!(sent, 0);
    assert!(platform.got.lock().unwrap().is_empty(), "nothing was sent");
    assert_eq!(s.storage.callback_counts(account).await.unwrap().1, 0);

    let in_three_days: gridwork_server::clock::ServerClock =
        Arc::new(|| clock::now_ms() + 3 * 86_400_000);
    let allowed = CallbackPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let sent = callbacks::deliver(&*s.storage, &http, &in_three_days, &allowed)
        .await
        .unwrap();
    assert!(sent >= 1, "delivered once its network is allowed");
    assert!(!platform.got.lock().unwrap().is_empty());
}

/// Issue 26: `audit list` picks by resident, kind, actor and time, and pages back, in the
/// database's query (the same answers on both backends), through the storage and the binary.
async fn audit_list_filters_and_pages_in_the_database<S: Raw>() {
    let db = S::create().await;
    let storage = S::open(&db).await;
    let t0 = 1_795_000_000_000u64;
    let residents = ["r-a", "r-b"];
    // 30 entries: readings of two residents by two phones, exports and refusals, a minute apart.
    for i in 0..30u64 {
        let action = match i % 3 {
            0 | 1 => AuditAction::ReadIdNumber,
            _ => AuditAction::Export,
        };
        storage
            .append_audit(audit::AuditFact {
                at_ms: t0 + i * 60_000,
                actor: format!("user:u{}/device:d{}", i % 2, i % 2),
                action,
                target_kind: Some("resident".into()),
                target_id: Some(residents[(i % 4 / 2) as usize].into()),
                reason: format!("entry {i}"),
                fact_id: None,
            })
            .await
            .unwrap();
    }
    let find = |f: AuditFilter| {
        let storage = &storage;
        async move { storage.find_audit(f).await.unwrap() }
    };
    let seqs = |es: &[audit::AuditEntry]| es.iter().map(|e| e.seq).collect::<Vec<_>>();
    let expected = |pick: &dyn Fn(u64) -> bool| -> Vec<u64> {
        (0..30u64).filter(|i| pick(*i)).map(|i| i + 1).collect()
    };

    let by_resident = find(AuditFilter {
        target_id: Some("r-b".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(seqs(&by_resident), expected(&|i| i % 4 / 2 == 1));
    let by_kind_and_actor = find(AuditFilter {
        action: Some(AuditAction::Export),
        actor: Some("device:d1".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        seqs(&by_kind_and_actor),
        expected(&|i| i % 3 == 2 && i % 2 == 1)
    );
    let in_time = find(AuditFilter {
        since_ms: Some(t0 + 10 * 60_000),
        until_ms: Some(t0 + 20 * 60_000),
        target_id: Some("r-a".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        seqs(&in_time),
        expected(&|i| (10..20).contains(&i) && i % 4 / 2 == 0)
    );
    // Pages of 4 back from the newest, each the 4 before the last one's first entry.
    let mut pages = vec![];
    let mut before = None;
    loop {
        let page = find(AuditFilter {
            action: Some(AuditAction::ReadIdNumber),
            before_seq: before,
            limit: 4,
            ..AuditFilter::default()
        })
        .await;
        if page.is_empty() {
            break;
        }
        before = Some(page[0].seq);
        pages.push(seqs(&page));
    }
    let all_reads = expected(&|i| i % 3 != 2);
    assert_eq!(pages[0], all_reads[all_reads.len() - 4..].to_vec());
    assert_eq!(pages.len(), all_reads.len().div_ceil(4));
    let mut joined: Vec<u64> = pages.into_iter().rev().flatten().collect();
    joined.dedup();
    assert_eq!(joined, all_reads, "every entry once, in order");

    // The binary: its filters, a full page naming the page before it.
    let args = S::store_args(&db);
    let run = |extra: &[&str]| {
        let mut cmd = vec!["audit", "list"];
        cmd.extend(args.iter().map(String::as_str));
        cmd.extend(extra);
        cli::admin(&cmd)
    };
    let (ok, listed, err) = run(&[
        "--resident",
        "r-b",
        "--kind",
        "export",
        "--actor",
        "device:d1",
    ]);
    assert!(ok, "{err}");
    let listed_seqs: Vec<u64> = listed
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        listed_seqs,
        expected(&|i| i % 4 / 2 == 1 && i % 3 == 2 && i % 2 == 1)
    );
    let (ok, listed, err) = run(&["--limit", "5", "--since", &(t0 + 60_000).to_string()]);
    assert!(ok, "{err}");
    assert_eq!(listed.lines().count(), 5);
    assert!(listed.starts_with("26\t"), "the newest five: {listed}");
    assert!(err.contains("--before 26"), "{err}");
    let (ok, listed, _) = run(&["--limit", "5", "--before", "26"]);
    assert!(ok);
    assert!(listed.starts_with("21\t"), "the page before: {listed}");
    let (ok, listed, err) = run(&["--until", "1970-01-02"]);
    assert!(ok, "{err}");
    assert!(listed.is_empty(), "{listed}");
}

/// Direct access to a backend's database, as someone with the database password (not the
/// server) has it: to edit the audit log behind the server's back.
trait Raw: Backend {
    fn store_args(db: &Self::Database) -> Vec<String>;
    async fn execute(db: &Self::Database, sql: &str);
}

impl Raw for SqliteStorage {
    fn store_args(db: &TempDir) -> Vec<String> {
        vec![
            "--db".into(),
            db.path().join("server.db").display().to_string(),
        ]
    }

    async fn execute(db: &TempDir, sql: &str) {
        let conn = rusqlite::Connection::open(db.path().join("server.db")).unwrap();
        conn.execute_batch(sql).unwrap();
    }
}

impl Raw for PgStorage {
    fn store_args(db: &ScratchDatabase) -> Vec<String> {
        vec!["--database".into(), db.url().to_string()]
    }

    async fn execute(db: &ScratchDatabase, sql: &str) {
        let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
    }
}

async fn the_audit_log_records_and_verify_catches_an_edit<S: Raw>() {
    let db = S::create().await;
    let storage = Arc::new(S::open(&db).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = gridwork_server::serve(listener, storage.clone())
        .await
        .unwrap();
    let args = S::store_args(&db);
    let store: Vec<&str> = args.iter().map(String::as_str).collect();
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .copied()
            .chain(store.iter().copied())
            .map(String::from)
            .collect()
    };
    let run = |cmd: Vec<String>| {
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        cli::admin(&refs)
    };

    // Admin commands leave entries (without names).
    let (ok, user, err) = run(with(&[
        "admin",
        "create-user",
        "--name",
        "王芳",
        "--role",
        "gridworker",
    ]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(with(&["admin", "enrollment-code", "--user", &user]));
    assert!(ok, "{err}");
    let area = Uuid::now_v7().to_string();
    let (ok, line, err) = run(with(&[
        "admin",
        "create-service-account",
        "--name",
        "12345 热线",
        "--area",
        &area,
    ]));
    assert!(ok, "{err}");
    let (account, token) = line.split_once('\t').expect("id and token");
    assert!(auth::token_device(token).is_some());
    let (ok, listed, _) = run(with(&["admin", "list-service-accounts"]));
    assert!(
        ok && listed.contains(account) && listed.contains(&area),
        "{listed}"
    );

    // A phone reports the full ID numbers it showed; a report sent twice counts once.
    let user_id: Id = user.parse().unwrap();
    let code = storage
        .create_enrollment_code(user_id, clock::now_ms())
        .await
        .unwrap();
    let device = Uuid::now_v7();
    let http = reqwest::Client::new();
    let enrolled: EnrollResponse = http
        .post(format!("{}/v1/enroll", server.url()))
        .json(&EnrollRequest {
            code,
            device_id: device,
            device_name: "手机".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resident = Uuid::now_v7();
    let report = json!({ "facts": [{
        "id": Uuid::now_v7(), "at_ms": clock::now_ms(), "action": "read_id_number",
        "target_kind": "resident", "target_id": resident, "reason": "resident view"
    }]});
    for expected in [
        json!({"stored": 1, "already": 0}),
        json!({"stored": 0, "already": 1}),
    ] {
        let res = http
            .post(format!("{}/v1/audit", server.url()))
            .bearer_auth(&enrolled.token)
            .json(&report)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap(), expected);
    }
    // Without a device token, nothing is recorded.
    let res = http
        .post(format!("{}/v1/audit", server.url()))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let (ok, listed, err) = run(with(&[
        "audit",
        "list",
        "--resident",
        &resident.to_string(),
    ]));
    assert!(ok, "{err}");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(
        lines[0].contains("read_id_number") && lines[0].contains(&device.to_string()),
        "{listed}"
    );
    let (ok, listed, _) = run(with(&[
        "audit",
        "list",
        "--action",
        "admin_change",
        "--json",
    ]));
    assert!(ok);
    let admin: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        admin.len(),
        3,
        "create-user, enrollment-code, create-service-account: {listed}"
    );
    assert!(!listed.contains("王芳"), "no names in the log");

    let (ok, verified, err) = run(with(&["audit", "verify"]));
    assert!(ok, "{err}");
    // Chinese by default, English on request (ADR 0024).
    assert!(verified.starts_with("审计日志完整：4 条"), "{verified}");
    let (ok, english, err) = run(with(&["audit", "verify", "--lang", "en"]));
    assert!(ok, "{err}");
    assert!(
        english.starts_with("the audit log is intact: 4 entries"),
        "{english}"
    );
    let head = verified.rsplit(' ').next().unwrap().to_string();
    let entries = storage.all_audit().await.unwrap();
    assert!(matches!(
        audit::verify(&entries),
        Verdict::Intact { entries: 4, .. }
    ));

    // Altered behind the server's back: the reading blamed on someone else.
    S::execute(
        &db,
        "UPDATE audit_log SET actor = 'admin:nobody' WHERE seq = 4",
    )
    .await;
    let (ok, _, err) = run(with(&["audit", "verify"]));
    assert!(!ok);
    assert!(err.contains("entry 4") && err.contains("altered"), "{err}");

    // Put back as it was, it verifies again (and still ends with the head noted).
    let original = &entries[3].fact.actor;
    S::execute(
        &db,
        &format!("UPDATE audit_log SET actor = '{original}' WHERE seq = 4"),
    )
    .await;
    let (ok, _, err) = run(with(&["audit", "verify", "--expect-head", &head]));
    assert!(ok, "restored: {err}");
    // Removed: the entry of the enrollment code taken out, the rest left as it was.
    S::execute(&db, "DELETE FROM audit_log WHERE seq = 2").await;
    let (ok, _, err) = run(with(&["audit", "verify"]));
    assert!(!ok);
    assert!(err.contains("entry 2") && err.contains("removed"), "{err}");
    // Cut from the end: the chain left verifies, but not against the head noted before.
    S::execute(&db, "DELETE FROM audit_log WHERE seq >= 2").await;
    let (ok, _, _) = run(with(&["audit", "verify"]));
    assert!(ok, "a cut tail leaves a chain that verifies");
    let (ok, _, err) = run(with(&["audit", "verify", "--expect-head", &head]));
    assert!(!ok);
    assert!(err.contains("末尾的记录被删除"), "{err}");
    server.shutdown().await.unwrap();
}

/// A patrol as a phone makes it (ADR 0025): started, `n` visits each chained to the one
/// before, ended with the chain sealed in the same operation as the end.
fn patrol_ops(
    phone: &mut Phone,
    grid: Id,
    buildings: &[Id],
) -> (
    gridwork_domain::model::Patrol,
    Vec<gridwork_domain::model::PatrolVisit>,
    Vec<gridwork_domain::op::Op>,
) {
    use gridwork_domain::model::{Patrol, PatrolVisit};
    use gridwork_domain::workflow::patrol_chain;
    let start = clock::now_ms() - 3_600_000;
    let patrol = Patrol {
        id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        area_id: grid,
        started_at_ms: start,
        ended_at_ms: None,
        chain_head: None,
    };
    let mut ops = vec![phone.create(&patrol)];
    let mut prev = patrol_chain::genesis(&patrol);
    let mut visits = vec![];
    for (i, b) in buildings.iter().enumerate() {
        let mut v = PatrolVisit {
            id: Uuid::now_v7(),
            patrol_id: patrol.id,
            building_id: *b,
            at_ms: start + 600_000 * (i as u64 + 1),
            position: None,
            note: None,
            chain: None,
        };
        prev = patrol_chain::link(&prev, &v);
        v.chain = Some(prev.clone());
        ops.push(phone.create(&v));
        visits.push(v);
    }
    ops.push(phone.set(
        gridwork_domain::op::EntityKind::Patrol,
        patrol.id,
        json!({ "ended_at_ms": start + 3_000_000, "chain_head": prev }),
    ));
    (patrol, visits, ops)
}

async fn a_patrol_with_a_visit_removed_or_back_dated_is_flagged<S: Raw>() {
    use gridwork_domain::op::EntityKind;
    let db = S::create().await;
    let storage = S::open(&db).await;
    let args = S::store_args(&db);
    let patrols = || {
        let mut cmd = vec!["audit", "patrols"];
        cmd.extend(args.iter().map(String::as_str));
        cli::admin(&cmd)
    };
    let mut phone = Phone::offline();
    let t = town(&mut phone, 3);
    let grid = t.areas[4].id;
    let buildings: Vec<Id> = t.households.iter().map(|h| h.building_id).collect();
    storage.push(phone.ctx(), t.ops.clone()).await.unwrap();
    let (_, _, ops) = patrol_ops(&mut phone, grid, &buildings);
    storage.push(phone.ctx(), ops).await.unwrap();
    let (removed, visits, ops) = patrol_ops(&mut phone, grid, &buildings);
    storage.push(phone.ctx(), ops).await.unwrap();
    let (ok, out, err) = patrols();
    assert!(ok, "{out} {err}");
    assert!(out.contains("巡查：2 条校验通过，0 条被标记"), "{out}");
    let mut english = vec!["audit", "patrols", "--lang", "en"];
    english.extend(args.iter().map(String::as_str));
    let (_, out, _) = cli::admin(&english);
    assert!(out.contains("patrols: 2 verify, 0 flagged"), "{out}");

    // A visit of the second patrol removed after the fact.
    let delete = phone.delete(EntityKind::PatrolVisit, visits[1].id);
    storage.push(phone.ctx(), vec![delete]).await.unwrap();
    let (ok, out, _) = patrols();
    assert!(!ok, "a flagged patrol fails the command");
    let flagged: Vec<&str> = out.lines().filter(|l| l.contains("\t被标记\t")).collect();
    assert_eq!(flagged.len(), 1, "{out}");
    assert!(flagged[0].starts_with(&removed.id.to_string()), "{out}");
    assert!(
        flagged[0].contains(&visits[2].id.to_string()),
        "the visit after the gap: {out}"
    );

    // A third patrol back-dated later, its links recomputed to hide it: the stamps show it.
    let (dated, visits, ops) = patrol_ops(&mut phone, grid, &buildings);
    storage.push(phone.ctx(), ops).await.unwrap();
    let mut earlier = visits[0].clone();
    earlier.at_ms -= 1_000_000;
    let mut prev =
        gridwork_domain::workflow::patrol_chain::genesis(&gridwork_domain::model::Patrol {
            id: dated.id,
            user_id: dated.user_id,
            area_id: dated.area_id,
            started_at_ms: dated.started_at_ms,
            ended_at_ms: None,
            chain_head: None,
        });
    let mut rewrite = vec![];
    for (i, v) in visits.iter().enumerate() {
        let v = if i == 0 { earlier.clone() } else { v.clone() };
        prev = gridwork_domain::workflow::patrol_chain::link(&prev, &v);
        let fields = if i == 0 {
            json!({ "at_ms": v.at_ms, "chain": prev })
        } else {
            json!({ "chain": prev })
        };
        rewrite.push(phone.set(EntityKind::PatrolVisit, v.id, fields));
    }
    rewrite.push(phone.set(EntityKind::Patrol, dated.id, json!({ "chain_head": prev })));
    storage.push(phone.ctx(), rewrite).await.unwrap();
    let (ok, out, _) = patrols();
    assert!(!ok);
    let flagged: Vec<&str> = out.lines().filter(|l| l.contains("\t被标记\t")).collect();
    assert_eq!(flagged.len(), 2, "{out}");
    assert!(
        flagged
            .iter()
            .any(|l| l.starts_with(&dated.id.to_string()) && l.contains("changed after")),
        "{out}"
    );
    assert!(out.contains("巡查：1 条校验通过，2 条被标记"), "{out}");
}
