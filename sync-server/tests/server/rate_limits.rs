//! Rate limits: a token bucket per device on every authenticated request and per client address
//! on enrollment attempts; an empty bucket answers 429 `rate_limited` with `Retry-After`. The
//! limits here are tiny (and refill about once an hour) so the test does not depend on timing.

use gridwork_domain::sync::{EnrollRequest, ErrorBody, Role};
use gridwork_server::ServerOptions;
use gridwork_server::http::{RateLimit, RateLimits};
use gridwork_server::storage::Storage;
use uuid::Uuid;

use crate::common::TestServer;

/// Three requests at once, then one an hour.
const TIGHT: RateLimit = RateLimit::new(3, 1.0 / 60.0);

async fn expect_429(res: reqwest::Response) -> (u64, ErrorBody) {
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "rate_limited");
    (retry_after, body)
}

#[tokio::test]
async fn a_phone_that_hammers_the_server_is_told_to_wait_and_others_are_not() {
    let server = TestServer::start_with(ServerOptions {
        rate_limits: RateLimits {
            device: Some(TIGHT),
            enroll: None,
        },
        ..ServerOptions::default()
    })
    .await;
    let noisy = server.phone("张伟", Role::Admin).await;
    let quiet = server.phone("李娜", Role::Admin).await;
    for _ in 0..3 {
        assert_eq!(
            server.get("/v1/pull?after=0", &noisy.token).await.status(),
            200
        );
    }
    let (retry_after, body) = expect_429(server.get("/v1/pull?after=0", &noisy.token).await).await;
    // One token comes back in an hour.
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    assert!(
        body.message.contains(&retry_after.to_string()),
        "{}",
        body.message
    );
    // Every endpoint of the device shares its bucket.
    let push = server
        .post(
            "/v1/push",
            Some(&noisy.token),
            &serde_json::json!({ "ops": [] }),
        )
        .await;
    expect_429(push).await;
    expect_429(server.get("/v1/snapshot", &noisy.token).await).await;
    // Another device has its own bucket.
    assert_eq!(
        server.get("/v1/pull?after=0", &quiet.token).await.status(),
        200
    );
    // A stranger with a bad token is refused as such, and spends nobody's tokens.
    let res = server.get("/v1/pull", "not-a-token").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        server.get("/v1/pull?after=0", &quiet.token).await.status(),
        200
    );
}

#[tokio::test]
async fn enrollment_attempts_from_one_address_are_limited() {
    let server = TestServer::start_with(ServerOptions {
        rate_limits: RateLimits {
            device: None,
            enroll: Some(TIGHT),
        },
        ..ServerOptions::default()
    })
    .await;
    let user = server.user("王芳", Role::Admin).await;
    let code = server.code(user).await;
    let attempt = |code: String| EnrollRequest {
        code,
        device_id: Uuid::now_v7(),
        device_name: "手机".into(),
    };
    // Someone guessing codes: three wrong guesses are answered, the fourth attempt is not
    // even looked at, right code or not.
    for guess in ["AAAA-BBBB-CCCC", "AAAA-BBBB-CCCD", "AAAA-BBBB-CCCE"] {
        let res = server
            .post("/v1/enroll", None, &attempt(guess.into()))
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = server
        .post("/v1/enroll", None, &attempt(code.clone()))
        .await;
    let (_, body) = expect_429(res).await;
    assert!(body.message.contains("enrollment"), "{}", body.message);
    // The code was not spent by the refused attempt.
    assert!(server.storage.list_devices().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_default_limits_let_a_bootstrap_burst_through() {
    let server = TestServer::start().await;
    let phone = server.phone("调度员", Role::Admin).await;
    // A dispatcher's first sync of a whole subdistrict: about 200 snapshot pages in a row.
    for _ in 0..250 {
        let res = server.get("/v1/snapshot?limit=1", &phone.token).await;
        assert_eq!(res.status(), 200);
    }
}
