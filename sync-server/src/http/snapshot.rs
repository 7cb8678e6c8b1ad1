//! `GET /v1/snapshot?after=ID&limit=N&scope=ID,ID`: a page of the current state, for a device
//! that is new (or whose scope changed). It fetches pages until `next_after` is `None`, then
//! pulls from the first page's `seq`.
//!
//! `scope` (optional) restricts the pages to what some entries of the user's scope give: a
//! device whose user was given another grid asks for that grid's records alone instead of its
//! whole scope again. The entries are checked against the user's real scope: those that are not
//! in it are ignored, so the parameter can narrow what a device receives, never widen it (an
//! admin whose empty scope means the whole installation gets nothing with it).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::{MAX_SNAPSHOT_LIMIT, SnapshotResponse};
use serde::Deserialize;

use super::bearer::Authenticated;
use super::snapshot_ahead::AheadKey;
use super::{ApiError, AppState};
use crate::storage::{ScopeFilter, Storage, User};

/// The query parameters; all optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SnapshotParams {
    /// The last record id of the previous page (absent for the first page).
    pub after: Option<Id>,
    /// Records per page, 1 to [`MAX_SNAPSHOT_LIMIT`] (larger is capped; default the maximum).
    pub limit: Option<usize>,
    /// Comma-separated entries of the user's scope to restrict the pages to (absent: the whole
    /// scope). Send the same value with every page.
    pub scope: Option<String>,
}

/// The entries of `asked` (comma-separated ids) that are entries of `scope`, in the order asked,
/// without repeats; `Err` names the problem when `asked` is not a list of ids.
///
/// ```
/// use gridwork_server::http::snapshot::restricted_scope;
/// use uuid::Uuid;
///
/// let (mine, also_mine, not_mine) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
/// let asked = format!("{not_mine},{also_mine},{also_mine}");
/// assert_eq!(restricted_scope(&[mine, also_mine], &asked), Ok(vec![also_mine]));
/// assert!(restricted_scope(&[mine], "grid-7").is_err());
/// ```
pub fn restricted_scope(scope: &[Id], asked: &str) -> Result<Vec<Id>, String> {
    let mut entries = Vec::new();
    for part in asked.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: Id = part
            .parse()
            .map_err(|_| "scope must be a comma-separated list of ids".to_string())?;
        if scope.contains(&id) && !entries.contains(&id) {
            entries.push(id);
        }
    }
    Ok(entries)
}

/// One page of records in id order; the first carries the total to expect.
pub async fn snapshot<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    params: Result<Query<SnapshotParams>, QueryRejection>,
) -> Result<Json<SnapshotResponse>, ApiError> {
    let Query(params) = params.map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            "after must be a record id and limit a positive whole number",
        )
    })?;
    let limit = params
        .limit
        .unwrap_or(MAX_SNAPSHOT_LIMIT)
        .clamp(1, MAX_SNAPSHOT_LIMIT);
    // The user's whole view is the one its token check cached (`view_of`); a scope restricted
    // to some of its entries is a view of its own, made for this page.
    let view = match params.scope.as_deref() {
        None => state.view_of(&auth).await?,
        Some(asked) => {
            let entries = restricted_scope(&auth.user.scope, asked)
                .map_err(|why| ApiError::bad_request("bad_query", why))?;
            if entries.is_empty() {
                // Nothing of the user's scope was named: nothing to send (an empty scope must
                // not fall back to an admin's "everything").
                tracing::info!(user = %auth.user.id, records = 0, "snapshot of no entry");
                return Ok(Json(SnapshotResponse {
                    seq: state.storage.log_end().await?,
                    records: vec![],
                    events: vec![],
                    next_after: None,
                    server_time_ms: state.now_ms(),
                    total_records: params.after.is_none().then_some(0),
                }));
            }
            let user = User {
                scope: entries,
                ..auth.user.clone()
            };
            state.storage.scope_view(&user).await?
        }
    };
    let filter = ScopeFilter::for_view(view);
    // The first page announces the total: one count of the bucket index per bucket of the
    // reader (never of the records themselves). A reader of everything gets none.
    let total_records = match (params.after, filter.buckets()) {
        (None, Some(buckets)) => Some(state.storage.bucket_record_count(buckets).await?),
        _ => None,
    };
    // A later page was most likely read while the phone took the one before (ADR 0052).
    let ahead = |after: Id| AheadKey {
        user: auth.user.id,
        filter: filter.clone(),
        after,
        limit,
    };
    let read_ahead = match params.after {
        Some(after) => state.snapshots_ahead.take(&ahead(after)).await,
        None => None,
    };
    let page = match read_ahead {
        Some(page) => page,
        None => {
            state
                .storage
                .snapshot_page(params.after, limit, filter.clone())
                .await?
        }
    };
    if let Some(next) = page.next_after {
        state
            .snapshots_ahead
            .start(state.storage.clone(), ahead(next));
    }
    tracing::info!(
        user = %auth.user.id,
        records = page.records.len(),
        events = page.events.len(),
        restricted = params.scope.is_some(),
        last_page = page.next_after.is_none(),
        "snapshot"
    );
    Ok(Json(SnapshotResponse {
        seq: page.seq,
        records: page.records,
        events: page.events,
        next_after: page.next_after,
        server_time_ms: state.now_ms(),
        total_records,
    }))
}
