//! What the database keeps of photo blobs (issue 24, ADRs 0040 and 0043), behind a trait every
//! backend implements (`sqlite/blob_refs.rs`, `postgres/blob_refs.rs`): which cases reference
//! which blob (`blob_refs`, filed by a push in the same transaction as the photo step, so a
//! fetch's check is an index lookup), which records' photo fields name which blob
//! (`record_blob_refs`, filed from the record's merged state by the push of the operation that
//! wrote the field), and the bytes each device uploaded per UTC day (the quota). A supertrait
//! of [`super::Storage`], so every storage has it.
//!
//! The bytes themselves are the [`crate::blobs::BlobStore`]'s.

use std::future::Future;

use gridwork_domain::attachment::{self, AttachmentRef, BlobHash};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{Op, OpBody};
use gridwork_domain::workflow::{CaseAction, CaseEvent};

use super::StorageError;

/// The blobs a case step references: a photo's picture and its thumbnail.
pub fn referenced_by(event: &CaseEvent) -> Vec<BlobHash> {
    match &event.action {
        CaseAction::Photo {
            attachment: Some(attachment),
            ..
        } => attachment.blobs().map(|b| b.hash).collect(),
        _ => vec![],
    }
}

/// What one stored operation changes in the blobs a record's photos name (`record_blob_refs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRefs {
    pub record: Id,
    /// The record is deleted: every row of it goes (and `photos` is empty).
    pub clear_all: bool,
    /// Each photo field the operation wrote, by its picture's hash, with the blobs its merged
    /// value names now (none once the photo is removed): the photo's rows become these.
    pub photos: Vec<(BlobHash, Vec<BlobHash>)>,
}

/// The change `op` makes to its record's blob references, from `state`, the record as merged
/// after it (so a write that lost to a newer one files the newer value). `None` for an
/// operation that touches no photo.
pub fn record_refs(op: &Op, state: &RecordState) -> Option<RecordRefs> {
    if !attachment::holds_photos(op.entity) {
        return None;
    }
    if state.is_deleted() {
        return Some(RecordRefs {
            record: op.entity_id,
            clear_all: true,
            photos: vec![],
        });
    }
    let OpBody::Set { fields } = &op.body else {
        return None;
    };
    let photos: Vec<(BlobHash, Vec<BlobHash>)> = fields
        .keys()
        .filter_map(|name| attachment::photo_field_hash(name).map(|h| (name, h)))
        .map(|(name, picture)| {
            let now = state
                .fields
                .get(name)
                .filter(|v| !v.is_null())
                .and_then(|v| serde_json::from_value::<AttachmentRef>(v.clone()).ok())
                .map(|a| a.blobs().map(|b| b.hash).collect())
                .unwrap_or_default();
            (picture, now)
        })
        .collect();
    if photos.is_empty() {
        return None;
    }
    Some(RecordRefs {
        record: op.entity_id,
        clear_all: false,
        photos,
    })
}

/// Blob references and upload quotas.
pub trait BlobStorage: Send + Sync + 'static {
    /// The cases some step of which references `hash`.
    fn blob_cases(
        &self,
        hash: BlobHash,
    ) -> impl Future<Output = Result<Vec<Id>, StorageError>> + Send;

    /// The records (buildings, households) a photo field of which names `hash`.
    fn blob_records(
        &self,
        hash: BlobHash,
    ) -> impl Future<Output = Result<Vec<Id>, StorageError>> + Send;

    /// Of `hashes`, those some case step or some record's photo references.
    fn referenced_blobs(
        &self,
        hashes: Vec<BlobHash>,
    ) -> impl Future<Output = Result<Vec<BlobHash>, StorageError>> + Send;

    /// The bytes `device` uploaded on UTC day `day` (days since the epoch).
    fn uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Reserves `bytes` of `device`'s quota for `day` iff what it uploaded (and reserved) that
    /// day stays within `limit` with them, in one atomic step: two PATCHes at once can never
    /// both pass a check the other's bytes would fail. Forgets days before `day - 1`. Returns
    /// whether the bytes were reserved (then they count as uploaded).
    fn reserve_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
        limit: u64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Gives back `bytes` reserved on `day` that did not arrive (never below 0).
    fn release_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Adds `bytes` to what `device` uploaded on `day`; forgets days before `day - 1`.
    fn add_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}
