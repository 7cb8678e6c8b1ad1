//! Reading a JSON request body into a wire type, with the problem named in the error: a body
//! sent as something else than JSON (415), too large (413), stalled (408), not JSON (400
//! `bad_json`), JSON of the wrong shape (400 `invalid_body`).
//!
//! Every body is read against a limit of its endpoint's own ([`read`]): a body declared longer
//! is refused before a byte of it is read, and one that turns out longer is dropped as soon as
//! it passes the limit, so what a request can make the server hold is its limit, not what the
//! client sends.
//!
//! serde's messages quote the offending value ("invalid type: string \"1380…\""), which may be a
//! phone or an ID number; quoted text is cut from messages so that error answers, like logs,
//! never carry personal data.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutError;

use super::ApiError;

/// The bytes of a request body declared as JSON (`Content-Type: application/json`, or any
/// `application/…+json`), read up to [`super::MAX_BODY_BYTES`]. Decoding is left to the
/// handler, which knows the type.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        read(request, super::MAX_BODY_BYTES).await.map(JsonBody)
    }
}

/// Reads the JSON body of `request`, at most `limit` bytes: 415 unless declared JSON; 413 at
/// once when `Content-Length` says more (nothing is read), or as soon as more arrived; 408 when
/// the body stalls (the connection's body timeout); 400 `bad_body` when it is cut off.
pub async fn read(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    require_json(request.headers())?;
    if declared_length(request.headers()).is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(body_error(e.as_ref(), limit)),
    }
}

/// The `Content-Length` of a request, when it has a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The answer for a body that could not be read: over the limit, stalled, or cut off.
fn body_error(e: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<LengthLimitError>() {
            return too_large(limit);
        }
        if c.is::<TimeoutError>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body stopped arriving; send it again",
            );
        }
        cause = c.source();
    }
    ApiError::bad_request("bad_body", "the request body could not be read")
}

/// 415 unless the request says its body is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        if content_type.is_empty() {
            "the body must be JSON, sent with `Content-Type: application/json`".to_string()
        } else {
            "the body must be JSON, sent with `Content-Type: application/json` (this request \
             declared another type)"
                .to_string()
        },
    ))
}

/// 413 for a body over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// Parses `bytes` as a `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

/// The API error for a serde_json failure.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "bad_json",
            format!("the body is not valid JSON: {}", redact(e)),
        ),
        Category::Data => ApiError::bad_request(
            "invalid_body",
            format!(
                "the body does not have the expected fields and types: {}",
                redact(e)
            ),
        ),
    }
}

/// What serde's message says went wrong, and where, without any part of the input: the
/// message is reduced to its kind (`invalid type`, `unknown field`, ...) and position, since
/// serde quotes strings, numbers (`integer \`33010619…\``) and keys alike. Only a missing field
/// is named: its name comes from our own types, not from the sender.
pub fn redact(e: &serde_json::Error) -> String {
    const KINDS: &[&str] = &[
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown field",
        "unknown variant",
        "duplicate field",
        "trailing characters",
        "trailing comma",
        "EOF while parsing",
        "expected",
        "key must be",
        "number out of range",
        "recursion limit exceeded",
        "control character",
        "invalid escape",
        "invalid number",
        "invalid unicode",
        "lone leading surrogate",
    ];
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    let kind = match what.strip_prefix("missing field `") {
        Some(rest) => {
            let name = rest.split('`').next().unwrap_or_default();
            if !name.is_empty()
                && name.len() <= 40
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                format!("missing field `{name}`")
            } else {
                "missing field".to_string()
            }
        }
        None => KINDS
            .iter()
            .find(|k| what.starts_with(*k))
            .map_or("malformed value", |k| k)
            .to_string(),
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_pass() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            require_json(&h)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/merge-patch+json").is_ok());
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
        assert_eq!(
            require_json(&HeaderMap::new()).unwrap_err().code,
            "unsupported_media_type"
        );
    }

    #[test]
    fn a_wrong_type_is_named_without_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Form {
            age: u32,
        }
        let err = parse::<Form>(br#"{"age": "110105194912310029"}"#).unwrap_err();
        assert_eq!(err.code, "invalid_body");
        assert!(!err.message.contains("1101"), "{}", err.message);
        assert!(err.message.contains("invalid type"), "{}", err.message);
        assert_eq!(parse::<Form>(b"{\"age\":").unwrap_err().code, "bad_json");
        // Numbers and keys are the sender's too.
        for body in [
            &br#"{"age": 330106199001011234}"#[..],
            br#"{"age": -13800138000}"#,
            br#"{"age": 1.3800138}"#,
        ] {
            let err = parse::<Form>(body).unwrap_err();
            assert!(!err.message.contains("3301"), "{}", err.message);
            assert!(!err.message.contains("13800"), "{}", err.message);
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Strict {
            age: Option<u32>,
        }
        let err = parse::<Strict>(br#"{"13800138000": 1}"#).unwrap_err();
        assert!(!err.message.contains("13800"), "{}", err.message);
        assert!(err.message.contains("unknown field"), "{}", err.message);
    }
}
