//! The operation log: appending a push batch in one transaction, reading pages after a cursor.

use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::sync::{PushOutcome, PushResult, SequencedOp};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::records;
use crate::rules::{self, Admitted, PushContext};
use crate::storage::{PullPage, ScopeFilter, StorageError};

/// The last stored sequence number (0 for an empty log).
pub fn last_seq(conn: &Connection) -> Result<u64, StorageError> {
    let seq: Option<i64> = conn.query_row("SELECT max(seq) FROM ops", [], |r| r.get(0))?;
    Ok(seq.unwrap_or(0) as u64)
}

/// Decides and stores a batch (see [`crate::storage::Storage::push`]); returns the answers and
/// the last sequence number after the batch.
pub fn push(
    conn: &mut Connection,
    ctx: &PushContext,
    ops: &[Op],
) -> Result<(Vec<PushResult>, u64), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let outcome = push_one(&tx, ctx, op)?;
        results.push(PushResult {
            op_id: op.id,
            outcome,
        });
    }
    let last = last_seq(&tx)?;
    tx.commit()?;
    Ok((results, last))
}

fn push_one(tx: &Transaction<'_>, ctx: &PushContext, op: &Op) -> Result<PushOutcome, StorageError> {
    if let Err(r) = rules::check_author(op, ctx) {
        return Ok(PushOutcome::Rejected {
            code: r.code,
            message: r.message,
        });
    }
    if let Some(seq) = seq_of(tx, op.id)? {
        return Ok(PushOutcome::Duplicate { seq });
    }
    let current = records::load(tx, op.entity_id)?;
    let admitted = match rules::admit(op, ctx, current) {
        Ok(a) => a,
        Err(r) => {
            return Ok(PushOutcome::Rejected {
                code: r.code,
                message: r.message,
            });
        }
    };
    let mut lookup = |id: Id| records::load(tx, id);
    let (changed, event) = match admitted {
        Admitted::Record(state) => (Some(state), None),
        Admitted::Event { event, new_case } => (new_case, Some(event)),
    };
    // The key is the merged record's; a case event goes where its case goes.
    let scope_key = match &changed {
        Some(state) => rules::scope_key(state, &mut lookup)?,
        None => match records::load(tx, op.entity_id)? {
            Some(case) => rules::scope_key(&case, &mut lookup)?,
            None => None,
        },
    };
    tx.prepare_cached(
        "INSERT INTO ops (op_id, entity_id, kind, device_id, hlc, scope_key, op, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        op.id.to_string(),
        op.entity_id.to_string(),
        op.entity.as_str(),
        op.stamp.device.to_string(),
        op.stamp.hlc.as_i64(),
        scope_key,
        serde_json::to_string(op)?,
        ctx.now_ms as i64,
    ])?;
    let seq = tx.last_insert_rowid() as u64;
    if let Some(state) = &changed {
        records::save(tx, state, scope_key.as_deref(), seq)?;
    }
    if let Some(event) = &event {
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
    }
    Ok(PushOutcome::Accepted { seq })
}

/// The sequence number of a stored operation.
fn seq_of(conn: &Connection, op_id: Id) -> Result<Option<u64>, StorageError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM ops WHERE op_id = ?1")?
        .query_row([op_id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(seq.map(|s| s as u64))
}

/// The scope key stored with an operation.
pub fn scope_key_of(conn: &mut Connection, op_id: Id) -> Result<Option<String>, StorageError> {
    let key: Option<Option<String>> = conn
        .prepare_cached("SELECT scope_key FROM ops WHERE op_id = ?1")?
        .query_row([op_id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(key.flatten())
}

/// Up to `limit` operations after `after`. One row more than asked is read to tell whether
/// more follow.
pub fn pull(
    conn: &mut Connection,
    after: u64,
    limit: usize,
    filter: ScopeFilter,
) -> Result<PullPage, StorageError> {
    // The scope issue adds `AND scope_key ...` here for a filter other than Everything, and
    // then `next` must become the last seq scanned rather than the last one returned.
    let ScopeFilter::Everything = filter;
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare_cached("SELECT seq, op FROM ops WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after_i, limit as i64 + 1], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut ops = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    for row in rows {
        let (seq, json) = row?;
        if ops.len() == limit {
            more = true;
            break;
        }
        ops.push(SequencedOp {
            seq: seq as u64,
            op: serde_json::from_str(&json)?,
        });
    }
    let next = ops.last().map_or(after, |o: &SequencedOp| o.seq);
    Ok(PullPage { ops, next, more })
}
