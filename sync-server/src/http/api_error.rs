//! The one mapping from everything that can go wrong in a request to an HTTP status and a JSON
//! [`ErrorBody`], and the one place that decides what of it is logged.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gridwork_domain::sync::ErrorBody;

use crate::storage::{EnrollError, StorageError};

/// An error answer: a status, a stable code and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds the client should wait before trying again, sent as `Retry-After`.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The same error telling the client to wait `secs` seconds (`Retry-After`).
    pub fn with_retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after_s = Some(secs);
        self
    }

    /// 400 with a code naming the problem.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no credentials, or ones that do not (or no longer) count.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        // Storage messages carry no request content, but may carry paths; they are logged
        // here, once, and the client gets a plain statement.
        tracing::error!(error = %e, "storage failure");
        match e {
            StorageError::UnknownUser(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_user", "no such user")
            }
            StorageError::Sqlite(ref s)
                if matches!(
                    s.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) =>
            {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the server is busy; try again shortly",
                )
                .with_retry_after(1)
            }
            StorageError::Postgres(ref e) if postgres_is_transient(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy; try again shortly",
            ),
            StorageError::Unreachable { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server cannot reach its database; try again shortly",
            ),
            _ => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage_error",
                "the server could not read or write its storage; nothing was changed by this request",
            ),
        }
    }
}

/// A PostgreSQL failure that a retry may not meet: the connection dropped (a restart, a
/// failover), the server is shutting down or full, or a transaction lost a race.
fn postgres_is_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.is_closed()
        || e.code().is_some_and(|c| {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ]
            .contains(c)
        })
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> ApiError {
        match e {
            EnrollError::UnknownCode | EnrollError::CodeUsed | EnrollError::CodeExpired => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_code", e.to_string())
            }
            EnrollError::DeviceExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "device_exists", e.to_string())
            }
            EnrollError::Storage(s) => s.into(),
        }
    }
}
