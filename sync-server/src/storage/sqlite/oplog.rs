//! The operation log: appending a push batch in one transaction, reading pages after a cursor.

use gridwork_domain::ids::Id;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::Place;
use gridwork_domain::sync::{PushOutcome, PushResult};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::records;
use crate::rules::{self, Admitted, PushContext};
use crate::storage::{LogEntry, LogPage, StorageError};

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
    let prior = records::load_place(tx, op.entity_id)?;
    let admitted = match rules::admit(op, ctx, current) {
        Ok(a) => a,
        Err(r) => {
            return Ok(PushOutcome::Rejected {
                code: r.code,
                message: r.message,
            });
        }
    };
    let (changed, event) = match admitted {
        Admitted::Record(state) => (Some(state), None),
        Admitted::Event { event, new_case } => (new_case, Some(event)),
    };
    // Where the record sits once the operation is applied; a case event places its case.
    let place = match &changed {
        Some(state) => records::compute_place(tx, state, event.as_ref())?,
        None => match records::load(tx, op.entity_id)? {
            Some(case) => records::compute_place(tx, &case, event.as_ref())?,
            None => Place::unresolved(op.entity, op.entity_id),
        },
    };
    if let Err(r) = rules::authorize(&ctx.view, op, prior.as_ref(), &place) {
        return Ok(PushOutcome::Rejected {
            code: r.code,
            message: r.message,
        });
    }
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
        rules::key_of(&place.areas),
        serde_json::to_string(op)?,
        ctx.now_ms as i64,
        serde_json::to_string(&place)?,
        prior.as_ref().map(serde_json::to_string).transpose()?,
    ])?;
    let seq = tx.last_insert_rowid() as u64;
    match &changed {
        Some(state) => records::save(tx, state, &place, seq)?,
        None if prior.as_ref() != Some(&place) => records::set_place(tx, op.entity_id, &place)?,
        None => {}
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
    // A case placed anew (an alarm dispatched, a case moved between buildings) changes which
    // crews see its building(s).
    if op.entity == EntityKind::Case && prior.as_ref() != Some(&place) {
        for building in rules::case_buildings(prior.as_ref(), &place) {
            records::refresh_responders(tx, building)?;
        }
    }
    // A record that moved (another grid, another station) takes everything hanging from it
    // along: their places are recomputed in this same transaction. So does a new record that
    // others arrived before (an index probe when none did).
    if prior.as_ref().is_none_or(|p| rules::moved(p, &place)) {
        records::replace_family(tx, op.entity_id)?;
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

/// Up to `limit` operations after `after`, with their places. One row more than asked is
/// read to tell whether more follow.
pub fn log_page(conn: &mut Connection, after: u64, limit: usize) -> Result<LogPage, StorageError> {
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, op, place, prior FROM ops WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_i, limit as i64 + 1], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut entries = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    for row in rows {
        let (seq, op, place, prior) = row?;
        if entries.len() == limit {
            more = true;
            break;
        }
        entries.push(LogEntry {
            seq: seq as u64,
            op: serde_json::from_str(&op)?,
            place: place.map(|p| serde_json::from_str(&p)).transpose()?,
            prior: prior.map(|p| serde_json::from_str(&p)).transpose()?,
        });
    }
    let next = entries.last().map_or(after, |e: &LogEntry| e.seq);
    Ok(LogPage {
        entries,
        next,
        more,
    })
}
