//! `POST /v1/enroll`: a new device redeems a one-time code for a bearer token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use gridwork_domain::sync::{EnrollRequest, EnrollResponse};

use super::{ApiError, AppState, json_body};
use crate::storage::Storage;

/// Redeems the code; a bad, used or expired code is 401 `invalid_code`, a device id already
/// enrolled 409 `device_exists`.
pub async fn enroll<S: Storage>(
    State(state): State<AppState<S>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let request: EnrollRequest = json_body::parse(&json_body::body_bytes(body)?)?;
    if request.device_id.is_nil() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "device_id must not be the nil id",
        ));
    }
    let now = state.now_ms();
    let enrolled = state
        .storage
        .enroll(request.code, request.device_id, request.device_name, now)
        .await
        .inspect_err(|e| tracing::info!(reason = %e, "enrollment refused"))?;
    tracing::info!(device = %request.device_id, user = %enrolled.user.id, "device enrolled");
    let view = state.storage.scope_view(&enrolled.user).await?;
    Ok(Json(EnrollResponse {
        token: enrolled.token,
        user_id: enrolled.user.id,
        user_name: enrolled.user.name,
        role: enrolled.user.role,
        scope: enrolled.user.scope,
        anchors: view.anchors,
        server_time_ms: state.now_ms(),
    }))
}
