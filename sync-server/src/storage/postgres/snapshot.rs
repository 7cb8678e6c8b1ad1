//! Snapshot reads: records in id order with their places (those filed under a reader's buckets,
//! or all of them), with the end of the log they include; and the events of a set of cases.
//!
//! The end of the log is read first, below the horizon (`oplog.rs`): every operation up to it
//! had committed when it was read, so every record read afterwards includes it (later ones too,
//! which merging makes harmless).

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::scope::Bucket;
use gridwork_domain::workflow::CaseEvent;

use super::{oplog, records};
use crate::storage::bucket_scan::Merge;
use crate::storage::{ReadCounters, RecordRows, StorageError};

/// Up to `limit` records with ids after `after` filed under any of `buckets` (all records when
/// `None`), with the end of the log they include. Counts what it reads in `reads`.
pub async fn rows(
    client: &impl GenericClient,
    buckets: Option<&[Bucket]>,
    after: Option<Id>,
    limit: usize,
    reads: &ReadCounters,
) -> Result<RecordRows, StorageError> {
    let (seq, _) = oplog::end_of_log(client).await?;
    let (records, bytes, more) = match buckets {
        None => {
            let rows = records::rows(client, after, limit).await?;
            reads.record_rows(rows.0.len() + usize::from(rows.2));
            rows
        }
        Some(buckets) => {
            // `uuid` compares as `Uuid` does, so the merge and the ranges agree.
            let scan = client
                .prepare_cached(
                    "SELECT id FROM record_buckets
                     WHERE bucket = $1 AND ($2::uuid IS NULL OR id > $2)
                       AND ($3::uuid IS NULL OR id <= $3)
                     ORDER BY id LIMIT $4",
                )
                .await?;
            let mut merge = Merge::new(limit);
            for bucket in buckets {
                let key = bucket.to_bytes().to_vec();
                let ids: Vec<Id> = client
                    .query(
                        &scan,
                        &[&key, &after, &merge.bound(), &(merge.ask() as i64)],
                    )
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                reads.bucket_rows(ids.len());
                merge.add(ids);
            }
            let (ids, more) = merge.finish();
            let (records, bytes) = records::load_placed(client, &ids).await?;
            reads.record_rows(records.len());
            (records, bytes, more)
        }
    };
    Ok(RecordRows {
        seq,
        records,
        bytes,
        more,
    })
}

/// How many entries the bucket index holds under `buckets` (see
/// [`crate::storage::Storage::bucket_record_count`]): one count over the primary key's
/// ranges of those buckets.
pub async fn count(client: &impl GenericClient, buckets: &[Bucket]) -> Result<u64, StorageError> {
    if buckets.is_empty() {
        return Ok(0);
    }
    let keys: Vec<Vec<u8>> = buckets.iter().map(|b| b.to_bytes().to_vec()).collect();
    let stmt = client
        .prepare_cached("SELECT count(*) FROM record_buckets WHERE bucket = ANY($1)")
        .await?;
    let n: i64 = client.query_one(&stmt, &[&keys]).await?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every event of these cases, each case's in stamp order.
pub async fn events(
    client: &impl GenericClient,
    cases: &[Id],
) -> Result<Vec<CaseEvent>, StorageError> {
    records::events_of(client, cases).await
}
