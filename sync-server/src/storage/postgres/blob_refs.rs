//! Blob references and upload quotas (migrations 007 and 008) on PostgreSQL.

use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::{DeviceId, Id};

use super::PgStorage;
use crate::storage::StorageError;
use crate::storage::blob_refs::BlobStorage;

impl BlobStorage for PgStorage {
    async fn blob_cases(&self, hash: BlobHash) -> Result<Vec<Id>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT case_id FROM blob_refs WHERE hash = $1",
                &[&hash.to_hex()],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn blob_records(&self, hash: BlobHash) -> Result<Vec<Id>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT record_id FROM record_blob_refs WHERE hash = $1",
                &[&hash.to_hex()],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn referenced_blobs(&self, hashes: Vec<BlobHash>) -> Result<Vec<BlobHash>, StorageError> {
        let texts: Vec<String> = hashes.iter().map(BlobHash::to_hex).collect();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT hash FROM blob_refs WHERE hash = ANY($1)
                 UNION SELECT hash FROM record_blob_refs WHERE hash = ANY($1)",
                &[&texts],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<_, &str>(0).parse().ok())
            .collect())
    }

    async fn uploaded_bytes(&self, device: DeviceId, day: i64) -> Result<u64, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT bytes FROM upload_quota WHERE device_id = $1 AND day = $2",
                &[&device.to_string(), &day],
            )
            .await?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0).max(0) as u64))
    }

    async fn reserve_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
        limit: u64,
    ) -> Result<bool, StorageError> {
        let (bytes, limit) = (
            bytes.min(i64::MAX as u64) as i64,
            limit.min(i64::MAX as u64) as i64,
        );
        let client = self.client().await?;
        // One statement: the conflicting row is locked between the check and the update, so
        // two PATCHes at once cannot both pass a check the other's bytes would fail.
        let reserved = client
            .execute(
                "INSERT INTO upload_quota (device_id, day, bytes)
                 SELECT $1::text, $2::bigint, $3::bigint WHERE $3::bigint <= $4::bigint
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = upload_quota.bytes + EXCLUDED.bytes
                 WHERE upload_quota.bytes + EXCLUDED.bytes <= $4::bigint",
                &[&device.to_string(), &day, &bytes, &limit],
            )
            .await?
            == 1;
        client
            .execute(
                "DELETE FROM upload_quota WHERE device_id = $1 AND day < $2",
                &[&device.to_string(), &(day - 1)],
            )
            .await?;
        Ok(reserved)
    }

    async fn release_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> Result<(), StorageError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        self.client()
            .await?
            .execute(
                "UPDATE upload_quota SET bytes = GREATEST(bytes - $3, 0)
                 WHERE device_id = $1 AND day = $2",
                &[&device.to_string(), &day, &bytes],
            )
            .await?;
        Ok(())
    }

    async fn add_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO upload_quota (device_id, day, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = upload_quota.bytes + EXCLUDED.bytes",
                &[&device.to_string(), &day, &(bytes as i64)],
            )
            .await?;
        client
            .execute(
                "DELETE FROM upload_quota WHERE device_id = $1 AND day < $2",
                &[&device.to_string(), &(day - 1)],
            )
            .await?;
        Ok(())
    }
}
