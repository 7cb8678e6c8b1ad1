//! Enrollment over HTTP: a gridworker types the admin's code into a new phone.

use gridwork_domain::sync::{EnrollRequest, EnrollResponse, ErrorBody, Role};
use gridwork_server::clock;
use uuid::Uuid;

use crate::common::{Backend, TestServer, on_both_backends};

async fn a_gridworker_enrolls_a_new_phone_with_the_admins_code_once<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let grid = Uuid::now_v7();
    let user = server
        .storage
        .create_user("张伟".into(), Role::Gridworker, vec![grid])
        .await
        .unwrap();
    let code = server.code(user.id).await;

    // Typed on the phone in lower case with spaces: still the code.
    let typed = code.to_lowercase().replace('-', " ");
    let device = Uuid::now_v7();
    let res = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code: typed,
                device_id: device,
                device_name: "张伟的手机".into(),
            },
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: EnrollResponse = res.json().await.unwrap();
    assert_eq!(answer.user_id, user.id);
    assert_eq!(answer.user_name, "张伟");
    assert_eq!(answer.role, Role::Gridworker);
    assert_eq!(answer.scope, vec![grid]);
    assert!(answer.server_time_ms.abs_diff(clock::now_ms()) < 60_000);

    // The token works.
    let pull = server.get("/v1/pull?after=0", &answer.token).await;
    assert_eq!(pull.status(), 200);

    // The same code on a second phone is refused.
    let res = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code,
                device_id: Uuid::now_v7(),
                device_name: String::new(),
            },
        )
        .await;
    assert_eq!(res.status(), 401);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "invalid_code");
    assert!(body.message.contains("already used"), "{}", body.message);
}

#[tokio::test]
async fn the_database_file_holds_only_hashes_of_tokens_and_codes() {
    let server = TestServer::start().await;
    let user = server.user("刘洋", Role::Dispatcher).await;
    let code = server.code(user).await;
    let device = Uuid::now_v7();
    let answer: EnrollResponse = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code: code.clone(),
                device_id: device,
                device_name: String::new(),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    // Read every byte the database has: the main file and the write-ahead log.
    let mut bytes = std::fs::read(server.db_path()).unwrap();
    if let Ok(wal) = std::fs::read(server.db_path().with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let secret = answer.token.split_once('.').unwrap().1;
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&answer.token), "the raw token is not stored");
    assert!(!contains(secret), "not even its secret half");
    assert!(!contains(&code.replace('-', "")), "nor the code");
    assert!(
        contains(&gridwork_server::auth::hash_token(&answer.token)),
        "its hash is"
    );
}

async fn a_revoked_phone_is_refused_on_its_very_next_request<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let phone = server.phone("陈静", Role::Gridworker).await;
    assert_eq!(
        server.get("/v1/pull?after=0", &phone.token).await.status(),
        200
    );

    assert!(
        server
            .storage
            .revoke_device(phone.device, clock::now_ms())
            .await
            .unwrap()
    );

    let res = server.get("/v1/pull?after=0", &phone.token).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "unauthorized");
    let res = server
        .post(
            "/v1/push",
            Some(&phone.token),
            &serde_json::json!({ "ops": [] }),
        )
        .await;
    assert_eq!(res.status(), 401);
}

async fn an_expired_code_and_a_nil_device_id_are_refused<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let user = server.user("周杰", Role::Mediator).await;
    let old = server
        .storage
        .create_enrollment_code(user, clock::now_ms() - 86_400_001)
        .await
        .unwrap();
    let res = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code: old,
                device_id: Uuid::now_v7(),
                device_name: String::new(),
            },
        )
        .await;
    assert_eq!(res.status(), 401);
    let body: ErrorBody = res.json().await.unwrap();
    assert!(body.message.contains("expired"), "{}", body.message);

    let code = server.code(user).await;
    let res = server
        .post(
            "/v1/enroll",
            None,
            &EnrollRequest {
                code,
                device_id: Uuid::nil(),
                device_name: String::new(),
            },
        )
        .await;
    assert_eq!(res.status(), 400);
}

async fn a_phone_revoked_while_its_long_poll_waits_gets_no_news_and_nothing_after<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let lost = server.phone("丢失的手机", Role::Admin).await;
    let mut dispatcher = server.phone("调度员", Role::Admin).await;
    let cursor = server.pull(&lost, 0, 10, 0).await.next;

    // The stolen phone is waiting for news when the admin revokes it.
    let poll = tokio::spawn({
        let http = server.http.clone();
        let url = server.url(&format!("/v1/pull?after={cursor}&wait=30"));
        let token = lost.token.clone();
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!poll.is_finished(), "nothing new yet: the poll waits");
    assert!(
        server
            .storage
            .revoke_device(lost.device, clock::now_ms())
            .await
            .unwrap()
    );

    // News arrives: the waiting poll wakes, and answers 401 instead of the news.
    let town = crate::common::town(&mut dispatcher, 1);
    server.push(&dispatcher, &town.ops).await;
    let res = poll.await.unwrap();
    assert_eq!(res.status(), 401);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "unauthorized");
    assert!(body.message.contains("revoked"), "{}", body.message);

    // And its very next call of any kind is refused.
    for path in ["/v1/pull?after=0&wait=30", "/v1/snapshot"] {
        assert_eq!(server.get(path, &lost.token).await.status(), 401, "{path}");
    }
    // The other phone is not affected.
    let seen = server.pull(&dispatcher, 0, 100, 0).await.ops.len();
    assert_eq!(seen, town.ops.len());
}

on_both_backends!(
    a_gridworker_enrolls_a_new_phone_with_the_admins_code_once,
    a_revoked_phone_is_refused_on_its_very_next_request,
    an_expired_code_and_a_nil_device_id_are_refused,
    a_phone_revoked_while_its_long_poll_waits_gets_no_news_and_nothing_after,
);
