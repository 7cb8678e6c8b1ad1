//! Photos held by records (issue 24, ADR 0043): a building's blocked exit, a rented room's
//! state. Each photo is a field of its own, `photo_<picture's hash>`, holding the photo's
//! reference (null once removed), so two phones adding photos to one record offline both keep
//! theirs: fields merge one by one. The bytes are kept and queued exactly as a case photo's.

use std::collections::BTreeMap;
use std::path::Path;

use gridwork_domain::attachment::{self, AttachmentRef, BlobHash};
use gridwork_domain::ids::Id;
use gridwork_domain::op::{EntityKind, FieldWrite};
use gridwork_domain::validate::ValidationError;
use serde::Serialize;
use serde_json::Value;

use super::AttachmentProgress;
use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, live_state, set_op};
use crate::store::records;

/// A photo a building or household holds, as the app lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordPhoto {
    pub attachment: AttachmentRef,
    /// When the photo was added (ms since the epoch, the adding device's clock then).
    pub added_at_ms: u64,
    /// Whether the thumbnail's bytes are on this phone.
    pub thumbnail_here: bool,
    /// Whether the picture's bytes are on this phone.
    pub picture_here: bool,
    /// The picture's upload, when this phone took the photo.
    pub upload: Option<AttachmentProgress>,
}

fn holds_photos(kind: EntityKind) -> Result<()> {
    if attachment::holds_photos(kind) {
        Ok(())
    } else {
        Err(Error::Invalid(ValidationError::new(
            kind.as_str(),
            "only buildings and households hold photos",
        )))
    }
}

impl Gridwork {
    /// Adds a photo to a building or household from the picture's bytes (JPEG or PNG): its
    /// metadata stripped (time and position kept in the reference), its thumbnail made, both
    /// stored encrypted, the record's photo field written at once (offline) and both blobs
    /// queued for upload in the same transaction, as [`Gridwork::take_photo`] does for a case.
    pub fn add_record_photo(
        &self,
        kind: EntityKind,
        record_id: Id,
        bytes: &[u8],
    ) -> Result<AttachmentRef> {
        holds_photos(kind)?;
        // Before any file is written: the record must be here.
        self.query(|c| live_state(c, kind, record_id).map(|_| ()))?;
        // No sweep while the files are written and not yet referenced.
        let _writing = self.vault()?.writing();
        let stored = self.store_picture(bytes)?;
        let attachment = stored.attachment.clone();
        let now = self.wall_ms();
        let written = self.commit_local(|tx, stamp| {
            let state = live_state(tx, kind, record_id)?;
            let field = attachment::photo_field(&attachment.blob.hash);
            let value = serde_json::to_value(&attachment)?;
            if state.fields.get(&field) == Some(&value) {
                // The same picture already held: nothing to write or send again.
                return Ok((vec![], ()));
            }
            let base = records::field_stamp(&state, &field);
            let fields = BTreeMap::from([(field, FieldWrite { value, base })]);
            stored.enqueue(tx, record_id, now)?;
            Ok((vec![set_op(stamp, kind, record_id, fields)], ()))
        });
        match written {
            Ok(()) => Ok(attachment),
            Err(e) => {
                stored.forget(self.vault()?);
                Err(e)
            }
        }
    }

    /// [`Gridwork::add_record_photo`] from a file the app wrote (the camera's output).
    pub fn add_record_photo_file(
        &self,
        kind: EntityKind,
        record_id: Id,
        path: impl AsRef<Path>,
    ) -> Result<AttachmentRef> {
        let bytes = std::fs::read(path.as_ref()).map_err(|source| Error::File {
            action: "read the photo".into(),
            source,
        })?;
        self.add_record_photo(kind, record_id, &bytes)
    }

    /// Removes a photo from a building or household (its field set to null, merged like any
    /// field: a removal made after another phone's add of the same picture wins, one made
    /// before it loses). The bytes stay on the phone until the upload lane has sent them and a
    /// sweep finds nothing else naming them ([`Gridwork::sweep_attachments`], ADR 0045).
    pub fn remove_record_photo(
        &self,
        kind: EntityKind,
        record_id: Id,
        picture: &BlobHash,
    ) -> Result<()> {
        holds_photos(kind)?;
        self.commit_local(|tx, stamp| {
            let state = live_state(tx, kind, record_id)?;
            let field = attachment::photo_field(picture);
            if state.fields.get(&field).is_none_or(Value::is_null) {
                return Err(Error::NotFound {
                    kind: "photo",
                    id: picture.to_string(),
                });
            }
            let base = records::field_stamp(&state, &field);
            let fields = BTreeMap::from([(
                field,
                FieldWrite {
                    value: Value::Null,
                    base,
                },
            )]);
            Ok((vec![set_op(stamp, kind, record_id, fields)], ()))
        })
    }

    /// The photos a building or household holds (removed ones left out), in the order they
    /// were taken, with what this phone holds of each and, for its own, how their upload stands.
    pub fn record_photos(&self, kind: EntityKind, record_id: Id) -> Result<Vec<RecordPhoto>> {
        holds_photos(kind)?;
        let vault = self.vault()?;
        let state = self.query(|c| live_state(c, kind, record_id))?;
        let mut out = Vec::new();
        for a in attachment::record_photos(&state.fields) {
            let added_at_ms = state
                .stamps
                .get(&attachment::photo_field(&a.blob.hash))
                .map_or(0, |s| s.hlc.physical_ms());
            out.push(RecordPhoto {
                added_at_ms,
                thumbnail_here: a.thumbnail.is_some_and(|t| vault.has(&t.hash)),
                picture_here: vault.has(&a.blob.hash),
                upload: self.upload_of(&a.blob.hash)?,
                attachment: a,
            });
        }
        Ok(out)
    }
}
