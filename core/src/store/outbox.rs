//! The outbox: local operations waiting for the server, appended in the same transaction as the
//! state they changed, so a crash leaves both or neither.

use gridwork_domain::hlc::Hlc;
use gridwork_domain::op::Op;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::{meta, search_index};

/// One operation in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub op: Op,
    /// `Some(reason)` once the server rejected it: quarantined, shown, never resent.
    pub rejected: Option<String>,
}

/// Appends an operation (inside the caller's transaction).
pub fn append(conn: &Connection, op: &Op, now_ms: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        op.id.to_string(),
        op.entity_id.to_string(),
        op.stamp.hlc.as_i64(),
        serde_json::to_string(op)?,
        now_ms as i64,
    ])?;
    Ok(())
}

/// Queues again an operation salvaged from a damaged store, keeping when it was made and, for
/// one the server had rejected, the reason (inside the caller's transaction).
pub fn restore(conn: &Connection, op: &Op, created_ms: i64, rejected: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms, status, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        op.id.to_string(),
        op.entity_id.to_string(),
        op.stamp.hlc.as_i64(),
        serde_json::to_string(op)?,
        created_ms,
        if rejected.is_some() {
            "rejected"
        } else {
            "pending"
        },
        rejected,
    ])?;
    Ok(())
}

/// Operations waiting to be pushed, oldest first (rejected ones are skipped: they never block
/// the operations behind them).
pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>> {
    list(
        conn,
        "WHERE status = 'pending' ORDER BY seq LIMIT ?1",
        [limit as i64],
    )
}

/// The position of the newest operation waiting to be pushed, `None` when none waits.
pub fn last_pending_seq(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT max(seq) FROM outbox WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?)
}

/// The operations on one record still waiting to be pushed, oldest first.
pub fn pending_for(conn: &Connection, entity: gridwork_domain::Id) -> Result<Vec<OutboxEntry>> {
    list(
        conn,
        "WHERE status = 'pending' AND entity_id = ?1 ORDER BY seq",
        [entity.to_string()],
    )
}

/// One operation the server rejected, by its id.
pub fn rejected_one(conn: &Connection, op_id: gridwork_domain::Id) -> Result<Option<OutboxEntry>> {
    Ok(list(
        conn,
        "WHERE status = 'rejected' AND op_id = ?1",
        [op_id.to_string()],
    )?
    .pop())
}

/// When an operation was queued (ms, corrected device time), by its outbox position.
pub fn created_ms(conn: &Connection, seq: i64) -> Result<u64> {
    let ms: i64 = conn
        .prepare_cached("SELECT created_ms FROM outbox WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))?;
    Ok(ms.max(0) as u64)
}

/// Operations the server rejected, with the reasons.
pub fn rejected(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    list(conn, "WHERE status = 'rejected' ORDER BY seq", [])
}

fn list(conn: &Connection, tail: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT seq, op, reason FROM outbox {tail}"))?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, op, rejected) = row?;
        out.push(OutboxEntry {
            seq,
            op: serde_json::from_str(&op)?,
            rejected,
        });
    }
    Ok(out)
}

/// Counts operations not yet accepted (pending), the figure the app shows while offline.
pub fn pending_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

/// Removes operations the server accepted; returns the highest stamp among them (the server
/// now holds it: see `HlcClock::trust`).
pub fn mark_accepted(conn: &Connection, op_ids: &[gridwork_domain::Id]) -> Result<Option<Hlc>> {
    if op_ids.is_empty() {
        return Ok(None);
    }
    // The outbox has no index on `op_id` (ADR 0036): one scan of it per push answer, the ids
    // given as one JSON array.
    let ids = serde_json::to_string(&op_ids.iter().map(|i| i.to_string()).collect::<Vec<_>>())?;
    search_index::before_outbox_delete(conn)?;
    let mut stmt = conn.prepare_cached(
        "DELETE FROM outbox WHERE op_id IN (SELECT value FROM json_each(?1)) RETURNING hlc",
    )?;
    let mut highest = None;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        highest = highest.max(Some(Hlc::from_i64(r.get(0)?)));
    }
    drop(rows);
    search_index::after_outbox_delete(conn)?;
    if let Some(h) = highest {
        meta::raise_hlc_last(conn, h)?;
    }
    Ok(highest)
}

/// The highest stamp held in the outbox: with `meta`'s `hlc_last`, the clock's high-water mark
/// (a local edit keeps its clock only in its outbox row, ADR 0036).
pub fn highest_stamp(conn: &Connection) -> Result<Option<Hlc>> {
    let h: Option<i64> = conn
        .prepare_cached("SELECT max(hlc) FROM outbox")?
        .query_row([], |r| r.get(0))?;
    Ok(h.map(Hlc::from_i64))
}

/// The reason prefix of operations the server refused as stamped too far ahead.
pub const CLOCK_AHEAD: &str = "clock_ahead";

/// Operations whose stamp the server refuses: rejected as `clock_ahead`, or still pending with
/// a stamp above `horizon`. Oldest first.
pub fn stamped_ahead(conn: &Connection, horizon: Hlc) -> Result<Vec<OutboxEntry>> {
    list(
        conn,
        "WHERE (status = 'rejected' AND reason LIKE ?1 || ':%')
            OR (status = 'pending' AND hlc > ?2)
         ORDER BY seq",
        params![CLOCK_AHEAD, horizon.as_i64()],
    )
}

/// The highest stamp in the outbox that is not above `horizon`.
pub fn highest_stamp_within(conn: &Connection, horizon: Hlc) -> Result<Option<Hlc>> {
    let h: Option<i64> = conn
        .prepare_cached("SELECT max(hlc) FROM outbox WHERE hlc <= ?1")?
        .query_row([horizon.as_i64()], |r| r.get(0))?;
    Ok(h.map(Hlc::from_i64))
}

/// Takes an operation out of the outbox (it is replaced by another, see `sync::restamp`).
pub fn remove(conn: &Connection, seq: i64) -> Result<()> {
    search_index::before_outbox_delete(conn)?;
    let hlc: Option<i64> = conn
        .prepare_cached("DELETE FROM outbox WHERE seq = ?1 RETURNING hlc")?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    search_index::after_outbox_delete(conn)?;
    if let Some(h) = hlc {
        // The row may have held the clock's only record of its last stamp (ADR 0036).
        meta::raise_hlc_last(conn, Hlc::from_i64(h))?;
    }
    Ok(())
}

/// Quarantines an operation the server rejected, with its reason.
pub fn mark_rejected(conn: &Connection, op_id: gridwork_domain::Id, reason: &str) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET status = 'rejected', reason = ?2 WHERE op_id = ?1")?
        .execute(params![op_id.to_string(), reason])?;
    Ok(())
}
