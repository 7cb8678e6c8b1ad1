//! Bad input of every kind gets a 4xx with a JSON `ErrorBody` naming the problem: never a
//! panic, never a 5xx.

use gridwork_domain::sync::{ErrorBody, Role};
use reqwest::{Method, StatusCode};

use crate::common::TestServer;

struct Case {
    what: &'static str,
    method: Method,
    path: &'static str,
    auth: Auth,
    body: Option<Vec<u8>>,
    status: u16,
    error: &'static str,
}

enum Auth {
    None,
    Good,
    Garbage,
    Raw(&'static str),
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_4xx_with_an_error_body() {
    let server = TestServer::start().await;
    let phone = server.phone("张伟", Role::Admin).await;
    let huge = {
        let mut b = b"{\"ops\":[\"".to_vec();
        b.extend(std::iter::repeat_n(b'x', 9 * 1024 * 1024));
        b.extend(b"\"]}");
        b
    };
    let too_many =
        serde_json::to_vec(&serde_json::json!({ "ops": vec![serde_json::json!({}); 501] }))
            .unwrap();
    let cases = vec![
        Case {
            what: "push without auth",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::None,
            body: Some(b"{\"ops\":[]}".to_vec()),
            status: 401,
            error: "unauthorized",
        },
        Case {
            what: "push with a garbage token",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Garbage,
            body: Some(b"{\"ops\":[]}".to_vec()),
            status: 401,
            error: "unauthorized",
        },
        Case {
            what: "basic auth instead of bearer",
            method: Method::GET,
            path: "/v1/pull",
            auth: Auth::Raw("Basic dXNlcjpwYXNz"),
            body: None,
            status: 401,
            error: "unauthorized",
        },
        Case {
            what: "pull without auth",
            method: Method::GET,
            path: "/v1/pull?after=0",
            auth: Auth::None,
            body: None,
            status: 401,
            error: "unauthorized",
        },
        Case {
            what: "malformed JSON",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(b"{\"ops\": [".to_vec()),
            status: 400,
            error: "bad_json",
        },
        Case {
            what: "not JSON at all",
            method: Method::POST,
            path: "/v1/enroll",
            auth: Auth::None,
            body: Some(b"code=1234".to_vec()),
            status: 400,
            error: "bad_json",
        },
        Case {
            what: "ops is not a list",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(b"{\"ops\": 5}".to_vec()),
            status: 400,
            error: "invalid_body",
        },
        Case {
            what: "ops missing",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(b"{}".to_vec()),
            status: 400,
            error: "invalid_body",
        },
        Case {
            what: "an op without an id",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(b"{\"ops\": [{\"entity\": \"area\"}]}".to_vec()),
            status: 400,
            error: "invalid_body",
        },
        Case {
            what: "enroll with a number for a code",
            method: Method::POST,
            path: "/v1/enroll",
            auth: Auth::None,
            body: Some(b"{\"code\": 5, \"device_id\": \"x\"}".to_vec()),
            status: 400,
            error: "invalid_body",
        },
        Case {
            what: "empty body",
            method: Method::POST,
            path: "/v1/enroll",
            auth: Auth::None,
            body: Some(vec![]),
            status: 400,
            error: "bad_json",
        },
        Case {
            what: "a body over 8 MiB",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(huge),
            status: 413,
            error: "payload_too_large",
        },
        Case {
            what: "more than 500 ops",
            method: Method::POST,
            path: "/v1/push",
            auth: Auth::Good,
            body: Some(too_many),
            status: 413,
            error: "too_many_ops",
        },
        Case {
            what: "a cursor that is not a number",
            method: Method::GET,
            path: "/v1/pull?after=abc",
            auth: Auth::Good,
            body: None,
            status: 400,
            error: "bad_query",
        },
        Case {
            what: "a negative cursor",
            method: Method::GET,
            path: "/v1/pull?after=-1",
            auth: Auth::Good,
            body: None,
            status: 400,
            error: "bad_query",
        },
        Case {
            what: "a snapshot after a non-id",
            method: Method::GET,
            path: "/v1/snapshot?after=zzz",
            auth: Auth::Good,
            body: None,
            status: 400,
            error: "bad_query",
        },
        Case {
            what: "a newer protocol version",
            method: Method::POST,
            path: "/v2/push",
            auth: Auth::Good,
            body: Some(b"{\"ops\":[]}".to_vec()),
            status: 404,
            error: "unsupported_version",
        },
        Case {
            what: "an unknown path",
            method: Method::GET,
            path: "/v1/residents",
            auth: Auth::Good,
            body: None,
            status: 404,
            error: "not_found",
        },
        Case {
            what: "the root",
            method: Method::GET,
            path: "/",
            auth: Auth::None,
            body: None,
            status: 404,
            error: "not_found",
        },
        Case {
            what: "the wrong method",
            method: Method::GET,
            path: "/v1/push",
            auth: Auth::Good,
            body: None,
            status: 405,
            error: "method_not_allowed",
        },
    ];
    for case in cases {
        let mut req = server
            .http
            .request(case.method.clone(), server.url(case.path));
        req = match case.auth {
            Auth::None => req,
            Auth::Good => req.bearer_auth(&phone.token),
            Auth::Garbage => req.bearer_auth("not-a-token"),
            Auth::Raw(v) => req.header("authorization", v),
        };
        if let Some(body) = case.body {
            req = req.header("content-type", "application/json").body(body);
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::from_u16(case.status).unwrap(),
            "{}: {text}",
            case.what
        );
        let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{}: the error body does not parse ({e}): {text}", case.what)
        });
        assert_eq!(body.error, case.error, "{}: {}", case.what, body.message);
        assert!(!body.message.is_empty(), "{}", case.what);
    }
    // The server is still well after all that.
    let health: serde_json::Value = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn the_version_error_tells_the_app_which_version_the_server_speaks() {
    let server = TestServer::start().await;
    let res = server
        .http
        .get(server.url("/v2/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, "unsupported_version");
    assert!(body.message.contains("v1"), "{}", body.message);
}
