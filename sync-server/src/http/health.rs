//! `GET /healthz` and `GET /readyz`, for load balancers and operators.
//!
//! - `/healthz` (liveness): the process is up and answering. It never touches storage, so a
//!   database outage does not make an orchestrator restart every process at once.
//! - `/readyz` (readiness): the process can serve phones now: its storage answers a fresh read
//!   within [`READY_TIMEOUT`], and it is not shutting down. A load balancer sends requests only
//!   to processes that answer 200 here; 503 `not_ready` says why not.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiError;
use crate::http::AppState;
use crate::storage::{Storage, StorageError};

/// How long the readiness check waits for the storage before calling it not ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// The health answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub server_time_ms: u64,
}

/// Always `ok` while the process answers.
pub async fn healthz<S: Storage>(State(state): State<AppState<S>>) -> Json<Health> {
    Json(Health {
        status: "ok",
        server_time_ms: state.now_ms(),
    })
}

/// Why the storage is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the storage did not answer within {} s", READY_TIMEOUT.as_secs())]
    Timeout,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The readiness check of the storage, bounded by [`READY_TIMEOUT`].
pub async fn storage_ready<S: Storage>(storage: &S) -> Result<(), NotReady> {
    match tokio::time::timeout(READY_TIMEOUT, storage.ready()).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(NotReady::Timeout),
    }
}

/// `ready` when the storage answers and the server is not stopping; 503 `not_ready` otherwise.
pub async fn readyz<S: Storage>(State(state): State<AppState<S>>) -> Response {
    if *state.shutdown.borrow() {
        return not_ready("the server is shutting down");
    }
    match storage_ready(&*state.storage).await {
        Ok(()) => Json(Health {
            status: "ready",
            server_time_ms: state.now_ms(),
        })
        .into_response(),
        Err(e) => {
            // Storage messages carry no request content (paths and server names at most).
            tracing::warn!(error = %e, "not ready");
            not_ready("the server cannot reach its storage")
        }
    }
}

fn not_ready(why: &str) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", why)
        .with_retry_after(1)
        .into_response()
}
