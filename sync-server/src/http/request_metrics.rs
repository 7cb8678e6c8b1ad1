//! Counts every answer and its latency by route and status (`crate::metrics`). The route is
//! the matched path, never the raw one (a client could make up paths without end, and each
//! would be a series of its own): anything unmatched is `unmatched`, and a long poll (a pull
//! with `wait` above 0) is `/v1/pull?wait`, since its latency is its wait.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The middleware.
pub async fn record(request: Request, next: Next) -> Response {
    let route = route_label(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str()),
        request.uri().query(),
    );
    let started = Instant::now();
    let response = next.run(request).await;
    crate::metrics::request(route, response.status(), started.elapsed());
    response
}

/// The `route` label of a request.
pub fn route_label(matched: Option<&str>, query: Option<&str>) -> &'static str {
    match matched {
        Some("/healthz") => "/healthz",
        Some("/readyz") => "/readyz",
        Some("/v1/enroll") => "/v1/enroll",
        Some("/v1/push") => "/v1/push",
        Some("/v1/pull") if waits(query) => "/v1/pull?wait",
        Some("/v1/pull") => "/v1/pull",
        Some("/v1/snapshot") => "/v1/snapshot",
        Some(_) => "other",
        None => "unmatched",
    }
}

/// Whether a pull's query asks to wait (`wait` above 0).
fn waits(query: Option<&str>) -> bool {
    query.unwrap_or_default().split('&').any(|pair| {
        pair.strip_prefix("wait=")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|w| w > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_named_by_their_pattern_and_long_polls_apart() {
        assert_eq!(route_label(Some("/v1/push"), None), "/v1/push");
        assert_eq!(
            route_label(Some("/v1/pull"), Some("after=3&wait=30")),
            "/v1/pull?wait"
        );
        assert_eq!(
            route_label(Some("/v1/pull"), Some("after=3&wait=0")),
            "/v1/pull"
        );
        assert_eq!(route_label(Some("/v1/pull"), Some("wait=x")), "/v1/pull");
        assert_eq!(route_label(None, None), "unmatched");
    }
}
