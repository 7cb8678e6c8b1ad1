//! Enrollment over HTTP: a gridworker types the admin's code into a new phone.

use gridwork_domain::sync::{EnrollRequest, EnrollResponse, ErrorBody, Role};
use gridwork_server::clock;
use gridwork_server::storage::Storage;
use uuid::Uuid;

use crate::common::TestServer;

#[tokio::test]
async fn a_gridworker_enrolls_a_new_phone_with_the_admins_code_once() {
    let server = TestServer::start().await;
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

#[tokio::test]
async fn a_revoked_phone_is_refused_on_its_very_next_request() {
    let server = TestServer::start().await;
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

#[tokio::test]
async fn an_expired_code_and_a_nil_device_id_are_refused() {
    let server = TestServer::start().await;
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
