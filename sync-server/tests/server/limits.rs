//! Every size limit at its boundary: the limit itself passes, one more is refused (or capped,
//! for page sizes the server chooses): operations per push, body bytes, pull and snapshot page
//! sizes, the long poll's wait, enrollment field lengths.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use gridwork_domain::sync::{
    EnrollRequest, ErrorBody, MAX_PULL_LIMIT, MAX_PULL_WAIT_S, MAX_PUSH_OPS, MAX_SNAPSHOT_LIMIT,
    Role,
};
use gridwork_server::clock;
use gridwork_server::http::enroll::{MAX_CODE_CHARS, MAX_DEVICE_NAME_CHARS};
use gridwork_server::http::{AppState, MAX_BODY_BYTES, router};
use gridwork_server::storage::{SqliteStorage, Storage};
use tower::ServiceExt;
use uuid::Uuid;

use crate::common::{TestServer, town};

/// Buildings per town so that the town is exactly [`MAX_PUSH_OPS`] operations (5 areas, 3 per
/// building, the hazard and its 2 steps) and 498 records.
const FULL_BATCH_BUILDINGS: usize = (MAX_PUSH_OPS - 8) / 3;

async fn error(res: reqwest::Response) -> (u16, ErrorBody) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_push_of_exactly_the_most_operations_passes_and_one_more_is_refused_whole() {
    let server = TestServer::start().await;
    let mut phone = server.phone("张伟", Role::Admin).await;
    let full = town(&mut phone, FULL_BATCH_BUILDINGS).ops;
    assert_eq!(full.len(), MAX_PUSH_OPS);
    let answer = server.push(&phone, &full).await;
    assert_eq!(answer.results.len(), MAX_PUSH_OPS);

    let mut over = town(&mut phone, FULL_BATCH_BUILDINGS + 1).ops;
    over.truncate(MAX_PUSH_OPS + 1);
    let res = server
        .post(
            "/v1/push",
            Some(&phone.token),
            &serde_json::json!({ "ops": over }),
        )
        .await;
    let (status, body) = error(res).await;
    assert_eq!((status, body.error.as_str()), (413, "too_many_ops"));
    assert!(body.message.contains("500"), "{}", body.message);
    let stored = server.pull(&phone, 0, MAX_PULL_LIMIT, 0).await;
    assert_eq!(
        stored.ops.len(),
        MAX_PUSH_OPS,
        "nothing of the refused push"
    );
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413() {
    let server = TestServer::start().await;
    let phone = server.phone("张伟", Role::Admin).await;
    let padded = |len: usize| {
        let mut body = b"{\"ops\":[]".to_vec();
        body.resize(len - 1, b' ');
        body.push(b'}');
        body
    };
    let send = |body: Vec<u8>| {
        server
            .http
            .post(server.url("/v1/push"))
            .bearer_auth(&phone.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = send(padded(MAX_BODY_BYTES)).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (status, body) = error(send(padded(MAX_BODY_BYTES + 1)).await.unwrap()).await;
    assert_eq!((status, body.error.as_str()), (413, "payload_too_large"));
}

#[tokio::test]
async fn pull_and_snapshot_pages_are_capped_at_their_most() {
    let server = TestServer::start().await;
    let mut phone = server.phone("调度员", Role::Admin).await;
    for _ in 0..5 {
        let ops = town(&mut phone, FULL_BATCH_BUILDINGS).ops;
        server.push(&phone, &ops).await;
    }
    // 2,500 operations, 2,490 records.
    for (limit, expect) in [
        (MAX_PULL_LIMIT.to_string(), MAX_PULL_LIMIT),
        ((MAX_PULL_LIMIT + 1).to_string(), MAX_PULL_LIMIT),
        (u64::MAX.to_string(), MAX_PULL_LIMIT),
        ("0".to_string(), 1),
    ] {
        let res = server
            .get(&format!("/v1/pull?after=0&limit={limit}"), &phone.token)
            .await;
        let page: gridwork_domain::sync::PullResponse = res.json().await.unwrap();
        assert_eq!(page.ops.len(), expect, "limit={limit}");
        assert!(page.more, "limit={limit}");
    }
    let past_the_end = server
        .get(&format!("/v1/pull?after={}", u64::MAX), &phone.token)
        .await;
    let page: gridwork_domain::sync::PullResponse = past_the_end.json().await.unwrap();
    assert!(page.ops.is_empty() && !page.more);

    for (limit, expect) in [
        (MAX_SNAPSHOT_LIMIT.to_string(), MAX_SNAPSHOT_LIMIT),
        ((MAX_SNAPSHOT_LIMIT + 1).to_string(), MAX_SNAPSHOT_LIMIT),
        ("0".to_string(), 1),
    ] {
        let res = server
            .get(&format!("/v1/snapshot?limit={limit}"), &phone.token)
            .await;
        let page: gridwork_domain::sync::SnapshotResponse = res.json().await.unwrap();
        assert_eq!(page.records.len(), expect, "limit={limit}");
        assert!(page.next_after.is_some(), "limit={limit}");
    }
    let default = server.snapshot(&phone, None, MAX_SNAPSHOT_LIMIT).await;
    let rest = server
        .snapshot(&phone, default.next_after, MAX_SNAPSHOT_LIMIT)
        .await;
    assert_eq!(default.records.len() + rest.records.len(), 5 * 498);
    assert_eq!(rest.next_after, None);
}

/// On tokio's paused clock (time moves only when every task waits), so the figure is exact and
/// the test does not wait half a minute.
#[tokio::test(start_paused = true)]
async fn a_long_poll_waits_at_most_30_seconds_whatever_it_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let storage = std::sync::Arc::new(SqliteStorage::open(dir.path().join("s.db")).unwrap());
    let user = storage
        .create_user("消防队员".into(), Role::Admin, vec![])
        .await
        .unwrap();
    let code = storage
        .create_enrollment_code(user.id, clock::now_ms())
        .await
        .unwrap();
    let device = Uuid::now_v7();
    let token = storage
        .enroll(code, device, "手机".into(), clock::now_ms())
        .await
        .unwrap()
        .token;
    let app = router(AppState::without_shutdown(storage));
    for wait in ["31", "3600", &u64::MAX.to_string()] {
        let started = tokio::time::Instant::now();
        let res = app
            .clone()
            .oneshot(
                Request::get(format!("/v1/pull?after=0&wait={wait}"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "wait={wait}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(MAX_PULL_WAIT_S)
                && waited < Duration::from_secs(MAX_PULL_WAIT_S + 1),
            "wait={wait}: {waited:?}"
        );
    }
}

#[tokio::test]
async fn enrollment_fields_are_capped_in_length() {
    let server = TestServer::start().await;
    let user = server.user("王芳", Role::Admin).await;
    let enroll = |code: String, device_name: String| EnrollRequest {
        code,
        device_id: Uuid::now_v7(),
        device_name,
    };
    // A code of the longest length is looked up (and is wrong); one longer is refused unread.
    let res = server
        .post(
            "/v1/enroll",
            None,
            &enroll("A".repeat(MAX_CODE_CHARS), "手机".into()),
        )
        .await;
    assert_eq!(error(res).await.1.error, "invalid_code");
    let res = server
        .post(
            "/v1/enroll",
            None,
            &enroll("A".repeat(MAX_CODE_CHARS + 1), "手机".into()),
        )
        .await;
    let (status, body) = error(res).await;
    assert_eq!((status, body.error.as_str()), (400, "invalid_body"));
    assert!(body.message.contains("code"), "{}", body.message);

    // A label of the longest length (in characters, not bytes) is taken; one longer is not.
    let res = server
        .post(
            "/v1/enroll",
            None,
            &enroll(
                server.code(user).await,
                "机".repeat(MAX_DEVICE_NAME_CHARS + 1),
            ),
        )
        .await;
    let (status, body) = error(res).await;
    assert_eq!((status, body.error.as_str()), (400, "invalid_body"));
    assert!(body.message.contains("device_name"), "{}", body.message);
    let res = server
        .post(
            "/v1/enroll",
            None,
            &enroll(server.code(user).await, "机".repeat(MAX_DEVICE_NAME_CHARS)),
        )
        .await;
    assert_eq!(res.status(), 200);
}
