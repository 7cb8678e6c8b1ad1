//! The bearer-token check every `/v1` endpoint but enrollment goes through: an extractor that
//! yields the authenticated device or answers 401. The check and the user's view are cached per
//! device ([`crate::auth::DeviceCache`]) and the cache is validated against the storage's
//! accounts version on every request, so a revocation counts from the very next request. An
//! authenticated request then takes a token from its device's rate-limit bucket (429 when it is
//! empty), and its device's sync status is noted for the console ([`crate::device_status`]:
//! in memory, written behind).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::storage::{AuthedDevice, Storage};

/// The device a request is authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub AuthedDevice);

impl<S: Storage> FromRequestParts<AppState<S>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "this endpoint needs an `Authorization: Bearer <token>` header; enroll to get a token",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let Some(checked) = state.devices.check(&*state.storage, token).await? else {
            return Err(ApiError::unauthorized(
                "the token is not valid (unknown or revoked device); enroll again",
            ));
        };
        let device = checked.device;
        // The request's log line names the device (an id, not a person).
        tracing::Span::current().record("device", tracing::field::display(device.device));
        state
            .limiter
            .devices
            .take(&device.device, state.now_ms(), "requests from this device")?;
        let unsynced = crate::device_status::reported_unsynced(&parts.headers)?;
        state.device_status.note(
            &state.storage,
            crate::storage::DeviceStatus {
                device: device.device,
                synced_ms: state.now_ms(),
                unsynced,
            },
        );
        Ok(Authenticated(device))
    }
}

/// Checks, before a long poll answers with news, that its device was not revoked while it
/// waited: a stolen phone revoked mid-poll gets 401, not the alarm that woke the poll.
pub async fn still_enrolled<S: Storage>(
    state: &AppState<S>,
    device: &AuthedDevice,
) -> Result<(), ApiError> {
    match state.storage.device_credentials(device.device).await? {
        Some(creds) if !creds.revoked => Ok(()),
        _ => Err(ApiError::unauthorized(
            "this device was revoked while it waited; enroll again",
        )),
    }
}
