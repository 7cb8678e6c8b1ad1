//! What a push makes the server hold, counted by the allocator (dhat): a test binary of its own,
//! since it replaces the global allocator. Counting allocations is exact, not a timing: every
//! byte the request allocates while it is answered, through the real router, storage and every
//! layer, on a SQLite database.
//!
//! - A push of 4.2 million tiny JSON elements (8 MiB) once took 132 MB to be refused as too
//!   many operations; it must be refused within its own size.
//! - A real push of 500 operations must hold a small multiple of its body at its peak (3× when
//!   this was written; the bound leaves room for the storage to change), besides what the SQLite
//!   writer keeps of the records it wrote for the pushes that follow (bounded by its capacity,
//!   `storage/sqlite/records.rs`), which must itself stay a small multiple of the body.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use gridwork_domain::sync::{MAX_PUSH_OPS, PushRequest, PushResponse, Role};
use gridwork_server::clock;
use gridwork_server::http::{AppState, router};
use gridwork_server::storage::{SqliteStorage, Storage};
use tower::ServiceExt;
use uuid::Uuid;

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "server/common.rs"]
mod common;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// What answering a request held.
struct Held {
    /// The peak of live heap bytes while it was answered (allocations made before, the body's
    /// among them, do not count).
    peak: u64,
    /// Bytes allocated while it was answered and still live after it, the answer's bytes aside:
    /// what the server keeps (the SQLite writer's records).
    kept: u64,
}

/// What `app` held while answering `body`, and the answer's status and body.
fn peak_while_answering(
    runtime: &tokio::runtime::Runtime,
    app: &axum::Router,
    token: &str,
    body: Vec<u8>,
) -> (Held, u16, Vec<u8>) {
    let request = Request::post("/v1/push")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let app = app.clone();
    let profiler = dhat::Profiler::builder().testing().build();
    let (status, answer) = runtime.block_on(async move {
        let res = app.oneshot(request).await.unwrap();
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    });
    let stats = dhat::HeapStats::get();
    let held = Held {
        peak: stats.max_bytes as u64,
        kept: (stats.curr_bytes as u64).saturating_sub(answer.capacity() as u64),
    };
    drop(profiler);
    (held, status, answer)
}

// One test function: dhat allows one profiler at a time in a process.
#[test]
fn a_push_holds_a_small_multiple_of_its_body_and_a_hostile_one_no_more_than_itself() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("s.db")).unwrap());
    let (token, device) = runtime.block_on(async {
        let user = storage
            .create_user("张伟".into(), Role::Admin, vec![])
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
        (token, device)
    });
    let app = router(AppState::without_shutdown(storage));

    // 4.2 million `0,` pairs, 8 MiB less a little: refused as too many operations.
    let mut hostile = b"{\"ops\":[".to_vec();
    while hostile.len() < 8 * 1024 * 1024 - 16 {
        hostile.extend_from_slice(b"0,");
    }
    hostile.extend_from_slice(b"0]}");
    let hostile_len = hostile.len() as u64;
    let (held, status, answer) = peak_while_answering(&runtime, &app, &token, hostile);
    let peak = held.peak;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    println!(
        "hostile push: body {hostile_len} B, peak heap while answering {peak} B ({:.2}× the body)",
        peak as f64 / hostile_len as f64
    );
    assert!(
        peak <= hostile_len,
        "refusing it took {peak} B, more than its {hostile_len} B body"
    );

    // A real push: a town of 500 operations.
    let mut phone = common::Phone::new(device, token.clone());
    let ops = common::town(&mut phone, (MAX_PUSH_OPS - 8) / 3).ops;
    assert_eq!(ops.len(), MAX_PUSH_OPS);
    let body = serde_json::to_vec(&PushRequest { ops }).unwrap();
    let body_len = body.len() as u64;
    let (held, status, answer) = peak_while_answering(&runtime, &app, &token, body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: PushResponse = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer.results.len(), MAX_PUSH_OPS);
    let Held { peak, kept } = held;
    println!(
        "real push of 500 operations: body {body_len} B, peak heap while answering {peak} B ({:.2}× the body), of which kept by the writer after it {kept} B ({:.2}×)",
        peak as f64 / body_len as f64,
        kept as f64 / body_len as f64
    );
    // ~1.8 KB per record written (its state and place decoded, and the cache's links), 3.8×
    // the body when this was written.
    assert!(
        kept <= 5 * body_len,
        "the writer kept {kept} B of the records of a {body_len} B push"
    );
    assert!(
        peak - kept <= 6 * body_len,
        "a real push held {} B at its peak, besides the {kept} B kept, for a {body_len} B body",
        peak - kept
    );
}
