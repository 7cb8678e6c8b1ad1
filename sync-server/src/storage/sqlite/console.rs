//! Console passwords and sessions (migration 006) and phones' sync statuses (migration 007) on
//! SQLite.

use gridwork_domain::ids::Id;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::SqliteStorage;
use crate::storage::StorageError;
use crate::storage::console::{ConsoleSession, ConsoleStorage, DeviceStatus};

impl ConsoleStorage for SqliteStorage {
    async fn set_console_password(
        &self,
        user: Id,
        hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO console_passwords (user_id, hash, set_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, set_ms = excluded.set_ms",
                params![user.to_string(), hash, now_ms as i64],
            )?;
            tx.execute(
                "DELETE FROM console_sessions WHERE user_id = ?1",
                [user.to_string()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn console_password(&self, user: Id) -> Result<Option<String>, StorageError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT hash FROM console_passwords WHERE user_id = ?1")?
                .query_row([user.to_string()], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn insert_console_session(&self, s: ConsoleSession) -> Result<(), StorageError> {
        self.write_beside_records(move |conn| {
            conn.execute(
                "INSERT INTO console_sessions (token_hash, user_id, csrf, created_ms, seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    s.token_hash,
                    s.user.to_string(),
                    s.csrf,
                    s.created_ms as i64,
                    s.seen_ms as i64
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn console_session(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT user_id, csrf, created_ms, seen_ms FROM console_sessions
                     WHERE token_hash = ?1",
                )?
                .query_row([&token_hash], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            row.map(|(user, csrf, created, seen)| {
                Ok(ConsoleSession {
                    token_hash: token_hash.clone(),
                    user: Uuid::try_parse(&user)
                        .map_err(|_| StorageError::Corrupt("bad session user id".into()))?,
                    csrf,
                    created_ms: created as u64,
                    seen_ms: seen as u64,
                })
            })
            .transpose()
        })
        .await
    }

    async fn touch_console_session(
        &self,
        token_hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.write_beside_records(move |conn| {
            conn.execute(
                "UPDATE console_sessions SET seen_ms = max(seen_ms, ?2) WHERE token_hash = ?1",
                params![token_hash, now_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_console_session(
        &self,
        token_hash: String,
        idle_before_ms: u64,
    ) -> Result<(), StorageError> {
        self.write_beside_records(move |conn| {
            conn.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1 OR seen_ms < ?2",
                params![token_hash, idle_before_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn record_device_statuses(
        &self,
        statuses: Vec<DeviceStatus>,
    ) -> Result<(), StorageError> {
        if statuses.is_empty() {
            return Ok(());
        }
        self.write_beside_records(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO device_status (device_id, synced_ms, unsynced) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device_id) DO UPDATE SET
                       unsynced = CASE WHEN excluded.synced_ms >= synced_ms
                                       THEN coalesce(excluded.unsynced, unsynced)
                                       ELSE unsynced END,
                       synced_ms = max(synced_ms, excluded.synced_ms)",
                )?;
                for s in &statuses {
                    upsert.execute(params![
                        s.device.to_string(),
                        s.synced_ms as i64,
                        s.unsynced.map(|n| n as i64)
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn device_statuses(&self) -> Result<Vec<DeviceStatus>, StorageError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT device_id, synced_ms, unsynced FROM device_status")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (device, synced, unsynced) = row?;
                out.push(DeviceStatus {
                    device: Uuid::try_parse(&device)
                        .map_err(|_| StorageError::Corrupt("bad device id in status".into()))?,
                    synced_ms: synced as u64,
                    unsynced: unsynced.map(|n| n as u64),
                });
            }
            Ok(out)
        })
        .await
    }
}
