//! Reading a JSON request body into a wire type, with the problem named in the error: a body
//! sent as something else than JSON (415), too large (413), not JSON (400 `bad_json`), JSON of
//! the wrong shape (400 `invalid_body`).
//!
//! serde's messages quote the offending value ("invalid type: string \"1380…\""), which may be a
//! phone or an ID number; quoted text is cut from messages so that error answers, like logs,
//! never carry personal data.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::ApiError;

/// The bytes of a request body declared as JSON (`Content-Type: application/json`, or any
/// `application/…+json`), read up to the body limit. Decoding is left to the handler, which
/// knows the type.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())?;
        let body = Bytes::from_request(request, state).await;
        body_bytes(body).map(JsonBody)
    }
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

/// The body bytes, or the error for a body that could not be read (too large, cut off).
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request("bad_body", "the request body could not be read")
        }
    })
}

/// 413 for a body over [`super::MAX_BODY_BYTES`].
pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than {} bytes",
            super::MAX_BODY_BYTES
        ),
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

/// serde's message with every double-quoted part replaced by `"…"`.
pub fn redact(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        // Odd pieces are inside quotes.
        if i % 2 == 0 {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
    }
    out
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
    }
}
