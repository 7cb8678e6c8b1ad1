//! The intake API for other systems (`docs/integration.md`, ADR 0025), and the audit facts
//! phones report:
//!
//! | endpoint | auth | body |
//! |---|---|---|
//! | `POST /v1/intake/orders` | service token | [`WorkOrder`] → 201 (new) or 200 (seen) [`OrderStatus`] |
//! | `GET /v1/intake/orders/{source_id}` | service token | [`OrderStatus`] |
//! | `PUT /v1/intake/callback` | service token | [`CallbackRequest`] → [`CallbackRegistered`] |
//! | `POST /v1/audit` | device token | [`AuditReport`] → [`AuditReported`] |
//!
//! A service token is accepted only here, and a device token never here.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Building, Case};
use gridwork_domain::sync::{PushOutcome, RejectCode};
use serde::{Deserialize, Serialize};

use super::bearer::Authenticated;
use super::json_body::{self, JsonBody};
use super::{ApiError, AppState};
use crate::audit::{AuditAction, AuditFact};
use crate::auth;
use crate::intake::callbacks::new_secret;
use crate::intake::{
    CallbackRegistered, CallbackRequest, OrderKind, OrderStatus, Target, WorkOrder, case_ops,
    check_callback_url, timeline,
};
use crate::rules::PushContext;
use crate::storage::intake::{CallbackTarget, IntakeOrder, ServiceAccount};
use crate::storage::{Storage, StorageError};

/// The service account a request is authenticated as.
#[derive(Debug, Clone)]
pub struct Service(pub ServiceAccount);

impl<S: Storage> FromRequestParts<AppState<S>> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "this endpoint needs `Authorization: Bearer <service token>`; an admin makes one with `gridwork-server admin create-service-account`",
                )
            })?;
        let refused = || {
            ApiError::unauthorized(
                "the service token is not valid (unknown or revoked service account)",
            )
        };
        let id = auth::token_device(token).ok_or_else(refused)?;
        let account = state
            .storage
            .service_account(id)
            .await?
            .ok_or_else(refused)?;
        let presented = auth::hash_token(token);
        if !auth::constant_time_eq(presented.as_bytes(), account.token_hash.as_bytes())
            || account.revoked
        {
            return Err(refused());
        }
        tracing::Span::current().record("device", tracing::field::display(account.id));
        state.limiter.devices.take(
            &account.id,
            state.now_ms(),
            "requests from this service account",
        )?;
        Ok(Service(account))
    }
}

fn actor_of(account: &ServiceAccount) -> String {
    format!("service:{}", account.id)
}

/// Records a refused access in the audit log (a failure to record is logged, not answered:
/// the refusal stands either way).
async fn audit_refusal<S: Storage>(
    state: &AppState<S>,
    actor: String,
    target_kind: &str,
    target_id: Option<String>,
    reason: &str,
) {
    let fact = AuditFact {
        at_ms: state.now_ms(),
        actor,
        action: AuditAction::Refused,
        target_kind: Some(target_kind.to_string()),
        target_id,
        reason: reason.to_string(),
        fact_id: None,
    };
    if let Err(e) = state.storage.append_audit(fact).await {
        tracing::error!(error = %e, "cannot record a refusal in the audit log");
    }
}

/// `POST /v1/intake/orders`: takes a work order in (see the module doc).
pub async fn post_order<S: Storage>(
    State(state): State<AppState<S>>,
    Service(account): Service,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<OrderStatus>), ApiError> {
    let order: WorkOrder = json_body::parse(&body)?;
    let target = order.check().map_err(|e| {
        ApiError::bad_request("invalid_order", format!("{}: {}", e.field, e.message))
    })?;
    if let Some(seen) = state
        .storage
        .intake_order(account.id, order.source_id.clone())
        .await?
    {
        return Ok((StatusCode::OK, Json(status_of(&state, seen).await?)));
    }
    let actor = actor_of(&account);
    let (area, building, place) = match &target {
        Target::Building(code) => {
            let Some(id) = state.storage.building_by_address_code(code.clone()).await? else {
                let why = "no building has this unified address code";
                audit_refusal(&state, actor, "building", Some(code.clone()), why).await;
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_building",
                    format!("{why}; check the code, or send the order by area_code"),
                ));
            };
            let building: Building = state
                .storage
                .record(id)
                .await?
                .ok_or_else(|| StorageError::Corrupt("a building just found is missing".into()))?
                .decode()
                .map_err(StorageError::from)?;
            (
                building.grid_id,
                Some(id),
                state.storage.place_of(id).await?,
            )
        }
        Target::Area(code) => {
            let Some(id) = state.storage.area_by_code(code.clone()).await? else {
                let why = "no area has this area code";
                audit_refusal(&state, actor, "area", Some(code.clone()), why).await;
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_area",
                    why,
                ));
            };
            (id, None, state.storage.place_of(id).await?)
        }
    };
    let view = state.storage.scope_view(&account.user).await?;
    let in_scope = place
        .as_ref()
        .is_some_and(|p| p.is_resolved() && view.covers_path(&p.areas));
    if !in_scope {
        let (kind, id) = match building {
            Some(b) => ("building", b),
            None => ("area", area),
        };
        let why = "outside the area this service account may send work orders into";
        audit_refusal(&state, actor, kind, Some(id.to_string()), why).await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            format!("the {kind} is {why}"),
        ));
    }
    if let Some(assignee) = order.assignee
        && state.storage.user(assignee).await?.is_none()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_assignee",
            "no gridwork user has this id",
        ));
    }
    let now = state.now_ms();
    let ops = case_ops(account.id, account.user.id, &order, area, building, now);
    let case_id = ops[0].entity_id;
    let ctx = PushContext {
        device: account.id,
        user: account.user.id,
        view,
        now_ms: now,
    };
    let results = state.storage.push(ctx, ops).await?;
    // The case's own operation decides: its steps follow it (a step refused is logged).
    for (i, r) in results.iter().enumerate() {
        if let PushOutcome::Rejected { code, message } = &r.outcome {
            if i == 0 {
                audit_refusal(
                    &state,
                    actor_of(&account),
                    "case",
                    Some(case_id.to_string()),
                    message,
                )
                .await;
                let status = if *code == RejectCode::Forbidden {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                return Err(ApiError::new(status, "refused", message.clone()));
            }
            tracing::warn!(case = %case_id, code = ?code, "a step of an order was refused");
        }
    }
    let kept = state
        .storage
        .insert_intake_order(IntakeOrder {
            account: account.id,
            source_id: order.source_id.clone(),
            kind: order.kind.as_str().to_string(),
            case_id,
            received_ms: now,
        })
        .await?;
    tracing::info!(account = %account.id, case = %case_id, kind = order.kind.as_str(), "work order taken in");
    let created = kept.case_id == case_id && kept.received_ms == now;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(status_of(&state, kept).await?)))
}

/// `GET /v1/intake/orders/{source_id}`: the state and timeline of an order's case.
pub async fn get_order<S: Storage>(
    State(state): State<AppState<S>>,
    Service(account): Service,
    Path(source_id): Path<String>,
) -> Result<Json<OrderStatus>, ApiError> {
    let Some(order) = state.storage.intake_order(account.id, source_id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_order",
            "this service account sent no work order with this source_id",
        ));
    };
    Ok(Json(status_of(&state, order).await?))
}

async fn status_of<S: Storage>(
    state: &AppState<S>,
    order: IntakeOrder,
) -> Result<OrderStatus, ApiError> {
    let case: Case = state
        .storage
        .record(order.case_id)
        .await?
        .ok_or_else(|| StorageError::Corrupt("the case of an order is missing".into()))?
        .decode()
        .map_err(StorageError::from)?;
    let events = state.storage.case_events(vec![order.case_id]).await?;
    let steps = timeline(case.kind, case.opened_at_ms, &events);
    let fold = gridwork_domain::workflow::fold(case.kind, case.opened_at_ms, &events);
    let kind = OrderKind::parse(&order.kind)
        .ok_or_else(|| StorageError::Corrupt("unknown order kind".into()))?;
    Ok(OrderStatus {
        source_id: order.source_id,
        kind,
        case_id: order.case_id,
        received_ms: order.received_ms,
        closed: fold.state.is_closed(),
        state: fold.state,
        assignee: fold.assignee,
        timeline: steps,
    })
}

/// `PUT /v1/intake/callback`: registers where each step is sent; answers the new secret.
pub async fn put_callback<S: Storage>(
    State(state): State<AppState<S>>,
    Service(account): Service,
    JsonBody(body): JsonBody,
) -> Result<Json<CallbackRegistered>, ApiError> {
    let request: CallbackRequest = json_body::parse(&body)?;
    let target = match request.url {
        Some(raw) => {
            let url = check_callback_url(&raw)
                .map_err(|why| ApiError::bad_request("invalid_callback", why))?;
            // Where it resolves to, now (a name that does not resolve yet is checked at
            // delivery only); and again at every delivery (ADR 0030).
            let parsed = url::Url::parse(&url)
                .map_err(|_| ApiError::bad_request("invalid_callback", "not a valid URL"))?;
            state
                .callbacks
                .check_at_registration(&parsed)
                .await
                .map_err(|why| ApiError::bad_request("invalid_callback", why))?;
            Some(CallbackTarget {
                url,
                secret: new_secret(),
            })
        }
        None => None,
    };
    state
        .storage
        .set_callback(account.id, target.clone())
        .await?;
    let fact = AuditFact {
        at_ms: state.now_ms(),
        actor: actor_of(&account),
        action: AuditAction::AdminChange,
        target_kind: Some("service_account".into()),
        target_id: Some(account.id.to_string()),
        reason: if target.is_some() {
            "callback registered".into()
        } else {
            "callback removed".into()
        },
        fact_id: None,
    };
    state.storage.append_audit(fact).await?;
    Ok(Json(CallbackRegistered {
        url: target.as_ref().map(|t| t.url.clone()),
        secret: target.map(|t| t.secret),
    }))
}

/// One fact a phone reports: it showed a resident's full ID number, or exported records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedFact {
    /// The fact's own id (made on the phone): reported twice, kept once.
    pub id: Id,
    pub at_ms: u64,
    /// `read_id_number` or `export`.
    pub action: AuditAction,
    /// The record concerned (`resident`), by id: never a value.
    pub target_kind: Option<String>,
    pub target_id: Option<Id>,
    /// Why (the screen or purpose), at most 200 characters.
    pub reason: String,
}

/// `POST /v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditReport {
    pub facts: Vec<ReportedFact>,
}

/// The answer: how many facts were new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReported {
    pub stored: usize,
    pub already: usize,
}

/// The most facts one report may carry.
pub const MAX_FACTS: usize = 500;

/// `POST /v1/audit`: a phone reports what it showed or exported since it last synced.
pub async fn post_audit<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(device): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<AuditReported>, ApiError> {
    let report: AuditReport = json_body::parse(&body)?;
    if report.facts.len() > MAX_FACTS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("at most {MAX_FACTS} facts per report"),
        ));
    }
    for f in &report.facts {
        if !matches!(f.action, AuditAction::ReadIdNumber | AuditAction::Export) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a phone reports only read_id_number and export",
            ));
        }
        if f.reason.chars().count() > 200
            || f.target_kind.as_ref().is_some_and(|k| {
                k.len() > 32 || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
        {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a fact's reason is at most 200 characters and its target_kind a record kind",
            ));
        }
    }
    let actor = format!("user:{}/device:{}", device.user.id, device.device);
    let (mut stored, mut already) = (0, 0);
    for f in report.facts {
        let fact = AuditFact {
            at_ms: f.at_ms,
            actor: actor.clone(),
            action: f.action,
            target_kind: f.target_kind,
            target_id: f.target_id.map(|id| id.to_string()),
            reason: f.reason,
            fact_id: Some(format!("{}:{}", device.device, f.id)),
        };
        match state.storage.append_audit(fact).await? {
            Some(_) => stored += 1,
            None => already += 1,
        }
    }
    Ok(Json(AuditReported { stored, already }))
}

/// Records each operation of a push refused as forbidden (a write outside the user's scope or
/// role) in the audit log: who, which record, the rule's reason. Other rejections (malformed,
/// clock ahead) are no access and are not recorded.
pub async fn audit_forbidden<S: Storage>(
    state: &AppState<S>,
    device: &crate::storage::AuthedDevice,
    targets: &[(Id, gridwork_domain::op::EntityKind, Id)],
    results: &[gridwork_domain::sync::PushResult],
) {
    for r in results {
        if let PushOutcome::Rejected {
            code: RejectCode::Forbidden,
            message,
        } = &r.outcome
        {
            let (kind, id) = targets
                .iter()
                .find(|(op, _, _)| *op == r.op_id)
                .map_or(("operation", r.op_id), |(_, kind, id)| (kind.as_str(), *id));
            audit_refusal(
                state,
                format!("user:{}/device:{}", device.user.id, device.device),
                kind,
                Some(id.to_string()),
                message,
            )
            .await;
        }
    }
}
