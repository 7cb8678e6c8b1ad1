//! What the database keeps of photo blobs (issue 24, ADR 0040), behind a trait every backend
//! implements (`sqlite/blob_refs.rs`, `postgres/blob_refs.rs`): which cases reference which
//! blob (`blob_refs`, filed by a push in the same transaction as the photo step, so a fetch's
//! check is an index lookup), and the bytes each device uploaded per UTC day (the quota). A
//! supertrait of [`super::Storage`], so every storage has it.
//!
//! The bytes themselves are the [`crate::blobs::BlobStore`]'s.

use std::future::Future;

use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::{DeviceId, Id};
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

/// Blob references and upload quotas.
pub trait BlobStorage: Send + Sync + 'static {
    /// The cases some step of which references `hash`.
    fn blob_cases(
        &self,
        hash: BlobHash,
    ) -> impl Future<Output = Result<Vec<Id>, StorageError>> + Send;

    /// Of `hashes`, those some case step references.
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

    /// Adds `bytes` to what `device` uploaded on `day`; forgets days before `day - 1`.
    fn add_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}
