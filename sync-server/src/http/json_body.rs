//! Reading a JSON request body into a wire type, with the problem named in the error: a body
//! too large (413), not JSON (400 `bad_json`), JSON of the wrong shape (400 `invalid_body`).
//!
//! serde's messages quote the offending value ("invalid type: string \"1380…\""), which may be a
//! phone or an ID number; quoted text is cut from messages so that error answers, like logs,
//! never carry personal data.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

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
