//! Snapshot reads: records in id order with their places, read in one repeatable-read
//! transaction with the last sequence number so the two agree; and the events of a set of cases.

use deadpool_postgres::Client;
use gridwork_domain::ids::Id;
use gridwork_domain::workflow::CaseEvent;
use tokio_postgres::IsolationLevel;

use super::{oplog, records};
use crate::storage::{RecordRows, StorageError};

/// Up to `limit` records with ids after `after`, with the sequence number they include.
pub async fn rows(
    client: &mut Client,
    after: Option<Id>,
    limit: usize,
) -> Result<RecordRows, StorageError> {
    // One snapshot of the database for both reads: the log's end and the records agree.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let seq = oplog::last_seq(&tx).await?;
    let (records, more) = records::rows(&tx, after, limit).await?;
    tx.commit().await?;
    Ok(RecordRows { seq, records, more })
}

/// Every event of these cases, each case's in stamp order.
pub async fn events(client: &Client, cases: &[Id]) -> Result<Vec<CaseEvent>, StorageError> {
    records::events_of(client, cases).await
}
