//! Photo evidence as the apps see it (issue 24, ADR 0042): take a photo on a case (bytes or a
//! file the camera wrote), list a case's photos with what the phone holds and how their upload
//! stands, read or fetch a thumbnail's or picture's bytes, set the upload policy and say whether
//! the network is metered, run the upload lane, and follow its progress. Buildings and
//! households hold photos too (ADR 0043): add one from bytes or a file, list, remove.
//!
//! Hashes cross as their 64 lowercase hex digits; sizes and times as signed 64-bit numbers
//! (ADR 0032); states and policies as enums. `UploadPolicy` and `BlobRole` are the core's own
//! enums (uniffi remote types, ADR 0050); the records are mirrors kept for those differences
//! (hashes as text, signed numbers).

use std::sync::Arc;

use gridwork_core::attachments as core;
use gridwork_domain::attachment::{AttachmentRef, BlobHash, BlobRef};

use gridwork_domain::op::EntityKind;

use crate::cases::RecordKind;
use crate::convert::{id, id_text, opt_id_text, wide};
use crate::error::GridworkError;
use crate::model::Position;
use crate::observe::{ObserverError, ObserverHandle};
use crate::services::PhotoService;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

pub type UploadPolicy = core::UploadPolicy;

/// When photos may upload (the app's setting; kept in the store).
#[uniffi::remote(Enum)]
pub enum UploadPolicy {
    /// On any network (the default).
    AnyNetwork,
    /// Only while the app reports the network unmetered (Wi-Fi).
    UnmeteredOnly,
    /// Not until the app changes the policy.
    Paused,
}

pub type BlobRole = core::BlobRole;

/// Which of a photo's two blobs.
#[uniffi::remote(Enum)]
pub enum BlobRole {
    Picture,
    Thumbnail,
}

/// Where the upload of one of this phone's blobs stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UploadState {
    /// Waiting for the lane's next run.
    Queued,
    /// Being sent now.
    Uploading,
    /// The server has it.
    Uploaded,
    /// The app paused uploads.
    Paused,
    /// The policy is "unmetered only" and the network is metered.
    WaitingForUnmetered,
    /// The server's daily quota for this phone is used up; tried again after `retry_at_ms`.
    QuotaExceeded { retry_at_ms: i64 },
    /// The server refuses a blob this large: it will not go.
    TooLarge,
    /// The bytes did not hash to their name on the server; `retry_upload` sends them again.
    HashMismatch,
}

// A mirror on purpose: `retry_at_ms` is the core's `u64`, signed here (ADR 0032).
impl From<core::UploadState> for UploadState {
    fn from(s: core::UploadState) -> Self {
        use core::UploadState as S;
        match s {
            S::Queued => UploadState::Queued,
            S::Uploading => UploadState::Uploading,
            S::Uploaded => UploadState::Uploaded,
            S::Paused => UploadState::Paused,
            S::WaitingForUnmetered => UploadState::WaitingForUnmetered,
            S::QuotaExceeded { retry_at_ms } => UploadState::QuotaExceeded {
                retry_at_ms: wide(retry_at_ms),
            },
            S::TooLarge => UploadState::TooLarge,
            S::HashMismatch => UploadState::HashMismatch,
        }
    }
}

/// One blob's upload: bytes the server confirmed of the total, and the state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentProgress {
    pub hash: String,
    /// The photo's picture (the blob itself for a picture).
    pub picture_hash: String,
    pub case_id: String,
    pub role: BlobRole,
    pub sent: i64,
    pub total: i64,
    pub state: UploadState,
}

impl From<core::AttachmentProgress> for AttachmentProgress {
    fn from(p: core::AttachmentProgress) -> Self {
        AttachmentProgress {
            hash: p.hash.to_hex(),
            picture_hash: p.picture.to_hex(),
            case_id: id_text(p.case_id),
            role: p.role,
            sent: wide(p.sent),
            total: wide(p.total),
            state: p.state.into(),
        }
    }
}

/// A photo as a case step carries it: the picture (its metadata stripped), its thumbnail, and
/// when and where it was taken when the camera said.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Attachment {
    pub hash: String,
    pub size: i64,
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    pub thumbnail_hash: Option<String>,
    pub thumbnail_size: Option<i64>,
    pub taken_at_ms: Option<i64>,
    pub position: Option<Position>,
}

impl From<AttachmentRef> for Attachment {
    fn from(a: AttachmentRef) -> Self {
        Attachment {
            hash: a.blob.hash.to_hex(),
            size: wide(a.blob.size),
            media_type: a.media_type,
            thumbnail_hash: a.thumbnail.map(|t| t.hash.to_hex()),
            thumbnail_size: a.thumbnail.map(|t| wide(t.size)),
            taken_at_ms: a.taken_at_ms.map(wide),
            position: a.position,
        }
    }
}

impl Attachment {
    pub(crate) fn to_core(&self) -> Result<AttachmentRef> {
        let size = |field: &str, n: i64| {
            u64::try_from(n).map_err(|_| GridworkError::invalid(field, "must not be negative"))
        };
        let thumbnail = match (&self.thumbnail_hash, self.thumbnail_size) {
            (Some(h), Some(s)) => Some(BlobRef {
                hash: hash("attachment.thumbnail_hash", h)?,
                size: size("attachment.thumbnail_size", s)?,
            }),
            (None, None) => None,
            _ => {
                return Err(GridworkError::invalid(
                    "attachment.thumbnail_hash",
                    "a thumbnail has both a hash and a size",
                ));
            }
        };
        Ok(AttachmentRef {
            blob: BlobRef {
                hash: hash("attachment.hash", &self.hash)?,
                size: size("attachment.size", self.size)?,
            },
            media_type: self.media_type.clone(),
            thumbnail,
            taken_at_ms: self
                .taken_at_ms
                .map(|t| size("attachment.taken_at_ms", t))
                .transpose()?,
            position: self.position,
        })
    }
}

/// A photo step of a case, with what this phone holds of it and, for its own, the upload.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CasePhoto {
    pub event_id: String,
    pub actor_id: Option<String>,
    pub recorded_at_ms: i64,
    pub attachment: Attachment,
    pub thumbnail_here: bool,
    pub picture_here: bool,
    /// The picture's upload, when this phone took the photo.
    pub upload: Option<AttachmentProgress>,
}

impl From<core::CasePhoto> for CasePhoto {
    fn from(p: core::CasePhoto) -> Self {
        CasePhoto {
            event_id: id_text(p.event_id),
            actor_id: opt_id_text(p.actor),
            recorded_at_ms: wide(p.recorded_at_ms),
            attachment: p.attachment.into(),
            thumbnail_here: p.thumbnail_here,
            picture_here: p.picture_here,
            upload: p.upload.map(Into::into),
        }
    }
}

/// A photo held by a building or household, with what this phone holds of it and, for its
/// own, the upload.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordPhoto {
    pub attachment: Attachment,
    /// When it was added (ms since the epoch, the adding phone's clock then).
    pub added_at_ms: i64,
    pub thumbnail_here: bool,
    pub picture_here: bool,
    /// The picture's upload, when this phone took the photo.
    pub upload: Option<AttachmentProgress>,
}

impl From<core::RecordPhoto> for RecordPhoto {
    fn from(p: core::RecordPhoto) -> Self {
        RecordPhoto {
            added_at_ms: wide(p.added_at_ms),
            attachment: p.attachment.into(),
            thumbnail_here: p.thumbnail_here,
            picture_here: p.picture_here,
            upload: p.upload.map(Into::into),
        }
    }
}

/// The kind of a record that holds photos: a building or a household.
fn photo_holder(kind: RecordKind) -> Result<EntityKind> {
    match kind {
        RecordKind::Building => Ok(EntityKind::Building),
        RecordKind::Household => Ok(EntityKind::Household),
        _ => Err(GridworkError::invalid(
            "kind",
            "only buildings and households hold photos",
        )),
    }
}

/// Why an upload run stopped with photos still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LaneStop {
    Paused,
    WaitingForUnmetered,
    QuotaExceeded { retry_at_ms: i64 },
}

/// What one upload run did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadReport {
    /// Blobs the server has now that it did not before the run.
    pub completed: i64,
    /// Bytes sent in the run.
    pub bytes: i64,
    /// Blobs still queued.
    pub queued: i64,
    pub stopped: Option<LaneStop>,
}

impl From<core::UploadReport> for UploadReport {
    fn from(r: core::UploadReport) -> Self {
        UploadReport {
            completed: wide(r.completed),
            bytes: wide(r.bytes),
            queued: wide(r.queued),
            stopped: r.stopped.map(|s| match s {
                core::LaneStop::Paused => LaneStop::Paused,
                core::LaneStop::WaitingForUnmetered => LaneStop::WaitingForUnmetered,
                core::LaneStop::QuotaExceeded { retry_at_ms } => LaneStop::QuotaExceeded {
                    retry_at_ms: wide(retry_at_ms),
                },
            }),
        }
    }
}

/// What one sweep of the phone's photo files did (ADR 0045).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SweepReport {
    /// Files deleted: pictures and thumbnails nothing on the phone references any more.
    pub removed: i64,
    /// Bytes those files took.
    pub freed_bytes: i64,
    /// Files kept.
    pub kept: i64,
    /// Nothing was done: a photo was being written (the next sweep runs).
    pub busy: bool,
}

impl From<core::SweepReport> for SweepReport {
    fn from(r: core::SweepReport) -> Self {
        SweepReport {
            removed: wide(r.removed),
            freed_bytes: wide(r.freed_bytes),
            kept: wide(r.kept),
            busy: r.busy,
        }
    }
}

/// Implemented by the app to follow uploads (a progress bar per photo). Called on the client's
/// background thread `gridwork-observers`, in order; return quickly.
#[uniffi::export(with_foreign)]
pub trait UploadObserver: Send + Sync {
    fn on_upload(&self, progress: AttachmentProgress) -> Result<(), ObserverError>;
}

fn hash(field: &str, text: &str) -> Result<BlobHash> {
    text.parse().map_err(|_| {
        GridworkError::invalid(
            field,
            "must be a SHA-256 in 64 lowercase hexadecimal digits",
        )
    })
}

#[uniffi::export]
impl PhotoService {
    /// Takes a photo on a case from the picture's bytes (JPEG or PNG, at most 32 MiB): its
    /// metadata is stripped (the time and position kept in the step), a thumbnail made, both
    /// kept encrypted on the phone, the photo step recorded at once (offline too) and both
    /// queued for upload, thumbnail first. Run `upload_attachments` to send them.
    pub fn take_photo(&self, case_id: String, bytes: Vec<u8>) -> Result<Attachment> {
        let (_, a) = self.core()?.take_photo(id("case_id", &case_id)?, &bytes)?;
        Ok(a.into())
    }

    /// [`PhotoService::take_photo`] from the file the camera wrote (the app may delete it
    /// afterwards: the phone keeps its own encrypted copy).
    pub fn take_photo_file(&self, case_id: String, path: String) -> Result<Attachment> {
        let (_, a) = self
            .core()?
            .take_photo_file(id("case_id", &case_id)?, &path)?;
        Ok(a.into())
    }

    /// Adds a photo to a building or household (`kind`) from the picture's bytes, as
    /// `take_photo` does for a case: stripped, thumbnailed, kept encrypted, the record's photo
    /// written at once (offline too) and both blobs queued for upload. Photos two phones add to
    /// one record while offline are both kept.
    pub fn add_record_photo(
        &self,
        kind: RecordKind,
        record_id: String,
        bytes: Vec<u8>,
    ) -> Result<Attachment> {
        let kind = photo_holder(kind)?;
        let a = self
            .core()?
            .add_record_photo(kind, id("record_id", &record_id)?, &bytes)?;
        Ok(a.into())
    }

    /// [`PhotoService::add_record_photo`] from the file the camera wrote.
    pub fn add_record_photo_file(
        &self,
        kind: RecordKind,
        record_id: String,
        path: String,
    ) -> Result<Attachment> {
        let kind = photo_holder(kind)?;
        let a = self
            .core()?
            .add_record_photo_file(kind, id("record_id", &record_id)?, &path)?;
        Ok(a.into())
    }

    /// Removes a building's or household's photo, named by its picture's hash.
    pub fn remove_record_photo(
        &self,
        kind: RecordKind,
        record_id: String,
        picture_hash: String,
    ) -> Result<()> {
        let kind = photo_holder(kind)?;
        Ok(self.core()?.remove_record_photo(
            kind,
            id("record_id", &record_id)?,
            &hash("picture_hash", &picture_hash)?,
        )?)
    }

    /// A building's or household's photos, in the order they were taken.
    pub fn record_photos(&self, kind: RecordKind, record_id: String) -> Result<Vec<RecordPhoto>> {
        let kind = photo_holder(kind)?;
        Ok(self
            .core()?
            .record_photos(kind, id("record_id", &record_id)?)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A case's photos in the order they were taken.
    pub fn case_photos(&self, case_id: String) -> Result<Vec<CasePhoto>> {
        Ok(self
            .core()?
            .case_photos(id("case_id", &case_id)?)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A thumbnail's or picture's bytes if this phone holds them (checked against the hash), or
    /// `null`; a file changed on the phone fails with `Storage`.
    pub fn attachment_bytes(&self, hash_hex: String) -> Result<Option<Vec<u8>>> {
        Ok(self
            .core()?
            .attachment_bytes(&hash("hash_hex", &hash_hex)?)?)
    }

    /// The bytes from the phone, else downloaded from the server (checked against the hash and
    /// kept encrypted); `null` when the server has none yet (the phone that took the photo has
    /// not uploaded it): try again later. Fetch a photo's thumbnail first.
    pub async fn fetch_attachment(&self, hash_hex: String) -> Result<Option<Vec<u8>>> {
        let hash = hash("hash_hex", &hash_hex)?;
        let (core, transport) = (self.core()?, Arc::clone(&self.transport));
        self.lifecycle
            .run(async move { Ok(core.fetch_attachment(&*transport, &hash).await?) })
            .await
    }

    /// The upload policy (default: any network).
    pub fn upload_policy(&self) -> Result<UploadPolicy> {
        Ok(self.core()?.upload_policy()?)
    }

    /// Sets when photos upload; kept in the store. A run under way stops before its next chunk
    /// when the policy no longer lets it go.
    pub fn set_upload_policy(&self, policy: UploadPolicy) -> Result<()> {
        Ok(self.core()?.set_upload_policy(policy)?)
    }

    /// The app reports whether the current network is metered (mobile data) or not (Wi-Fi).
    /// Until it does, the network counts as metered.
    pub fn set_network_metered(&self, metered: bool) -> Result<()> {
        Ok(self.core()?.set_network_metered(metered)?)
    }

    /// Every blob of this phone's photos with its upload, in the order they go.
    pub fn upload_progress(&self) -> Result<Vec<AttachmentProgress>> {
        Ok(self
            .core()?
            .upload_progress()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sends again, from the start, a blob the server found not to hash to its name. Returns
    /// whether one was queued.
    pub fn retry_upload(&self, hash_hex: String) -> Result<bool> {
        Ok(self.core()?.retry_upload(&hash("hash_hex", &hash_hex)?)?)
    }

    /// One run of the upload lane: sends the queued photos the policy lets go, each resumed
    /// where the server's bytes end. Its own lane: a `sync_now` runs beside it and never waits
    /// for it. Fails with `Offline` when the network drops (what the server confirmed is kept;
    /// call it again later).
    pub async fn upload_attachments(&self) -> Result<UploadReport> {
        let (core, transport) = (self.core()?, Arc::clone(&self.transport));
        let hub = Arc::clone(&self.hub);
        self.lifecycle
            .run(async move {
                let out = core.upload_pending(&*transport).await;
                drop(core);
                hub.flush(std::time::Duration::from_secs(5)).await;
                Ok(out?.into())
            })
            .await
    }

    /// Deletes the photo files on the phone that nothing references any more (a photo removed
    /// from a building, a case or record that left the phone), never one still waiting to
    /// upload or being written. Runs after sync by itself; call it when the app goes to the
    /// background to free space at once.
    pub fn sweep_attachments(&self) -> Result<SweepReport> {
        Ok(self.core()?.sweep_attachments()?.into())
    }

    /// Sends each upload's progress to `observer` from now on. Returns the registration's
    /// handle.
    pub fn add_upload_observer(&self, observer: Arc<dyn UploadObserver>) -> Arc<ObserverHandle> {
        self.hub.add_uploads(observer)
    }
}
