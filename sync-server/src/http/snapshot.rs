//! `GET /v1/snapshot?after=ID&limit=N`: a page of the current state, for a device that is new
//! (or whose scope changed). It fetches pages until `next_after` is `None`, then pulls from the
//! first page's `seq`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::{MAX_SNAPSHOT_LIMIT, SnapshotResponse};
use serde::Deserialize;

use super::bearer::Authenticated;
use super::{ApiError, AppState};
use crate::storage::{ScopeFilter, Storage};

/// The query parameters; all optional.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct SnapshotParams {
    /// The last record id of the previous page (absent for the first page).
    pub after: Option<Id>,
    /// Records per page, 1 to [`MAX_SNAPSHOT_LIMIT`] (larger is capped; default the maximum).
    pub limit: Option<usize>,
}

/// One page of records in id order.
pub async fn snapshot<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    params: Result<Query<SnapshotParams>, QueryRejection>,
) -> Result<Json<SnapshotResponse>, ApiError> {
    let Query(params) = params.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("after must be a record id and limit a positive whole number ({e})"),
        )
    })?;
    let limit = params
        .limit
        .unwrap_or(MAX_SNAPSHOT_LIMIT)
        .clamp(1, MAX_SNAPSHOT_LIMIT);
    let view = state.storage.scope_view(&auth.user).await?;
    let page = state
        .storage
        .snapshot_page(params.after, limit, ScopeFilter::for_view(view))
        .await?;
    tracing::info!(
        user = %auth.user.id,
        records = page.records.len(),
        events = page.events.len(),
        last_page = page.next_after.is_none(),
        "snapshot"
    );
    Ok(Json(SnapshotResponse {
        seq: page.seq,
        records: page.records,
        events: page.events,
        next_after: page.next_after,
        server_time_ms: state.now_ms(),
    }))
}
