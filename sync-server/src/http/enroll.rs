//! `POST /v1/enroll`: a new device redeems a one-time code for a bearer token.
//!
//! Anyone may call it, so it spends as little as it can on a caller before knowing more: the
//! per-address rate limit is taken from the request head alone, before a byte of the body is
//! read, and the body is read against a limit of [`MAX_ENROLL_BODY_BYTES`] (a real request is
//! under 300 bytes), not the 8 MiB a push may carry.

use axum::Json;
use axum::extract::{Request, State};
use gridwork_domain::sync::{EnrollRequest, EnrollResponse};

use super::rate_limit::address_key;
use super::{ApiError, AppState, ClientAddr, json_body};
use crate::storage::Storage;

/// The longest code accepted, dashes and spaces included (a code is 14 characters).
pub const MAX_CODE_CHARS: usize = 64;
/// The longest device label accepted.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;
/// The largest enrollment body read: a code, a device id and a label of the longest lengths,
/// each character escaped (`\uXXXX`), with room to spare.
pub const MAX_ENROLL_BODY_BYTES: usize = 4 * 1024;

/// Redeems the code; a bad, used or expired code is 401 `invalid_code`, a device id already
/// enrolled 409 `device_exists`. Attempts are rate-limited per client address (429), before
/// the body is read.
pub async fn enroll<S: Storage>(
    State(state): State<AppState<S>>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Result<Json<EnrollResponse>, ApiError> {
    state.limiter.enrollments.take(
        &client.map(address_key),
        state.now_ms(),
        "enrollment attempts from this address",
    )?;
    let body = json_body::read(request, MAX_ENROLL_BODY_BYTES).await?;
    let request: EnrollRequest = json_body::parse(&body)?;
    check(&request)?;
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

/// Refuses what no code or label can be, before touching storage.
fn check(request: &EnrollRequest) -> Result<(), ApiError> {
    if request.device_id.is_nil() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "device_id must not be the nil id",
        ));
    }
    if request.code.chars().count() > MAX_CODE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!(
                "code is longer than {MAX_CODE_CHARS} characters; codes look like K7QM-2XWD-9HTR"
            ),
        ));
    }
    if request.device_name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("device_name is longer than {MAX_DEVICE_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}
