//! The operation log: appending a push batch in one transaction, reading pages after a cursor.

use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::scope::Bucket;
use gridwork_domain::sync::{PushOutcome, PushResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::accounts;
use super::records::{self, Loaded, SqliteFacts};
use crate::rules::plan::{self, Store};
use crate::rules::{self, PushContext};
use crate::storage::bucket_scan::Merge;
use crate::storage::{LogEntry, LogPage, Pushed, ReadCounters, StorageError};

/// The last stored sequence number (0 for an empty log).
pub fn last_seq(conn: &Connection) -> Result<u64, StorageError> {
    let seq: Option<i64> = conn.query_row("SELECT max(seq) FROM ops", [], |r| r.get(0))?;
    Ok(seq.unwrap_or(0) as u64)
}

/// Decides and stores a batch (see [`crate::storage::Storage::push`]) inside the transaction
/// (or savepoint) `tx` is in: the planner decides each operation, this writes what it decided.
/// Returns the answers, the last sequence number after the batch, and the buckets the stored
/// operations were filed under (whose waiting polls to wake). The caller commits: the writer
/// thread commits several pushes together (`writer.rs`), reading records through one
/// `loaded` for the group.
pub fn push_in(
    tx: &Connection,
    ctx: &PushContext,
    ops: &[Op],
    loaded: &Loaded,
) -> Result<Pushed, StorageError> {
    let mut results = Vec::with_capacity(ops.len());
    let mut touched = Vec::new();
    for op in ops {
        let mut facts = SqliteFacts {
            conn: tx,
            loaded: Some(loaded),
        };
        let decision = plan::plan(ctx, op, &mut facts)?;
        let outcome = match decision.settled() {
            Ok(answer) => answer,
            Err(store) => {
                let seq = store_op(tx, ctx, op, &store, loaded)?;
                touched.extend_from_slice(&store.buckets);
                PushOutcome::Accepted { seq }
            }
        };
        results.push(PushResult {
            op_id: op.id,
            outcome,
        });
    }
    let last = last_seq(tx)?;
    touched.sort();
    touched.dedup();
    Ok(Pushed {
        results,
        last,
        touched,
    })
}

/// Writes what the planner decided for one operation; returns its sequence number.
fn store_op(
    tx: &Connection,
    ctx: &PushContext,
    op: &Op,
    store: &Store,
    loaded: &Loaded,
) -> Result<u64, StorageError> {
    tx.prepare_cached(
        "INSERT INTO ops (op_id, entity_id, kind, device_id, hlc, scope_key, op, received_ms,
                          place, prior)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        op.id.to_string(),
        op.entity_id.to_string(),
        op.entity.as_str(),
        op.stamp.device.to_string(),
        op.stamp.hlc.as_i64(),
        rules::key_of(&store.place.areas),
        serde_json::to_string(op)?,
        ctx.now_ms as i64,
        serde_json::to_string(&store.place)?,
        store
            .prior
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    ])?;
    let seq = tx.last_insert_rowid() as u64;
    for bucket in &store.buckets {
        tx.prepare_cached("INSERT INTO op_buckets (bucket, seq) VALUES (?1, ?2)")?
            .execute(params![bucket.to_bytes().as_slice(), seq as i64])?;
    }
    match &store.record {
        Some(state) => {
            // Its place and parent as they were (the planner read the state just before):
            // the state alone is written.
            let links_kept = store.prior.as_ref() == Some(&store.place)
                && loaded.kept_parent_is(state.id, rules::parent(state));
            if !(links_kept && records::save_state(tx, state, seq)?) {
                records::save(tx, state, &store.place, seq)?;
            }
            // The blobs its photo fields name now, so a fetch finds the record (ADR 0043).
            if let Some(refs) = crate::storage::blob_refs::record_refs(op, state) {
                super::blob_refs::file_record_refs(tx, &refs)?;
            }
            loaded.remember(state, &store.place);
        }
        None if store.place_only() => {
            let stored = records::set_place(tx, op.entity_id, &store.place)?;
            loaded.remember_place(op.entity_id, &store.place, stored);
        }
        None => {}
    }
    if let Some(event) = &store.event {
        // Union by event id: an event already known (sent again inside another operation)
        // keeps its first copy.
        tx.prepare_cached(
            "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            event.id.to_string(),
            event.case_id.to_string(),
            event.stamp.hlc.as_i64(),
            serde_json::to_string(event)?,
            seq as i64,
        ])?;
        // The blobs its photo names, so a fetch finds the case (issue 24).
        super::blob_refs::file_refs(tx, event)?;
    }
    for moved in &store.replaced {
        let stored = records::set_place(tx, moved.id, &moved.after)?;
        loaded.remember_place(moved.id, &moved.after, stored);
    }
    for change in store.record_buckets(op.entity_id) {
        records::refile(tx, &change)?;
    }
    // A user's anchor is the place of a scope entry: cached views of it are read again.
    let placed: Vec<Id> = store
        .places_written(op.entity_id)
        .into_iter()
        .filter(|(_, before, after)| *before != Some(*after))
        .map(|(id, _, _)| id)
        .collect();
    if accounts::any_scope_entry(tx, &placed)? {
        accounts::bump_version(tx)?;
    }
    Ok(seq)
}

/// The scope key stored with an operation.
pub fn scope_key_of(conn: &mut Connection, op_id: Id) -> Result<Option<String>, StorageError> {
    let key: Option<Option<String>> = conn
        .prepare_cached("SELECT scope_key FROM ops WHERE op_id = ?1")?
        .query_row([op_id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(key.flatten())
}

/// Up to `limit` operations after `after` filed under any of `buckets` (every operation when
/// `None`), with their places, read in one read transaction with the end of the log so the
/// two agree. Counts what it reads in `reads`.
pub fn log_page(
    conn: &mut Connection,
    buckets: Option<&[Bucket]>,
    after: u64,
    limit: usize,
    reads: &ReadCounters,
) -> Result<LogPage, StorageError> {
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    let tx = conn.transaction()?;
    let end = last_seq(&tx)?;
    let (entries, more) = match buckets {
        None => {
            // One row more than asked tells whether more follow.
            let mut stmt = tx.prepare_cached(
                "SELECT seq, op, place, prior FROM ops WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after_i, limit as i64 + 1])?;
            let mut entries = Vec::with_capacity(limit.min(1024));
            let mut more = false;
            while let Some(row) = rows.next()? {
                if entries.len() == limit {
                    more = true;
                    break;
                }
                entries.push(entry(row)?);
            }
            reads.log_rows(entries.len() + usize::from(more));
            (entries, more)
        }
        Some(buckets) => {
            let mut merge = Merge::new(limit);
            for bucket in buckets {
                let bound = merge.bound().unwrap_or(i64::MAX);
                let mut stmt = tx.prepare_cached(
                    "SELECT seq FROM op_buckets WHERE bucket = ?1 AND seq > ?2 AND seq <= ?3
                     ORDER BY seq LIMIT ?4",
                )?;
                let seqs = stmt
                    .query_map(
                        params![
                            bucket.to_bytes().as_slice(),
                            after_i,
                            bound,
                            merge.ask() as i64
                        ],
                        |r| r.get::<_, i64>(0),
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                reads.bucket_rows(seqs.len());
                merge.add(seqs);
            }
            let (seqs, more) = merge.finish();
            let mut entries = Vec::with_capacity(seqs.len());
            let mut stmt =
                tx.prepare_cached("SELECT seq, op, place, prior FROM ops WHERE seq = ?1")?;
            for seq in seqs {
                let mut rows = stmt.query([seq])?;
                if let Some(row) = rows.next()? {
                    entries.push(entry(row)?);
                }
            }
            reads.log_rows(entries.len());
            (entries, more)
        }
    };
    let next = match entries.last() {
        Some(last) if more => last.seq,
        _ => end.max(after),
    };
    Ok(LogPage {
        entries,
        next,
        more,
    })
}

/// A log entry from a row of `seq, op, place, prior`.
fn entry(row: &rusqlite::Row<'_>) -> Result<LogEntry, StorageError> {
    let op: String = row.get(1)?;
    let place: Option<String> = row.get(2)?;
    let prior: Option<String> = row.get(3)?;
    Ok(LogEntry {
        seq: row.get::<_, i64>(0)? as u64,
        bytes: op.len(),
        op: serde_json::from_str(&op)?,
        place: place.map(|p| serde_json::from_str(&p)).transpose()?,
        prior: prior.map(|p| serde_json::from_str(&p)).transpose()?,
    })
}
