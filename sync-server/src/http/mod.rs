//! The HTTP face of the server (axum): one module per endpoint, one error mapping
//! ([`api_error`]), and the layers every request goes through (body cap, JSON error bodies,
//! request metrics, request logs without personal data). Connections, their timeouts and cap
//! are [`crate::server`]'s.
//!
//! | endpoint | auth | body |
//! |---|---|---|
//! | `GET /healthz` | none | `{"status":"ok","server_time_ms":…}` (liveness) |
//! | `GET /readyz` | none | `{"status":"ready",…}`, or 503 `not_ready` (storage checked) |
//! | `POST /v1/enroll` | none (the code is the credential) | `EnrollRequest` → `EnrollResponse` |
//! | `POST /v1/push` | bearer | `PushRequest` → `PushResponse` |
//! | `GET /v1/pull?after=&limit=&wait=` | bearer | `PullResponse` |
//! | `GET /v1/snapshot?after=&limit=&scope=` | bearer | `SnapshotResponse` |
//! | `HEAD`/`PATCH /v1/uploads/{hash}` | bearer | a photo's bytes, resumable ([`blobs`]) |
//! | `GET /v1/blobs/{hash}` | bearer | a photo's bytes, to a device that may see it ([`blobs`]) |
//! | `POST /v1/audit` | bearer | facts a phone reports for the audit log ([`intake`]) |
//! | `/v1/intake/...` | service token | work orders from other systems ([`intake`]) |
//! | `/console/...` | console session cookie | the web console's HTML pages ([`crate::console`]) |

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, head, post, put};
use tokio::sync::watch;
use tower_http::compression::predicate::{
    DefaultPredicate, NotForContentType, Predicate, SizeAbove,
};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;

use gridwork_domain::ids::DeviceId;

use gridwork_domain::scope::ScopeView;

use crate::auth::DeviceCache;
use crate::clock::{self, ServerClock};
use crate::storage::{AuthedDevice, Storage, StorageError};
use rate_limit::Buckets;

pub mod api_error;
pub mod bearer;
pub mod blobs;
pub mod client_addr;
pub mod enroll;
pub mod error_body;
pub mod health;
pub mod intake;
pub mod json_body;
pub mod pull;
pub mod push;
pub mod push_body;
pub mod rate_limit;
pub mod request_log;
pub mod request_metrics;
pub mod snapshot;
pub mod snapshot_ahead;
pub mod unknown_path;

pub use api_error::ApiError;
pub use client_addr::{ClientAddr, TrustedProxies};
pub use rate_limit::{RateLimit, RateLimits};

/// The largest request body accepted (a push of 500 operations with long notes fits easily).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What every handler can reach: the storage and the shutdown signal (long polls end early
/// when the server stops, so shutdown does not wait out a 30 s poll).
pub struct AppState<S> {
    pub storage: Arc<S>,
    pub shutdown: watch::Receiver<bool>,
    /// The time every answer and check uses.
    pub clock: ServerClock,
    /// The rate-limit buckets (shared by every clone of the state).
    pub limiter: Arc<Limiter>,
    /// Token checks and users' views, per device (shared by every clone of the state).
    pub devices: Arc<DeviceCache>,
    /// Where service accounts' callbacks may go (ADR 0030).
    pub callbacks: Arc<crate::intake::ssrf::CallbackPolicy>,
    /// Phones' sync statuses not written yet (shared by every clone of the state).
    pub device_status: Arc<crate::device_status::StatusBook>,
    /// Photo bytes and partial uploads (issue 24).
    pub blobs: crate::blobs::BlobStore,
    /// The upload limits.
    pub blob_limits: crate::blobs::BlobLimits,
    /// Snapshot pages read ahead of their request (ADR 0052; shared by every clone).
    pub snapshots_ahead: Arc<snapshot_ahead::SnapshotsAhead>,
}

/// The buckets of a running server: one per device, one per client address for enrollment.
#[derive(Debug)]
pub struct Limiter {
    pub devices: Buckets<DeviceId>,
    pub enrollments: Buckets<Option<IpAddr>>,
}

impl Limiter {
    /// Empty buckets for `limits`.
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            devices: Buckets::named("device", limits.device),
            enrollments: Buckets::named("enrollment", limits.enroll),
        }
    }
}

impl<S> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            storage: self.storage.clone(),
            shutdown: self.shutdown.clone(),
            clock: self.clock.clone(),
            limiter: self.limiter.clone(),
            devices: self.devices.clone(),
            callbacks: self.callbacks.clone(),
            device_status: self.device_status.clone(),
            blobs: self.blobs.clone(),
            blob_limits: self.blob_limits,
            snapshots_ahead: self.snapshots_ahead.clone(),
        }
    }
}

impl<S: Storage> AppState<S> {
    /// State over `storage`, stopping long polls when `shutdown` turns true.
    pub fn new(storage: Arc<S>, shutdown: watch::Receiver<bool>) -> AppState<S> {
        AppState {
            storage,
            shutdown,
            clock: clock::system(),
            limiter: Arc::new(Limiter::new(RateLimits::DEFAULT)),
            devices: Arc::default(),
            callbacks: Arc::default(),
            device_status: Arc::default(),
            blobs: crate::blobs::BlobStore::in_memory(),
            blob_limits: crate::blobs::BlobLimits::DEFAULT,
            snapshots_ahead: Arc::default(),
        }
    }

    /// The view of the user of an authenticated device: the one cached with its token check,
    /// or read from storage when the cache was cleared meanwhile.
    pub async fn view_of(&self, device: &AuthedDevice) -> Result<ScopeView, StorageError> {
        match self.devices.view(device.device) {
            Some(view) => Ok(view),
            None => self.storage.scope_view(&device.user).await,
        }
    }

    /// The same state with other rate limits.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> AppState<S> {
        self.limiter = Arc::new(Limiter::new(limits));
        self
    }

    /// The same state with another callback policy.
    pub fn with_callback_policy(
        mut self,
        policy: Arc<crate::intake::ssrf::CallbackPolicy>,
    ) -> AppState<S> {
        self.callbacks = policy;
        self
    }

    /// The same state keeping photo bytes in `blobs`, under `limits`.
    pub fn with_blobs(
        mut self,
        blobs: crate::blobs::BlobStore,
        limits: crate::blobs::BlobLimits,
    ) -> AppState<S> {
        self.blobs = blobs;
        self.blob_limits = limits;
        self
    }

    /// The same state reading another clock.
    pub fn with_clock(mut self, clock: ServerClock) -> AppState<S> {
        self.clock = clock;
        self
    }

    /// Now, by this server's clock, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    /// State with a shutdown signal that never fires (tests driving the router directly).
    pub fn without_shutdown(storage: Arc<S>) -> AppState<S> {
        // The sender is dropped at once; long polls read a closed channel as "no shutdown".
        let (_, shutdown) = watch::channel(false);
        AppState::new(storage, shutdown)
    }
}

/// The whole router with its layers.
pub fn router<S: Storage>(state: AppState<S>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz::<S>))
        .route("/readyz", get(health::readyz::<S>))
        .route("/v1/enroll", post(enroll::enroll::<S>))
        .route("/v1/push", post(push::push::<S>))
        .route("/v1/pull", get(pull::pull::<S>))
        .route("/v1/snapshot", get(snapshot::snapshot::<S>))
        .route(
            "/v1/uploads/{hash}",
            head(blobs::head_upload::<S>).patch(blobs::patch_upload::<S>),
        )
        .route("/v1/blobs/{hash}", get(blobs::get_blob::<S>))
        .route("/v1/audit", post(intake::post_audit::<S>))
        .route("/v1/intake/orders", post(intake::post_order::<S>))
        .route("/v1/intake/orders/{source_id}", get(intake::get_order::<S>))
        .route("/v1/intake/callback", put(intake::put_callback::<S>))
        .merge(crate::console::routes::<S>())
        .fallback(unknown_path::unknown_path)
        .with_state(state)
        // Layers run outside-in in reverse order of these calls: the log sees the final
        // status; the JSON error body replaces axum's and tower-http's plain-text errors.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(
            error_body::ensure_json_error_body,
        ))
        // Outside the JSON error body, so the metrics count the status the client gets.
        .layer(axum::middleware::from_fn(request_metrics::record))
        // Answers are gzipped for a client that asks (the device does): snapshot pages of
        // JSON with a stamp per field shrink about tenfold. The fastest level: the server's
        // CPU matters more than the last few percent. Only successful answers over 1 kB: an
        // error answered before the request body was read (413) keeps its Content-Length, so
        // the client reads it whole even though the server closes the connection after it.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(
                    DefaultPredicate::new()
                        .and(SizeAbove::new(1024))
                        // Photo bytes are compressed already, and a range must count bytes.
                        .and(NotForContentType::const_new("application/octet-stream"))
                        .and(
                            |status: axum::http::StatusCode,
                             _: axum::http::Version,
                             _: &axum::http::HeaderMap,
                             _: &axum::http::Extensions| {
                                status.is_success()
                            },
                        ),
                ),
        )
        .layer(request_log::layer())
}
