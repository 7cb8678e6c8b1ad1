//! The attachment lane: blobs to and from the server, apart from the operations (ADR 0042).
//!
//! Its queue is the `blob_uploads` table, not the outbox, and it runs as a task of its own
//! ([`Gridwork::upload_pending`], one at a time behind its own gate, never the sync run's): a
//! push of an alarm never waits behind a photo. The upload is resumable in the style of tus
//! (`docs/sync-protocol.md`, "Upload"): `HEAD` asks the server how much of the blob it holds,
//! `PATCH`es send [`UPLOAD_CHUNK`] at a time from there; after any failure the next run asks
//! `HEAD` again and goes on from the server's offset, never from 0. It yields to the
//! operations lane (ADR 0053): no chunk starts while a sync run or a pulled page's apply is in
//! progress; the upload goes on from where it stood once they are done.
//!
//! The app sets the policy (any network, unmetered only, paused) and says whether the network
//! is metered; progress per blob (bytes the server confirmed, of the total, and the state) goes
//! to the [`UploadObserver`]s and is read back with [`Gridwork::upload_progress`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::Id;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::attachments::vault::Vault;
use crate::error::{Error, Result};
use crate::gridwork::Gridwork;
use crate::store::meta;
use crate::sync::engine::SyncError;
use crate::sync::transport::TransportError;

/// Bytes in one `PATCH` (the protocol allows up to 4 MiB; a small chunk loses little to a drop
/// on a patchy network).
pub const UPLOAD_CHUNK: u64 = 512 * 1024;

/// A `PATCH` that moves the server's offset no further is retried this many times before the
/// run stops (a server that keeps answering the same offset must not make a phone loop).
const MAX_STALLS: u32 = 3;

/// When blobs may go (the app's choice, kept in the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPolicy {
    /// On any network (the default).
    AnyNetwork,
    /// Only on a network the app reported unmetered (Wi-Fi).
    UnmeteredOnly,
    /// Not at all until the app says otherwise.
    Paused,
}

impl UploadPolicy {
    fn as_str(self) -> &'static str {
        match self {
            UploadPolicy::AnyNetwork => "any_network",
            UploadPolicy::UnmeteredOnly => "unmetered_only",
            UploadPolicy::Paused => "paused",
        }
    }

    fn parse(s: &str) -> UploadPolicy {
        match s {
            "unmetered_only" => UploadPolicy::UnmeteredOnly,
            "paused" => UploadPolicy::Paused,
            _ => UploadPolicy::AnyNetwork,
        }
    }
}

/// Which of a photo's two blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobRole {
    Picture,
    Thumbnail,
}

/// Where a blob of this phone's own photos stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// Waiting for the lane's next run.
    Queued,
    /// Being sent now.
    Uploading,
    /// The server has it (sent by this phone, or already there).
    Uploaded,
    /// The app paused uploads.
    Paused,
    /// The policy is "unmetered only" and the network is metered.
    WaitingForUnmetered,
    /// The server's daily upload quota for this device is used up (429): tried again after
    /// `retry_at_ms` (wall clock).
    QuotaExceeded { retry_at_ms: u64 },
    /// The server refuses a blob this large (413): it will never go.
    TooLarge,
    /// The bytes sent did not hash to the blob's name (422): the server discarded them. Only
    /// [`Gridwork::retry_upload`] sends them again, from the start.
    HashMismatch,
}

/// One blob's upload: what the app shows beside a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentProgress {
    pub hash: BlobHash,
    /// The photo's picture (the blob itself for a picture).
    pub picture: BlobHash,
    /// The case, or the building or household (ADR 0043), whose photo it is.
    pub case_id: Id,
    pub role: BlobRole,
    /// Bytes the server has confirmed.
    pub sent: u64,
    pub total: u64,
    pub state: UploadState,
}

/// Told of every change of a blob's upload (bytes confirmed, state), on the lane's thread.
pub trait UploadObserver: Send + Sync {
    fn on_upload(&self, progress: &AttachmentProgress);
}

/// Why a lane run stopped before the queue was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LaneStop {
    Paused,
    WaitingForUnmetered,
    QuotaExceeded { retry_at_ms: u64 },
}

/// What one run of the lane did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UploadReport {
    /// Blobs the server now has that it did not before this run (or had from another device).
    pub completed: u64,
    /// Bytes put in `PATCH` bodies in this run (delivered or lost on the way).
    pub bytes: u64,
    /// Blobs still queued after the run.
    pub queued: u64,
    /// Why the run stopped with blobs queued, when it was not a failure.
    pub stopped: Option<LaneStop>,
}

/// The server's answer to `HEAD /v1/uploads/{hash}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOffset {
    /// The server stores the blob: nothing to send.
    Complete,
    /// The server holds this many bytes of this device's upload.
    At(u64),
}

/// The server's answer to a `PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchAnswer {
    /// 204: the server now holds this many bytes.
    Accepted(u64),
    /// 201: the whole blob arrived and hashed to its name.
    Complete,
    /// 409 `offset_mismatch`: the server holds this many bytes; go on from there.
    OffsetMismatch(u64),
}

/// The blob calls of the protocol. 413, 422 and 429 are [`TransportError::Server`] /
/// [`TransportError::RateLimited`] with the server's code.
pub trait BlobTransport: Send + Sync {
    fn upload_offset(
        &self,
        hash: &BlobHash,
    ) -> impl Future<Output = Result<UploadOffset, TransportError>> + Send;
    fn upload_chunk(
        &self,
        hash: &BlobHash,
        offset: u64,
        total: u64,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<PatchAnswer, TransportError>> + Send;
    /// Appends the blob's bytes after the `into.len()` already received (`Range: bytes=k-`;
    /// `into` is cleared when the server answers the whole blob instead). `false` when the
    /// server has none this device may see (404). When the connection drops mid-body, `into`
    /// keeps what arrived, so the next call resumes from there.
    fn download(
        &self,
        hash: &BlobHash,
        into: &mut Vec<u8>,
    ) -> impl Future<Output = Result<bool, TransportError>> + Send;
}

/// The lane's state in the open store.
#[derive(Default)]
pub(crate) struct Lane {
    pub(crate) vault: Option<Vault>,
    metered: AtomicBool,
    /// The blob being sent now.
    current: Mutex<Option<BlobHash>>,
    observers: Mutex<Vec<Arc<dyn UploadObserver>>>,
    gate: tokio::sync::Mutex<()>,
    /// Downloads cut off mid-body: the bytes received so far, by blob, so the next fetch asks
    /// only for the rest (`Range`). Kept in memory, so at most one blob's worth each.
    partial: Mutex<std::collections::HashMap<BlobHash, Vec<u8>>>,
    /// When the last sweep of unreferenced blob files ran after a sync (wall ms; 0: not yet in
    /// this process).
    pub(crate) last_sweep_ms: std::sync::atomic::AtomicU64,
    /// Sync runs and pulled pages being applied now (ADR 0053): while any is, the lane sends no
    /// new chunk.
    ops_busy: AtomicUsize,
    /// Told when `ops_busy` falls to 0.
    ops_idle: tokio::sync::Notify,
}

/// The operations lane is working (a sync run, a pulled page being applied): held for as long
/// as it is, the attachment lane starts no new chunk (ADR 0053). Dropped at the end of the
/// work, or when its future is dropped (a cancelled run never leaves the lane waiting).
pub(crate) struct OpsRunning<'a>(&'a Lane);

impl Drop for OpsRunning<'_> {
    fn drop(&mut self) {
        if self.0.ops_busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ops_idle.notify_waiters();
        }
    }
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane").finish_non_exhaustive()
    }
}

impl Lane {
    pub(crate) fn new(vault: Option<Vault>) -> Lane {
        Lane {
            vault,
            // Until the app says, the network is taken as metered: "unmetered only" then waits.
            metered: AtomicBool::new(true),
            ..Lane::default()
        }
    }

    /// Marks the operations lane at work until the guard is dropped.
    pub(crate) fn ops_running(&self) -> OpsRunning<'_> {
        self.ops_busy.fetch_add(1, Ordering::AcqRel);
        OpsRunning(self)
    }

    /// Whether the operations lane is at work now.
    pub(crate) fn ops_busy(&self) -> bool {
        self.ops_busy.load(Ordering::Acquire) > 0
    }

    /// Returns once the operations lane is not at work (at once when it is not): the attachment
    /// lane calls it before each network call, so an alarm's push and the pull that follows
    /// have the phone's CPU, store and network to themselves but for the one chunk already on
    /// the wire.
    async fn ops_quiet(&self) {
        loop {
            let mut idle = std::pin::pin!(self.ops_idle.notified());
            // Registered before the check: a guard dropped between the check and the wait
            // still wakes this one.
            idle.as_mut().enable();
            if !self.ops_busy() {
                return;
            }
            idle.await;
        }
    }

    fn notify(&self, progress: &AttachmentProgress) {
        let observers = self
            .observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for o in observers {
            o.on_upload(progress);
        }
    }
}

const POLICY_KEY: &str = "upload_policy";

/// A queued blob as the lane reads it.
#[derive(Debug, Clone)]
struct Row {
    hash: BlobHash,
    picture: BlobHash,
    case_id: Id,
    role: BlobRole,
    size: u64,
    sent: u64,
    state: String,
    retry_at_ms: Option<u64>,
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let text = |i: usize| r.get::<_, String>(i);
    let parse_hash = |s: String| {
        s.parse::<BlobHash>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    Ok(Row {
        hash: parse_hash(text(0)?)?,
        picture: parse_hash(text(1)?)?,
        case_id: text(2)?.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        role: if text(3)? == "thumbnail" {
            BlobRole::Thumbnail
        } else {
            BlobRole::Picture
        },
        size: r.get::<_, i64>(4)? as u64,
        sent: r.get::<_, i64>(5)? as u64,
        state: text(6)?,
        retry_at_ms: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
    })
}

const ROW_COLUMNS: &str =
    "hash, picture, case_id, role, size, sent, state, retry_at_ms FROM blob_uploads";

/// Queues a photo's two blobs (thumbnail first), inside the caller's transaction.
pub(crate) fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    case_id: Id,
    picture: (BlobHash, u64),
    thumbnail: (BlobHash, u64),
    now_ms: u64,
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO blob_uploads (hash, case_id, picture, role, size, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hash) DO NOTHING",
    )?;
    for (hash, size, role) in [
        (thumbnail.0, thumbnail.1, "thumbnail"),
        (picture.0, picture.1, "picture"),
    ] {
        insert.execute(params![
            hash.to_string(),
            case_id.to_string(),
            picture.0.to_string(),
            role,
            size as i64,
            now_ms as i64
        ])?;
    }
    Ok(())
}

impl Gridwork {
    /// The upload policy the app set (default: any network).
    pub fn upload_policy(&self) -> Result<UploadPolicy> {
        Ok(self
            .query(|c| meta::get(c, POLICY_KEY))?
            .map_or(UploadPolicy::AnyNetwork, |s| UploadPolicy::parse(&s)))
    }

    /// Sets when blobs may go; kept in the store. Every queued blob's state is announced again.
    pub fn set_upload_policy(&self, policy: UploadPolicy) -> Result<()> {
        self.read(|c| meta::set(c, POLICY_KEY, policy.as_str()))?;
        self.announce_all()
    }

    /// The app reports whether the current network is metered (mobile data) or not (Wi-Fi).
    /// Until it does, the network counts as metered.
    pub fn set_network_metered(&self, metered: bool) -> Result<()> {
        self.lane.metered.store(metered, Ordering::Relaxed);
        self.announce_all()
    }

    /// Whether the app reported the network metered.
    pub fn is_network_metered(&self) -> bool {
        self.lane.metered.load(Ordering::Relaxed)
    }

    /// Registers an observer of upload progress.
    pub fn add_upload_observer(&self, observer: Arc<dyn UploadObserver>) {
        self.lane
            .observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    /// Every blob of this phone's own photos with its upload's progress, in queue order.
    pub fn upload_progress(&self) -> Result<Vec<AttachmentProgress>> {
        let rows = self.query(|c| {
            let mut stmt = c.prepare(&format!("SELECT {ROW_COLUMNS} ORDER BY seq"))?;
            let rows = stmt
                .query_map([], read_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let policy = self.upload_policy()?;
        Ok(rows.iter().map(|r| self.progress_of(r, policy)).collect())
    }

    /// The upload of one blob, or `None` when this phone did not make it.
    pub fn upload_of(&self, hash: &BlobHash) -> Result<Option<AttachmentProgress>> {
        let row = self.query(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {ROW_COLUMNS} WHERE hash = ?1"))?
                    .query_row([hash.to_string()], read_row)
                    .optional()?,
            )
        })?;
        let policy = self.upload_policy()?;
        Ok(row.map(|r| self.progress_of(&r, policy)))
    }

    /// Sends a blob refused as not hashing to its name again, from the start (the server
    /// discarded what it had). Returns whether one was queued again.
    pub fn retry_upload(&self, hash: &BlobHash) -> Result<bool> {
        let n = self.read(|c| {
            Ok(c.execute(
                "UPDATE blob_uploads SET state = 'queued', sent = 0, retry_at_ms = NULL
                 WHERE hash = ?1 AND state = 'hash_mismatch'",
                [hash.to_string()],
            )?)
        })?;
        if let Some(p) = self.upload_of(hash)? {
            self.lane.notify(&p);
        }
        Ok(n > 0)
    }

    fn progress_of(&self, r: &Row, policy: UploadPolicy) -> AttachmentProgress {
        let now = self.wall_ms();
        let current = *self.lane.current.lock().unwrap_or_else(|p| p.into_inner());
        let state = match r.state.as_str() {
            "uploaded" => UploadState::Uploaded,
            "too_large" => UploadState::TooLarge,
            "hash_mismatch" => UploadState::HashMismatch,
            _ if current == Some(r.hash) => UploadState::Uploading,
            _ => match r.retry_at_ms {
                Some(at) if at > now => UploadState::QuotaExceeded { retry_at_ms: at },
                _ => match self.lane_stop(policy) {
                    Some(LaneStop::Paused) => UploadState::Paused,
                    Some(LaneStop::WaitingForUnmetered) => UploadState::WaitingForUnmetered,
                    _ => UploadState::Queued,
                },
            },
        };
        AttachmentProgress {
            hash: r.hash,
            picture: r.picture,
            case_id: r.case_id,
            role: r.role,
            sent: if state == UploadState::Uploaded {
                r.size
            } else {
                r.sent
            },
            total: r.size,
            state,
        }
    }

    fn lane_stop(&self, policy: UploadPolicy) -> Option<LaneStop> {
        match policy {
            UploadPolicy::Paused => Some(LaneStop::Paused),
            UploadPolicy::UnmeteredOnly if self.is_network_metered() => {
                Some(LaneStop::WaitingForUnmetered)
            }
            _ => None,
        }
    }

    fn announce_all(&self) -> Result<()> {
        for p in self.upload_progress()? {
            if p.state != UploadState::Uploaded {
                self.lane.notify(&p);
            }
        }
        Ok(())
    }

    fn announce(&self, hash: &BlobHash) -> Result<()> {
        if let Some(p) = self.upload_of(hash)? {
            self.lane.notify(&p);
        }
        Ok(())
    }

    fn set_row(&self, hash: &BlobHash, sql: &str, value: i64) -> Result<()> {
        self.read(|c| {
            c.execute(sql, params![hash.to_string(), value])?;
            Ok(())
        })
    }

    /// One run of the upload lane: sends every queued blob the policy lets go, in order
    /// (thumbnails before their pictures), each resumed from the server's offset. Returns at
    /// the first failure that is not the blob's own (no network, the server down): what the
    /// server confirmed is kept, and the next run goes on from there.
    ///
    /// Runs one at a time (a second call waits for the first), and never holds the writer
    /// while it waits on the network: a sync run goes on beside it.
    pub async fn upload_pending<T: BlobTransport>(
        &self,
        transport: &T,
    ) -> Result<UploadReport, SyncError> {
        let _gate = self.lane.gate.lock().await;
        let vault = self.vault()?.clone();
        let mut report = UploadReport::default();
        let out = self.run_lane(transport, &vault, &mut report).await;
        *self.lane.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        report.queued = self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM blob_uploads WHERE state = 'queued'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })?;
        out.map(|()| report)
    }

    async fn run_lane<T: BlobTransport>(
        &self,
        transport: &T,
        vault: &Vault,
        report: &mut UploadReport,
    ) -> Result<(), SyncError> {
        loop {
            if self.is_offline() {
                return Err(
                    TransportError::Unreachable("the app reported no network".into()).into(),
                );
            }
            if let Some(stop) = self.lane_stop(self.upload_policy()?) {
                report.stopped = Some(stop);
                return Ok(());
            }
            let now = self.wall_ms() as i64;
            let next = self.read(|c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} WHERE state = 'queued'
                     AND (retry_at_ms IS NULL OR retry_at_ms <= ?1) ORDER BY seq LIMIT 1"
                ))?
                .query_row([now], read_row)
                .optional()?)
            })?;
            let Some(row) = next else {
                return Ok(());
            };
            if let Some(stop) = self.upload_one(transport, vault, &row, report).await? {
                report.stopped = Some(stop);
                return Ok(());
            }
        }
    }

    /// Sends one blob from the server's offset. `Some` when the lane must stop (the quota, the
    /// policy changed under way).
    async fn upload_one<T: BlobTransport>(
        &self,
        transport: &T,
        vault: &Vault,
        row: &Row,
        report: &mut UploadReport,
    ) -> Result<Option<LaneStop>, SyncError> {
        let hash = row.hash;
        *self.lane.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(hash);
        self.announce(&hash)?;
        self.lane.ops_quiet().await;
        let mut offset = match transport.upload_offset(&hash).await? {
            UploadOffset::Complete => {
                self.mark_uploaded(&hash)?;
                report.completed += 1;
                return Ok(None);
            }
            UploadOffset::At(k) => k.min(row.size),
        };
        if offset != row.sent {
            self.set_row(
                &hash,
                "UPDATE blob_uploads SET sent = ?2 WHERE hash = ?1",
                offset as i64,
            )?;
            self.announce(&hash)?;
        }
        let mut stalls = 0;
        loop {
            let len = UPLOAD_CHUNK.min(row.size - offset);
            let body = read_chunk(vault, hash, offset, len).await?;
            // Yield to the operations lane: no chunk starts while an alarm is being pushed or
            // a pull applied (ADR 0053); the chunk already on the wire was the last. Waited
            // for after the chunk is read and decrypted, not before: a run that began during
            // the read (512 KiB read and decrypted) is seen, and the chunk waits for its
            // end (measured: ADR 0053's addendum).
            self.lane.ops_quiet().await;
            if let Some(stop) = self.lane_stop(self.upload_policy()?) {
                return Ok(Some(stop));
            }
            let sent_now = body.len() as u64;
            report.bytes += sent_now;
            self.set_row(
                &hash,
                "UPDATE blob_uploads SET wire_bytes = wire_bytes + ?2 WHERE hash = ?1",
                sent_now as i64,
            )?;
            let answer = transport.upload_chunk(&hash, offset, row.size, body).await;
            let next = match answer {
                Ok(PatchAnswer::Complete) => {
                    self.mark_uploaded(&hash)?;
                    report.completed += 1;
                    return Ok(None);
                }
                // The answer to this PATCH: the server holds what was sent.
                Ok(PatchAnswer::Accepted(k)) if k == offset + sent_now => k,
                // Any other offset may be a stale answer (a replayed one, another PATCH's):
                // the server's HEAD says where the upload stands.
                Ok(PatchAnswer::Accepted(_)) => match transport.upload_offset(&hash).await? {
                    UploadOffset::Complete => {
                        self.mark_uploaded(&hash)?;
                        report.completed += 1;
                        return Ok(None);
                    }
                    UploadOffset::At(k) => k.min(row.size),
                },
                Ok(PatchAnswer::OffsetMismatch(k)) => k.min(row.size),
                Err(TransportError::Server { status: 413, .. }) => {
                    self.set_state(&hash, "too_large")?;
                    tracing::warn!(blob = %hash, "the server refuses an attachment this large");
                    return Ok(None);
                }
                Err(TransportError::Server { status: 422, .. }) => {
                    self.set_state(&hash, "hash_mismatch")?;
                    tracing::warn!(blob = %hash, "the server found the upload did not hash to its name");
                    return Ok(None);
                }
                Err(TransportError::RateLimited { retry_after_s, .. }) => {
                    let at = self.wall_ms() + retry_after_s.max(1) * 1000;
                    self.set_row(
                        &hash,
                        "UPDATE blob_uploads SET retry_at_ms = ?2 WHERE hash = ?1",
                        at as i64,
                    )?;
                    *self.lane.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    self.announce(&hash)?;
                    return Ok(Some(LaneStop::QuotaExceeded { retry_at_ms: at }));
                }
                Err(e) => return Err(e.into()),
            };
            if next <= offset {
                stalls += 1;
                if stalls >= MAX_STALLS {
                    return Err(TransportError::BadAnswer(
                        "the server's upload offset does not move".into(),
                    )
                    .into());
                }
            } else {
                stalls = 0;
            }
            offset = next;
            self.set_row(
                &hash,
                "UPDATE blob_uploads SET sent = ?2 WHERE hash = ?1",
                offset as i64,
            )?;
            self.announce(&hash)?;
        }
    }

    fn mark_uploaded(&self, hash: &BlobHash) -> Result<()> {
        self.read(|c| {
            c.execute(
                "UPDATE blob_uploads SET state = 'uploaded', sent = size, retry_at_ms = NULL
                 WHERE hash = ?1",
                [hash.to_string()],
            )?;
            Ok(())
        })?;
        *self.lane.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.announce(hash)
    }

    fn set_state(&self, hash: &BlobHash, state: &str) -> Result<()> {
        self.read(|c| {
            c.execute(
                "UPDATE blob_uploads SET state = ?2 WHERE hash = ?1",
                params![hash.to_string(), state],
            )?;
            Ok(())
        })?;
        *self.lane.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.announce(hash)
    }

    /// Bytes put in `PATCH` bodies for this blob so far, over every run (delivered or lost).
    pub fn upload_wire_bytes(&self, hash: &BlobHash) -> Result<u64> {
        self.query(|c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(wire_bytes), 0) FROM blob_uploads WHERE hash = ?1",
                [hash.to_string()],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// The blob's bytes: from this phone's encrypted cache when it is there, else downloaded,
    /// checked against its hash, and cached. `Ok(None)` when the server has none this device
    /// may see yet (not uploaded yet by the phone that took it): try again later.
    pub async fn fetch_attachment<T: BlobTransport>(
        &self,
        transport: &T,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let vault = self.vault()?;
        if let Some(bytes) = vault.get(hash)? {
            return Ok(Some(bytes));
        }
        if self.is_offline() {
            return Err(TransportError::Unreachable("the app reported no network".into()).into());
        }
        let mut bytes = self
            .lane
            .partial
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash)
            .unwrap_or_default();
        match transport.download(hash, &mut bytes).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => {
                // Cut off: keep what arrived for the next call to resume from.
                if !bytes.is_empty() {
                    self.lane
                        .partial
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(*hash, bytes);
                }
                return Err(e.into());
            }
        }
        if BlobHash::of(&bytes) != *hash {
            // Maybe a complete answer whose body a middlebox cut short: kept, so the next
            // fetch asks for the rest (`Range`). Bytes that are not a prefix fail again once
            // the range reaches the end, and the server's 416 then drops them.
            self.lane
                .partial
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*hash, bytes);
            return Err(TransportError::BadAnswer(
                "the downloaded attachment does not hash to its name".into(),
            )
            .into());
        }
        vault.put(hash, &bytes)?;
        Ok(Some(bytes))
    }
}

/// Reads and decrypts one chunk of a blob for a `PATCH` (512 KiB: file reads and
/// XChaCha20-Poly1305, a millisecond or so of CPU) in the background (ADR 0055).
async fn read_chunk(vault: &Vault, hash: BlobHash, offset: u64, len: u64) -> Result<Vec<u8>> {
    let vault = vault.clone();
    in_background(move || vault.read_range(&hash, offset, len))
        .await??
        .ok_or_else(|| Error::Attachment("a queued attachment's file is missing".into()))
}

/// Runs `work` on a thread of its own at the lowest priority the system gives a thread of the
/// normal policy (nice 19 on Linux and Android) and returns its result (ADR 0055). Not on the
/// worker that polls the lane: a worker held a millisecond cannot run what it would run next,
/// and a task another task woke waits on that worker (tokio's LIFO slot) — on the phone, the
/// operations lane's answer and an alarm being applied. Not at the priority of the app's other
/// threads either: the photo's CPU yields to them.
async fn in_background<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("gridwork-photo".into())
        .spawn(move || {
            lower_this_threads_priority();
            // The receiver is gone only when the lane's run was dropped: nothing waits.
            let _ = tx.send(work());
        })
        .map_err(|e| Error::Attachment(format!("no thread to read an attachment: {e}")))?;
    rx.await
        .map_err(|_| Error::Attachment("reading a chunk of an attachment stopped".into()))
}

/// Puts the calling thread at the lowest priority of the normal policy; if the system refuses,
/// the thread goes on at the priority it has.
fn lower_this_threads_priority() {
    // The normal policy named, not inherited: a thread started from a real-time one would
    // otherwise take that policy's lowest priority, above every normal thread. Called on the
    // thread itself: on Linux the crate sets the calling thread's nice value.
    #[cfg(unix)]
    let lowered = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        thread_priority::ThreadPriority::Min,
        thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Other,
        ),
    );
    #[cfg(not(unix))]
    let lowered =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
    if let Err(e) = lowered {
        tracing::debug!(error = ?e, "the photo lane's thread keeps the normal priority");
    }
}

#[cfg(test)]
mod tests {
    /// The calling thread's nice value (per thread on Linux), from `/proc/thread-self/stat`.
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("the thread's stat");
        // After the command's closing parenthesis the fields run from the state (3rd) on; the
        // nice value is the 19th.
        let rest = &stat[stat.rfind(')').expect("a command") + 1..];
        rest.split_whitespace()
            .nth(16)
            .expect("a nice value")
            .parse()
            .expect("a number")
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_chunk_is_read_on_a_thread_of_its_own_at_the_lowest_priority() {
        let caller = (std::thread::current().id(), nice());
        assert!(
            caller.1 < 19,
            "the tests must run above the lowest priority for this to show anything"
        );
        let (thread, niceness) = super::in_background(|| (std::thread::current().id(), nice()))
            .await
            .expect("runs");
        assert_ne!(thread, caller.0, "not on the lane's own thread");
        assert_eq!(niceness, 19, "at the lowest priority");
        assert_eq!(nice(), caller.1, "the caller's priority is untouched");
    }

    #[tokio::test]
    async fn a_read_that_panics_is_an_error_not_a_lane_that_waits_for_ever() {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            super::in_background(|| -> u8 { panic!("a damaged file") }),
        )
        .await
        .expect("the lane is told, not left waiting");
        assert!(out.is_err(), "{out:?}");
    }
}
