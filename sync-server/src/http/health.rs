//! `GET /healthz`: the process is up and answering (for load balancers and the CLI demo).

use axum::Json;
use serde::Serialize;

use crate::clock;

/// The health answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub server_time_ms: u64,
}

/// Always `ok` while the process answers.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        server_time_ms: clock::now_ms(),
    })
}
