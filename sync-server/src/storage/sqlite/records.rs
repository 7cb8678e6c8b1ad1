//! Reading and writing the materialized state of one record (`records` table).

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use rusqlite::{Connection, OptionalExtension, params};

use crate::storage::StorageError;

/// A record's merged state, tombstoned ones included.
pub fn load(conn: &Connection, id: Id) -> Result<Option<RecordState>, StorageError> {
    let json: Option<String> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
}

/// Writes a record's merged state with its scope key and the sequence number that changed it.
pub fn save(
    conn: &Connection,
    state: &RecordState,
    scope_key: Option<&str>,
    seq: u64,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT INTO records (id, kind, state, scope_key, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, scope_key = excluded.scope_key,
             updated_seq = excluded.updated_seq",
    )?
    .execute(params![
        state.id.to_string(),
        state.kind.as_str(),
        serde_json::to_string(state)?,
        scope_key,
        seq as i64
    ])?;
    Ok(())
}
