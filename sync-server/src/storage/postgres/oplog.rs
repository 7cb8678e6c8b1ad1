//! The operation log: appending a push batch in one transaction, reading pages after a cursor.
//!
//! # Sequence numbers in commit order
//! A puller reads `seq > cursor` and moves its cursor to the last seq it got, so a seq that
//! becomes visible after a larger one was read would be skipped for ever. An identity column
//! alone does not prevent that: two pushes in two server processes can take 7 and 8, and 8 can
//! commit first. So every push takes a transaction-level advisory lock ([`OPLOG_LOCK`]) before
//! its first number and holds it until commit: pushes append one at a time, and numbers become
//! visible in the order they were handed out. (A push that rolls back leaves a gap; pulls step
//! over it.) See `docs/adr/0015-postgresql-backend.md` for the alternatives weighed.

use std::collections::HashMap;

use deadpool_postgres::{Client, GenericClient, Transaction};
use gridwork_domain::ids::Id;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::Place;
use gridwork_domain::sync::{PushOutcome, PushResult};

use super::open::OPLOG_LOCK;
use super::records::{self, RecordCache};
use crate::rules::{self, Admitted, PushContext};
use crate::storage::{LogEntry, LogPage, StorageError};

/// The last stored sequence number (0 for an empty log).
pub async fn last_seq(client: &impl GenericClient) -> Result<u64, StorageError> {
    let seq: Option<i64> = client
        .query_one("SELECT max(seq) FROM ops", &[])
        .await?
        .get(0);
    Ok(seq.unwrap_or(0) as u64)
}

/// Decides and stores a batch (see [`crate::storage::Storage::push`]); returns the answers and
/// the last sequence number after the batch. When something was stored, the commit also
/// notifies `channel` with that number (PostgreSQL delivers it only once committed, to every
/// server process listening).
pub async fn push(
    client: &mut Client,
    ctx: &PushContext,
    ops: &[Op],
    channel: &str,
) -> Result<(Vec<PushResult>, u64), StorageError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OPLOG_LOCK])
        .await?;
    // Two reads for the whole batch instead of two per operation: the lock keeps every other
    // writer out, so what they return stays true except for this push's own writes, which
    // `known` and `cache` take in as they happen.
    let ids: Vec<Id> = ops.iter().map(|o| o.id).collect();
    let mut known = stored_seqs(&tx, &ids).await?;
    let mut cache = RecordCache::default();
    let entities: Vec<Id> = ops.iter().map(|o| o.entity_id).collect();
    cache.preload(&tx, &entities).await?;
    let mut results = Vec::with_capacity(ops.len());
    let mut stored = false;
    for op in ops {
        let outcome = push_one(&tx, &mut cache, &mut known, ctx, op).await?;
        stored |= matches!(outcome, PushOutcome::Accepted { .. });
        results.push(PushResult {
            op_id: op.id,
            outcome,
        });
    }
    let last = last_seq(&tx).await?;
    if stored {
        tx.execute("SELECT pg_notify($1, $2)", &[&channel, &last.to_string()])
            .await?;
    }
    tx.commit().await?;
    Ok((results, last))
}

/// One operation, in the order of `sqlite/oplog.rs`'s `push_one`: the same rules, called the
/// same way, so the two backends cannot disagree.
async fn push_one(
    tx: &Transaction<'_>,
    cache: &mut RecordCache,
    known: &mut HashMap<Id, u64>,
    ctx: &PushContext,
    op: &Op,
) -> Result<PushOutcome, StorageError> {
    if let Err(r) = rules::check_author(op, ctx) {
        return Ok(PushOutcome::Rejected {
            code: r.code,
            message: r.message,
        });
    }
    if let Some(&seq) = known.get(&op.id) {
        return Ok(PushOutcome::Duplicate { seq });
    }
    let current = cache.load(tx, op.entity_id).await?;
    let prior = records::load_place(tx, op.entity_id).await?;
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
        Some(state) => cache.compute_place(tx, state, event.as_ref()).await?,
        None => match cache.load(tx, op.entity_id).await? {
            Some(case) => cache.compute_place(tx, &case, event.as_ref()).await?,
            None => Place::unresolved(op.entity, op.entity_id),
        },
    };
    if let Err(r) = rules::authorize(&ctx.view, op, prior.as_ref(), &place) {
        return Ok(PushOutcome::Rejected {
            code: r.code,
            message: r.message,
        });
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO ops (op_id, entity_id, kind, device_id, hlc, scope_key, op, received_ms,
                              place, prior)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
        )
        .await?;
    let seq: i64 = tx
        .query_one(
            &insert,
            &[
                &op.id,
                &op.entity_id,
                &op.entity.as_str(),
                &op.stamp.device,
                &op.stamp.hlc.as_i64(),
                &rules::key_of(&place.areas),
                &serde_json::to_string(op)?,
                &(ctx.now_ms as i64),
                &serde_json::to_string(&place)?,
                &prior.as_ref().map(serde_json::to_string).transpose()?,
            ],
        )
        .await?
        .get(0);
    let seq = seq as u64;
    known.insert(op.id, seq);
    match &changed {
        Some(state) => cache.save(tx, state, &place, seq).await?,
        None if prior.as_ref() != Some(&place) => {
            records::set_place(tx, op.entity_id, &place).await?
        }
        None => {}
    }
    if let Some(event) = &event {
        // Union by event id: an event already known (sent again inside another operation)
        // keeps its first copy.
        let add = tx
            .prepare_cached(
                "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        tx.execute(
            &add,
            &[
                &event.id,
                &event.case_id,
                &event.stamp.hlc.as_i64(),
                &serde_json::to_string(event)?,
                &(seq as i64),
            ],
        )
        .await?;
    }
    // A case placed anew (an alarm dispatched, a case moved between buildings) changes which
    // crews see its building(s).
    if op.entity == EntityKind::Case && prior.as_ref() != Some(&place) {
        for building in rules::case_buildings(prior.as_ref(), &place) {
            records::refresh_responders(tx, building).await?;
        }
    }
    // A record that moved (another grid, another station) takes everything hanging from it
    // along: their places are recomputed in this same transaction. So does a new record that
    // others arrived before (an index probe when none did).
    if prior.as_ref().is_none_or(|p| rules::moved(p, &place)) {
        cache.replace_family(tx, op.entity_id).await?;
    }
    Ok(PushOutcome::Accepted { seq })
}

/// The sequence numbers of those of `op_ids` already stored.
async fn stored_seqs(
    client: &impl GenericClient,
    op_ids: &[Id],
) -> Result<HashMap<Id, u64>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT op_id, seq FROM ops WHERE op_id = ANY($1)")
        .await?;
    let rows = client.query(&stmt, &[&op_ids]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect())
}

/// The scope key stored with an operation.
pub async fn scope_key_of(
    client: &impl GenericClient,
    op_id: Id,
) -> Result<Option<String>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT scope_key FROM ops WHERE op_id = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&op_id]).await?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Up to `limit` operations after `after`, with their places. One row more than asked is
/// read to tell whether more follow.
pub async fn log_page(
    client: &impl GenericClient,
    after: u64,
    limit: usize,
) -> Result<LogPage, StorageError> {
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    let stmt = client
        .prepare_cached(
            "SELECT seq, op, place, prior FROM ops WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&after_i, &(limit as i64 + 1)])
        .await?;
    let more = rows.len() > limit;
    let mut entries = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        let place: Option<&str> = row.get(2);
        let prior: Option<&str> = row.get(3);
        entries.push(LogEntry {
            seq: row.get::<_, i64>(0) as u64,
            op: serde_json::from_str(row.get::<_, &str>(1))?,
            place: place.map(serde_json::from_str).transpose()?,
            prior: prior.map(serde_json::from_str).transpose()?,
        });
    }
    let next = entries.last().map_or(after, |e: &LogEntry| e.seq);
    Ok(LogPage {
        entries,
        next,
        more,
    })
}
