//! Prometheus metrics, served at `GET /metrics` on an address of their own
//! (`serve --metrics-listen ADDR`), never on the port phones reach.
//!
//! Metrics are recorded through the [`metrics`](::metrics) facade, so any code of the server
//! crate can add one without plumbing: call `::metrics::counter!(NAME, "label" => value)` (or
//! `gauge!`, `histogram!`) where the thing happens, put its name in [`names`] and its help text
//! in [`describe`]. Until a server with a metrics address starts in the process, no recorder is
//! installed and the macros cost next to nothing. The recorder ([`install`], once per process)
//! is `metrics-exporter-prometheus`, which renders the text format; histograms have the buckets
//! of [`LATENCY_BUCKETS`] so that several processes' figures add up.
//!
//! What an operator watches, and why: `docs/deploy.md`, "Watching the server".

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use gridwork_domain::sync::{PushOutcome, PushResult};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::storage::Storage;

/// The metric names, one place to find them all.
pub mod names {
    /// Counter: requests answered, by `route` (the matched path; `unmatched` for anything else;
    /// `/v1/pull?wait` for long polls) and `status`.
    pub const HTTP_REQUESTS: &str = "gridwork_http_requests_total";
    /// Histogram (seconds): time to answer, by `route` and `status`.
    pub const HTTP_DURATION: &str = "gridwork_http_request_duration_seconds";
    /// Counter: push requests whose body decoded (each may carry up to 500 operations).
    pub const PUSHES: &str = "gridwork_pushes_total";
    /// Counter: pushed operations, by `outcome` (accepted, duplicate, rejected) and `reason`
    /// (the reject code; `none` otherwise).
    pub const OPERATIONS: &str = "gridwork_push_operations_total";
    /// Gauge: long polls waiting for news now.
    pub const WAITING_POLLS: &str = "gridwork_long_polls_waiting";
    /// Counter: requests refused by a rate limit, by `limit` (device, enrollment).
    pub const RATE_LIMITED: &str = "gridwork_rate_limited_total";
    /// Gauge: connections open now, by `listener` (sync, metrics).
    pub const CONNECTIONS_OPEN: &str = "gridwork_connections_open";
    /// Gauge: the most connections served at once, by `listener`.
    pub const CONNECTIONS_MAX: &str = "gridwork_connections_max";
    /// Counter: connections refused because the cap was reached (answered 503
    /// `too_many_connections`), by `listener`.
    pub const CONNECTIONS_REFUSED: &str = "gridwork_connections_refused_total";
    /// Counter: connections closed by the server's timeouts, by `listener` and `reason`
    /// (`header_read`: no whole request head in time, idle keep-alive included; `write`: the
    /// client stopped reading; `tls_handshake`).
    pub const CONNECTIONS_TIMED_OUT: &str = "gridwork_connections_timed_out_total";
    /// Gauge: the storage's database connections, by `state` (`open`, `in_use`, `max`,
    /// `waiting`: requests waiting for one). Read at each scrape.
    pub const STORAGE_CONNECTIONS: &str = "gridwork_storage_connections";
    /// Gauge: 1 while the storage answers (the `/readyz` check, made at each scrape).
    pub const STORAGE_READY: &str = "gridwork_storage_ready";
    /// Counter: rows the storage read to answer pulls and snapshots, by `table` (`log`: stored
    /// operations; `bucket`: entries of the scope bucket indexes; `records`). Divided by the
    /// operations delivered, it stays near 1 whatever the size of the city (ADR 0019).
    pub const STORAGE_ROWS_READ: &str = "gridwork_storage_rows_read_total";
    /// Counter: long polls woken by pushes (one per poll per push that concerned it).
    pub const POLLS_WOKEN: &str = "gridwork_long_polls_woken_total";
    /// Counter: blob bytes accepted from uploads (PATCH bodies held, complete or not).
    pub const BLOB_BYTES_UPLOADED: &str = "gridwork_blob_upload_bytes_total";
    /// Counter: blobs stored whole (hash checked), by uploads.
    pub const BLOBS_STORED: &str = "gridwork_blobs_stored_total";
    /// Counter: blob bytes sent to phones and the console.
    pub const BLOB_BYTES_DOWNLOADED: &str = "gridwork_blob_download_bytes_total";
    /// Counter: blob requests refused, by `direction` (upload, download) and `reason` (the
    /// error code: blob_too_large, upload_quota, offset_mismatch, hash_mismatch,
    /// blob_not_found, …).
    pub const BLOB_REFUSALS: &str = "gridwork_blob_refusals_total";
    /// Counter: blobs and partial uploads deleted by the orphan sweep, by `kind` (blob,
    /// upload).
    pub const BLOBS_SWEPT: &str = "gridwork_blobs_swept_total";
    /// Gauge: always 1, labelled with the server's `version`.
    pub const BUILD_INFO: &str = "gridwork_build_info";
}

/// Bucket bounds of the latency histogram, in seconds: fast answers, slow storage, long polls
/// (which wait up to 30 s by design; they have a route label of their own).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How often recorded histogram samples are folded into their buckets when nobody scrapes
/// (unfolded samples take memory).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot set up metrics: {0}")]
    Build(String),
    #[error("another metrics recorder is already installed in this process")]
    OtherRecorder,
}

/// Installs the process's recorder (the first call; later calls return the same handle) and
/// describes every metric.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::HTTP_DURATION.into()), &LATENCY_BUCKETS)
        .map_err(|e| MetricsError::Build(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    // Two servers starting at once in one process: the loser finds the winner's handle.
    if ::metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get().cloned().ok_or(MetricsError::OtherRecorder);
    }
    let handle = HANDLE.get_or_init(|| handle).clone();
    describe();
    gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// The help text of every metric (shown as `# HELP` lines).
pub fn describe() {
    describe_counter!(
        names::HTTP_REQUESTS,
        "Requests answered, by route and status."
    );
    describe_histogram!(
        names::HTTP_DURATION,
        Unit::Seconds,
        "Time to answer a request, by route and status (long polls: route /v1/pull?wait)."
    );
    describe_counter!(names::PUSHES, "Push requests whose body decoded.");
    describe_counter!(
        names::OPERATIONS,
        "Pushed operations, by outcome (accepted, duplicate, rejected) and reason."
    );
    describe_gauge!(names::WAITING_POLLS, "Long polls waiting for news.");
    describe_counter!(
        names::RATE_LIMITED,
        "Requests refused by a rate limit (429), by limit."
    );
    describe_gauge!(names::CONNECTIONS_OPEN, "Connections open, by listener.");
    describe_gauge!(
        names::CONNECTIONS_MAX,
        "The most connections served at once, by listener."
    );
    describe_counter!(
        names::CONNECTIONS_REFUSED,
        "Connections refused with 503 because the cap was reached."
    );
    describe_counter!(
        names::CONNECTIONS_TIMED_OUT,
        "Connections closed by a timeout, by reason (header_read, write, tls_handshake)."
    );
    describe_gauge!(
        names::STORAGE_CONNECTIONS,
        "Database connections of the storage, by state (open, in_use, max, waiting)."
    );
    describe_gauge!(
        names::STORAGE_READY,
        "1 while the storage answers its readiness check."
    );
    describe_counter!(
        names::STORAGE_ROWS_READ,
        "Rows read for pulls and snapshots, by table (log, bucket, records)."
    );
    describe_counter!(
        names::POLLS_WOKEN,
        "Long polls woken by a push that concerned them."
    );
    describe_counter!(
        names::BLOB_BYTES_UPLOADED,
        Unit::Bytes,
        "Blob bytes accepted from uploads (PATCH bodies held)."
    );
    describe_counter!(
        names::BLOBS_STORED,
        "Blobs stored whole by uploads (their hash checked)."
    );
    describe_counter!(
        names::BLOB_BYTES_DOWNLOADED,
        Unit::Bytes,
        "Blob bytes sent to phones and the console."
    );
    describe_counter!(
        names::BLOB_REFUSALS,
        "Blob requests refused, by direction (upload, download) and reason."
    );
    describe_counter!(
        names::BLOBS_SWEPT,
        "Orphan blobs and stale partial uploads deleted, by kind (blob, upload)."
    );
    describe_gauge!(
        names::BUILD_INFO,
        "Always 1; the version label says which server runs."
    );
}

/// Records blob bytes accepted from an upload.
pub fn blob_uploaded(bytes: u64) {
    counter!(names::BLOB_BYTES_UPLOADED).increment(bytes);
}

/// Records a blob stored whole.
pub fn blob_stored() {
    counter!(names::BLOBS_STORED).increment(1);
}

/// Records blob bytes sent.
pub fn blob_downloaded(bytes: u64) {
    counter!(names::BLOB_BYTES_DOWNLOADED).increment(bytes);
}

/// Records a refused blob request.
pub fn blob_refused(direction: &'static str, reason: &'static str) {
    counter!(names::BLOB_REFUSALS, "direction" => direction, "reason" => reason).increment(1);
}

/// Records what the orphan sweep deleted.
pub fn blobs_swept(blobs: u64, uploads: u64) {
    counter!(names::BLOBS_SWEPT, "kind" => "blob").increment(blobs);
    counter!(names::BLOBS_SWEPT, "kind" => "upload").increment(uploads);
}

/// Records one answered request.
pub fn request(route: &'static str, status: StatusCode, took: Duration) {
    let status = status.as_str().to_string();
    counter!(names::HTTP_REQUESTS, "route" => route, "status" => status.clone()).increment(1);
    ::metrics::histogram!(names::HTTP_DURATION, "route" => route, "status" => status)
        .record(took.as_secs_f64());
}

/// Records a push's answers.
pub fn push(results: &[PushResult]) {
    counter!(names::PUSHES).increment(1);
    let (mut accepted, mut duplicate) = (0u64, 0u64);
    for r in results {
        match &r.outcome {
            PushOutcome::Accepted { .. } => accepted += 1,
            PushOutcome::Duplicate { .. } => duplicate += 1,
            PushOutcome::Rejected { code, .. } => {
                let reason = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "unknown".into());
                counter!(names::OPERATIONS, "outcome" => "rejected", "reason" => reason)
                    .increment(1);
            }
        }
    }
    if accepted > 0 {
        counter!(names::OPERATIONS, "outcome" => "accepted", "reason" => "none")
            .increment(accepted);
    }
    if duplicate > 0 {
        counter!(names::OPERATIONS, "outcome" => "duplicate", "reason" => "none")
            .increment(duplicate);
    }
}

/// Records a request refused by the rate limit named `limit`.
pub fn rate_limited(limit: &'static str) {
    counter!(names::RATE_LIMITED, "limit" => limit).increment(1);
}

/// Counts a long poll as waiting for as long as it is held.
#[derive(Debug)]
#[must_use = "the poll counts as waiting only while this is held"]
pub struct WaitingPoll(());

impl WaitingPoll {
    /// The poll starts waiting.
    pub fn start() -> WaitingPoll {
        gauge!(names::WAITING_POLLS).increment(1.0);
        WaitingPoll(())
    }
}

impl Drop for WaitingPoll {
    fn drop(&mut self) {
        gauge!(names::WAITING_POLLS).decrement(1.0);
    }
}

/// Counts a connection as open for as long as it is held.
#[derive(Debug)]
#[must_use = "the connection counts as open only while this is held"]
pub struct OpenConnection(&'static str);

impl OpenConnection {
    /// A connection of `listener` opens.
    pub fn start(listener: &'static str) -> OpenConnection {
        gauge!(names::CONNECTIONS_OPEN, "listener" => listener).increment(1.0);
        OpenConnection(listener)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!(names::CONNECTIONS_OPEN, "listener" => self.0).decrement(1.0);
    }
}

/// The router of the metrics address: `GET /metrics`.
pub fn router<S: Storage>(storage: Arc<S>, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape::<S>))
        .with_state(Scrape { storage, handle })
}

struct Scrape<S> {
    storage: Arc<S>,
    handle: PrometheusHandle,
}

impl<S> Clone for Scrape<S> {
    fn clone(&self) -> Self {
        Scrape {
            storage: self.storage.clone(),
            handle: self.handle.clone(),
        }
    }
}

/// Reads the gauges that are cheaper to read than to keep (the pool, readiness, the storage's
/// own counters), then renders.
async fn scrape<S: Storage>(State(s): State<Scrape<S>>) -> impl IntoResponse {
    let reads = s.storage.read_counts();
    for (table, value) in [
        ("log", reads.log_rows),
        ("bucket", reads.bucket_rows),
        ("records", reads.record_rows),
    ] {
        counter!(names::STORAGE_ROWS_READ, "table" => table).absolute(value);
    }
    counter!(names::POLLS_WOKEN).absolute(s.storage.wakeups().woken_total());
    let pool = s.storage.pool_status();
    for (state, value) in [
        ("open", pool.open),
        ("in_use", pool.in_use),
        ("max", pool.max),
        ("waiting", pool.waiting),
    ] {
        gauge!(names::STORAGE_CONNECTIONS, "state" => state).set(value as f64);
    }
    let ready = crate::http::health::storage_ready(&*s.storage)
        .await
        .is_ok();
    gauge!(names::STORAGE_READY).set(if ready { 1.0 } else { 0.0 });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.handle.render(),
    )
}

/// Folds histogram samples into buckets every few seconds until `stopping` turns true.
pub async fn upkeep(handle: PrometheusHandle, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            stopped = async { stopping.wait_for(|s| *s).await.is_ok() } => {
                if stopped {
                    return;
                }
                // Nobody can stop us: keep going until the runtime ends.
                std::future::pending::<()>().await;
            }
        }
    }
}
