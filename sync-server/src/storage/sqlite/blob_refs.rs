//! Blob references and upload quotas (migrations 008 and 009) on SQLite.

use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::{DeviceId, Id};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::SqliteStorage;
use crate::storage::StorageError;
use crate::storage::blob_refs::{BlobStorage, RecordRefs, referenced_by};
use gridwork_domain::workflow::CaseEvent;

/// Files the blobs `event` references under its case (inside the push's transaction).
pub fn file_refs(tx: &rusqlite::Connection, event: &CaseEvent) -> Result<(), StorageError> {
    for hash in referenced_by(event) {
        tx.prepare_cached("INSERT OR IGNORE INTO blob_refs (hash, case_id) VALUES (?1, ?2)")?
            .execute(params![hash.to_hex(), event.case_id.to_string()])?;
    }
    Ok(())
}

/// Files what one operation changed in its record's photos (inside the push's transaction).
pub fn file_record_refs(tx: &rusqlite::Connection, refs: &RecordRefs) -> Result<(), StorageError> {
    let record = refs.record.to_string();
    if refs.clear_all {
        tx.prepare_cached("DELETE FROM record_blob_refs WHERE record_id = ?1")?
            .execute([&record])?;
    }
    for (photo, hashes) in &refs.photos {
        let photo = photo.to_hex();
        tx.prepare_cached("DELETE FROM record_blob_refs WHERE record_id = ?1 AND photo = ?2")?
            .execute(params![record, photo])?;
        for hash in hashes {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO record_blob_refs (record_id, photo, hash) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![record, photo, hash.to_hex()])?;
        }
    }
    Ok(())
}

fn ids_of(conn: &rusqlite::Connection, sql: &str, hash: BlobHash) -> Result<Vec<Id>, StorageError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([hash.to_hex()], |r| r.get::<_, String>(0))?;
    let mut ids = Vec::new();
    for row in rows {
        let text = row?;
        ids.push(Uuid::try_parse(&text).map_err(|_| {
            StorageError::Corrupt(format!(
                "a blob reference holds an id that is no UUID: {text}"
            ))
        })?);
    }
    Ok(ids)
}

impl BlobStorage for SqliteStorage {
    async fn blob_records(&self, hash: BlobHash) -> Result<Vec<Id>, StorageError> {
        self.read(move |conn| {
            ids_of(
                conn,
                "SELECT DISTINCT record_id FROM record_blob_refs WHERE hash = ?1",
                hash,
            )
        })
        .await
    }

    async fn blob_cases(&self, hash: BlobHash) -> Result<Vec<Id>, StorageError> {
        self.read(move |conn| ids_of(conn, "SELECT case_id FROM blob_refs WHERE hash = ?1", hash))
            .await
    }

    async fn referenced_blobs(&self, hashes: Vec<BlobHash>) -> Result<Vec<BlobHash>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?1)
                             OR EXISTS (SELECT 1 FROM record_blob_refs WHERE hash = ?1)",
            )?;
            let mut found = Vec::new();
            for hash in hashes {
                if stmt
                    .query_row([hash.to_hex()], |_| Ok(()))
                    .optional()?
                    .is_some()
                {
                    found.push(hash);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn uploaded_bytes(&self, device: DeviceId, day: i64) -> Result<u64, StorageError> {
        self.read(move |conn| {
            let bytes: Option<i64> = conn
                .prepare_cached("SELECT bytes FROM upload_quota WHERE device_id = ?1 AND day = ?2")?
                .query_row(params![device.to_string(), day], |r| r.get(0))
                .optional()?;
            Ok(bytes.unwrap_or(0).max(0) as u64)
        })
        .await
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
        // One statement on the one writer: the check and the count cannot be split. Beside the
        // records: every PATCH of a photo reserves, and the writer's kept records must not be
        // dropped for it, or the next push (an alarm) reads its places again (ADR 0053).
        self.write_beside_records(move |conn| {
            let reserved = conn.execute(
                "INSERT INTO upload_quota (device_id, day, bytes) SELECT ?1, ?2, ?3 WHERE ?3 <= ?4
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = bytes + excluded.bytes
                 WHERE upload_quota.bytes + excluded.bytes <= ?4",
                params![device.to_string(), day, bytes, limit],
            )? == 1;
            conn.execute(
                "DELETE FROM upload_quota WHERE device_id = ?1 AND day < ?2",
                params![device.to_string(), day - 1],
            )?;
            Ok(reserved)
        })
        .await
    }

    async fn release_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> Result<(), StorageError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        self.write_beside_records(move |conn| {
            conn.execute(
                "UPDATE upload_quota SET bytes = max(bytes - ?3, 0) WHERE device_id = ?1 AND day = ?2",
                params![device.to_string(), day, bytes],
            )?;
            Ok(())
        })
        .await
    }

    async fn add_uploaded_bytes(
        &self,
        device: DeviceId,
        day: i64,
        bytes: u64,
    ) -> Result<(), StorageError> {
        self.write_beside_records(move |conn| {
            conn.execute(
                "INSERT INTO upload_quota (device_id, day, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                params![device.to_string(), day, bytes as i64],
            )?;
            conn.execute(
                "DELETE FROM upload_quota WHERE device_id = ?1 AND day < ?2",
                params![device.to_string(), day - 1],
            )?;
            Ok(())
        })
        .await
    }
}
