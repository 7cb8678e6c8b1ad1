//! Console passwords and sessions (migration 005) and phones' sync statuses (migration 006) on
//! PostgreSQL.

use gridwork_domain::ids::Id;

use super::PgStorage;
use crate::storage::StorageError;
use crate::storage::console::{ConsoleSession, ConsoleStorage, DeviceStatus};

impl ConsoleStorage for PgStorage {
    async fn set_console_password(
        &self,
        user: Id,
        hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO console_passwords (user_id, hash, set_ms) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, set_ms = excluded.set_ms",
            &[&user, &hash, &(now_ms as i64)],
        )
        .await?;
        tx.execute("DELETE FROM console_sessions WHERE user_id = $1", &[&user])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn console_password(&self, user: Id) -> Result<Option<String>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT hash FROM console_passwords WHERE user_id = $1",
                &[&user],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn insert_console_session(&self, s: ConsoleSession) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO console_sessions (token_hash, user_id, csrf, created_ms, seen_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &s.token_hash,
                    &s.user,
                    &s.csrf,
                    &(s.created_ms as i64),
                    &(s.seen_ms as i64),
                ],
            )
            .await?;
        Ok(())
    }

    async fn console_session(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT user_id, csrf, created_ms, seen_ms FROM console_sessions
                 WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
        Ok(row.map(|r| ConsoleSession {
            token_hash: token_hash.clone(),
            user: r.get(0),
            csrf: r.get(1),
            created_ms: r.get::<_, i64>(2) as u64,
            seen_ms: r.get::<_, i64>(3) as u64,
        }))
    }

    async fn touch_console_session(
        &self,
        token_hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "UPDATE console_sessions SET seen_ms = GREATEST(seen_ms, $2) WHERE token_hash = $1",
                &[&token_hash, &(now_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn delete_console_session(
        &self,
        token_hash: String,
        idle_before_ms: u64,
    ) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM console_sessions WHERE token_hash = $1 OR seen_ms < $2",
                &[&token_hash, &(idle_before_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn record_device_statuses(
        &self,
        statuses: Vec<DeviceStatus>,
    ) -> Result<(), StorageError> {
        if statuses.is_empty() {
            return Ok(());
        }
        // One statement for the batch; several server processes may record the same phone,
        // the latest time wins.
        let devices: Vec<uuid::Uuid> = statuses.iter().map(|s| s.device).collect();
        let synced: Vec<i64> = statuses.iter().map(|s| s.synced_ms as i64).collect();
        let unsynced: Vec<Option<i64>> = statuses
            .iter()
            .map(|s| s.unsynced.map(|n| n as i64))
            .collect();
        self.client()
            .await?
            .execute(
                "INSERT INTO device_status AS d (device_id, synced_ms, unsynced)
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[])
                 ON CONFLICT (device_id) DO UPDATE SET
                   unsynced = CASE WHEN excluded.synced_ms >= d.synced_ms
                                   THEN coalesce(excluded.unsynced, d.unsynced)
                                   ELSE d.unsynced END,
                   synced_ms = GREATEST(d.synced_ms, excluded.synced_ms)",
                &[&devices, &synced, &unsynced],
            )
            .await?;
        Ok(())
    }

    async fn device_statuses(&self) -> Result<Vec<DeviceStatus>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT device_id, synced_ms, unsynced FROM device_status",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeviceStatus {
                device: r.get(0),
                synced_ms: r.get::<_, i64>(1) as u64,
                unsynced: r.get::<_, Option<i64>>(2).map(|n| n as u64),
            })
            .collect())
    }
}
