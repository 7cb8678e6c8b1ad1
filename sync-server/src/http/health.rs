//! `GET /healthz`: the process is up and answering (for load balancers and the CLI demo).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::http::AppState;
use crate::storage::Storage;

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
