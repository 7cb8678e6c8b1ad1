//! Makes every error answer carry a JSON [`ErrorBody`], including those made outside our
//! handlers: axum's 405 for a wrong method (empty body) and tower-http's 413 for a body over the
//! limit (plain text). A client can then always parse the error the same way.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::json_body::too_large;

/// Replaces a non-JSON error answer by an [`ErrorBody`] for its status.
///
/// [`ErrorBody`]: gridwork_domain::sync::ErrorBody
pub async fn ensure_json_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(&response)
        || is_html(&response)
    {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(super::MAX_BODY_BYTES),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
        StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "no such endpoint"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "unsupported_media_type", "send JSON")
        }
        s if s.is_client_error() => ApiError::new(status, "bad_request", "the request was refused"),
        _ => ApiError::new(status, "internal_error", "the server failed to answer"),
    };
    let mut replaced = error.into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

/// The console's pages answer errors as HTML pages of their own.
fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
