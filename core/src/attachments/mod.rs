//! Photo evidence on the phone (issue 24, ADR 0042): a photo taken on a case is part of the
//! case at once, offline; its bytes are kept encrypted beside the store and go to the server in
//! their own lane.
//!
//! - [`picture`]: metadata stripped (what the record keeps read out first), the thumbnail.
//! - [`vault`]: the blob files, encrypted at rest with a key derived from the store's.
//! - [`lane`]: the upload queue and its resumable runs, the policy, progress; downloads.
//! - [`sweep`]: blob files nothing references any more deleted (never one waiting to upload).

pub mod lane;
pub mod picture;
pub mod records;
pub mod sweep;
pub mod vault;

use std::path::{Path, PathBuf};

use gridwork_domain::attachment::{AttachmentRef, BlobHash, BlobRef};
use gridwork_domain::ids::Id;
use gridwork_domain::workflow::CaseAction;
use rand::RngCore;
use serde::Serialize;

use crate::cases::CaseView;
use crate::error::{Error, Result};
use crate::gridwork::Gridwork;
use crate::store::key::StoreKey;
use crate::store::meta;

pub use lane::{
    AttachmentProgress, BlobRole, BlobTransport, LaneStop, PatchAnswer, UploadObserver,
    UploadOffset, UploadPolicy, UploadReport, UploadState,
};
pub use picture::THUMBNAIL_EDGE;
pub use records::RecordPhoto;
pub use sweep::SweepReport;

/// The blob directory of the store at `db_path`: beside it, named after it.
pub fn blob_dir_of(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".blobs");
    db_path.with_file_name(name)
}

/// The secret the blob keys are derived from: the store's key, or for an unencrypted store a
/// random secret of its own kept in `meta` (the files are then as safe as the store).
pub(crate) fn blob_secret(conn: &rusqlite::Connection, key: Option<&StoreKey>) -> Result<[u8; 32]> {
    if let Some(k) = key {
        return Ok(*k.bytes());
    }
    const SECRET: &str = "blob_secret";
    if let Some(hex_text) = meta::get(conn, SECRET)? {
        let mut out = [0u8; 32];
        if hex::decode_to_slice(hex_text.trim(), &mut out).is_ok() {
            return Ok(out);
        }
        return Err(Error::StoreDamaged(
            "the attachment secret is not 32 bytes".into(),
        ));
    }
    let mut out = [0u8; 32];
    rand::rng().fill_bytes(&mut out);
    meta::set(conn, SECRET, &hex::encode(out))?;
    Ok(out)
}

/// A picture and its thumbnail just stored in the vault, not yet referenced.
pub(crate) struct StoredPicture {
    pub attachment: AttachmentRef,
    /// Whether the vault held the picture and the thumbnail before.
    had: (bool, bool),
}

impl StoredPicture {
    /// Queues both blobs for upload (thumbnail first) in the transaction that references them;
    /// `owner` is the case or record whose photo it is.
    pub(crate) fn enqueue(
        &self,
        tx: &rusqlite::Transaction<'_>,
        owner: Id,
        now_ms: u64,
    ) -> Result<()> {
        let thumbnail = self.attachment.thumbnail.unwrap_or(self.attachment.blob);
        lane::enqueue(
            tx,
            owner,
            (self.attachment.blob.hash, self.attachment.blob.size),
            (thumbnail.hash, thumbnail.size),
            now_ms,
        )
    }

    /// Nothing references the files this call wrote (the step or field was refused): take
    /// them away again.
    pub(crate) fn forget(&self, vault: &vault::Vault) {
        if let Some(t) = self.attachment.thumbnail
            && !self.had.1
        {
            let _ = vault.remove(&t.hash);
        }
        if !self.had.0 {
            let _ = vault.remove(&self.attachment.blob.hash);
        }
    }
}

/// A photo step of a case as the app lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasePhoto {
    /// The case step that carries it.
    pub event_id: Id,
    /// Who took it, when known.
    pub actor: Option<Id>,
    /// When the step was recorded (ms since the epoch, the device's clock then).
    pub recorded_at_ms: u64,
    pub attachment: AttachmentRef,
    /// Whether the thumbnail's bytes are on this phone.
    pub thumbnail_here: bool,
    /// Whether the picture's bytes are on this phone.
    pub picture_here: bool,
    /// The picture's upload, when this phone took the photo.
    pub upload: Option<AttachmentProgress>,
}

impl Gridwork {
    pub(crate) fn vault(&self) -> Result<&vault::Vault> {
        self.lane.vault.as_ref().ok_or_else(|| {
            Error::Attachment(
                "this store keeps no attachments (an in-memory store opened without a blob \
                 directory)"
                    .into(),
            )
        })
    }

    /// Takes a photo on a case from the picture's bytes (JPEG or PNG): strips its metadata
    /// (keeping the time and position in the reference), makes its thumbnail, stores both
    /// encrypted, records the photo step at once (offline) and queues both blobs for upload,
    /// thumbnail first. Returns the case and the step's reference.
    pub fn take_photo(&self, case_id: Id, bytes: &[u8]) -> Result<(CaseView, AttachmentRef)> {
        // No sweep while the files are written and not yet referenced.
        let _writing = self.vault()?.writing();
        let stored = self.store_picture(bytes)?;
        let attachment = stored.attachment.clone();
        let action = CaseAction::Photo {
            attachment: Some(Box::new(attachment.clone())),
            uri: None,
        };
        let now = self.wall_ms();
        let recorded =
            self.record_case_event_with(case_id, action, |tx| stored.enqueue(tx, case_id, now));
        match recorded {
            Ok(view) => Ok((view, attachment)),
            Err(e) => {
                stored.forget(self.vault()?);
                Err(e)
            }
        }
    }

    /// Strips a picture's metadata, makes its thumbnail and stores both encrypted: the first
    /// half of taking a photo, before the step or the record's field that references it.
    pub(crate) fn store_picture(&self, bytes: &[u8]) -> Result<StoredPicture> {
        let vault = self.vault()?;
        let p = picture::prepare(bytes)?;
        let picture = BlobRef {
            hash: BlobHash::of(&p.picture),
            size: p.picture.len() as u64,
        };
        let thumbnail = BlobRef {
            hash: BlobHash::of(&p.thumbnail),
            size: p.thumbnail.len() as u64,
        };
        let had = (vault.has(&picture.hash), vault.has(&thumbnail.hash));
        vault.put(&thumbnail.hash, &p.thumbnail)?;
        vault.put(&picture.hash, &p.picture)?;
        Ok(StoredPicture {
            attachment: AttachmentRef {
                blob: picture,
                media_type: p.media_type.to_string(),
                thumbnail: Some(thumbnail),
                taken_at_ms: p.taken_at_ms,
                position: p.position,
            },
            had,
        })
    }

    /// [`Gridwork::take_photo`] from a file the app wrote (the camera's output).
    pub fn take_photo_file(
        &self,
        case_id: Id,
        path: impl AsRef<Path>,
    ) -> Result<(CaseView, AttachmentRef)> {
        let bytes = std::fs::read(path.as_ref()).map_err(|source| Error::File {
            action: "read the photo".into(),
            source,
        })?;
        self.take_photo(case_id, &bytes)
    }

    /// The photos of a case, in the order they were taken, with what this phone holds of each
    /// and, for its own, how their upload stands.
    pub fn case_photos(&self, case_id: Id) -> Result<Vec<CasePhoto>> {
        let vault = self.vault()?;
        let mut out = Vec::new();
        for entry in self.case_timeline(case_id)? {
            let CaseAction::Photo {
                attachment: Some(a),
                ..
            } = entry.event.action
            else {
                continue;
            };
            let a = *a;
            out.push(CasePhoto {
                event_id: entry.event.id,
                actor: entry.event.actor,
                recorded_at_ms: entry.event.stamp.hlc.physical_ms(),
                thumbnail_here: a.thumbnail.is_some_and(|t| vault.has(&t.hash)),
                picture_here: vault.has(&a.blob.hash),
                upload: self.upload_of(&a.blob.hash)?,
                attachment: a,
            });
        }
        Ok(out)
    }

    /// A blob's bytes from this phone's encrypted store (checked against its hash), or `None`
    /// when the phone does not hold it (fetch it with [`Gridwork::fetch_attachment`]). A file
    /// changed on disk is refused with [`Error::Attachment`].
    pub fn attachment_bytes(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        self.vault()?.get(hash)
    }

    /// Where this phone keeps the blob's encrypted file (tests and tools).
    pub fn attachment_path(&self, hash: &BlobHash) -> Result<PathBuf> {
        Ok(self.vault()?.path(hash))
    }
}

#[cfg(test)]
mod tests;
