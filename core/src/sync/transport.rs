//! How the device reaches the server: a [`Transport`] trait (so tests can put a fault-injecting
//! or in-process transport in its place) and [`HttpTransport`], the real one (reqwest, rustls).
//!
//! Over `https://`, the server's certificate is checked against the Mozilla roots built into the
//! app (webpki-roots) plus, when given, one extra CA certificate: the way a deployment with a
//! private CA (or a test with a self-signed certificate) is trusted without trusting anything
//! else. A certificate that does not verify is [`TransportError::Tls`], never retried.
//!
//! Every request of an enrolled device carries the number of changes still waiting in its
//! outbox (`Gridwork-Unsynced`, [`Transport::set_unsynced`]), for the command centre's list of
//! phones (`docs/sync-protocol.md`, "Device status").

use std::future::Future;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridwork_domain::ids::Id;
use gridwork_domain::sync::{
    EnrollRequest, EnrollResponse, ErrorBody, PullResponse, PushRequest, PushResponse,
    SnapshotResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a request to the server failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// No answer (no network, connection dropped, timeout): try again later.
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    /// The server refused the token (revoked or never enrolled): enroll again.
    #[error("the server refused this device's credentials: {0}")]
    Unauthorized(String),
    /// The server answered with an error (4xx / 5xx) and a reason.
    #[error("the server answered {status} {code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer could not be understood.
    #[error("the server's answer could not be read: {0}")]
    BadAnswer(String),
    /// The TLS connection failed: the server's certificate is not trusted (a wrong server, or a
    /// private CA the device was not given), expired, or made for another name. Retrying will
    /// not help; the configuration must change.
    #[error("the secure connection to the server failed: {0}")]
    Tls(String),
    /// The server asks this device to slow down (429) and to wait before trying again.
    #[error("the server asks to wait {retry_after_s} s before trying again: {message}")]
    RateLimited { retry_after_s: u64, message: String },
}

impl TransportError {
    /// The error's stable code, for a catalogue to put in words (`err-` and the code).
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::Unreachable(_) => "unreachable",
            TransportError::Unauthorized(_) => "unauthorized",
            TransportError::Server { .. } => "server",
            TransportError::BadAnswer(_) => "bad_answer",
            TransportError::Tls(_) => "tls",
            TransportError::RateLimited { .. } => "rate_limited",
        }
    }

    /// Whether trying again later may succeed (network trouble, overload, server errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Unreachable(_) => true,
            TransportError::Server { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            TransportError::RateLimited { .. } => true,
            TransportError::Unauthorized(_)
            | TransportError::BadAnswer(_)
            | TransportError::Tls(_) => false,
        }
    }

    /// How long the server asked to wait before the next try, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransportError::RateLimited { retry_after_s, .. } => {
                Some(Duration::from_secs(*retry_after_s))
            }
            _ => None,
        }
    }

    /// The error for a request that got no answer: a TLS failure when the chain of causes holds
    /// one (a certificate refused, a handshake with something that does not speak TLS), else
    /// the server is unreachable.
    fn from_send(e: &reqwest::Error) -> TransportError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(cause) = source {
            if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
                let hint = match tls {
                    rustls::Error::InvalidCertificate(_) => {
                        "; if the server uses a private CA, give the device that CA's certificate"
                    }
                    _ => "",
                };
                return TransportError::Tls(format!("{tls}{hint}"));
            }
            // rustls reaches us wrapped in io::Errors (sometimes two deep), whose `source()`
            // skips the wrapped error itself: step into them instead.
            source = match cause.downcast_ref::<std::io::Error>() {
                Some(io) => io.get_ref().map(|inner| inner as _),
                None => cause.source(),
            };
        }
        TransportError::Unreachable(error_chain(e))
    }
}

/// An error and its causes, `: `-separated (reqwest's own message names only the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// The error for a non-success answer: the server's JSON error body (code and message) read
/// when it has one.
fn answer_error(status: u16, retry_after_s: Option<u64>, body: &[u8]) -> TransportError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (e.error, e.message),
        Err(_) => (
            "unknown".into(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    match status {
        401 => TransportError::Unauthorized(message),
        429 => TransportError::RateLimited {
            // A 429 without the header still means "not now": wait a little.
            retry_after_s: retry_after_s.unwrap_or(1),
            message,
        },
        _ => TransportError::Server {
            status,
            code,
            message,
        },
    }
}

/// A transport answer with the number of JSON bytes sent and received (both ways; the answer's
/// bytes as decoded, before the gzip the HTTP transport asks the server for).
#[derive(Debug, Clone, PartialEq)]
pub struct Sized<T> {
    pub value: T,
    pub bytes: u64,
}

/// The sync protocol's calls. Implementations must be cheap to share across tasks.
pub trait Transport: Send + Sync {
    /// Redeems a one-time enrollment code.
    fn enroll(
        &self,
        req: &EnrollRequest,
    ) -> impl Future<Output = Result<Sized<EnrollResponse>, TransportError>> + Send;
    /// Pushes a batch of operations.
    fn push(
        &self,
        req: &PushRequest,
    ) -> impl Future<Output = Result<Sized<PushResponse>, TransportError>> + Send;
    /// Pulls operations after `after`; `wait_s > 0` long-polls.
    fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> impl Future<Output = Result<Sized<PullResponse>, TransportError>> + Send;
    /// A snapshot page of records with ids after `after`.
    fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> impl Future<Output = Result<Sized<SnapshotResponse>, TransportError>> + Send;
    /// A snapshot page restricted to what `entries` (entries of the user's scope) give: what a
    /// scope change added (`GET /v1/snapshot?scope=ID,ID`). The server ignores entries that are
    /// not the user's. By default the whole scope's page, which a device absorbs as well, only
    /// with more to download: a transport that can send the parameter overrides it.
    fn snapshot_of(
        &self,
        after: Option<Id>,
        limit: usize,
        entries: &[Id],
    ) -> impl Future<Output = Result<Sized<SnapshotResponse>, TransportError>> + Send {
        let _ = entries;
        self.snapshot(after, limit)
    }
    /// Sends facts for the server's audit log (`POST /v1/audit`, ADR 0025). A transport that
    /// cannot send them answers an error: the facts stay queued.
    fn report_access(
        &self,
        report: &crate::access_log::AccessReport,
    ) -> impl Future<Output = Result<Sized<crate::access_log::AccessReported>, TransportError>> + Send
    {
        let _ = report;
        async {
            Err(TransportError::Unreachable(
                "this transport does not carry audit facts".into(),
            ))
        }
    }
    /// Sets the bearer token used from now on.
    fn set_token(&self, token: Option<String>);
    /// Sets the count of changes waiting in the outbox that the next requests report
    /// (`Gridwork-Unsynced`). A transport that does not report it ignores it.
    fn set_unsynced(&self, count: u64) {
        let _ = count;
    }
}

/// The header a device's requests report its outbox count in.
pub const UNSYNCED_HEADER: &str = "Gridwork-Unsynced";

/// No count to report yet ([`HttpTransport`]'s `unsynced` before the first sync step).
const NOT_COUNTED: u64 = u64::MAX;

/// The real transport: HTTP + JSON to `{base_url}/v1/...`.
#[derive(Debug)]
pub struct HttpTransport {
    base: String,
    client: reqwest::Client,
    token: RwLock<Option<String>>,
    /// The outbox count the requests report, [`NOT_COUNTED`] until the engine sets it.
    unsynced: AtomicU64,
}

/// Sends a request and reads its answer: the decoded body and the bytes it took.
async fn receive<T: DeserializeOwned>(
    req: reqwest::RequestBuilder,
    sent_bytes: u64,
) -> Result<Sized<T>, TransportError> {
    let resp = req
        .send()
        .await
        .map_err(|e| TransportError::from_send(&e))?;
    let status = resp.status();
    let retry_after_s = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = resp
        .bytes()
        .await
        .map_err(|e| TransportError::Unreachable(e.to_string()))?;
    let bytes = sent_bytes + body.len() as u64;
    if !status.is_success() {
        return Err(answer_error(status.as_u16(), retry_after_s, &body));
    }
    let value = serde_json::from_slice(&body).map_err(|e| {
        // Not `e.to_string()`: serde_json quotes the input, and answers carry records.
        TransportError::BadAnswer(crate::error::DecodeError::from(&e).to_string())
    })?;
    Ok(Sized { value, bytes })
}

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `http://127.0.0.1:8080`), with a token if
    /// the device is already enrolled.
    pub fn new(base_url: &str, token: Option<String>) -> Result<HttpTransport, TransportError> {
        Self::build(base_url, token, None)
    }

    /// [`HttpTransport::new`] that also trusts the CA certificate(s) in `ca_pem` (PEM) for
    /// `https://` servers: a deployment's private CA, or a test's self-signed certificate.
    pub fn with_extra_ca(
        base_url: &str,
        token: Option<String>,
        ca_pem: &[u8],
    ) -> Result<HttpTransport, TransportError> {
        Self::build(base_url, token, Some(ca_pem))
    }

    fn build(
        base_url: &str,
        token: Option<String>,
        ca_pem: Option<&[u8]>,
    ) -> Result<HttpTransport, TransportError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            // Long polls last up to 30 s; leave room for the answer.
            .timeout(Duration::from_secs(45));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    TransportError::Tls("the extra CA file holds no PEM certificate".into())
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| TransportError::Tls(error_chain(&e)))?;
        Ok(HttpTransport {
            base: base_url.trim_end_matches('/').to_string(),
            client,
            token: RwLock::new(token),
            unsynced: AtomicU64::new(NOT_COUNTED),
        })
    }

    fn token(&self) -> Option<String> {
        self.token.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The request with this device's token and outbox count.
    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = match self.token() {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        match self.unsynced.load(Ordering::Relaxed) {
            NOT_COUNTED => req,
            n => req.header(UNSYNCED_HEADER, n),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        sent_bytes: u64,
    ) -> Result<Sized<T>, TransportError> {
        receive(self.authorize(req), sent_bytes).await
    }

    /// [`Self::send`] on a task of its own, for snapshot pages: the bootstrap asks for the next
    /// page and then writes the current one on its own thread without awaiting anything, so a
    /// request polled only by the bootstrap's future would be read, unzipped and decoded after
    /// the page is written, on the same thread. On its own task the answer is received and
    /// decoded on another of the runtime's threads meanwhile (on a one-thread runtime, as
    /// before). Dropping the future stops the task.
    async fn send_detached<T: DeserializeOwned + Send + 'static>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Sized<T>, TransportError> {
        let task =
            tokio_util::task::AbortOnDropHandle::new(tokio::spawn(receive(self.authorize(req), 0)));
        match task.await {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(TransportError::Unreachable(e.to_string())),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Sized<T>, TransportError> {
        let json = serde_json::to_vec(body).map_err(|e| {
            TransportError::BadAnswer(crate::error::DecodeError::from(&e).to_string())
        })?;
        let len = json.len() as u64;
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json);
        self.send(req, len).await
    }
}

impl Transport for HttpTransport {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        self.post("/v1/enroll", req).await
    }

    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        self.post("/v1/push", req).await
    }

    async fn report_access(
        &self,
        report: &crate::access_log::AccessReport,
    ) -> Result<Sized<crate::access_log::AccessReported>, TransportError> {
        self.post("/v1/audit", report).await
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let url = format!(
            "{}/v1/pull?after={after}&limit={limit}&wait={wait_s}",
            self.base
        );
        self.send(self.client.get(url), 0).await
    }

    async fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let mut url = format!("{}/v1/snapshot?limit={limit}", self.base);
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        self.send_detached(self.client.get(url)).await
    }

    async fn snapshot_of(
        &self,
        after: Option<Id>,
        limit: usize,
        entries: &[Id],
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let scope: Vec<String> = entries.iter().map(Id::to_string).collect();
        let mut url = format!(
            "{}/v1/snapshot?limit={limit}&scope={}",
            self.base,
            scope.join(",")
        );
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        self.send_detached(self.client.get(url)).await
    }

    fn set_token(&self, token: Option<String>) {
        *self.token.write().unwrap_or_else(|p| p.into_inner()) = token;
    }

    fn set_unsynced(&self, count: u64) {
        self.unsynced
            .store(count.min(NOT_COUNTED - 1), Ordering::Relaxed);
    }
}

/// The attachment lane's calls (`/v1/uploads/{hash}`, `/v1/blobs/{hash}`), with the same
/// client and token as the operations, on connections of their own (HTTP/1: one request per
/// connection at a time, so a PATCH on the wire never holds a push back).
impl crate::attachments::BlobTransport for HttpTransport {
    async fn upload_offset(
        &self,
        hash: &gridwork_domain::attachment::BlobHash,
    ) -> Result<crate::attachments::UploadOffset, TransportError> {
        let req = self.client.head(format!("{}/v1/uploads/{hash}", self.base));
        let (status, headers, body) = self.send_raw(req).await?;
        if !status.is_success() {
            return Err(answer_error(status.as_u16(), retry_after(&headers), &body));
        }
        if headers.get(UPLOAD_COMPLETE).is_some_and(|v| v == "1") {
            return Ok(crate::attachments::UploadOffset::Complete);
        }
        Ok(crate::attachments::UploadOffset::At(
            header_u64(&headers, UPLOAD_OFFSET).unwrap_or(0),
        ))
    }

    async fn upload_chunk(
        &self,
        hash: &gridwork_domain::attachment::BlobHash,
        offset: u64,
        total: u64,
        body: Vec<u8>,
    ) -> Result<crate::attachments::PatchAnswer, TransportError> {
        use crate::attachments::PatchAnswer;
        let req = self
            .client
            .patch(format!("{}/v1/uploads/{hash}", self.base))
            .header(UPLOAD_OFFSET, offset)
            .header(UPLOAD_LENGTH, total)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/offset+octet-stream",
            )
            .body(body);
        let (status, headers, answer) = self.send_raw(req).await?;
        if status.as_u16() == 409 {
            let held = header_u64(&headers, UPLOAD_OFFSET).ok_or_else(|| {
                TransportError::BadAnswer("409 without the server's Upload-Offset".into())
            })?;
            return Ok(PatchAnswer::OffsetMismatch(held));
        }
        if !status.is_success() {
            return Err(answer_error(
                status.as_u16(),
                retry_after(&headers),
                &answer,
            ));
        }
        if headers.get(UPLOAD_COMPLETE).is_some_and(|v| v == "1") {
            return Ok(PatchAnswer::Complete);
        }
        header_u64(&headers, UPLOAD_OFFSET)
            .map(PatchAnswer::Accepted)
            .ok_or_else(|| TransportError::BadAnswer("a PATCH answer without Upload-Offset".into()))
    }

    async fn download(
        &self,
        hash: &gridwork_domain::attachment::BlobHash,
        into: &mut Vec<u8>,
    ) -> Result<bool, TransportError> {
        let from = into.len() as u64;
        let mut req = self.client.get(format!("{}/v1/blobs/{hash}", self.base));
        if from > 0 {
            // Resume after a cut: only the bytes not received yet.
            req = req.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let req = match self.token() {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let mut resp = req
            .send()
            .await
            .map_err(|e| TransportError::from_send(&e))?;
        let status = resp.status();
        if status.as_u16() == 404 {
            return Ok(false);
        }
        if !status.is_success() {
            if status.as_u16() == 416 {
                // At or past the end: what was kept is not a prefix of this blob.
                into.clear();
            }
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(answer_error(status.as_u16(), retry_after(&headers), &body));
        }
        // The end the body should reach: a range's total, else unknown (a 200's own length).
        let mut expected_end = None;
        if status.as_u16() == 206 {
            // `bytes k-l/total`: a part that does not start where the kept bytes end (a stale
            // or misrouted answer) is not appended; what was kept stays for the next try.
            let range = resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(content_range);
            match range {
                Some((start, total)) if start == from => expected_end = Some(total),
                _ => {
                    return Err(TransportError::BadAnswer(
                        "a partial answer that does not continue the bytes received".into(),
                    ));
                }
            }
        } else {
            // The whole blob (the server did not take the range): start over.
            into.clear();
        }
        // The body as it arrives, kept in `into` even when the connection drops mid-way.
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?
        {
            into.extend_from_slice(&chunk);
        }
        if expected_end.is_some_and(|end| (into.len() as u64) < end) {
            // A complete message with a short body (a middlebox cut it): keep what came.
            return Err(TransportError::Unreachable(
                "the attachment's answer ended before the range did".into(),
            ));
        }
        Ok(true)
    }
}

/// The resumable upload's headers (tus 1.0 core's names).
const UPLOAD_OFFSET: &str = "upload-offset";
const UPLOAD_LENGTH: &str = "upload-length";
const UPLOAD_COMPLETE: &str = "upload-complete";

/// `bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, _) = span.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    header_u64(headers, reqwest::header::RETRY_AFTER.as_str())
}

impl HttpTransport {
    /// Sends a request with the token; the answer's status, headers and body as they are.
    async fn send_raw(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), TransportError> {
        let req = match self.token() {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| TransportError::from_send(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Ok((status, headers, body.to_vec()))
    }
}

#[cfg(test)]
mod content_range_tests {
    use super::content_range;

    #[test]
    fn a_content_range_gives_its_start_and_total() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, 200)));
        assert_eq!(content_range(" bytes 0-0/1 "), Some((0, 1)));
        assert_eq!(content_range("bytes */200"), None);
        assert_eq!(content_range("items 1-2/3"), None);
    }
}
