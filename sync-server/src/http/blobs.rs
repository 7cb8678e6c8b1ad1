//! Photo bytes over HTTP (issue 24, `docs/sync-protocol.md`, "Attachments"; ADR 0040):
//!
//! - `HEAD /v1/uploads/{hash}`: where this device's upload of the blob stands
//!   (`Upload-Offset`, `Upload-Length`), or `Upload-Complete: 1` when the blob is stored.
//! - `PATCH /v1/uploads/{hash}`: the next bytes of the upload, from `Upload-Offset`; the last
//!   ones are hashed and the blob stored (201) or refused (422 `hash_mismatch`).
//! - `GET /v1/blobs/{hash}` (and `GET /console/blobs/{hash}` for the console): the bytes, to a
//!   caller that may see a case or a record (a building's or household's photo, ADR 0043)
//!   referencing the blob; `Range: bytes=k-` resumes.
//!
//! The upload is in the style of tus 1.0 core; its state is the blob store's (pieces named by
//! hash, device and offset), so a restart or another process resumes it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gridwork_domain::attachment::BlobHash;
use gridwork_domain::scope::ScopeView;

use super::bearer::Authenticated;
use super::{ApiError, AppState};
use crate::blobs::{self, Appended, BlobError, MAX_CHUNK_BYTES, UploadState};
use crate::rules::reading::{self, ScopeFilter};
use crate::storage::Storage;

/// `Upload-Offset`: the bytes held.
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// `Upload-Length`: the blob's whole size.
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
/// `Upload-Complete: 1`: the blob is stored; nothing (more) to send.
pub const UPLOAD_COMPLETE: HeaderName = HeaderName::from_static("upload-complete");
/// The content type of a PATCH body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> ApiError {
        tracing::error!(error = %e, "blob store failure");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "blob_store_unavailable",
            "照片存储暂时不可用，请稍后重试 (the blob store is unavailable; try again later)",
        )
        .with_retry_after(5)
    }
}

fn upload_refused(e: ApiError) -> ApiError {
    crate::metrics::blob_refused("upload", e.code);
    e
}

fn parse_hash(text: &str) -> Result<BlobHash, ApiError> {
    text.parse().map_err(|_| {
        upload_refused(ApiError::bad_request(
            "bad_hash",
            "照片的名称应是其 SHA-256 (64 个小写十六进制字符) (a blob is named by its SHA-256, 64 lowercase hex digits)",
        ))
    })
}

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            upload_refused(ApiError::bad_request(
                "bad_upload_header",
                format!("{name} 应是非负整数 ({name} must be a non-negative whole number)"),
            ))
        })
}

fn offset_mismatch(server_offset: u64) -> Response {
    crate::metrics::blob_refused("upload", "offset_mismatch");
    let mut response = ApiError::new(
        StatusCode::CONFLICT,
        "offset_mismatch",
        format!(
            "上传位置不符，请从第 {server_offset} 字节继续 (Upload-Offset differs from the server's; resume from {server_offset})"
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(server_offset));
    response
}

fn complete(length: u64, status: StatusCode) -> Response {
    (
        status,
        [
            (UPLOAD_COMPLETE, HeaderValue::from_static("1")),
            (UPLOAD_OFFSET, HeaderValue::from(length)),
            (UPLOAD_LENGTH, HeaderValue::from(length)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// `HEAD /v1/uploads/{hash}`.
pub async fn head_upload<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    Ok(match state.blobs.upload_state(&hash, auth.device).await? {
        UploadState::Complete(size) => complete(size, StatusCode::OK),
        UploadState::Partial { offset, length } => {
            let mut response = (
                StatusCode::OK,
                [
                    (UPLOAD_OFFSET, HeaderValue::from(offset)),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response();
            if let Some(length) = length {
                response
                    .headers_mut()
                    .insert(UPLOAD_LENGTH, HeaderValue::from(length));
            }
            response
        }
    })
}

/// `PATCH /v1/uploads/{hash}`.
pub async fn patch_upload<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let (Some(offset), Some(length)) = (
        header_u64(&headers, &UPLOAD_OFFSET)?,
        header_u64(&headers, &UPLOAD_LENGTH)?,
    ) else {
        return Err(upload_refused(ApiError::bad_request(
            "bad_upload_header",
            "PATCH 需要 Upload-Offset 与 Upload-Length (a PATCH needs Upload-Offset and Upload-Length)",
        )));
    };
    let limits = state.blob_limits;
    if length > limits.max_blob_bytes {
        return Err(upload_refused(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "blob_too_large",
            format!(
                "照片超过 {} 字节的上限 (the blob is larger than the {}-byte limit)",
                limits.max_blob_bytes, limits.max_blob_bytes
            ),
        )));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) {
        return Err(upload_refused(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            format!(
                "PATCH 的 Content-Type 应为 {OFFSET_OCTET_STREAM} (the body must be {OFFSET_OCTET_STREAM})"
            ),
        )));
    }
    let held = match state.blobs.upload_state(&hash, auth.device).await? {
        UploadState::Complete(size) => return Ok(complete(size, StatusCode::CREATED)),
        // Pieces of another declared length do not count: this upload starts again from 0.
        UploadState::Partial {
            offset: held,
            length: declared,
        } => {
            if declared.is_none_or(|d| d == length) {
                held
            } else {
                0
            }
        }
    };
    if offset != held {
        return Ok(offset_mismatch(held));
    }

    let now = state.now_ms();
    let day = blobs::utc_day(now);
    let announced = header_u64(&headers, &header::CONTENT_LENGTH)?.unwrap_or(0);
    let over_quota = || {
        upload_refused(
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "upload_quota",
                "本设备今日上传已达上限，请明日再传 (this device's upload quota for today is used up)",
            )
            .with_retry_after(blobs::secs_to_next_day(now)),
        )
    };
    // The quota is checked and counted in one atomic step of the storage: the announced bytes
    // are reserved before the body is read (two PATCHes of one device at once cannot both pass
    // a check the other's bytes would fail), a body without `Content-Length` (chunked) reserves
    // as it arrives, and what was reserved but did not arrive is given back at the end.
    let quota = limits.device_daily_bytes;
    let mut reserved = 0u64;
    if announced > 0 {
        if !state
            .storage
            .reserve_uploaded_bytes(auth.device, day, announced, quota)
            .await?
        {
            return Err(over_quota());
        }
        reserved = announced;
    } else if length > offset && state.storage.uploaded_bytes(auth.device, day).await? >= quota {
        return Err(over_quota());
    }
    // The bytes that count as uploaded in the end (kept, whatever became of the PATCH).
    let mut counted = 0u64;
    let outcome = receive_chunk(
        &state,
        &auth,
        (&hash, offset, length, day),
        body,
        &mut reserved,
        &mut counted,
        over_quota,
    )
    .await;
    if reserved > counted {
        state
            .storage
            .release_uploaded_bytes(auth.device, day, reserved - counted)
            .await?;
    }
    if counted > 0 {
        crate::metrics::blob_uploaded(counted);
    }
    let appended = outcome?;
    match appended {
        Appended::Partial(at) => Ok((
            StatusCode::NO_CONTENT,
            [
                (UPLOAD_OFFSET, HeaderValue::from(at)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response()),
        Appended::Stored => {
            crate::metrics::blob_stored();
            tracing::info!(hash = %hash, size = length, "blob stored");
            Ok(complete(length, StatusCode::CREATED))
        }
        Appended::HashMismatch => Err(upload_refused(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            "数据的 SHA-256 与名称不符，已丢弃 (the bytes do not hash to the blob's name; the upload was discarded)",
        ))),
    }
}

/// Bytes a chunked body reserves of the quota at a time as it arrives (the rest is given back).
const RESERVE_STEP: u64 = 64 * 1024;

/// Reads a PATCH's body and appends it: the part of [`patch_upload`] between reserving the
/// quota and giving back what was not used. `reserved` grows as a chunked body needs more;
/// `counted` is set to the bytes that stay counted (appended, or kept from a body cut off).
async fn receive_chunk<S: Storage>(
    state: &AppState<S>,
    auth: &crate::storage::AuthedDevice,
    (hash, offset, length, day): (&BlobHash, u64, u64, i64),
    body: Body,
    reserved: &mut u64,
    counted: &mut u64,
    over_quota: impl Fn() -> ApiError,
) -> Result<Appended, ApiError> {
    let quota = state.blob_limits.device_daily_bytes;
    let room = length - offset;
    let mut bytes = BytesMut::new();
    let mut stream = body.into_data_stream();
    let mut cut_off = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > MAX_CHUNK_BYTES {
                    return Err(upload_refused(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "chunk_too_large",
                        format!(
                            "每次 PATCH 至多 {MAX_CHUNK_BYTES} 字节 (a PATCH carries at most {MAX_CHUNK_BYTES} bytes)"
                        ),
                    )));
                }
                if bytes.len() as u64 > room {
                    return Err(upload_refused(ApiError::bad_request(
                        "beyond_upload_length",
                        "数据超出 Upload-Length (the body goes past Upload-Length)",
                    )));
                }
                let need = (bytes.len() as u64).saturating_sub(*reserved);
                if need > 0 {
                    // More than announced, or chunked: reserve a step ahead, else exactly what
                    // arrived, else the quota is used up (no PATCH passes it by a byte).
                    let step = need.max(RESERVE_STEP).min(room - (*reserved).min(room));
                    let mut got = false;
                    for ask in if step > need {
                        vec![step, need]
                    } else {
                        vec![need]
                    } {
                        if state
                            .storage
                            .reserve_uploaded_bytes(auth.device, day, ask, quota)
                            .await?
                        {
                            *reserved += ask;
                            got = true;
                            break;
                        }
                    }
                    if !got {
                        return Err(over_quota());
                    }
                }
            }
            Err(e) => {
                cut_off = Some(e);
                break;
            }
        }
    }
    let got = bytes.len() as u64;
    if let Some(e) = cut_off {
        // The client is gone or gave up: keep what arrived, so it resumes from there.
        if got > 0 {
            state
                .blobs
                .append(hash, auth.device, length, offset, bytes.freeze())
                .await?;
            *counted = got;
        }
        tracing::info!(hash = %hash, offset, kept = got, error = %e, "upload cut off; the bytes that arrived are kept");
        return Err(upload_refused(ApiError::bad_request(
            "upload_cut_off",
            "上传中断，已保留收到的数据 (the body was cut off; the bytes that arrived are kept)",
        )));
    }
    let appended = state
        .blobs
        .append(hash, auth.device, length, offset, Bytes::from(bytes))
        .await?;
    *counted = got;
    Ok(appended)
}

/// `GET /v1/blobs/{hash}`.
pub async fn get_blob<S: Storage>(
    State(state): State<AppState<S>>,
    Authenticated(auth): Authenticated,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.view_of(&auth).await?;
    serve_blob(&state, view, &hash, &headers).await
}

/// The one 404 for a blob not stored and for a blob the caller may not see.
fn not_found() -> ApiError {
    crate::metrics::blob_refused("download", "blob_not_found");
    ApiError::new(
        StatusCode::NOT_FOUND,
        "blob_not_found",
        "没有这张照片，或无权查看 (no such blob, or not yours to see)",
    )
}

/// Whether the reader of `view` may see `hash`: some case referencing it, or some building or
/// household whose photo field names it, is in their scope, by the very rule a snapshot admits
/// the record with ([`reading::admit_record`]), on the record's current place; and the record as
/// they would receive it still names the blob (a removed photo is nobody's).
pub async fn may_see<S: Storage>(
    state: &AppState<S>,
    view: ScopeView,
    hash: &BlobHash,
) -> Result<bool, ApiError> {
    let filter = ScopeFilter::for_view(view);
    for case in state.storage.blob_cases(*hash).await? {
        if let Some(row) = state.storage.placed_record(case).await?
            && reading::admit_record(&filter, row).is_some()
        {
            return Ok(true);
        }
    }
    for record in state.storage.blob_records(*hash).await? {
        if let Some(row) = state.storage.placed_record(record).await?
            && let Some(seen) = reading::admit_record(&filter, row)
            && !seen.is_deleted()
            && gridwork_domain::attachment::record_blobs(&seen.fields).contains(hash)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `Range: bytes=k-` → `Some(k)`; anything else (absent, several ranges, a suffix) → `None`,
/// answered whole.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let text = headers.get(header::RANGE)?.to_str().ok()?;
    let start = text.trim().strip_prefix("bytes=")?.strip_suffix('-')?;
    start.parse().ok()
}

/// The bytes of `hash` to the reader of `view`, or the one 404.
pub async fn serve_blob<S: Storage>(
    state: &AppState<S>,
    view: ScopeView,
    hash: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let Ok(hash) = hash.parse::<BlobHash>() else {
        return Err(not_found());
    };
    if !may_see(state, view, &hash).await? {
        return Err(not_found());
    }
    let from = range_start(headers).unwrap_or(0);
    let Some(read) = state.blobs.read(&hash, from).await? else {
        if from > 0
            && let Some(size) = state.blobs.size(&hash).await?
        {
            crate::metrics::blob_refused("download", "range_not_satisfiable");
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return Ok(r);
        }
        return Err(not_found());
    };
    let (size, from) = (read.size, read.from);
    let stream = read.stream.map(|chunk| {
        if let Ok(bytes) = &chunk {
            crate::metrics::blob_downloaded(bytes.len() as u64);
        }
        chunk
    });
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size - from));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex is ascii"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if from > 0 {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {from}-{}/{size}", size - 1)).expect("ascii"),
        );
    }
    Ok(response)
}
