//! `POST /v1/push`: a batch of outbox operations, answered per operation.
//!
//! Each operation is decoded on its own: one that does not decode (a newer app's action, a
//! field of the wrong shape) is rejected as `malformed` by its id while the rest of the batch
//! goes through, so one bad operation cannot block a device's outbox forever.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::sync::{MAX_PUSH_OPS, PushOutcome, PushResponse, PushResult, RejectCode};
use serde::Deserialize;

use super::bearer::Authenticated;
use super::json_body::JsonBody;
use super::{ApiError, AppState, json_body};
use crate::rules::PushContext;
use crate::storage::Storage;

/// `PushRequest` with its operations left undecoded, so each can be judged on its own.
#[derive(Debug, Deserialize)]
struct RawPush {
    ops: Vec<serde_json::Value>,
}

/// Stores what is admitted and answers for every operation, in order.
pub async fn push<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<PushResponse>, ApiError> {
    let raw: RawPush = json_body::parse(&body)?;
    if raw.ops.len() > MAX_PUSH_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_ops",
            format!("a push carries at most {MAX_PUSH_OPS} operations; send the rest in another"),
        ));
    }
    // Slots in request order: undecodable operations are answered now, the rest by storage.
    let mut answers: Vec<Option<PushResult>> = Vec::with_capacity(raw.ops.len());
    let mut ops = Vec::with_capacity(raw.ops.len());
    for (i, value) in raw.ops.into_iter().enumerate() {
        let op_id = value
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Id>().ok());
        match serde_json::from_value::<Op>(value) {
            Ok(op) => {
                answers.push(None);
                ops.push(op);
            }
            Err(e) => {
                let Some(op_id) = op_id else {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        format!("operation {i} has no valid id: {}", json_body::redact(&e)),
                    ));
                };
                answers.push(Some(PushResult {
                    op_id,
                    outcome: PushOutcome::Rejected {
                        code: RejectCode::Malformed,
                        message: format!(
                            "the operation does not decode as a v1 operation: {}",
                            json_body::redact(&e)
                        ),
                    },
                }));
            }
        }
    }
    let ctx = PushContext {
        device: auth.device,
        user: auth.user.id,
        view: state.view_of(&auth).await?,
        now_ms: state.now_ms(),
    };
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
