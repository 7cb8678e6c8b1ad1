//! Snapshot reads: records in id order with their places (those filed under a reader's buckets,
//! or all of them), read in one read transaction with the end of the log so the two agree; and
//! the events of a set of cases.

use gridwork_domain::ids::Id;
use gridwork_domain::scope::Bucket;
use gridwork_domain::workflow::CaseEvent;
use rusqlite::{Connection, params};

use super::{oplog, records};
use crate::storage::bucket_scan::Merge;
use crate::storage::{ReadCounters, RecordRows, StorageError};

/// Up to `limit` records with ids after `after` filed under any of `buckets` (all records when
/// `None`), with the end of the log they include. Counts what it reads in `reads`.
pub fn rows(
    conn: &mut Connection,
    buckets: Option<&[Bucket]>,
    after: Option<Id>,
    limit: usize,
    reads: &ReadCounters,
) -> Result<RecordRows, StorageError> {
    // A read transaction: WAL gives it one consistent view of the log and the records.
    let tx = conn.transaction()?;
    let seq = oplog::last_seq(&tx)?;
    let rows = match buckets {
        None => {
            let rows = records::rows(&tx, after, limit)?;
            reads.record_rows(rows.0.len() + usize::from(rows.2));
            rows
        }
        Some(buckets) => {
            // Hyphenated lower-case UUIDs sort as text the way `Uuid` sorts, so the merge of
            // ids and the ranges of text agree.
            let after = after.map(|a| a.to_string()).unwrap_or_default();
            let mut merge = Merge::new(limit);
            for bucket in buckets {
                // "~" sorts after every id: no bound yet.
                let bound = merge
                    .bound()
                    .map_or_else(|| "~".to_string(), |b: Id| b.to_string());
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM record_buckets WHERE bucket = ?1 AND id > ?2 AND id <= ?3
                     ORDER BY id LIMIT ?4",
                )?;
                let ids = stmt
                    .query_map(
                        params![
                            bucket.to_bytes().as_slice(),
                            after,
                            bound,
                            merge.ask() as i64
                        ],
                        |r| r.get::<_, String>(0),
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                reads.bucket_rows(ids.len());
                merge.add(ids.iter().filter_map(|id| id.parse::<Id>().ok()));
            }
            let (ids, more) = merge.finish();
            // In one range scan where the page's ids are close together, as a subdistrict's
            // are (each looked up alone, half the server's time went to the lookups).
            let (found, read) = records::load_placed_in_order(&tx, &ids)?;
            reads.record_rows(read);
            let (records, bytes) = found.into_iter().unzip();
            (records, bytes, more)
        }
    };
    tx.commit()?;
    let (records, bytes, more) = rows;
    Ok(RecordRows {
        seq,
        records,
        bytes,
        more,
    })
}

/// How many entries the bucket index holds under `buckets` (see
/// [`crate::storage::Storage::bucket_record_count`]): a count of each bucket's range of the
/// primary key, which SQLite answers from the index alone.
pub fn count(conn: &mut Connection, buckets: &[Bucket]) -> Result<u64, StorageError> {
    let mut total = 0u64;
    let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM record_buckets WHERE bucket = ?1")?;
    for bucket in buckets {
        let n: i64 = stmt.query_row(params![bucket.to_bytes().as_slice()], |r| r.get(0))?;
        total += u64::try_from(n).unwrap_or(0);
    }
    Ok(total)
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
