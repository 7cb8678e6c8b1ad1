//! Snapshot reads: records in id order with their places, read in one read transaction with the
//! last sequence number so the two agree; and the events of a set of cases.

use gridwork_domain::ids::Id;
use gridwork_domain::workflow::CaseEvent;
use rusqlite::Connection;

use super::{oplog, records};
use crate::storage::{RecordRows, StorageError};

/// Up to `limit` records with ids after `after`, with the sequence number they include.
pub fn rows(
    conn: &mut Connection,
    after: Option<Id>,
    limit: usize,
) -> Result<RecordRows, StorageError> {
    // A read transaction: WAL gives it one consistent view of the log and the records.
    let tx = conn.transaction()?;
    let seq = oplog::last_seq(&tx)?;
    let (records, more) = records::rows(&tx, after, limit)?;
    tx.commit()?;
    Ok(RecordRows { seq, records, more })
}

/// Every event of these cases, each case's in stamp order.
pub fn events(conn: &mut Connection, cases: &[Id]) -> Result<Vec<CaseEvent>, StorageError> {
    let tx = conn.transaction()?;
    let mut events = Vec::new();
    for case in cases {
        events.extend(records::events_of(&tx, *case)?);
    }
    tx.commit()?;
    Ok(events)
}
