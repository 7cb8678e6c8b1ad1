//! Answers for paths the server does not serve: a protocol version it does not speak
//! (`/v2/push` → 404 `unsupported_version`, so a newer app can tell an old server from a
//! missing endpoint) or any other unknown path (404 `not_found`).

use axum::http::{StatusCode, Uri};
use gridwork_domain::sync::PROTOCOL_VERSION;

use super::ApiError;

/// The fallback handler.
pub async fn unknown_path(uri: Uri) -> ApiError {
    let path = uri.path();
    if let Some(version) = requested_version(path)
        && version != PROTOCOL_VERSION.to_string()
    {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unsupported_version",
            format!(
                "this server speaks protocol v{PROTOCOL_VERSION} only (paths under /v{PROTOCOL_VERSION}/)"
            ),
        );
    }
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// `N` of a path starting `/vN/` or equal to `/vN`.
fn requested_version(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v")?;
    let digits = rest.split('/').next()?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_first_segment() {
        assert_eq!(requested_version("/v2/push"), Some("2"));
        assert_eq!(requested_version("/v10"), Some("10"));
        assert_eq!(requested_version("/v1/nothing"), Some("1"));
        assert_eq!(requested_version("/vault/x"), None);
        assert_eq!(requested_version("/healthz"), None);
    }
}
