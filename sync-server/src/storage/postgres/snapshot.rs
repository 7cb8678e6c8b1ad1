//! Snapshot pages: the current state of records in id order, with their cases' events, read in
//! one repeatable-read transaction so the page and its sequence number agree.

use deadpool_postgres::Client;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::workflow::CaseEvent;
use tokio_postgres::IsolationLevel;

use super::oplog;
use crate::storage::{ScopeFilter, SnapshotPage, StorageError};

/// Up to `limit` records with ids after `after`.
pub async fn page(
    client: &mut Client,
    after: Option<Id>,
    limit: usize,
    filter: ScopeFilter,
) -> Result<SnapshotPage, StorageError> {
    let ScopeFilter::Everything = filter;
    // One snapshot of the database for the whole page: the log's end and the records agree.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let seq = oplog::last_seq(&tx).await?;
    // `uuid` sorts as `Uuid` does (byte order), so `next_after` works as in SQLite.
    let stmt = tx
        .prepare_cached(
            "SELECT state FROM records WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = tx.query(&stmt, &[&after, &(limit as i64 + 1)]).await?;
    let more = rows.len() > limit;
    let mut records = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        records.push(serde_json::from_str::<RecordState>(row.get::<_, &str>(0))?);
    }
    // Every event of the page's cases, case by case in the records' (id) order.
    let cases: Vec<Id> = records
        .iter()
        .filter(|r| r.kind == EntityKind::Case)
        .map(|r| r.id)
        .collect();
    let mut events = Vec::new();
    if !cases.is_empty() {
        let stmt = tx
            .prepare_cached(
                "SELECT event FROM case_events WHERE case_id = ANY($1) ORDER BY case_id, hlc, id",
            )
            .await?;
        for row in tx.query(&stmt, &[&cases]).await? {
            events.push(serde_json::from_str::<CaseEvent>(row.get::<_, &str>(0))?);
        }
    }
    tx.commit().await?;
    let next_after = if more {
        records.last().map(|r| r.id)
    } else {
        None
    };
    Ok(SnapshotPage {
        seq,
        records,
        events,
        next_after,
    })
}
