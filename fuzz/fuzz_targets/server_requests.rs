//! The server's request decoding, through the real axum router (every layer: body limit, JSON
//! error bodies, the bearer check, the handlers) over a real SQLite storage. The first byte
//! picks the endpoint, the credentials and the content type; the rest is the body (push,
//! enroll) or the query string (pull, snapshot), or the whole path and query.
//!
//! Whatever comes in: no panic, no 5xx, every error answer a JSON `ErrorBody` with a message,
//! every success answer the wire type of its endpoint within the page limits. Rate limits are
//! off (they would answer most inputs 429 before decoding), and the runtime's clock is paused
//! so a long poll's wait passes at once.

#![no_main]

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use gridwork_domain::sync::*;
use gridwork_server::clock;
use gridwork_server::http::{AppState, RateLimits, router};
use gridwork_server::storage::{SqliteStorage, Storage};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    app: Router,
    token: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
        let token = runtime.block_on(async {
            let user = storage
                .create_user("张伟".into(), Role::Admin, vec![])
                .await
                .unwrap();
            let code = storage
                .create_enrollment_code(user.id, clock::now_ms())
                .await
                .unwrap();
            // The device id the seed corpus's operations are stamped with.
            let device = "0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01".parse().unwrap();
            storage
                .enroll(code, device, "手机".into(), clock::now_ms())
                .await
                .unwrap()
                .token
        });
        let state = AppState::without_shutdown(storage).with_rate_limits(RateLimits::UNLIMITED);
        Fixture {
            _dir: dir,
            runtime,
            app: router(state),
            token,
        }
    })
}

/// Bytes as a URI path or query: printable ASCII kept (so `&`, `=` and `%` escapes reach the
/// decoder as sent), everything else percent-encoded, so every input makes a valid URI.
fn uri_part(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'#' && b != b'?' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let endpoint = selector % 5;
    let (method, uri, body) = match endpoint {
        0 => (Method::POST, "/v1/push".to_string(), rest.to_vec()),
        1 => (Method::POST, "/v1/enroll".to_string(), rest.to_vec()),
        2 => (Method::GET, format!("/v1/pull?{}", uri_part(rest)), vec![]),
        3 => (
            Method::GET,
            format!("/v1/snapshot?{}", uri_part(rest)),
            vec![],
        ),
        _ => {
            let method = if selector & 0x80 == 0 {
                Method::GET
            } else {
                Method::POST
            };
            (method, format!("/{}", uri_part(rest)), vec![])
        }
    };
    let Ok(mut request) = Request::builder()
        .method(method)
        .uri(&uri)
        .body(Body::from(body))
    else {
        return;
    };
    // Bits 3-4: credentials; bit 5: content type.
    let auth = match (selector >> 3) & 3 {
        0 => None,
        1 => Some("Bearer not-a-token".to_string()),
        _ => Some(format!("Bearer {}", f.token)),
    };
    if let Some(a) = auth {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, a.parse().unwrap());
    }
    let content_type = if selector & 0x20 == 0 {
        "application/json"
    } else {
        "text/plain"
    };
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());

    let (status, bytes) = f.runtime.block_on(async {
        let response = f.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, bytes)
    });
    assert!(status.as_u16() < 500, "{uri}: {status}: {bytes:?}");
    if !status.is_success() {
        let error: ErrorBody = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{uri}: {status}: not an ErrorBody ({e}): {bytes:?}"));
        assert!(
            !error.error.is_empty() && !error.message.is_empty(),
            "{uri}"
        );
        return;
    }
    match endpoint {
        0 => {
            let answer: PushResponse = serde_json::from_slice(&bytes).unwrap();
            assert!(answer.results.len() <= MAX_PUSH_OPS);
        }
        1 => {
            let _: EnrollResponse = serde_json::from_slice(&bytes).unwrap();
        }
        2 => {
            let page: PullResponse = serde_json::from_slice(&bytes).unwrap();
            assert!(page.ops.len() <= MAX_PULL_LIMIT);
        }
        3 => {
            let page: SnapshotResponse = serde_json::from_slice(&bytes).unwrap();
            assert!(page.records.len() <= MAX_SNAPSHOT_LIMIT);
        }
        _ => {
            let _: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        }
    }
});
