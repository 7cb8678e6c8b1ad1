//! `GET /v1/pull?after=SEQ&limit=N&wait=S`: operations after the device's cursor, in sequence
//! order, paged; with `wait`, a long poll that answers as soon as something new is stored.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gridwork_domain::sync::{MAX_PULL_LIMIT, MAX_PULL_WAIT_S, PullResponse, UserScope};
use serde::Deserialize;

use super::bearer::{self, Authenticated};
use super::{ApiError, AppState};
use crate::storage::{Interest, PullPage, ScopeFilter, Storage};

/// The query parameters; all optional.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PullParams {
    /// The cursor: the last sequence number the device has (0 for none).
    pub after: Option<u64>,
    /// Page size, 1 to [`MAX_PULL_LIMIT`] (larger is capped; default the maximum).
    pub limit: Option<usize>,
    /// Seconds to wait for news when there is none, 0 to [`MAX_PULL_WAIT_S`] (capped).
    pub wait: Option<u64>,
}

/// Answers a page at once, or waits up to `wait` seconds for the first new operation.
pub async fn pull<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    params: Result<Query<PullParams>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(params) = params.map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            "after, limit and wait must be non-negative whole numbers",
        )
    })?;
    // A cursor beyond the end of the log (no phone is given one) is read from the end: the
    // answer never hands back a number the sender made up.
    let after = state
        .storage
        .cursor_in_log(params.after.unwrap_or(0))
        .await?;
    let limit = params
        .limit
        .unwrap_or(MAX_PULL_LIMIT)
        .clamp(1, MAX_PULL_LIMIT);
    let wait = Duration::from_secs(params.wait.unwrap_or(0).min(MAX_PULL_WAIT_S));
    let view = state.view_of(&auth).await?;
    let user = UserScope {
        role: view.role,
        scope: view.scope.clone(),
        anchors: view.anchors.clone(),
    };
    let filter = ScopeFilter::for_view(view);

    // A poll that may wait registers for its buckets before reading, so a push stored between
    // the read and the wait still wakes it.
    let interest = (!wait.is_zero()).then(|| state.storage.wakeups().register(filter.buckets()));
    let mut page = state.storage.pull(after, limit, filter.clone()).await?;
    if let Some(interest) = &interest
        && page.is_empty()
        && !page.more
    {
        page = wait_for_news(&state, interest, page, limit, &filter, wait).await?;
        bearer::still_enrolled(&state, &auth).await?;
    }
    drop(interest);
    tracing::info!(
        user = %auth.user.id,
        after,
        ops = page.ops.len(),
        gained = page.records.len(),
        evicted = page.evict.len(),
        more = page.more,
        "pull"
    );
    Ok(Json(PullResponse {
        ops: page.ops,
        next: page.next,
        more: page.more,
        server_time_ms: state.now_ms(),
        records: page.records,
        events: page.events,
        evict: page.evict,
        user: Some(user),
    }))
}

/// Resolves when the server starts stopping; never, when nobody can stop it (a closed channel).
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits until an operation the device may see is stored, the wait is over, or the server
/// stops; returns the page to answer with (empty when nothing came). Only a push filed under
/// one of the device's buckets wakes it ([`crate::storage::Wakeups`]).
async fn wait_for_news<S: Storage>(
    state: &AppState<S>,
    interest: &Interest,
    mut page: PullPage,
    limit: usize,
    filter: &ScopeFilter,
    wait: Duration,
) -> Result<PullPage, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let _waiting = crate::metrics::WaitingPoll::start();
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            () = interest.notified() => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(page),
            _ = stopping(&mut shutdown) => return Ok(page),
        }
        // A wake names the log position the push reached. On PostgreSQL readers read below a
        // horizon (`storage/postgres/oplog.rs`): a push that committed while an older one still
        // runs becomes readable a moment later. So look again, briefly, until the cursor passes
        // the position woken for.
        let mut pause = Duration::from_millis(2);
        loop {
            page = state.storage.pull(page.next, limit, filter.clone()).await?;
            // Pushes to the device's buckets may still be out of its exact scope (a record
            // moved out of it elsewhere): keep waiting, from the newer cursor.
            if !page.is_empty() || page.more {
                return Ok(page);
            }
            if interest.latest() <= page.next || tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopping(&mut shutdown) => return Ok(page),
            }
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}
