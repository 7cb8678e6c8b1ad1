//! Snapshot pages: the current state of records in id order, with their cases' events, read in
//! one read transaction so the page and its sequence number agree.

use gridwork_domain::ids::Id;
use gridwork_domain::op::EntityKind;
use gridwork_domain::workflow::CaseEvent;
use rusqlite::{Connection, params};

use super::oplog;
use crate::storage::{ScopeFilter, SnapshotPage, StorageError};

/// Up to `limit` records with ids after `after`.
pub fn page(
    conn: &mut Connection,
    after: Option<Id>,
    limit: usize,
    filter: ScopeFilter,
) -> Result<SnapshotPage, StorageError> {
    let ScopeFilter::Everything = filter;
    // A read transaction: WAL gives it one consistent view of the log and the records.
    let tx = conn.transaction()?;
    let seq = oplog::last_seq(&tx)?;
    // Hyphenated lower-case UUIDs sort as text the way `Uuid` sorts, so `next_after` works.
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    let mut records = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    {
        let mut stmt =
            tx.prepare_cached("SELECT state FROM records WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(params![after, limit as i64 + 1], |r| r.get::<_, String>(0))?;
        for row in rows {
            if records.len() == limit {
                more = true;
                break;
            }
            records.push(serde_json::from_str::<gridwork_domain::merge::RecordState>(
                &row?,
            )?);
        }
    }
    let mut events = Vec::new();
    {
        let mut stmt =
            tx.prepare_cached("SELECT event FROM case_events WHERE case_id = ?1 ORDER BY hlc, id")?;
        for case in records.iter().filter(|r| r.kind == EntityKind::Case) {
            let rows = stmt.query_map([case.id.to_string()], |r| r.get::<_, String>(0))?;
            for row in rows {
                events.push(serde_json::from_str::<CaseEvent>(&row?)?);
            }
        }
    }
    tx.commit()?;
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
