//! One log line per request: method, path (one the server serves; any other path is logged as
//! `(unknown)`, since a path is typed by the sender too; never the query or body), status,
//! latency and the authenticated device id. Handlers add counts (operations accepted, rejected, pulled).
//! Nothing a user typed is logged: no bodies, names, phones, ID numbers, codes or tokens.

use axum::body::Body;
use axum::http::Request;
use tower_http::LatencyUnit;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// Makes the request span; `device` is filled in by the bearer check.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl MakeSpan<Body> for RequestSpan {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = logged_path(request.uri().path()),
            device = tracing::field::Empty,
        )
    }
}

/// The paths the server serves; they alone are logged as they are.
const SERVED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/v1/enroll",
    "/v1/push",
    "/v1/pull",
    "/v1/snapshot",
    "/metrics",
];

/// `path` when the server serves it, else `(unknown)`.
pub fn logged_path(path: &str) -> &'static str {
    SERVED
        .iter()
        .find(|p| **p == path)
        .copied()
        .unwrap_or("(unknown)")
}

/// The tracing layer with our span and an info line per answer.
pub fn layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Millis),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_served_paths_are_logged_as_they_are() {
        assert_eq!(super::logged_path("/v1/push"), "/v1/push");
        assert_eq!(super::logged_path("/v1/13800138000"), "(unknown)");
    }
}
