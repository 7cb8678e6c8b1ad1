//! Reading and writing the materialized state of one record (`records` table), and
//! [`RecordCache`]: the records one push has read, through which the pure rules look records
//! up.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;

use crate::storage::StorageError;

/// A record's merged state, tombstoned ones included.
pub async fn load(
    client: &impl GenericClient,
    id: Id,
) -> Result<Option<RecordState>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT state FROM records WHERE id = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    Ok(row
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)))
        .transpose()?)
}

/// Writes a record's merged state with its scope key and the sequence number that changed it.
pub async fn save(
    client: &impl GenericClient,
    state: &RecordState,
    scope_key: Option<&str>,
    seq: u64,
) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO records (id, kind, state, scope_key, updated_seq)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                 scope_key = excluded.scope_key, updated_seq = excluded.updated_seq",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &state.id,
                &state.kind.as_str(),
                &serde_json::to_string(state)?,
                &scope_key,
                &(seq as i64),
            ],
        )
        .await?;
    Ok(())
}

/// A lookup found a record this push has not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss(pub Id);

/// The records one push transaction has read or written, as that transaction sees them (every
/// write goes through [`RecordCache::save`]; the oplog lock keeps other writers out meanwhile).
#[derive(Debug, Default)]
pub struct RecordCache {
    seen: HashMap<Id, Option<RecordState>>,
}

impl RecordCache {
    /// A record, read once per push.
    pub async fn load(
        &mut self,
        client: &impl GenericClient,
        id: Id,
    ) -> Result<Option<RecordState>, StorageError> {
        if let Some(state) = self.seen.get(&id) {
            return Ok(state.clone());
        }
        let state = load(client, id).await?;
        self.seen.insert(id, state.clone());
        Ok(state)
    }

    /// Reads the records of `ids` in one query (those not stored are remembered as absent).
    pub async fn preload(
        &mut self,
        client: &impl GenericClient,
        ids: &[Id],
    ) -> Result<(), StorageError> {
        let stmt = client
            .prepare_cached("SELECT id, state FROM records WHERE id = ANY($1)")
            .await?;
        for row in client.query(&stmt, &[&ids]).await? {
            let state: RecordState = serde_json::from_str(row.get::<_, &str>(1))?;
            self.seen.insert(row.get(0), Some(state));
        }
        for id in ids {
            self.seen.entry(*id).or_insert(None);
        }
        Ok(())
    }

    /// Writes a record and keeps it for later lookups in the same push.
    pub async fn save(
        &mut self,
        client: &impl GenericClient,
        state: &RecordState,
        scope_key: Option<&str>,
        seq: u64,
    ) -> Result<(), StorageError> {
        save(client, state, scope_key, seq).await?;
        self.seen.insert(state.id, Some(state.clone()));
        Ok(())
    }

    /// Runs a rule that looks records up ([`crate::rules::scope_key`], [`crate::rules::place`])
    /// with those read so far. The rules are pure and synchronous, so a record not read yet
    /// stops the run with a [`Miss`]; it is read and the rule runs again. A chain of n links
    /// costs n reads, as a blocking lookup would, and the rule itself is the same function the
    /// SQLite backend calls.
    pub async fn resolve<T>(
        &mut self,
        client: &impl GenericClient,
        mut rule: impl FnMut(&mut dyn FnMut(Id) -> Result<Option<RecordState>, Miss>) -> Result<T, Miss>,
    ) -> Result<T, StorageError> {
        loop {
            let seen = &self.seen;
            let mut lookup = |id: Id| seen.get(&id).cloned().ok_or(Miss(id));
            match rule(&mut lookup) {
                Ok(value) => return Ok(value),
                Err(Miss(id)) => {
                    let state = load(client, id).await?;
                    self.seen.insert(id, state);
                }
            }
        }
    }
}
