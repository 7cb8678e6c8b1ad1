//! `POST /v1/push`: a batch of outbox operations, answered per operation.
//!
//! Each operation is decoded on its own: one that does not decode (a newer app's action, a
//! field of the wrong shape) is rejected as `malformed` by its id while the rest of the batch
//! goes through, so one bad operation cannot block a device's outbox forever. Decoding, with
//! the limits it enforces as it goes, is [`super::push_body`].
//!
//! The answer carries, for every record an operation was refused on, the server's state of it
//! as the device may see it (with its case's events), or its id to evict when the device may
//! not see it (or the server does not hold it): the phone puts its copy back to the server's
//! and keeps the refused change in its list of refused changes (`docs/conflicts.md`). A change
//! refused as `clock_ahead` is not among them: the phone stamps it again and resends it
//! (ADR 0011).

use axum::Json;
use axum::extract::State;
use gridwork_domain::ids::Id;
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::{PushOutcome, PushResponse, PushResult, RejectCode};

use super::bearer::Authenticated;
use super::json_body::JsonBody;
use super::push_body::{self, DecodedPush};
use super::{ApiError, AppState};
use crate::rules::{PushContext, reading};
use crate::storage::{ScopeFilter, Storage};

/// Stores what is admitted and answers for every operation, in order.
pub async fn push<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<PushResponse>, ApiError> {
    // Slots in request order: undecodable operations are answered now, the rest by storage.
    let DecodedPush { answers, ops } = push_body::decode(&body)?;
    drop(body);
    let view = state.view_of(&auth).await?;
    let ctx = PushContext {
        device: auth.device,
        user: auth.user.id,
        view: view.clone(),
        now_ms: state.now_ms(),
    };
    // Which record each operation is about: to send back the records of refused ones, and for
    // the audit of those refused as forbidden.
    let targets: Vec<_> = ops.iter().map(|o| (o.id, o.entity, o.entity_id)).collect();
    let entities: Vec<(Id, Id)> = targets
        .iter()
        .map(|&(op, _, record)| (op, record))
        .collect();
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
    let refused_on = refused_records(&results, &entities);
    let truth = server_truth(
        state.storage.as_ref(),
        ScopeFilter::for_view(view),
        refused_on,
    )
    .await?;
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
        records: truth.records,
        events: truth.events,
        evict: truth.evict,
    }))
}

/// The records operations were refused on (once each, in the order of the answers), but for
/// refusals the phone recovers from by itself (`clock_ahead`).
fn refused_records(results: &[PushResult], entities: &[(Id, Id)]) -> Vec<Id> {
    let mut out: Vec<Id> = Vec::new();
    for r in results {
        let PushOutcome::Rejected { code, .. } = &r.outcome else {
            continue;
        };
        if *code == RejectCode::ClockAhead {
            continue;
        }
        if let Some((_, entity)) = entities.iter().find(|(op, _)| *op == r.op_id)
            && !out.contains(entity)
        {
            out.push(*entity);
        }
    }
    out
}

/// What the server holds of some records, as the reader of `filter` may see them.
#[derive(Debug, Default)]
pub struct Truth {
    pub records: Vec<gridwork_domain::merge::RecordState>,
    pub events: Vec<gridwork_domain::workflow::CaseEvent>,
    pub evict: Vec<Id>,
}

/// The server's state of `ids` for the reader of `filter` (read after the push committed):
/// visible ones redacted for the role, with their cases' events; the others (out of scope, or
/// not held by the server), with everything hanging from them, to evict.
pub async fn server_truth<S: Storage>(
    storage: &S,
    filter: ScopeFilter,
    ids: Vec<Id>,
) -> Result<Truth, ApiError> {
    let mut truth = Truth::default();
    for id in ids {
        let admitted = match storage.placed_record(id).await? {
            Some(row) => reading::admit_record(&filter, row),
            None => None,
        };
        match admitted {
            Some(state) => truth.records.push(state),
            None => {
                // Everything hanging from a record the reader may not see goes with it (a
                // household's residents and stays), as in a pull.
                truth.evict.push(id);
                for member in storage.family(id).await? {
                    if !truth.evict.contains(&member.state.id) {
                        truth.evict.push(member.state.id);
                    }
                }
            }
        }
    }
    let cases: Vec<Id> = truth
        .records
        .iter()
        .filter(|r| r.kind == EntityKind::Case)
        .map(|r| r.id)
        .collect();
    if !cases.is_empty() {
        truth.events = storage.case_events(cases).await?;
    }
    Ok(truth)
}
