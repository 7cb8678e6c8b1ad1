//! The orphan sweep (issue 24, ADR 0040): a stored blob no case step references is deleted once
//! it is older than a grace period (the phone pushes the photo step and uploads the bytes in
//! either order, so a fresh blob without a reference is normal for a while), and partial
//! uploads untouched for a day are deleted too. It runs in the server every
//! [`SweepPolicy::every`] and on demand as `gridwork-server blobs gc`.

use std::time::Duration;

use gridwork_domain::attachment::BlobHash;

use super::{BlobError, BlobStore};
use crate::clock::ServerClock;
use crate::storage::{BlobStorage, StorageError};

/// What the sweep keeps and how often it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPolicy {
    /// An unreferenced blob younger than this is kept.
    pub grace: Duration,
    /// A partial upload written to within this is kept.
    pub upload_idle: Duration,
    /// Time between sweeps in a running server.
    pub every: Duration,
}

impl SweepPolicy {
    /// The protocol's defaults: 7 days of grace, partial uploads kept 24 h, hourly.
    pub const DEFAULT: SweepPolicy = SweepPolicy {
        grace: Duration::from_secs(7 * 24 * 3600),
        upload_idle: Duration::from_secs(24 * 3600),
        every: Duration::from_secs(3600),
    };
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Blobs looked at.
    pub blobs: usize,
    /// Unreferenced blobs past the grace period, deleted.
    pub deleted: usize,
    /// Their bytes.
    pub deleted_bytes: u64,
    /// Stale partial uploads deleted.
    pub uploads: usize,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Blobs(#[from] BlobError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How many hashes one reference lookup asks about.
const BATCH: usize = 500;

/// One sweep at `now_ms`.
pub async fn sweep<S: BlobStorage>(
    storage: &S,
    blobs: &BlobStore,
    policy: SweepPolicy,
    now_ms: u64,
) -> Result<Swept, SweepError> {
    let mut swept = Swept::default();
    let listed = blobs.list_blobs().await?;
    swept.blobs = listed.len();
    let old_before = now_ms.saturating_sub(policy.grace.as_millis() as u64);
    let old: Vec<(BlobHash, u64)> = listed
        .into_iter()
        .filter(|(_, _, written)| *written < old_before)
        .map(|(hash, size, _)| (hash, size))
        .collect();
    for batch in old.chunks(BATCH) {
        let referenced = storage
            .referenced_blobs(batch.iter().map(|(h, _)| *h).collect())
            .await?;
        for (hash, size) in batch {
            if referenced.contains(hash) {
                continue;
            }
            blobs.delete(hash).await?;
            swept.deleted += 1;
            swept.deleted_bytes += size;
        }
    }
    swept.uploads = blobs
        .sweep_uploads(now_ms.saturating_sub(policy.upload_idle.as_millis() as u64))
        .await?;
    crate::metrics::blobs_swept(swept.deleted as u64, swept.uploads as u64);
    Ok(swept)
}

/// Sweeps every `policy.every` until the server stops.
pub async fn run<S: BlobStorage>(
    storage: std::sync::Arc<S>,
    blobs: BlobStore,
    policy: SweepPolicy,
    clock: ServerClock,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            stopped = async { stopping.wait_for(|s| *s).await.is_ok() } => {
                if stopped {
                    return;
                }
                std::future::pending::<()>().await;
            }
        }
        match sweep(&*storage, &blobs, policy, clock()).await {
            Ok(s) => tracing::info!(
                blobs = s.blobs,
                deleted = s.deleted,
                deleted_bytes = s.deleted_bytes,
                uploads = s.uploads,
                "blob sweep"
            ),
            Err(e) => tracing::warn!(error = %e, "blob sweep failed; trying again later"),
        }
    }
}
