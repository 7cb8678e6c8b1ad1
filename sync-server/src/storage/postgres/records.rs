//! Reading and writing the materialized state of records (`records` table) with their places and
//! bucket rows, and the case histories (`case_events`).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::Place;
use gridwork_domain::workflow::CaseEvent;
use tokio_postgres::Row;

use crate::storage::{PlacedRecord, StorageError};

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

/// A stored record's place: `None` when there is no such record; an unresolved place when it
/// has none stored.
pub async fn load_place(
    client: &impl GenericClient,
    id: Id,
) -> Result<Option<Place>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT kind, place FROM records WHERE id = $1")
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Ok(None);
    };
    match row.get::<_, Option<&str>>(1) {
        Some(json) => Ok(Some(serde_json::from_str(json)?)),
        None => Ok(EntityKind::parse(row.get(0)).map(|k| Place::unresolved(k, id))),
    }
}

/// Every event of these cases, case by case in the order given, each case's in stamp order.
pub async fn events_of(
    client: &impl GenericClient,
    cases: &[Id],
) -> Result<Vec<CaseEvent>, StorageError> {
    if cases.is_empty() {
        return Ok(vec![]);
    }
    let stmt = client
        .prepare_cached(
            "SELECT case_id, event FROM case_events WHERE case_id = ANY($1) ORDER BY hlc, id",
        )
        .await?;
    let mut by_case: HashMap<Id, Vec<CaseEvent>> = HashMap::new();
    for row in client.query(&stmt, &[&cases]).await? {
        by_case
            .entry(row.get(0))
            .or_default()
            .push(serde_json::from_str(row.get::<_, &str>(1))?);
    }
    let mut events = Vec::new();
    for case in cases {
        events.extend(by_case.get(case).into_iter().flatten().cloned());
    }
    Ok(events)
}

fn placed(row: &Row) -> Result<PlacedRecord, StorageError> {
    Ok(PlacedRecord {
        state: serde_json::from_str(row.get::<_, &str>(0))?,
        place: row
            .get::<_, Option<&str>>(1)
            .map(serde_json::from_str)
            .transpose()?,
    })
}

/// A record and everything hanging from it, with current places, in id order.
pub async fn family(
    client: &impl GenericClient,
    root: Id,
) -> Result<Vec<PlacedRecord>, StorageError> {
    // UNION (not UNION ALL) ends a cycle of parent links; the depth bounds a broken chain.
    let stmt = client
        .prepare_cached(
            "WITH RECURSIVE fam (id, depth) AS (
                 SELECT $1::uuid, 0
                 UNION
                 SELECT r.id, fam.depth + 1 FROM records r JOIN fam ON r.parent = fam.id
                 WHERE fam.depth < 12
             )
             SELECT state, place FROM records WHERE id IN (SELECT id FROM fam) ORDER BY id",
        )
        .await?;
    client
        .query(&stmt, &[&root])
        .await?
        .iter()
        .map(placed)
        .collect()
}

/// Up to `limit` records after `after` in id order, the length of each one's stored JSON, and
/// whether more follow.
pub async fn rows(
    client: &impl GenericClient,
    after: Option<Id>,
    limit: usize,
) -> Result<(Vec<PlacedRecord>, Vec<usize>, bool), StorageError> {
    // `uuid` sorts as `Uuid` does (byte order), so `after` works as in SQLite.
    let stmt = client
        .prepare_cached(
            "SELECT state, place FROM records WHERE ($1::uuid IS NULL OR id > $1)
             ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = client.query(&stmt, &[&after, &(limit as i64 + 1)]).await?;
    let more = rows.len() > limit;
    let mut records = Vec::with_capacity(rows.len().min(limit));
    let mut bytes = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        records.push(placed(row)?);
        bytes.push(row.get::<_, &str>(0).len());
    }
    Ok((records, bytes, more))
}

/// These records (those stored), in id order, with the length of each one's stored JSON.
pub async fn load_placed(
    client: &impl GenericClient,
    ids: &[Id],
) -> Result<(Vec<PlacedRecord>, Vec<usize>), StorageError> {
    let stmt = client
        .prepare_cached("SELECT state, place FROM records WHERE id = ANY($1) ORDER BY id")
        .await?;
    let rows = client.query(&stmt, &[&ids]).await?;
    let mut records = Vec::with_capacity(rows.len());
    let mut bytes = Vec::with_capacity(rows.len());
    for row in &rows {
        records.push(placed(row)?);
        bytes.push(row.get::<_, &str>(0).len());
    }
    Ok((records, bytes))
}
