//! `POST /v1/push`: a batch of outbox operations, answered per operation.
//!
//! Each operation is decoded on its own: one that does not decode (a newer app's action, a
//! field of the wrong shape) is rejected as `malformed` by its id while the rest of the batch
//! goes through, so one bad operation cannot block a device's outbox forever. Decoding, with
//! the limits it enforces as it goes, is [`super::push_body`].

use axum::Json;
use axum::extract::State;
use gridwork_domain::sync::{PushOutcome, PushResponse, PushResult};

use super::bearer::Authenticated;
use super::json_body::JsonBody;
use super::push_body::{self, DecodedPush};
use super::{ApiError, AppState};
use crate::rules::PushContext;
use crate::storage::Storage;

/// Stores what is admitted and answers for every operation, in order.
pub async fn push<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<PushResponse>, ApiError> {
    // Slots in request order: undecodable operations are answered now, the rest by storage.
    let DecodedPush { answers, ops } = push_body::decode(&body)?;
    drop(body);
    let ctx = PushContext {
        device: auth.device,
        user: auth.user.id,
        view: state.view_of(&auth).await?,
        now_ms: state.now_ms(),
    };
    // Which record each operation is about, for the audit of refused ones.
    let targets: Vec<_> = ops.iter().map(|o| (o.id, o.entity, o.entity_id)).collect();
    let stored = if ops.is_empty() {
        vec![]
    } else {
        state.storage.push(ctx, ops).await?
    };
    let mut stored = stored.into_iter();
    let results: Vec<PushResult> = answers
        .into_iter()
        .filter_map(|slot| slot.or_else(|| stored.next()))
        .collect();
    crate::metrics::push(&results);
    super::intake::audit_forbidden(&state, &auth, &targets, &results).await;
    let count = |f: fn(&PushOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    tracing::info!(
        accepted = count(|o| matches!(o, PushOutcome::Accepted { .. })),
        duplicate = count(|o| matches!(o, PushOutcome::Duplicate { .. })),
        rejected = count(|o| matches!(o, PushOutcome::Rejected { .. })),
        "push"
    );
    Ok(Json(PushResponse {
        results,
        server_time_ms: state.now_ms(),
    }))
}
